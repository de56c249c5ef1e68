//! The DHT overlay: a Kademlia network (rust-libp2p) between keyorch nodes that stores the
//! sealed share records.
//!
//! - A record is stored and served only if the chain commits to its hash for a live stream: at
//!   the best block, so that keys are usable before their dealing is final (the fast path, see
//!   `ledger`), else at the finalized block. Records offered before their epoch is dealt here
//!   wait (bounded) and are checked again at each new block instead of being lost — if their
//!   stream is in the node's best chain already (see [`admission`]).
//! - Each record expires with its stream. It is no longer served as soon as a revocation, close
//!   or expiry of its stream is in the node's best chain, and is dropped once that is final, or
//!   once its epoch is no longer kept on chain. Kademlia's own GET answers and replication obey
//!   the same rule (see [`store`] and `index`).
//! - The node publishes the records its own off-chain worker dealt as soon as their epoch is in
//!   a best block, again once it is final, and after a restart or when peers join; Kademlia replicates what each node holds to
//!   the `--dht-replication` closest peers at a short interval, so records survive churn.
//!
//! One concern a module: [`store`] (Kademlia's record store with keyorch's rule),
//! [`admission`] (checking offered records against the chain, off the swarm task, fairly
//! across peers), [`pending`] (records waiting for finality), [`worker`] (the swarm task,
//! which only dispatches). RPC and the witness service talk to the worker through
//! [`Overlay`]; the chain reads a `keyorch_getRecord` needs run in the caller's task.

mod admission;
mod pending;
mod publications;
mod store;
mod worker;

use std::{
	num::NonZeroUsize,
	path::{Path, PathBuf},
	time::Duration,
};

use keyorch_runtime::pallet_keyorch::types::StreamStatus;
use libp2p::{identity, Multiaddr};
use sp_core::offchain::OffchainStorage;
use tokio::sync::{mpsc, oneshot};

use super::{
	ledger::{Ledger, RecordRejection, Rejection},
	metrics::Metrics,
};

/// Log target of the overlay.
const LOG_TARGET: &str = "keyorch::dht";

/// How long a DHT lookup may take before it counts as not found.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(8);

/// Command-line options of the overlay.
#[derive(Debug, Clone, clap::Args)]
pub struct OverlayParams {
	/// TCP port of the keyorch DHT overlay (0: any free port, shown by `keyorch_status`).
	#[arg(long, value_name = "PORT", default_value_t = 30_433)]
	pub dht_port: u16,

	/// Listen on every interface instead of 127.0.0.1 only.
	#[arg(long)]
	pub dht_external: bool,

	/// A peer of the overlay to join through, as `/ip4/…/tcp/…/p2p/<peer id>` (repeatable;
	/// `keyorch_status` shows a node's addresses).
	#[arg(long = "dht-bootnode", value_name = "MULTIADDR")]
	pub dht_bootnodes: Vec<Multiaddr>,

	/// How many peers closest to a record's key store a copy of it, besides the publisher.
	#[arg(long, value_name = "COUNT", default_value_t = NonZeroUsize::new(3).expect("3 > 0"))]
	pub dht_replication: NonZeroUsize,
}

/// Why `keyorch_getRecord` has no record to give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetRecordError {
	/// The record's stream has ended; its records are gone everywhere.
	Ended(StreamStatus),
	/// Neither this node nor the DHT has a record the chain commits to under that key.
	NotFound,
	/// The overlay is not running.
	Stopped,
}

/// What happened to a record put through `keyorch_putRecord`.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PutOutcome {
	/// Whether this node accepted and stored it.
	pub stored_locally: bool,
	/// Why it did not, if it did not.
	pub refusal: Option<String>,
}

/// What `keyorch_status` shows of the overlay.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OverlayStatus {
	/// The overlay's peer id.
	pub peer_id: String,
	/// Addresses to pass to other nodes' `--dht-bootnode`.
	pub listen_addrs: Vec<String>,
	/// Peers connected in the overlay.
	pub overlay_peers: u64,
	/// Records in the local store.
	pub records_held: u64,
	/// Records waiting for their epoch to be dealt here.
	pub records_pending: u64,
	/// Records from peers accepted.
	pub records_accepted: u64,
	/// Records from peers refused.
	pub records_refused: u64,
	/// Offers shed unread because their source's admission queue was full.
	pub records_shed: u64,
	/// Records dropped because their stream ended.
	pub records_dropped: u64,
}

/// A request to the swarm task.
enum Command {
	/// The record under `key` held here (the store, or this node's own dealing), unchecked.
	Local { key: [u8; 32], reply: oneshot::Sender<Result<Option<Vec<u8>>, GetRecordError>> },
	/// Ask the DHT for `key`: every record found goes to `found`, until it is dropped.
	Query { key: [u8; 32], found: mpsc::Sender<Vec<u8>> },
	/// Offer a record to this node and the peers closest to its key.
	Put { key: [u8; 32], value: Vec<u8>, reply: oneshot::Sender<PutOutcome> },
	/// The overlay's state.
	Status { reply: oneshot::Sender<OverlayStatus> },
}

/// A handle on the running overlay.
#[derive(Clone)]
pub struct Overlay {
	commands: mpsc::Sender<Command>,
	ledger: Ledger,
	metrics: Metrics,
}

