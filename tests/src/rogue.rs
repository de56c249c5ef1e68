//! A rogue peer of the DHT overlay: a rust-libp2p Kademlia behaviour speaking `/keyorch/kad/1`,
//! with nothing of keyorch's code path, to ask nodes for records and offer them forgeries
//! directly at the Kademlia protocol level.

use std::{
	collections::HashSet,
	time::{Duration, Instant},
};

use futures::StreamExt;
use libp2p::{
	kad::{self, store::MemoryStore, GetRecordOk, QueryId, QueryResult, Quorum, Record, RecordKey},
	swarm::SwarmEvent,
	Multiaddr, PeerId, StreamProtocol, Swarm,
};

use keyorch_primitives::{
	record_dht_key, DealContext, EncryptionPublicKey, SealedShareRecord, WireVersion,
};

use crate::Node;

/// Forged puts the rogue peer has under way at once.
const IN_FLIGHT: usize = 256;

/// How long a raw GET may take, at most.
pub const GET_TIMEOUT: Duration = Duration::from_secs(20);

/// A well-formed sealed record of a stream that does not exist, under its own DHT key.
pub fn forged_record() -> Record {
	let stream_id: [u8; 32] = rand::random();
	let sealed = SealedShareRecord {
		version: WireVersion::V1,
		stream_id,
		epoch: 0,
		holder_index: 1,
		ephemeral_key: EncryptionPublicKey(rand::random()),
		ciphertext: [7; 48],
	};
	let key = record_dht_key(&DealContext { stream_id, epoch: 0 }, 1);
	Record::new(RecordKey::new(&key), codec::Encode::encode(&sealed))
}

/// A peer of the overlay with a Kademlia behaviour of rust-libp2p's, and nothing of keyorch's.
pub struct Rogue {
	swarm: Swarm<kad::Behaviour<MemoryStore>>,
	node: PeerId,
}

impl Rogue {
	/// Connects to the overlay of `node`.
	pub async fn join(node: &Node) -> Self {
		let address: Multiaddr = node.overlay_multiaddr().parse().expect("a multiaddr");
		let peer: PeerId = node.overlay_peer_id.parse().expect("a peer id");
		let mut swarm = libp2p::SwarmBuilder::with_new_identity()
			.with_tokio()
			.with_tcp(
				libp2p::tcp::Config::default(),
				libp2p::noise::Config::new,
				libp2p::yamux::Config::default,
			)
			.expect("tcp")
			.with_behaviour(|key| {
				let id = key.public().to_peer_id();
				let config = kad::Config::new(StreamProtocol::new("/keyorch/kad/1"));
				kad::Behaviour::with_config(id, MemoryStore::new(id), config)
			})
			.expect("a behaviour")
			.with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(300)))
			.build();
		swarm.behaviour_mut().add_address(&peer, address.clone());
		swarm.dial(address).expect("dialing the node");
		let mut rogue = Self { swarm, node: peer };
		tokio::time::timeout(GET_TIMEOUT, async {
			loop {
				if let SwarmEvent::ConnectionEstablished { peer_id, .. } =
					rogue.swarm.select_next_some().await
				{
					if peer_id == peer {
						return;
					}
				}
			}
		})
		.await
		.expect("the rogue peer connects");
		rogue
	}

	/// A raw Kademlia GET of `key`: the value of the first record found, if any.
	pub async fn get(&mut self, key: [u8; 32]) -> Option<Vec<u8>> {
		let query = self.swarm.behaviour_mut().get_record(RecordKey::new(&key));
		let found = tokio::time::timeout(GET_TIMEOUT, async {
			loop {
				match self.swarm.select_next_some().await {
					SwarmEvent::Behaviour(kad::Event::OutboundQueryProgressed {
						id,
						result: QueryResult::GetRecord(result),
						..
					}) if id == query => {
						return match result {
							Ok(GetRecordOk::FoundRecord(found)) => Some(found.record.value),
							_ => None,
						}
					},
					_ => {},
				}
			}
		})
		.await;
		found.unwrap_or(None)
	}

	/// Offers `records` to the node with raw Kademlia PUTs, `IN_FLIGHT` at a time; returns
	/// how many puts completed (the node answered).
	pub async fn put_all(&mut self, records: Vec<Record>) -> usize {
		let mut records = records.into_iter();
		let mut in_flight: HashSet<QueryId> = Default::default();
		let mut done = 0;
		let started = Instant::now();
		loop {
			while in_flight.len() < IN_FLIGHT {
				let Some(record) = records.next() else { break };
				let node = self.node;
				let query = self.swarm.behaviour_mut().put_record_to(
					record,
					std::iter::once(node),
					Quorum::One,
				);
				in_flight.insert(query);
			}
			if in_flight.is_empty() || started.elapsed() > Duration::from_secs(300) {
				return done;
			}
			if let SwarmEvent::Behaviour(kad::Event::OutboundQueryProgressed {
				id,
				result: QueryResult::PutRecord(result),
				..
			}) = self.swarm.select_next_some().await
			{
				if in_flight.remove(&id) && result.is_ok() {
					done += 1;
				}
			}
		}
	}
}
