//! How a command's result is printed: `--output table` (the default) for people, `--output json`
//! for scripts. Each result is one serializable type, so the agent's JSON answers, the CLI's
//! JSON and its table say the same.

use std::fmt;

use clap::ValueEnum;
use serde::{
	de::{MapAccess, Visitor},
	Deserialize, Deserializer, Serialize,
};
use serde_json::{value::RawValue, Value};

/// The output format of every command.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
	/// Aligned text for people.
	#[default]
	Table,
	/// One JSON object on one line, for scripts.
	Json,
}

/// A command's result.
pub trait Report: Serialize {
	/// The result for people: one aligned line per field unless the result reads better as a
	/// sentence or a single value.
	fn table(&self) -> String {
		fields_table(self)
	}
}

/// Prints `report` to stdout in `format`.
pub fn emit(report: &impl Report, format: Format) {
	match format {
		Format::Table => print!("{}", report.table()),
		Format::Json => println!("{}", json(report)),
	}
}

/// `report` as one line of JSON.
pub fn json(report: &(impl Serialize + ?Sized)) -> String {
	// A result is made of strings, numbers, lists and maps with string keys: it always
	// serializes.
	serde_json::to_string(report)
		.unwrap_or_else(|error| serde_json::json!({ "error": error.to_string() }).to_string())
}

/// A JSON value with every object's fields in the order the type declares them (a
/// `serde_json::Map` would sort them).
enum Cell {
	Scalar(Value),
	List(Vec<Cell>),
	Record(Vec<(String, Cell)>),
}

/// An object's fields in their order, each kept as raw JSON.
struct Fields(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for Fields {
	fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
		struct InOrder;
		impl<'de> Visitor<'de> for InOrder {
			type Value = Fields;
			fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
				formatter.write_str("an object")
			}
			fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Fields, M::Error> {
				let mut fields = Vec::new();
				while let Some(entry) = map.next_entry()? {
					fields.push(entry);
				}
				Ok(Fields(fields))
			}
		}
		deserializer.deserialize_map(InOrder)
	}
}

impl Cell {
	fn parse(json: &str) -> serde_json::Result<Self> {
		Ok(match json.trim_start().as_bytes().first() {
			Some(b'{') => Self::Record(
				serde_json::from_str::<Fields>(json)?
					.0
					.into_iter()
					.map(|(name, value)| Ok((name, Self::parse(value.get())?)))
					.collect::<serde_json::Result<_>>()?,
			),
			Some(b'[') => Self::List(
				serde_json::from_str::<Vec<Box<RawValue>>>(json)?
					.iter()
					.map(|item| Self::parse(item.get()))
					.collect::<serde_json::Result<_>>()?,
			),
			_ => Self::Scalar(serde_json::from_str(json)?),
		})
	}

	/// The value as a table cell: `-` for none, lists joined, an object as `name value` pairs.
	fn text(&self) -> String {
		match self {
			Self::Scalar(Value::Null) => "-".into(),
			Self::Scalar(Value::String(text)) => text.clone(),
			Self::Scalar(other) => other.to_string(),
			Self::List(items) if items.is_empty() => "-".into(),
			Self::List(items) => items.iter().map(Self::text).collect::<Vec<_>>().join(", "),
			Self::Record(fields) => fields
				.iter()
				.map(|(name, value)| format!("{} {}", label(name), value.text()))
				.collect::<Vec<_>>()
				.join("  "),
		}
	}
}

fn label(name: &str) -> String {
	name.replace('_', " ")
}

/// `report`'s fields as an aligned two-column table, labels without underscores, a list of
/// objects one per line.
pub fn fields_table(report: &(impl Serialize + ?Sized)) -> String {
	let json = json(report);
	let Ok(Cell::Record(fields)) = Cell::parse(&json) else {
		return format!("{json}\n");
	};
	let width = fields.iter().map(|(name, _)| name.len()).max().unwrap_or_default();
	let mut table = String::new();
	for (name, value) in &fields {
		let label = label(name);
		match value {
			Cell::List(items) if items.iter().any(|item| matches!(item, Cell::Record(_))) => {
				for (position, item) in items.iter().enumerate() {
					let label = if position == 0 { label.as_str() } else { "" };
					table.push_str(&format!("{label:width$}  {}\n", item.text()));
				}
			},
			_ => table.push_str(&format!("{label:width$}  {}\n", value.text())),
		}
	}
	table
}

#[cfg(test)]
mod tests {
	use super::*;

	#[derive(Serialize)]
	struct Item {
		name: &'static str,
		size: u32,
	}

	#[derive(Serialize)]
	struct Example {
		zeta_first: u64,
		alpha_second: Option<u32>,
		tags: Vec<&'static str>,
		items: Vec<Item>,
	}

	impl Report for Example {}

	#[test]
	fn the_table_keeps_the_declared_order_and_puts_objects_one_per_line() {
		let example = Example {
			zeta_first: u64::MAX,
			alpha_second: None,
			tags: vec!["a", "b"],
			items: vec![Item { name: "x", size: 1 }, Item { name: "y", size: 2 }],
		};
		assert_eq!(
			example.table(),
			"zeta first    18446744073709551615\n\
			 alpha second  -\n\
			 tags          a, b\n\
			 items         name x  size 1\n\
			 \x20             name y  size 2\n"
		);
		assert_eq!(
			json(&example),
			r#"{"zeta_first":18446744073709551615,"alpha_second":null,"tags":["a","b"],"items":[{"name":"x","size":1},{"name":"y","size":2}]}"#
		);
	}
}