impl Overlay {
	/// The record under DHT `key`, from this node or the DHT, checked against the chain.
	/// With `local_only`, the DHT is not asked.
	pub async fn get_record(
		&self,
		key: [u8; 32],
		local_only: bool,
	) -> Result<Vec<u8>, GetRecordError> {
		let (reply, answer) = oneshot::channel();
		self.send(Command::Local { key, reply }).await?;
		let local = answer.await.map_err(|_| GetRecordError::Stopped)??;
		if let Some(value) = local {
			if let Some(answer) = self.checked(key, value).await {
				return answer;
			}
		}
		if local_only {
			return Err(GetRecordError::NotFound);
		}
		let (found_tx, mut found) = mpsc::channel(8);
		self.send(Command::Query { key, found: found_tx }).await?;
		let lookup = async {
			// Peers are not trusted: what they return is checked like what they send.
			while let Some(value) = found.recv().await {
				if let Some(answer) = self.checked(key, value).await {
					return answer;
				}
			}
			Err(GetRecordError::NotFound)
		};
		tokio::time::timeout(QUERY_TIMEOUT + Duration::from_secs(2), lookup)
			.await
			.unwrap_or(Err(GetRecordError::NotFound))
	}

	/// Offers a record to this node and the peers closest to its key, as any DHT client can.
	pub async fn put_record(&self, key: [u8; 32], value: Vec<u8>) -> Option<PutOutcome> {
		let (reply, answer) = oneshot::channel();
		self.send(Command::Put { key, value, reply }).await.ok()?;
		answer.await.ok()
	}

	/// The overlay's state.
	pub async fn status(&self) -> Option<OverlayStatus> {
		let (reply, answer) = oneshot::channel();
		self.send(Command::Status { reply }).await.ok()?;
		answer.await.ok()
	}

	async fn send(&self, command: Command) -> Result<(), GetRecordError> {
		self.commands.send(command).await.map_err(|_| GetRecordError::Stopped)
	}

	/// The answer `value` found under `key` gives, read on a blocking thread: the record if the
	/// chain commits to it for a live stream, "ended" if its stream has ended, none otherwise.
	async fn checked(
		&self,
		key: [u8; 32],
		value: Vec<u8>,
	) -> Option<Result<Vec<u8>, GetRecordError>> {
		let ledger = self.ledger.clone();
		let verdict = tokio::task::spawn_blocking(move || {
			ledger.validate_record(&key, &value).map(|_| value)
		});
		match verdict.await.ok()? {
			Ok(value) => Some(self.served(value)),
			Err(Rejection::Record(RecordRejection::Ended(status))) => {
				Some(Err(GetRecordError::Ended(status)))
			},
			Err(_) => None,
		}
	}

	fn served(&self, value: Vec<u8>) -> Result<Vec<u8>, GetRecordError> {
		self.metrics.record_gets_served.inc();
		Ok(value)
	}
}

/// Errors starting the overlay.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
	/// The overlay's key file cannot be read or written.
	#[error("overlay key file {path}: {reason}")]
	KeyFile {
		/// The file.
		path: String,
		/// What is wrong.
		reason: String,
	},
	/// The swarm could not be built or bound.
	#[error("cannot start the keyorch DHT overlay: {0}")]
	Swarm(String),
}

/// Loads the overlay's ed25519 identity from `path`, creating it (mode 0600) on first start.
fn load_or_create_identity(path: &Path) -> Result<identity::Keypair, StartError> {
	let error = |reason: String| StartError::KeyFile { path: path.display().to_string(), reason };
	match std::fs::read(path) {
		Ok(bytes) => identity::Keypair::from_protobuf_encoding(&bytes)
			.map_err(|e| error(format!("not an overlay key: {e}"))),
		Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
			use std::{io::Write, os::unix::fs::OpenOptionsExt};
			let keypair = identity::Keypair::generate_ed25519();
			let encoded =
				keypair.to_protobuf_encoding().map_err(|e| error(format!("cannot encode: {e}")))?;
			if let Some(dir) = path.parent() {
				std::fs::create_dir_all(dir).map_err(|e| error(e.to_string()))?;
			}
			std::fs::OpenOptions::new()
				.write(true)
				.create_new(true)
				.mode(0o600)
				.open(path)
				.and_then(|mut file| file.write_all(&encoded))
				.map_err(|e| error(e.to_string()))?;
			Ok(keypair)
		},
		Err(e) => Err(error(e.to_string())),
	}
}

/// Starts the overlay; the returned future runs it until the node stops.
pub fn start<S: OffchainStorage + 'static>(
	params: &OverlayParams,
	key_path: PathBuf,
	ledger: Ledger,
	offchain: Option<S>,
	metrics: Metrics,
) -> Result<(Overlay, impl std::future::Future<Output = ()>), StartError> {
	let keypair = load_or_create_identity(&key_path)?;
	let (commands, receiver) = mpsc::channel(256);
	let worker = worker::Worker::new(params, keypair, ledger.clone(), offchain, metrics.clone())?;
	Ok((Overlay { commands, ledger, metrics }, worker.run(receiver)))
}

/// Hex of a key or id, for logs.
pub fn hex(bytes: &[u8; 32]) -> String {
	format!("0x{}", sp_core::hexdisplay::HexDisplay::from(bytes))
}

/// A well-formed sealed record of holder 1 for `stream`'s `epoch`, for the modules' tests.
#[cfg(test)]
fn sample_record(stream: [u8; 32], epoch: u32) -> libp2p::kad::Record {
	use keyorch_primitives::{
		record_dht_key, DealContext, EncryptionPublicKey, SealedShareRecord, WireVersion,
	};
	let sealed = SealedShareRecord {
		version: WireVersion::V1,
		stream_id: stream,
		epoch,
		holder_index: 1,
		ephemeral_key: EncryptionPublicKey([3; 32]),
		ciphertext: [4; 48],
	};
	let key = record_dht_key(&DealContext { stream_id: stream, epoch }, 1);
	libp2p::kad::Record::new(libp2p::kad::RecordKey::new(&key), codec::Encode::encode(&sealed))
}
