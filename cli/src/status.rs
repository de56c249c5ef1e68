//! `keyorch status`: a stream as the latest finalized block has it, as a table for people or
//! JSON for scripts. Both come from one list of fields, so they always say the same.

use keyorch_client::{
	ended_by_name, stream_status_name, EpochView, HolderRole, NodeClient, Permissions, StreamId,
	StreamView, Tombstone,
};
use serde_json::{json, Map, Value};

use crate::{failure::Failure, input::hex};

/// The fields of a stream's status, in display order; the JSON keys are the names.
pub type Fields = Vec<(&'static str, Value)>;

fn role_name(role: HolderRole) -> &'static str {
	match role {
		HolderRole::Initiator => "initiator",
		HolderRole::Provider => "provider",
		HolderRole::Witness => "witness",
	}
}

fn permission_names(permissions: Permissions) -> Vec<&'static str> {
	[(Permissions::READ, "read"), (Permissions::WRITE, "write")]
		.into_iter()
		.filter(|(flag, _)| permissions.contains(*flag))
		.map(|(_, name)| name)
		.collect()
}

/// The fields of an open stream, with its current epoch if one is dealt.
fn open_fields(view: &StreamView, current: Option<&EpochView>, block: u32) -> Fields {
	let of_role = |role| {
		view.holders
			.iter()
			.filter(|holder| holder.role == role)
			.map(|holder| Value::from(holder.account.to_string()))
			.collect::<Vec<_>>()
	};
	let holders: Vec<Value> = view
		.holders
		.iter()
		.zip(1..)
		.map(|(holder, index)| {
			json!({
				"index": index,
				"account": holder.account.to_string(),
				"role": role_name(holder.role),
				"encryption_key": holder.x25519_public_key.map(|key| hex(&key)),
			})
		})
		.collect();
	vec![
		("stream", hex(view.id.as_bytes()).into()),
		("status", stream_status_name(view.status).into()),
		("initiator", of_role(HolderRole::Initiator).into_iter().next().unwrap_or_default()),
		("provider", of_role(HolderRole::Provider).into_iter().next().unwrap_or_default()),
		("witnesses", of_role(HolderRole::Witness).into()),
		("holders", holders.into()),
		("data_type", String::from_utf8_lossy(&view.data_type).into_owned().into()),
		("permissions", permission_names(view.permissions).into()),
		("witness_count", view.policy.witness_count.into()),
		("threshold", view.policy.threshold.into()),
		("rotate_every_blocks", view.policy.rotation.every_blocks.into()),
		("rotate_every_bytes", view.policy.rotation.every_bytes.into()),
		("requested_at", view.requested_at.into()),
		("expires_at", view.expires_at.into()),
		("current_epoch", view.current_epoch.into()),
		("current_epoch_dealt_at", current.map(|epoch| epoch.dealt_at).into()),
		("pending_epoch", view.pending_epoch.into()),
		("total_bytes", view.total_bytes.into()),
		("bytes_since_rotation", view.bytes_since_rotation.into()),
		("finalized_block", block.into()),
	]
}

/// The fields of an ended stream.
fn ended_fields(stream: StreamId, tombstone: &Tombstone, block: u32) -> Fields {
	vec![
		("stream", hex(stream.as_bytes()).into()),
		("status", stream_status_name(tombstone.status).into()),
		("initiator", tombstone.initiator.to_string().into()),
		("provider", tombstone.provider.to_string().into()),
		("final_epoch", tombstone.final_epoch.into()),
		("ended_by", ended_by_name(tombstone.ended_by).into()),
		("ended_at", tombstone.ended_at.into()),
		("finalized_block", block.into()),
	]
}

/// The status of `stream` at the latest finalized block.
pub async fn fetch(client: &NodeClient, stream: StreamId) -> Result<Fields, Failure> {
	let at = client.finalized_hash().await?;
	let block = client.header(Some(at)).await?.number;
	if let Some(view) = client.stream_view(stream, Some(at)).await? {
		let current = match view.current_epoch {
			Some(_) => client.current_epoch_view(stream, Some(at)).await?,
			None => None,
		};
		return Ok(open_fields(&view, current.as_ref(), block));
	}
	match client.tombstone(stream, Some(at)).await? {
		Some(tombstone) => Ok(ended_fields(stream, &tombstone, block)),
		None => Err(keyorch_client::Error::UnknownStream { stream }.into()),
	}
}

/// The fields as one JSON object.
pub fn to_json(fields: Fields) -> Value {
	Value::Object(fields.into_iter().map(|(name, value)| (name.to_string(), value)).collect())
}

