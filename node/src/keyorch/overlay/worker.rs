//! The swarm task: it owns the libp2p swarm and dispatches — commands from [`super::Overlay`],
//! swarm events, finality and best-block notifications and the admission's verdicts. It never
//! reads the chain for a peer: offered records go to the admission, and the records a `keyorch_getRecord`
//! finds go to its caller unchecked, to be checked there.

use std::{
	collections::HashMap,
	time::{Duration, Instant},
};

use futures::StreamExt;
use keyorch_primitives::{SealedShareRecord, WireFormat};
use keyorch_runtime::{opaque::Block, BlockNumber};
use libp2p::{
	connection_limits::{self, ConnectionLimits},
	identify, identity,
	kad::{
		self, store::MemoryStoreConfig, GetRecordOk, PeerRecord, QueryId, QueryResult, Quorum,
		Record, RecordKey, StoreInserts,
	},
	multiaddr::Protocol,
	swarm::{NetworkBehaviour, SwarmEvent},
	Multiaddr, PeerId, StreamProtocol, Swarm,
};
use sc_client_api::{BlockImportNotification, BlockchainEvents, FinalityNotification};
use sp_core::offchain::{OffchainStorage, STORAGE_PREFIX};
use tokio::sync::mpsc;

use super::{
	admission::{Accepted, Admission, Offer, Purpose, Source},
	hex,
	publications::Publications,
	store::{key_bytes, ValidatedStore},
	Command, GetRecordError, OverlayParams, OverlayStatus, PutOutcome, StartError, LOG_TARGET,
	QUERY_TIMEOUT,
};
use crate::keyorch::{
	index::{epoch_record_keys, RecordIndex},
	ledger::{finalized_blocks, new_best_blocks, Ledger, LedgerEvent},
	metrics::Metrics,
};

/// The overlay's Kademlia protocol; nodes of other networks do not speak it.
pub const KAD_PROTOCOL: StreamProtocol = StreamProtocol::new("/keyorch/kad/1");

/// How often every node re-sends the records it holds to the closest peers. Each record costs
/// a closest-peers query per interval: at 15 s, a thousand streams' records kept every node of
/// a small network busy (see the README's "Dealing at scale").
const REPLICATION_INTERVAL: Duration = Duration::from_secs(60);

/// How often a node re-publishes the records its own off-chain worker dealt.
const PUBLICATION_INTERVAL: Duration = Duration::from_secs(60);

/// Least time between two publications of all own records for peers that joined: anyone can
/// connect, and each publication costs a chain read per record.
const REPUBLISH_GAP: Duration = Duration::from_secs(10);

/// Most records held; a dealing has at most 18 records, so this is thousands of streams.
const MAX_RECORDS: usize = 65_536;

/// Largest record accepted (a sealed share record is ~120 bytes).
const MAX_RECORD_BYTES: usize = 1024;

/// Connections the overlay accepts: established from others, being set up, and per peer.
const MAX_INCOMING: u32 = 128;
const MAX_PENDING_INCOMING: u32 = 32;
const MAX_PER_PEER: u32 = 2;

/// How often the overlay redials its bootnodes when alone and refreshes its gauges.
const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(3);

#[derive(NetworkBehaviour)]
pub struct Behaviour<S: OffchainStorage + 'static> {
	limits: connection_limits::Behaviour,
	kad: kad::Behaviour<ValidatedStore<S>>,
	identify: identify::Behaviour,
}

pub struct Worker<S: OffchainStorage + 'static> {
	swarm: Swarm<Behaviour<S>>,
	ledger: Ledger,
	offchain: Option<S>,
	metrics: Metrics,
	admission: Admission,
	accepted: mpsc::UnboundedReceiver<Accepted>,
	bootnodes: Vec<Multiaddr>,
	slot: Duration,
	/// DHT lookups in flight and where their records go.
	gets: HashMap<QueryId, Vec<mpsc::Sender<Vec<u8>>>>,
	/// `keyorch_putRecord` records waiting for the closest peers to be found.
	puts: HashMap<QueryId, Record>,
	/// Own records on their way to the closest peers, a few at a time.
	publications: Publications<QueryId>,
	/// Own records are to be published again (start, or a peer joined).
	republish_due: bool,
	last_republish: Option<Instant>,
}

