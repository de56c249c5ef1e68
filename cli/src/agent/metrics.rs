//! `GET /metrics`: the agent's counters in the Prometheus text format.

use std::{
	collections::BTreeMap,
	fmt::Write,
	sync::{
		atomic::{AtomicU64, Ordering},
		Mutex,
	},
};

/// What the agent counts.
#[derive(Default)]
pub struct Metrics {
	/// Requests by route template (never a stream id: bounded labels) and status.
	requests: Mutex<BTreeMap<(String, u16), u64>>,
	/// Messages sealed.
	pub sealed: AtomicU64,
	/// Messages opened.
	pub opened: AtomicU64,
}

impl Metrics {
	/// Counts a request to `route` answered with `status`.
	pub fn request(&self, route: &str, status: u16) {
		let mut requests = self.requests.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
		*requests.entry((route.to_owned(), status)).or_default() += 1;
	}

	/// The text exposition, with the gauges read now.
	pub fn render(&self, kept_epochs: usize, subscriptions: usize) -> String {
		let mut text = String::new();
		let requests = self.requests.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
		let _ = writeln!(
			text,
			"# HELP keyorch_agent_requests_total HTTP requests by route and status."
		);
		let _ = writeln!(text, "# TYPE keyorch_agent_requests_total counter");
		for ((route, status), count) in requests.iter() {
			let _ = writeln!(
				text,
				"keyorch_agent_requests_total{{route=\"{route}\",status=\"{status}\"}} {count}"
			);
		}
		let counters = [
			("keyorch_agent_sealed_messages_total", "Messages sealed.", &self.sealed),
			("keyorch_agent_opened_messages_total", "Messages opened.", &self.opened),
		];
		for (name, help, value) in counters {
			let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} counter");
			let _ = writeln!(text, "{name} {}", value.load(Ordering::Relaxed));
		}
		let gauges = [
			("keyorch_agent_kept_epochs", "Stream epochs whose keys the agent holds.", kept_epochs),
			("keyorch_agent_event_subscriptions", "Open event streams.", subscriptions),
		];
		for (name, help, value) in gauges {
			let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
		}
		text
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn requests_are_counted_by_route_and_status() {
		let metrics = Metrics::default();
		metrics.request("/v1/streams/{id}/seal", 200);
		metrics.request("/v1/streams/{id}/seal", 200);
		metrics.request("/v1/streams/{id}/seal", 410);
		metrics.sealed.fetch_add(2, Ordering::Relaxed);
		let text = metrics.render(3, 1);
		assert!(text.contains(
			"keyorch_agent_requests_total{route=\"/v1/streams/{id}/seal\",status=\"200\"} 2\n"
		));
		assert!(text.contains("status=\"410\"} 1\n"));
		assert!(text.contains("keyorch_agent_sealed_messages_total 2\n"));
		assert!(text.contains("keyorch_agent_kept_epochs 3\n"));
		assert!(text.contains("keyorch_agent_event_subscriptions 1\n"));
	}
}
