//! keyorch's node-side services: the DHT overlay that stores sealed records, the witness service
//! that keeps and releases shares, and their metrics. The `keyorch_` RPC (`crate::rpc::keyorch`)
//! is their front door.

pub mod index;
pub mod ledger;
pub mod metrics;
pub mod overlay;
pub mod witness;

use std::sync::Arc;

use sc_service::{ChainType, Configuration, TaskManager};
use sp_core::offchain::OffchainStorage;

use crate::service::FullClient;
use ledger::Ledger;
use metrics::Metrics;
use overlay::{Overlay, OverlayParams};
use witness::{Witness, WitnessParams};

/// keyorch's command-line options of the node.
#[derive(Debug, Clone, clap::Args)]
pub struct KeyorchParams {
	#[command(flatten)]
	pub overlay: OverlayParams,

	#[command(flatten)]
	pub witness: WitnessParams,
}

/// The running services, as the RPC sees them.
#[derive(Clone)]
pub struct Services {
	/// The DHT overlay.
	pub overlay: Overlay,
	/// The witness service, if `--witness` is given.
	pub witness: Option<Arc<Witness>>,
	/// Their counters.
	pub metrics: Metrics,
}

/// Starts the overlay and, with `--witness`, the witness service.
pub fn start<S: OffchainStorage + 'static>(
	params: &KeyorchParams,
	config: &Configuration,
	client: Arc<FullClient>,
	offchain: Option<S>,
	task_manager: &TaskManager,
) -> Result<Services, String> {
	let dir = config.base_path.config_dir(config.chain_spec.id()).join("keyorch");
	let metrics = Metrics::new(config.prometheus_registry()).map_err(|e| e.to_string())?;
	let ledger = Ledger::new(client);

	let (overlay, overlay_worker) = overlay::start(
		&params.overlay,
		dir.join("overlay_key"),
		ledger.clone(),
		offchain,
		metrics.clone(),
	)
	.map_err(|e| e.to_string())?;
	task_manager.spawn_essential_handle().spawn("keyorch-dht", None, overlay_worker);

	let witness = match &params.witness.witness {
		Some(source) => {
			let dev_chain = config.chain_spec.chain_type() != ChainType::Live;
			let (witness, follower) = Witness::start(
				source,
				dev_chain,
				dir.join("witness"),
				ledger,
				overlay.clone(),
				metrics.clone(),
			)
			.map_err(|e| e.to_string())?;
			task_manager.spawn_essential_handle().spawn("keyorch-witness", None, follower);
			Some(witness)
		},
		None => None,
	};
	Ok(Services { overlay, witness, metrics })
}