fn record_key(key: &[u8; 32]) -> RecordKey {
	RecordKey::new(key)
}

impl<S: OffchainStorage + 'static> Worker<S> {
	/// The swarm of `keypair`, listening as `params` say.
	pub fn new(
		params: &OverlayParams,
		keypair: identity::Keypair,
		ledger: Ledger,
		offchain: Option<S>,
		metrics: Metrics,
	) -> Result<Self, StartError> {
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
		let store =
			ValidatedStore::new(local_peer_id, store_config, RecordIndex::load(offchain.clone()));
		let limits = ConnectionLimits::default()
			.with_max_established_incoming(Some(MAX_INCOMING))
			.with_max_pending_incoming(Some(MAX_PENDING_INCOMING))
			.with_max_established_per_peer(Some(MAX_PER_PEER));

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
				let mut kad = kad::Behaviour::with_config(local_peer_id, store, kad_config);
				// Every keyorch node answers queries, whatever its reachability looks like.
				kad.set_mode(Some(kad::Mode::Server));
				let identify = identify::Behaviour::new(identify::Config::new(
					"/keyorch/1".into(),
					key.public(),
				));
				Behaviour { limits: connection_limits::Behaviour::new(limits), kad, identify }
			})
			.map_err(|e| swarm_error(&e))?
			.with_swarm_config(|config| {
				config.with_idle_connection_timeout(Duration::from_secs(120))
			})
			.build();

		let ip = if params.dht_external { "0.0.0.0" } else { "127.0.0.1" };
		let listen: Multiaddr =
			format!("/ip4/{ip}/tcp/{}", params.dht_port).parse().map_err(|e| swarm_error(&e))?;
		swarm.listen_on(listen).map_err(|e| swarm_error(&e))?;

		let (accepted_tx, accepted) = mpsc::unbounded_channel();
		let admission = Admission::start(ledger.clone(), metrics.clone(), accepted_tx)
			.map_err(|e| swarm_error(&e))?;
		let slot = Duration::from_millis(ledger.slot_millis());
		Ok(Self {
			swarm,
			ledger,
			offchain,
			metrics,
			admission,
			accepted,
			bootnodes: params.dht_bootnodes.clone(),
			slot,
			gets: HashMap::new(),
			puts: HashMap::new(),
			publications: Publications::new(MAX_RECORDS),
			republish_due: true,
			last_republish: None,
		})
	}

	fn store(&mut self) -> &mut ValidatedStore<S> {
		self.swarm.behaviour_mut().kad.store_mut()
	}

	/// Runs the overlay until the node stops.
	pub async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
		let mut finality = self.ledger.client().finality_notification_stream();
		let mut imports = self.ledger.client().import_notification_stream();
		for (block, number) in self.ledger.unfinalized_blocks() {
			self.on_best_block(block, number);
		}
		self.dial_bootnodes();
		let mut maintenance = tokio::time::interval(MAINTENANCE_INTERVAL);
		loop {
			tokio::select! {
				event = self.swarm.select_next_some() => self.on_swarm_event(event),
				command = commands.recv() => match command {
					Some(command) => self.on_command(command),
					None => break,
				},
				Some(accepted) = self.accepted.recv() => self.on_accepted(accepted),
				notification = finality.next() => match notification {
					Some(notification) => self.on_finalized(&notification),
					None => break,
				},
				notification = imports.next() => match notification {
					Some(notification) => self.on_imported(&notification),
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
		let expired: Vec<_> = {
			use libp2p::kad::store::RecordStore;
			let store = self.store();
			store.records().filter(|r| r.is_expired(now)).map(|r| r.key.clone()).collect()
		};
		for key in expired {
			libp2p::kad::store::RecordStore::remove(self.store(), &key);
		}
		let gap_over = self.last_republish.is_none_or(|at| at.elapsed() >= REPUBLISH_GAP);
		if self.republish_due && gap_over {
			self.republish_due = false;
			self.last_republish = Some(now);
			self.publish_own_records();
		}
		self.refresh_gauges();
	}

	fn refresh_gauges(&mut self) {
		use libp2p::kad::store::RecordStore;
		let held = self.store().records().count();
		self.metrics.records_held.set(held as u64);
		self.metrics.overlay_peers.set(self.swarm.connected_peers().count() as u64);
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
		for key in self.store().index().live_keys() {
			self.publish(key);
		}
	}

	/// Publishes the own record under `key`, if there is one, once the admission accepted it.
	fn publish(&mut self, key: [u8; 32]) {
		let Some(value) = self.own_record(&key) else { return };
		let record = Record::new(record_key(&key), value);
		self.admit(Source::Local, record, Purpose::Publish, None);
	}

	fn admit(
		&mut self,
		source: Source,
		record: Record,
		purpose: Purpose,
		reply: Option<tokio::sync::oneshot::Sender<Result<(), String>>>,
	) {
		if !self.admission.offer(Offer { source, record, purpose, reply }) {
			self.metrics.records_shed.inc();
		}
	}

	fn on_accepted(&mut self, accepted: Accepted) {
		let Accepted { mut record, blocks_left, purpose } = accepted;
		record.expires = Some(self.expiry(blocks_left));
		match purpose {
			Purpose::Store => {
				record.publisher = None;
				if let Err(error) = libp2p::kad::store::RecordStore::put(self.store(), record) {
					log::debug!(target: LOG_TARGET, "record not stored: {error}");
				}
			},
			Purpose::Publish => {
				// Held and served here at once, republished by Kademlia as this node's own; put
				// to the closest peers in turn.
				record.publisher = Some(*self.swarm.local_peer_id());
				if let Err(error) =
					libp2p::kad::store::RecordStore::put(self.store(), record.clone())
				{
					log::warn!(target: LOG_TARGET, "cannot store own record: {error}");
					return;
				}
				if self.publications.queue(record) {
					self.metrics.records_shed.inc();
				}
				self.start_publications();
			},
		}
	}

	/// Starts the puts of own records the line allows.
	fn start_publications(&mut self) {
		while let Some(publication) = self.publications.next() {
			let kad = &mut self.swarm.behaviour_mut().kad;
			match kad.put_record(publication.record.clone(), Quorum::One) {
				Ok(query) => self.publications.started(query, publication),
				Err(error) => log::warn!(target: LOG_TARGET, "cannot store own record: {error}"),
			}
		}
	}

	fn on_command(&mut self, command: Command) {
		match command {
			Command::Local { key, reply } => {
				let _ = reply.send(self.local(&key));
			},
			Command::Query { key, found } => {
				let query = self.swarm.behaviour_mut().kad.get_record(record_key(&key));
				self.gets.entry(query).or_default().push(found);
			},
			Command::Put { key, value, reply } => {
				let record = Record::new(record_key(&key), value);
				let (verdict, answer) = tokio::sync::oneshot::channel();
				self.admit(Source::Local, record.clone(), Purpose::Store, Some(verdict));
				tokio::spawn(async move {
					let outcome = match answer.await {
						Ok(Ok(())) => PutOutcome { stored_locally: true, refusal: None },
						Ok(Err(reason)) => {
							PutOutcome { stored_locally: false, refusal: Some(reason) }
						},
						Err(_) => PutOutcome {
							stored_locally: false,
							refusal: Some("the overlay stopped".into()),
						},
					};
					let _ = reply.send(outcome);
				});
				// The peers judge it themselves, exactly as this node does.
				let query = self.swarm.behaviour_mut().kad.get_closest_peers(key.to_vec());
				self.puts.insert(query, record);
			},
			Command::Status { reply } => {
				self.refresh_gauges();
				let _ = reply.send(self.status());
			},
		}
	}

	/// The record under `key` held here, or why there is none to give.
	fn local(&mut self, key: &[u8; 32]) -> Result<Option<Vec<u8>>, GetRecordError> {
		use libp2p::kad::store::RecordStore;
		if let Some((_, Some(status))) = self.store().index().lookup(key) {
			return Err(GetRecordError::Ended(status));
		}
		let held = self
			.store()
			.get(&record_key(key))
			.filter(|record| !record.is_expired(Instant::now()))
			.map(|record| record.value.clone());
		let Some(value) = held.or_else(|| self.own_record(key)) else { return Ok(None) };
		// An epoch this index has not learnt yet may belong to a stream it knows has ended.
		let stream = SealedShareRecord::decode_exact(&value).map(|record| record.stream_id);
		match stream.ok().and_then(|stream| self.store().index().ended(&stream)) {
			Some(status) => Err(GetRecordError::Ended(status)),
			None => Ok(Some(value)),
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
			records_shed: self.metrics.records_shed.get(),
			records_dropped: self.metrics.records_dropped.get(),
		}
	}

	fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent<S>>) {
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
				request: kad::InboundRequest::PutRecord { source, record: Some(record), .. },
			} => {
				// A replication of what is held already needs no admission.
				if !self.store().holds(&record) {
					self.admit(Source::Peer(source), record, Purpose::Store, None);
				}
			},
			kad::Event::OutboundQueryProgressed { id, result, .. } => match result {
				QueryResult::GetRecord(Ok(GetRecordOk::FoundRecord(PeerRecord {
					record, ..
				}))) => self.on_record_found(id, record),
				QueryResult::GetRecord(_) => {
					self.gets.remove(&id);
				},
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
				QueryResult::PutRecord(result) => {
					if let Err(error) = &result {
						log::debug!(target: LOG_TARGET, "publishing a record: {error}");
					}
					if self.publications.finished(&id, result.is_ok()) {
						self.start_publications();
					}
				},
				QueryResult::RepublishRecord(Err(error)) => {
					log::debug!(target: LOG_TARGET, "republishing a record: {error}");
				},
				_ => {},
			},
			_ => {},
		}
	}

	/// Hands a found record to the lookups waiting for it; ends the query once none waits.
	fn on_record_found(&mut self, id: QueryId, record: Record) {
		if key_bytes(&record.key).is_none() {
			return;
		}
		let Some(waiting) = self.gets.get_mut(&id) else { return };
		// A lookup that found a valid record dropped its receiver.
		waiting.retain(|found| found.try_send(record.value.clone()).is_ok() || !found.is_closed());
		if waiting.is_empty() {
			self.gets.remove(&id);
			if let Some(mut query) = self.swarm.behaviour_mut().kad.query_mut(&id) {
				query.finish();
			}
		}
	}

	fn on_imported(&mut self, notification: &BlockImportNotification<Block>) {
		for (block, number) in new_best_blocks(notification) {
			self.on_best_block(block, number);
		}
	}

	/// An epoch dealt in the best chain is published at once (the fast path), and waiting
	/// records are checked again; an end in the best chain refuses the stream's records at once.
	/// Only finality drops records, and old epochs.
	fn on_best_block(&mut self, block: keyorch_runtime::Hash, number: BlockNumber) {
		for event in self.ledger.events(block) {
			match event {
				LedgerEvent::EpochDealt { stream, epoch, holders, .. } => {
					for key in epoch_record_keys(stream, epoch, holders.len()) {
						self.publish(key);
					}
				},
				LedgerEvent::StreamEnded { stream, status } => {
					self.store().index_mut().refuse(stream, status, number);
					log::info!(
						target: LOG_TARGET,
						"stream {} ended ({status:?}) in best block #{number}: its records are \
						 refused",
						hex(&stream)
					);
				},
			}
		}
		self.admission.chain_moved();
	}

	fn on_finalized(&mut self, notification: &FinalityNotification<Block>) {
		for block in finalized_blocks(notification) {
			for event in self.ledger.events(block) {
				self.on_ledger_event(event);
			}
		}
		use sp_runtime::traits::Header;
		self.store().index_mut().lift_refusals(*notification.header.number());
		self.store().index_mut().flush();
		self.admission.chain_moved();
		self.refresh_gauges();
	}

	fn on_ledger_event(&mut self, event: LedgerEvent) {
		match event {
			LedgerEvent::EpochDealt { stream, epoch, holders, .. } => {
				let added = self.store().index_mut().add_epoch(stream, epoch, holders.len());
				for key in &added.dropped {
					self.store().remove_held(key);
				}
				for key in added.keys {
					self.publish(key);
				}
			},
			LedgerEvent::StreamEnded { stream, status } => {
				let keys = self.store().index_mut().end_stream(stream, status);
				for key in &keys {
					if self.store().remove_held(key) {
						self.metrics.records_dropped.inc();
					}
				}
				if let Some(store) = self.offchain.as_mut() {
					for key in &keys {
						store.remove(STORAGE_PREFIX, &keyorch_primitives::offchain_record_key(key));
					}
				}
				log::info!(
					target: LOG_TARGET,
					"stream {} ended ({status:?}): its records are dropped",
					hex(&stream)
				);
			},
		}
	}
}
