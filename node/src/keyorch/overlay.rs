//! The DHT overlay: a Kademlia network (rust-libp2p) between keyorch nodes that stores the
//! sealed share records.
//!
//! - A record is stored and served only if the finalized chain commits to its hash for a live
//!   stream; records offered before their epoch is final here wait (bounded) and are checked
//!   again at each finalized block instead of being lost.
//! - Each record expires with its stream, and is dropped as soon as a revocation, close or
//!   expiry of its stream is final.
//! - The node publishes the records its own off-chain worker dealt once their epoch is final,
//!   and again after a restart or when peers join; Kademlia replicates what each node holds to
//!   the `--dht-replication` closest peers at a short interval, so records survive churn.
//!
//! Everything runs in one task that owns the swarm; RPC and the witness service talk to it
//! through [`Overlay`].

use std::{
	collections::{HashMap, VecDeque},
	num::NonZeroUsize,
	path::{Path, PathBuf},
	time::{Duration, Instant},
};

use futures::StreamExt;
use keyorch_runtime::{pallet_keyorch::types::StreamStatus, BlockNumber};
use libp2p::{
	identify, identity,
	kad::{
		self,
		store::{MemoryStore, MemoryStoreConfig, RecordStore},
		GetRecordOk, PeerRecord, QueryId, QueryResult, Quorum, Record, RecordKey, StoreInserts,
	},
	multiaddr::Protocol,
	swarm::{NetworkBehaviour, SwarmEvent},
	Multiaddr, PeerId, StreamProtocol, Swarm,
};
use sc_client_api::{BlockchainEvents, FinalityNotification};
use sp_core::offchain::{OffchainStorage, STORAGE_PREFIX};
use tokio::sync::{mpsc, oneshot};

use super::{
	index::RecordIndex,
	ledger::{finalized_blocks, Ledger, LedgerEvent, RecordRejection, Rejection},
	metrics::Metrics,
};
use keyorch_runtime::opaque::Block;

/// Log target of the overlay.
const LOG_TARGET: &str = "keyorch::dht";

/// The overlay's Kademlia protocol; nodes of other networks do not speak it.
const KAD_PROTOCOL: StreamProtocol = StreamProtocol::new("/keyorch/kad/1");

/// How long a DHT lookup may take before it counts as not found.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(8);

/// How often every node re-sends the records it holds to the closest peers.
const REPLICATION_INTERVAL: Duration = Duration::from_secs(15);

/// How often a node re-publishes the records its own off-chain worker dealt.
const PUBLICATION_INTERVAL: Duration = Duration::from_secs(60);

/// Most records held; a dealing has at most 18 records, so this is thousands of streams.
const MAX_RECORDS: usize = 65_536;

/// Largest record accepted (a sealed share record is ~120 bytes).
const MAX_RECORD_BYTES: usize = 1024;

/// Records offered before their epoch is final here, kept for this many finalized blocks.
const PENDING_BLOCKS: BlockNumber = 20;

/// Most records waiting for finality at once; beyond it the oldest are refused.
const MAX_PENDING: usize = 1024;

/// How often the overlay redials its bootnodes when alone and refreshes its gauges.
const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(3);

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
	/// Records waiting for their epoch to be finalized here.
	pub records_pending: u64,
	/// Records from peers accepted.
	pub records_accepted: u64,
	/// Records from peers refused.
	pub records_refused: u64,
	/// Records dropped because their stream ended.
	pub records_dropped: u64,
}

enum Command {
	Get { key: [u8; 32], local_only: bool, reply: RecordReply },
	Put { key: [u8; 32], value: Vec<u8>, reply: oneshot::Sender<PutOutcome> },
	Status { reply: oneshot::Sender<OverlayStatus> },
}

/// A handle on the running overlay.
#[derive(Clone)]
pub struct Overlay {
	commands: mpsc::Sender<Command>,
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
		self.commands
			.send(Command::Get { key, local_only, reply })
			.await
			.map_err(|_| GetRecordError::Stopped)?;
		match tokio::time::timeout(QUERY_TIMEOUT + Duration::from_secs(2), answer).await {
			Ok(Ok(result)) => result,
			Ok(Err(_)) => Err(GetRecordError::Stopped),
			Err(_) => Err(GetRecordError::NotFound),
		}
	}

	/// Offers a record to this node and the peers closest to its key, as any DHT client can.
	pub async fn put_record(&self, key: [u8; 32], value: Vec<u8>) -> Option<PutOutcome> {
		let (reply, answer) = oneshot::channel();
		self.commands.send(Command::Put { key, value, reply }).await.ok()?;
		answer.await.ok()
	}

	/// The overlay's state.
	pub async fn status(&self) -> Option<OverlayStatus> {
		let (reply, answer) = oneshot::channel();
		self.commands.send(Command::Status { reply }).await.ok()?;
		answer.await.ok()
	}
}

