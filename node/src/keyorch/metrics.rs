//! Counters of the overlay and the witness service, served by `keyorch_status` and, when the
//! node runs Prometheus, as `keyorch_*` metrics beside Substrate's own.

use prometheus_endpoint::{
	register, Counter, CounterVec, Gauge, Opts, PrometheusError, Registry, U64,
};

/// The node's keyorch metrics. Cloning shares the same counters.
#[derive(Clone)]
pub struct Metrics {
	/// Sealed records in the local DHT store.
	pub records_held: Gauge<U64>,
	/// Peers connected in the overlay.
	pub overlay_peers: Gauge<U64>,
	/// Records offered by peers and accepted after checking the chain.
	pub records_accepted: Counter<U64>,
	/// Records offered by peers and refused (malformed, forged, ended, never on chain).
	pub records_refused: Counter<U64>,
	/// Offers shed unread because their source's admission queue was full.
	pub records_shed: Counter<U64>,
	/// Records waiting for the chain to finalize their epoch.
	pub records_pending: Gauge<U64>,
	/// Records dropped because their stream ended.
	pub records_dropped: Counter<U64>,
	/// `keyorch_getRecord` answers with a record.
	pub record_gets_served: Counter<U64>,
	/// Shares the witness service holds (sealed at rest).
	pub shares_held: Gauge<U64>,
	/// Share requests answered with a sealed share.
	pub share_requests_served: Counter<U64>,
	/// Share requests refused, by reason (the `reason` label, see `Refusal::reason`).
	pub share_requests_refused: CounterVec<U64>,
}

fn gauge(name: &str, help: &str) -> Gauge<U64> {
	Gauge::new(name, help).expect("static metric names and help texts are valid; qed")
}

fn counter(name: &str, help: &str) -> Counter<U64> {
	Counter::new(name, help).expect("static metric names and help texts are valid; qed")
}

impl Metrics {
	/// Fresh metrics, registered in `registry` if the node serves Prometheus.
	pub fn new(registry: Option<&Registry>) -> Result<Self, PrometheusError> {
		let metrics = Self {
			records_held: gauge("keyorch_records_held", "Sealed records in the local DHT store"),
			overlay_peers: gauge("keyorch_overlay_peers", "Peers connected in the keyorch overlay"),
			records_accepted: counter(
				"keyorch_records_accepted_total",
				"Records from peers stored after checking their hash on chain",
			),
			records_refused: counter(
				"keyorch_records_refused_total",
				"Records from peers refused: malformed, forged, of an ended stream or never on chain",
			),
			records_shed: counter(
				"keyorch_records_shed_total",
				"Record offers shed unread because their source's admission queue was full",
			),
			records_pending: gauge(
				"keyorch_records_pending",
				"Records from peers waiting for their epoch to be finalized",
			),
			records_dropped: counter(
				"keyorch_records_dropped_total",
				"Records dropped because their stream was revoked, closed or expired",
			),
			record_gets_served: counter(
				"keyorch_record_gets_served_total",
				"keyorch_getRecord calls answered with a record",
			),
			shares_held: gauge("keyorch_witness_shares_held", "Shares held by the witness service"),
			share_requests_served: counter(
				"keyorch_witness_requests_served_total",
				"Share requests answered with a sealed share",
			),
			share_requests_refused: CounterVec::new(
				Opts::new("keyorch_witness_requests_refused_total", "Share requests refused"),
				&["reason"],
			)
			.expect("static metric names, help texts and labels are valid; qed"),
		};
		if let Some(registry) = registry {
			register(metrics.records_held.clone(), registry)?;
			register(metrics.overlay_peers.clone(), registry)?;
			register(metrics.records_accepted.clone(), registry)?;
			register(metrics.records_refused.clone(), registry)?;
			register(metrics.records_shed.clone(), registry)?;
			register(metrics.records_pending.clone(), registry)?;
			register(metrics.records_dropped.clone(), registry)?;
			register(metrics.record_gets_served.clone(), registry)?;
			register(metrics.shares_held.clone(), registry)?;
			register(metrics.share_requests_served.clone(), registry)?;
			register(metrics.share_requests_refused.clone(), registry)?;
		}
		Ok(metrics)
	}
}
