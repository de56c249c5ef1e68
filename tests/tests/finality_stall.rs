//! Finality stalled on purpose: of the four validators two are stopped, so GRANDPA cannot
//! finalize while the other two go on authoring.
//!
//! - Revocation fails closed. A revocation that reaches the best chain makes every witness
//!   refuse the stream's shares, and every node stop serving its records — to
//!   `keyorch_getRecord` and to a raw Kademlia GET — within one block of its import, although
//!   the finalized chain still says the stream is live.
//! - The fast path's rule. A stream requested during the stall gets its key at the best block
//!   on both sides, and the key is dropped once its dealing has not become final within
//!   `DEALING_FINALITY_BLOCKS` blocks.

use std::time::{Duration, Instant};

use codec::Encode;
use keyorch_client::{DealingFinality, Error, WitnessEndpoint, DEALING_FINALITY_BLOCKS};
use keyorch_tests::{
	fast_path::key_on_both_sides,
	local_network_with_witnesses,
	parties::{wait_for_shares, DealtStream},
	revocation::until_refused_everywhere,
	rogue::Rogue,
	wait_for, Node, VALIDATORS,
};

const WITNESSES: [&str; 2] = ["//Dave", "//Eve"];

/// How long records and shares may take to spread before the stall.
const SPREAD_TIMEOUT: Duration = Duration::from_secs(120);

/// One block: with two of four validators authoring, a block comes within two 3 s slots.
const ONE_BLOCK: Duration = Duration::from_secs(6);

/// `DEALING_FINALITY_BLOCKS` blocks of the stalled chain, and then some.
const DROP_TIMEOUT: Duration =
	Duration::from_secs(ONE_BLOCK.as_secs() * (DEALING_FINALITY_BLOCKS as u64 + 2) + 30);

#[tokio::test(flavor = "multi_thread")]
async fn a_revocation_in_the_best_chain_ends_access_while_finality_is_stalled() {
	let mut nodes = local_network_with_witnesses(&WITNESSES).await;
	let stream = DealtStream::new(&nodes, &WITNESSES).await;
	let witnesses = VALIDATORS.len()..nodes.len();
	let witness_nodes: Vec<&Node> = nodes[witnesses.clone()].iter().collect();
	wait_for_shares(&witness_nodes, 1, SPREAD_TIMEOUT).await;
	let client = nodes[0].client().await;
	let keys: Vec<[u8; 32]> =
		(1..=stream.dealt.record_hashes.len()).map(|holder| stream.key(holder as u8)).collect();

	// Before: every witness releases, every node gives every record, so does a raw GET.
	let expires_at = client.finalized_number().await.expect("finalized") + 50;
	for (witness, node) in witness_nodes.iter().enumerate() {
		let rpc = node.keyorch().await;
		let request = stream.initiator.release_request(
			stream.stream,
			0,
			&stream.witnesses[witness],
			expires_at,
		);
		let answer = rpc.request_share(request.encode()).await;
		answer.expect("the witness releases its share while the stream is live");
	}
	let all: Vec<&Node> = nodes.iter().collect();
	every_record_on(&all, &keys, SPREAD_TIMEOUT).await;
	let mut rogue = Rogue::join(&nodes[1]).await;
	assert!(rogue.get(keys[0]).await.is_some(), "a raw GET finds the live record");

	// The stall: two of four validators down, the best chain goes on, finality does not.
	for stopped in [2, 3] {
		nodes[stopped].stop();
	}
	wait_for("the best chain to pass the finalized block", SPREAD_TIMEOUT, || async {
		let best = client.header(None).await.ok()?.number;
		let finalized = client.finalized_number().await.ok()?;
		(best > finalized + 2).then_some(())
	})
	.await;

	let revoked = client.revoke(&stream.initiator.signer, stream.stream, "stalled").await;
	let revoked = revoked.expect("the revocation is included in a best block");
	let included = Instant::now();
	let running: Vec<&Node> = nodes.iter().filter(|node| node.pid().is_some()).collect();
	let witness_parties: Vec<_> = stream.witnesses.iter().zip(&nodes[witnesses.clone()]).collect();
	let last_refusal = until_refused_everywhere(
		stream.stream,
		&stream.initiator,
		&witness_parties,
		&running,
		&keys,
		included,
		ONE_BLOCK,
	)
	.await;
	assert_eq!(rogue.get(keys[0]).await, None, "a raw GET still finds the revoked record");
	println!(
		"revocation in best block #{}: every witness and node refused {last_refusal:?} after \
		 inclusion",
		revoked.number,
	);

	// The party's own view: its node's finalized chain says live, the best chain says ended.
	let finalized = client.finalized_number().await.expect("finalized");
	assert!(finalized < revoked.number, "finality was stalled: #{finalized}");
	let endpoints: Vec<_> =
		nodes[witnesses].iter().map(|node| WitnessEndpoint::new(node.ws_url())).collect();
	let assembled =
		client.assemble_key(stream.provider.identity(), stream.stream, None, &endpoints).await;
	assert!(
		matches!(assembled, Err(Error::StreamEnded { .. })),
		"the provider still assembles the key: {assembled:?}"
	);

	// A stream requested during the stall: its key comes at the best block on both sides, and
	// is dropped once its dealing has not become final in time.
	let provider_client = nodes[1].client().await;
	let late = key_on_both_sides(
		(&stream.initiator, &client),
		(&stream.provider, &provider_client),
		WITNESSES.len() as u32,
		&endpoints,
	)
	.await;
	assert!(late.before_final, "the key waited for finality");
	let dealing = &late.initiator.dealing;
	let finality = client.dealing_finality(dealing).await.expect("read");
	assert!(matches!(finality, DealingFinality::Pending { .. }), "{finality:?}");
	let dropped = tokio::time::timeout(DROP_TIMEOUT, client.confirm_dealing(dealing)).await;
	let dropped = dropped.expect("the key is dropped in time");
	assert!(matches!(dropped, Err(Error::DealingDropped { .. })), "{dropped:?}");
	println!("a key assembled during the stall was dropped: {}", dropped.unwrap_err());
}

/// Waits until every node of `nodes` serves every record of `keys` through
/// `keyorch_getRecord`, each within `timeout`.
async fn every_record_on(nodes: &[&Node], keys: &[[u8; 32]], timeout: Duration) {
	for node in nodes {
		let rpc = node.keyorch().await;
		for key in keys {
			wait_for("every node to serve", timeout, || async {
				rpc.get_record(*key, false).await.ok().map(drop)
			})
			.await;
		}
	}
}