#[derive(NetworkBehaviour)]
struct Behaviour {
	kad: kad::Behaviour<MemoryStore>,
	identify: identify::Behaviour,
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
	let local_peer_id = keypair.public().to_peer_id();

	let mut kad_config = kad::Config::new(KAD_PROTOCOL);
	kad_config
		.set_replication_factor(params.dht_replication)
		.set_query_timeout(QUERY_TIMEOUT)
		.set_record_filtering(StoreInserts::FilterBoth)
		.set_record_ttl(None)
		.set_replication_interval(Some(REPLICATION_INTERVAL))
		.set_publication_interval(Some(PUBLICATION_INTERVAL))
		.set_max_packet_size(16 * 1024);
	let store_config = MemoryStoreConfig {
		max_records: MAX_RECORDS,
		max_value_bytes: MAX_RECORD_BYTES,
		..Default::default()
	};

	let swarm_error = |e: &dyn std::fmt::Display| StartError::Swarm(e.to_string());
	let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
		.with_tokio()
		.with_tcp(
			libp2p::tcp::Config::default().nodelay(true),
			libp2p::noise::Config::new,
			libp2p::yamux::Config::default,
		)
		.map_err(|e| swarm_error(&e))?
		.with_behaviour(|key| {
			let mut kad = kad::Behaviour::with_config(
				local_peer_id,
				MemoryStore::with_config(local_peer_id, store_config),
				kad_config,
			);
			// Every keyorch node answers queries, whatever its reachability looks like.
			kad.set_mode(Some(kad::Mode::Server));
			let identify =
				identify::Behaviour::new(identify::Config::new("/keyorch/1".into(), key.public()));
			Behaviour { kad, identify }
		})
		.map_err(|e| swarm_error(&e))?
		.with_swarm_config(|config| config.with_idle_connection_timeout(Duration::from_secs(120)))
		.build();

	let ip = if params.dht_external { "0.0.0.0" } else { "127.0.0.1" };
	let listen: Multiaddr =
		format!("/ip4/{ip}/tcp/{}", params.dht_port).parse().map_err(|e| swarm_error(&e))?;
	swarm.listen_on(listen).map_err(|e| swarm_error(&e))?;

	let (commands, receiver) = mpsc::channel(256);
	let slot_millis = ledger.slot_millis();
	let worker = Worker {
		swarm,
		index: RecordIndex::load(offchain.clone()),
		ledger,
		offchain,
		metrics,
		bootnodes: params.dht_bootnodes.clone(),
		slot: Duration::from_millis(slot_millis),
		gets: HashMap::new(),
		puts: HashMap::new(),
		pending: VecDeque::new(),
		republish_due: true,
	};
	Ok((Overlay { commands }, worker.run(receiver)))
}

/// Where the answer to one `keyorch_getRecord` goes.
type RecordReply = oneshot::Sender<Result<Vec<u8>, GetRecordError>>;

/// A record offered by a peer before its epoch was final here.
struct PendingRecord {
	record: Record,
	key: [u8; 32],
	until: BlockNumber,
}

struct Worker<S> {
	swarm: Swarm<Behaviour>,
	index: RecordIndex<S>,
	ledger: Ledger,
	offchain: Option<S>,
	metrics: Metrics,
	bootnodes: Vec<Multiaddr>,
	slot: Duration,
	/// DHT lookups in flight and who waits for them.
	gets: HashMap<QueryId, Vec<RecordReply>>,
	/// `keyorch_putRecord` records waiting for the closest peers to be found.
	puts: HashMap<QueryId, Record>,
	pending: VecDeque<PendingRecord>,
	/// Own records are to be published again (start, or a peer joined).
	republish_due: bool,
}

fn record_key(key: &[u8; 32]) -> RecordKey {
	RecordKey::new(key)
}