/// A value as a table cell: `-` for none, lists joined, a holder as one line.
fn cell(value: &Value) -> String {
	match value {
		Value::Null => "-".into(),
		Value::String(text) => text.clone(),
		Value::Array(items) if items.is_empty() => "-".into(),
		Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(", "),
		Value::Object(holder) => holder_cell(holder),
		other => other.to_string(),
	}
}

/// `#1 initiator  5Grw…  encryption key 0x…`.
fn holder_cell(holder: &Map<String, Value>) -> String {
	let field = |name: &str| holder.get(name).map(cell).unwrap_or_else(|| "-".into());
	format!(
		"#{} {:<9}  {}  encryption key {}",
		field("index"),
		field("role"),
		field("account"),
		field("encryption_key")
	)
}

/// The fields as an aligned two-column table, lists of objects one per line.
pub fn to_table(fields: &Fields) -> String {
	let width = fields.iter().map(|(name, _)| name.len()).max().unwrap_or_default();
	let mut table = String::new();
	for (name, value) in fields {
		let label = name.replace('_', " ");
		match value {
			Value::Array(items) if items.iter().any(Value::is_object) => {
				for (position, item) in items.iter().enumerate() {
					let label = if position == 0 { label.as_str() } else { "" };
					table.push_str(&format!("{label:width$}  {}\n", cell(item)));
				}
			},
			_ => table.push_str(&format!("{label:width$}  {}\n", cell(value))),
		}
	}
	table
}

#[cfg(test)]
mod tests {
	use keyorch_client::{HolderView, StreamPolicy, StreamStatus};
	use sp_core::H256;

	use super::*;

	fn view() -> StreamView {
		let holder = |seed: u8, role| HolderView {
			account: keyorch_client::AccountId::new([seed; 32]),
			role,
			x25519_public_key: Some([seed; 32]),
		};
		StreamView {
			id: H256::repeat_byte(0xaa),
			status: StreamStatus::Live,
			holders: vec![
				holder(1, HolderRole::Initiator),
				holder(2, HolderRole::Provider),
				holder(3, HolderRole::Witness),
			],
			data_type: b"text/plain".to_vec(),
			permissions: Permissions(Permissions::READ),
			policy: StreamPolicy { witness_count: 1, threshold: 2, rotation: Default::default() },
			requested_at: 4,
			expires_at: 604,
			selection_seed: vec![],
			current_epoch: None,
			pending_epoch: Some(0),
			total_bytes: 0,
			bytes_since_rotation: 0,
		}
	}

	#[test]
	fn an_open_stream_in_json_has_what_scripts_need() {
		let json = to_json(open_fields(&view(), None, 9));
		assert_eq!(json["status"], "live");
		assert_eq!(json["stream"], format!("0x{}", "aa".repeat(32)));
		assert_eq!(json["initiator"], keyorch_client::AccountId::new([1; 32]).to_string());
		assert_eq!(json["holders"].as_array().unwrap().len(), 3);
		assert_eq!(json["holders"][2]["role"], "witness");
		assert_eq!(json["holders"][2]["index"], 3);
		assert_eq!(json["permissions"], json!(["read"]));
		assert_eq!(json["current_epoch"], Value::Null);
		assert_eq!(json["pending_epoch"], 0);
		assert_eq!(json["expires_at"], 604);
		assert_eq!(json["finalized_block"], 9);
	}

	#[test]
	fn the_table_has_one_aligned_line_per_field_and_per_holder() {
		let fields = open_fields(&view(), None, 9);
		let table = to_table(&fields);
		assert_eq!(table.lines().count(), fields.len() + 2, "{table}");
		assert!(table.contains("status                  live\n"), "{table}");
		assert!(table.contains("current epoch           -\n"), "{table}");
		let initiator = keyorch_client::AccountId::new([1; 32]);
		assert!(
			table.contains(&format!(
				"holders                 #1 initiator  {initiator}  encryption key 0x0101"
			)),
			"{table}"
		);
	}

	#[test]
	fn an_ended_stream_says_how_it_ended() {
		let tombstone = Tombstone {
			initiator: keyorch_client::AccountId::new([1; 32]),
			provider: keyorch_client::AccountId::new([2; 32]),
			status: StreamStatus::Revoked,
			final_epoch: Some(2),
			ended_by: keyorch_client::EndedBy::Provider,
			ended_at: 77,
		};
		let json = to_json(ended_fields(H256::repeat_byte(1), &tombstone, 80));
		assert_eq!(json["status"], "revoked");
		assert_eq!(json["ended_by"], "provider");
		assert_eq!(json["final_epoch"], 2);
	}
}
