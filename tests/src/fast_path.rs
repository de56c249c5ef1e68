//! A stream requested and its epoch 0 key assembled on both sides as soon as the best chain
//! allows (the fast path): shared by the `fast_path` test and `keyorch-figures assembly`.

use std::time::{Duration, Instant};

use keyorch_client::{AssembledKey, NodeClient, WitnessEndpoint};
use keyorch_runtime::pallet_keyorch::{RotationPolicy, StreamId};

use crate::{parties::Party, Node};

/// How long a key may take to be usable on a side.
const KEY_TIMEOUT: Duration = Duration::from_secs(120);

/// How often a side tries to assemble while the epoch is not dealt or shared yet.
const ASSEMBLY_POLL: Duration = Duration::from_millis(100);

/// A party and the node it talks to.
pub type Side<'a> = (&'a Party, &'a NodeClient);

/// The key of a new stream on both sides.
pub struct KeyOnBothSides {
	/// The stream.
	pub stream: StreamId,
	/// From submitting the request to both sides holding the key.
	pub elapsed: Duration,
	/// Blocks from the request's inclusion to the epoch's dealing.
	pub blocks_to_dealing: u32,
	/// Whether a side assembled its key while the dealing was not final yet.
	pub before_final: bool,
	/// The initiator's key.
	pub initiator: AssembledKey,
	/// The provider's key.
	pub provider: AssembledKey,
}

/// `party`'s key of epoch 0 of `stream` as soon as it can be assembled through `client`, and
/// whether the dealing was not final yet when it was.
async fn key_when_ready(
	(party, client): Side<'_>,
	stream: StreamId,
	endpoints: &[WitnessEndpoint],
) -> (AssembledKey, bool) {
	let deadline = Instant::now() + KEY_TIMEOUT;
	let key = loop {
		match client.assemble_key(party.identity(), stream, Some(0), endpoints).await {
			Ok(key) => break key,
			Err(error) => {
				assert!(Instant::now() < deadline, "no key within {KEY_TIMEOUT:?}: {error}");
				tokio::time::sleep(ASSEMBLY_POLL).await;
			},
		}
	};
	let finalized = client.finalized_number().await.expect("finalized block");
	let before_final = key.dealing.dealt_at > finalized;
	(key, before_final)
}

/// Requests a stream from `initiator` to `provider` with `witness_count` witnesses (threshold
/// 2, no rotation) and assembles its key on both sides, asking `endpoints`; panics unless both
/// sides get the same key.
pub async fn key_on_both_sides(
	initiator: Side<'_>,
	provider: Side<'_>,
	witness_count: u32,
	endpoints: &[WitnessEndpoint],
) -> KeyOnBothSides {
	let started = Instant::now();
	let no_rotation = RotationPolicy { every_blocks: None, every_bytes: None };
	let (stream, requested) =
		initiator.0.request_stream(initiator.1, provider.0, witness_count, 2, no_rotation).await;
	let ((mine, mine_early), (theirs, theirs_early)) = tokio::join!(
		key_when_ready(initiator, stream, endpoints),
		key_when_ready(provider, stream, endpoints)
	);
	let elapsed = started.elapsed();
	assert_eq!(mine.keys.fingerprint(), theirs.keys.fingerprint(), "both sides' keys agree");
	assert_eq!(mine.dealing, theirs.dealing, "both sides' keys come from one dealing");
	KeyOnBothSides {
		stream,
		elapsed,
		blocks_to_dealing: mine.dealing.dealt_at.saturating_sub(requested),
		before_final: mine_early || theirs_early,
		initiator: mine,
		provider: theirs,
	}
}

/// The parties of the fast-path streams, registered: Ferdie's stash to Alice's stash (not
/// validators, whose accounts the off-chain workers sign with), with the dev witnesses the
/// witness nodes run.
pub struct Parties {
	/// The initiator of every stream.
	pub initiator: Party,
	/// The provider of every stream.
	pub provider: Party,
	/// The witnesses, in the order of their nodes.
	pub witnesses: Vec<Party>,
	/// Where the witnesses answer.
	pub endpoints: Vec<WitnessEndpoint>,
}

impl Parties {
	/// Registers the parties, and `witness_seeds` as witnesses, through `client`;
	/// `witness_nodes` run those witnesses, in the same order.
	pub async fn register(
		client: &NodeClient,
		witness_seeds: &[&str],
		witness_nodes: &[Node],
	) -> Self {
		let initiator = Party::new("//Ferdie//stash");
		let provider = Party::new("//Alice//stash");
		initiator.register(client, false).await;
		provider.register(client, false).await;
		let witnesses: Vec<Party> = witness_seeds.iter().map(|seed| Party::dev(seed)).collect();
		for witness in &witnesses {
			witness.register(client, true).await;
		}
		let endpoints = witness_nodes.iter().map(|node| WitnessEndpoint::new(node.ws_url()));
		Self { initiator, provider, witnesses, endpoints: endpoints.collect() }
	}

	/// A new stream with every witness, its key assembled on both sides: the initiator through
	/// `client`, the provider through `provider_client`.
	pub async fn key_on_both_sides(
		&self,
		client: &NodeClient,
		provider_client: &NodeClient,
	) -> KeyOnBothSides {
		key_on_both_sides(
			(&self.initiator, client),
			(&self.provider, provider_client),
			self.witnesses.len() as u32,
			&self.endpoints,
		)
		.await
	}
}