fn key_bytes(key: &RecordKey) -> Option<[u8; 32]> {
	key.as_ref().try_into().ok()
}

impl<S: OffchainStorage + 'static> Worker<S> {
	async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
		let mut finality = self.ledger.client().finality_notification_stream();
		self.dial_bootnodes();
		let mut maintenance = tokio::time::interval(MAINTENANCE_INTERVAL);
		loop {
			tokio::select! {
				event = self.swarm.select_next_some() => self.on_swarm_event(event),
				command = commands.recv() => match command {
					Some(command) => self.on_command(command),
					None => break,
				},
				notification = finality.next() => match notification {
					Some(notification) => self.on_finalized(&notification),
					None => break,
				},
				_ = maintenance.tick() => self.maintain(),
			}
		}
	}

	fn dial_bootnodes(&mut self) {
		for address in self.bootnodes.clone() {
			if let Some(Protocol::P2p(peer)) = address.iter().last() {
				self.swarm.behaviour_mut().kad.add_address(&peer, address.clone());
			}
			if let Err(error) = self.swarm.dial(address.clone()) {
				log::debug!(target: LOG_TARGET, "dialing {address} failed: {error}");
			}
		}
		let _ = self.swarm.behaviour_mut().kad.bootstrap();
	}

	fn maintain(&mut self) {
		if self.swarm.connected_peers().next().is_none() && !self.bootnodes.is_empty() {
			self.dial_bootnodes();
		}
		let now = Instant::now();
		let store = self.swarm.behaviour_mut().kad.store_mut();
		let expired: Vec<_> =
			store.records().filter(|r| r.is_expired(now)).map(|r| r.key.clone()).collect();
		for key in expired {
			store.remove(&key);
		}
		if self.republish_due {
			self.republish_due = false;
			self.publish_own_records();
		}
		self.refresh_gauges();
	}

	fn refresh_gauges(&mut self) {
		let held = self.swarm.behaviour_mut().kad.store_mut().records().count();
		self.metrics.records_held.set(held as u64);
		self.metrics.overlay_peers.set(self.swarm.connected_peers().count() as u64);
		self.metrics.records_pending.set(self.pending.len() as u64);
	}

	/// The lifetime of a record whose stream has `blocks_left` blocks to live.
	fn expiry(&self, blocks_left: BlockNumber) -> Instant {
		Instant::now() + self.slot * blocks_left.max(1)
	}

	/// A record this node's off-chain worker dealt, if it is still in the off-chain store.
	fn own_record(&self, key: &[u8; 32]) -> Option<Vec<u8>> {
		let storage_key = keyorch_primitives::offchain_record_key(key);
		self.offchain.as_ref()?.get(STORAGE_PREFIX, &storage_key)
	}

	/// Publishes every record of a live stream this node dealt and the chain committed to.
	fn publish_own_records(&mut self) {
		for key in self.index.live_keys() {
			if let Some(value) = self.own_record(&key) {
				self.publish(key, value);
			}
		}
	}

	fn publish(&mut self, key: [u8; 32], value: Vec<u8>) {
		match self.ledger.validate_record(&key, &value) {
			Ok(valid) => {
				let mut record = Record::new(record_key(&key), value);
				record.expires = Some(self.expiry(valid.blocks_left));
				if let Err(error) = self.swarm.behaviour_mut().kad.put_record(record, Quorum::One) {
					log::warn!(target: LOG_TARGET, "cannot store own record: {error}");
				}
			},
			Err(rejection) => {
				log::debug!(target: LOG_TARGET, "not publishing {}: {rejection}", hex(&key))
			},
		}
	}

	/// Checks a record offered by a peer or a client and stores it if the chain commits to it.
	fn offer(&mut self, record: Record) -> Result<(), Rejection> {
		let until = self.ledger.finalized().0 + PENDING_BLOCKS;
		self.consider(record, until)
	}

	/// Stores `record` if the chain commits to it; keeps it until block `until` if its epoch
	/// may only not be final here yet.
	fn consider(&mut self, mut record: Record, until: BlockNumber) -> Result<(), Rejection> {
		let key = key_bytes(&record.key).ok_or(RecordRejection::Malformed)?;
		match self.ledger.validate_record(&key, &record.value) {
			Ok(valid) => {
				record.expires = Some(self.expiry(valid.blocks_left));
				record.publisher = None;
				match self.swarm.behaviour_mut().kad.store_mut().put(record) {
					Ok(()) => self.metrics.records_accepted.inc(),
					Err(error) => log::warn!(target: LOG_TARGET, "record store full: {error}"),
				}
				Ok(())
			},
			Err(Rejection::Record(RecordRejection::NotYetOnChain)) | Err(Rejection::Ledger(_)) => {
				if self.pending.iter().all(|p| p.record.value != record.value) {
					if self.pending.len() >= MAX_PENDING {
						self.pending.pop_front();
						self.metrics.records_refused.inc();
					}
					self.pending.push_back(PendingRecord { record, key, until });
				}
				Err(RecordRejection::NotYetOnChain.into())
			},
			Err(rejection) => {
				log::debug!(target: LOG_TARGET, "refused record {}: {rejection}", hex(&key));
				self.metrics.records_refused.inc();
				Err(rejection)
			},
		}
	}

	fn on_command(&mut self, command: Command) {
		match command {
			Command::Get { key, local_only, reply } => self.get(key, local_only, reply),
			Command::Put { key, value, reply } => {
				let record = Record::new(record_key(&key), value);
				let outcome = match self.offer(record.clone()) {
					Ok(()) => PutOutcome { stored_locally: true, refusal: None },
					Err(rejection) => {
						PutOutcome { stored_locally: false, refusal: Some(rejection.to_string()) }
					},
				};
				// The peers judge it themselves, exactly as this node did.
				let query = self.swarm.behaviour_mut().kad.get_closest_peers(key.to_vec());
				self.puts.insert(query, record);
				let _ = reply.send(outcome);
			},
			Command::Status { reply } => {
				self.refresh_gauges();
				let _ = reply.send(self.status());
			},
		}
	}

	fn status(&self) -> OverlayStatus {
		let peer_id = *self.swarm.local_peer_id();
		let listen_addrs = self
			.swarm
			.listeners()
			.map(|address| address.clone().with(Protocol::P2p(peer_id)).to_string())
			.collect();
		OverlayStatus {
			peer_id: peer_id.to_string(),
			listen_addrs,
			overlay_peers: self.metrics.overlay_peers.get(),
			records_held: self.metrics.records_held.get(),
			records_pending: self.metrics.records_pending.get(),
			records_accepted: self.metrics.records_accepted.get(),
			records_refused: self.metrics.records_refused.get(),
			records_dropped: self.metrics.records_dropped.get(),
		}
	}

	fn get(&mut self, key: [u8; 32], local_only: bool, reply: RecordReply) {
		if let Some((_, Some(status))) = self.index.lookup(&key) {
			let _ = reply.send(Err(GetRecordError::Ended(status)));
			return;
		}
		let held = self.swarm.behaviour_mut().kad.store_mut().get(&record_key(&key));
		let local = held
			.filter(|record| !record.is_expired(Instant::now()))
			.map(|record| record.value.clone())
			.or_else(|| self.own_record(&key))
			.filter(|value| self.ledger.validate_record(&key, value).is_ok());
		if let Some(value) = local {
			self.metrics.record_gets_served.inc();
			let _ = reply.send(Ok(value));
		} else if local_only {
			let _ = reply.send(Err(GetRecordError::NotFound));
		} else {
			let query = self.swarm.behaviour_mut().kad.get_record(record_key(&key));
			self.gets.entry(query).or_default().push(reply);
		}
	}

	fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
		match event {
			SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
				peer_id,
				info,
				..
			})) => {
				if info.protocols.contains(&KAD_PROTOCOL) {
					for address in info.listen_addrs {
						self.swarm.behaviour_mut().kad.add_address(&peer_id, address);
					}
				}
			},
			SwarmEvent::Behaviour(BehaviourEvent::Kad(event)) => self.on_kad_event(event),
			SwarmEvent::ConnectionEstablished { peer_id, num_established, .. } => {
				if num_established.get() == 1 {
					log::debug!(target: LOG_TARGET, "peer {peer_id} joined");
					self.republish_due = true;
				}
			},
			SwarmEvent::NewListenAddr { address, .. } => {
				let peer_id = *self.swarm.local_peer_id();
				log::info!(
					target: LOG_TARGET,
					"keyorch DHT overlay listening on {}",
					address.with(Protocol::P2p(peer_id))
				);
			},
			_ => {},
		}
	}

	fn on_kad_event(&mut self, event: kad::Event) {
		match event {
			kad::Event::InboundRequest {
				request: kad::InboundRequest::PutRecord { record: Some(record), .. },
			} => {
				let _ = self.offer(record);
			},
			kad::Event::OutboundQueryProgressed { id, result, .. } => match result {
				QueryResult::GetRecord(Ok(GetRecordOk::FoundRecord(PeerRecord {
					record, ..
				}))) => self.on_record_found(id, record),
				QueryResult::GetRecord(_) => self.answer_gets(id, Err(GetRecordError::NotFound)),
				QueryResult::GetClosestPeers(result) => {
					let Some(record) = self.puts.remove(&id) else { return };
					let peers = match result {
						Ok(ok) => ok.peers,
						Err(kad::GetClosestPeersError::Timeout { peers, .. }) => peers,
					};
					let peers: Vec<PeerId> = peers.into_iter().map(|p| p.peer_id).collect();
					if !peers.is_empty() {
						self.swarm.behaviour_mut().kad.put_record_to(
							record,
							peers.into_iter(),
							Quorum::One,
						);
					}
				},
				QueryResult::PutRecord(Err(error)) | QueryResult::RepublishRecord(Err(error)) => {
					log::debug!(target: LOG_TARGET, "publishing a record: {error}");
				},
				_ => {},
			},
			_ => {},
		}
	}

	fn on_record_found(&mut self, id: QueryId, record: Record) {
		let Some(key) = key_bytes(&record.key) else { return };
		// Peers are not trusted: what they return is checked like what they send.
		if self.ledger.validate_record(&key, &record.value).is_err() {
			return;
		}
		if let Some(mut query) = self.swarm.behaviour_mut().kad.query_mut(&id) {
			query.finish();
		}
		// Not kept here: Kademlia's replication decides which nodes hold a record.
		self.metrics.record_gets_served.inc();
		self.answer_gets(id, Ok(record.value));
	}

	fn answer_gets(&mut self, id: QueryId, answer: Result<Vec<u8>, GetRecordError>) {
		for reply in self.gets.remove(&id).into_iter().flatten() {
			let _ = reply.send(answer.clone());
		}
	}

	fn on_finalized(&mut self, notification: &FinalityNotification<Block>) {
		for block in finalized_blocks(notification) {
			let events = match self.ledger.events(block) {
				Ok(events) => events,
				Err(error) => {
					log::warn!(target: LOG_TARGET, "events of {block:?}: {error}");
					continue;
				},
			};
			for event in events {
				self.on_ledger_event(event);
			}
		}
		self.index.flush();
		self.retry_pending();
		self.refresh_gauges();
	}

	fn on_ledger_event(&mut self, event: LedgerEvent) {
		match event {
			LedgerEvent::EpochDealt { stream, epoch, holders, .. } => {
				for key in self.index.add_epoch(stream, epoch, holders.len()) {
					if let Some(value) = self.own_record(&key) {
						self.publish(key, value);
					}
				}
			},
			LedgerEvent::StreamEnded { stream, status } => {
				let keys = self.index.end_stream(stream, status);
				let kad = &mut self.swarm.behaviour_mut().kad;
				for key in &keys {
					if kad.store_mut().get(&record_key(key)).is_some() {
						kad.store_mut().remove(&record_key(key));
						self.metrics.records_dropped.inc();
					}
				}
				if let Some(store) = self.offchain.as_mut() {
					for key in &keys {
						store.remove(STORAGE_PREFIX, &keyorch_primitives::offchain_record_key(key));
					}
				}
				self.pending.retain(|pending| !keys.contains(&pending.key));
				log::info!(
					target: LOG_TARGET,
					"stream {} ended ({status:?}): its records are dropped",
					hex(&stream)
				);
			},
		}
	}

	fn retry_pending(&mut self) {
		let (now, _) = self.ledger.finalized();
		for pending in std::mem::take(&mut self.pending) {
			if now > pending.until {
				self.metrics.records_refused.inc();
				continue;
			}
			let _ = self.consider(pending.record, pending.until);
		}
	}
}

/// Hex of a key or id, for logs.
pub fn hex(bytes: &[u8; 32]) -> String {
	format!("0x{}", sp_core::hexdisplay::HexDisplay::from(bytes))
}
