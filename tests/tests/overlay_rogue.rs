//! The DHT overlay against a rogue peer that speaks plain Kademlia (`/keyorch/kad/1`) through
//! rust-libp2p, not keyorch's code path: it floods a node with forged records and asks it for
//! records keyorch no longer serves.
//!
//! - forged records never wait as pending, and a legitimate record offered during the flood is
//!   still accepted and served;
//! - a raw Kademlia GET gets no record of a revoked stream, nor of an epoch older than the two
//!   the chain keeps.

use std::time::{Duration, Instant};

use keyorch_client::NodeClient;
use keyorch_primitives::{record_dht_key, DealContext};
use keyorch_runtime::pallet_keyorch::{RotationPolicy, StreamId};
use keyorch_tests::{
	dev_node,
	parties::{wait_for_epoch, Party},
	rogue::{forged_record, Rogue, GET_TIMEOUT},
	wait_for,
};
use libp2p::kad::Record;
use sp_core::H256;

/// Forged records the rogue peer offers.
const FORGED: usize = 10_000;

/// How long a dealing may take to be dealt and final, at most.
const EPOCH_TIMEOUT: Duration = Duration::from_secs(120);

/// The DHT key of holder 1's record of `epoch` of `stream`.
fn key_of(stream: StreamId, epoch: u32) -> [u8; 32] {
	record_dht_key(&DealContext { stream_id: stream.0, epoch }, 1)
}

/// Waits until block `number` is final on `client`'s node.
async fn wait_final(client: &NodeClient, number: u32) {
	wait_for(&format!("block {number} to be final"), EPOCH_TIMEOUT, || async {
		(client.finalized_number().await.ok()? >= number).then_some(())
	})
	.await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rogue_kademlia_peer_cannot_clog_admission_or_fetch_what_keyorch_no_longer_serves() {
	let node = dev_node().await;
	let client = node.client().await;
	let keyorch = node.keyorch().await;
	let (initiator, provider, witness) =
		(Party::new("//Bob"), Party::new("//Charlie"), Party::new("//Dave"));
	initiator.register(&client, false).await;
	provider.register(&client, false).await;
	witness.register(&client, true).await;
	let still = RotationPolicy { every_blocks: None, every_bytes: None };
	let (revoked, at) = initiator.request_stream(&client, &provider, 1, 2, still).await;
	let dealt = wait_for_epoch(&client, revoked, 0, at, EPOCH_TIMEOUT).await;
	wait_final(&client, dealt.block).await;

	let mut rogue = Rogue::join(&node).await;
	// The dealer publishes its records once their epoch is final here.
	let started = Instant::now();
	let live = loop {
		if let Some(value) = rogue.get(key_of(revoked, 0)).await {
			break value;
		}
		assert!(started.elapsed() < EPOCH_TIMEOUT, "the live record is never served");
		tokio::time::sleep(Duration::from_millis(500)).await;
	};

	// The flood, while a legitimate record is offered and a new stream is dealt.
	let forged: Vec<Record> = (0..FORGED).map(|_| forged_record()).collect();
	let offered = async {
		let (fresh, at) = initiator.request_stream(&client, &provider, 1, 2, still).await;
		let outcome = keyorch.put_record(key_of(revoked, 0), live.clone()).await;
		(fresh, at, outcome)
	};
	let (answered, (fresh, fresh_at, outcome)) = tokio::join!(rogue.put_all(forged), offered);
	assert_eq!(outcome["storedLocally"], true, "a legitimate offer is accepted: {outcome}");
	let status = keyorch.status().await;
	assert_eq!(status["recordsPending"], 0, "no forged record waits: {status}");
	println!("the node answered {answered} of {FORGED} forged puts; status {status}");
	let dealt = wait_for_epoch(&client, fresh, 0, fresh_at, EPOCH_TIMEOUT).await;
	wait_final(&client, dealt.block).await;
	wait_for("the new stream's record to be served", GET_TIMEOUT, || async {
		client.record(H256(key_of(fresh, 0))).await.ok()
	})
	.await;

	// Revoked: neither keyorch's RPC nor a raw GET gives its record any more.
	let included = client.revoke(&initiator.signer, revoked, "done").await.expect("revoked");
	wait_final(&client, included.number).await;
	assert!(client.record(H256(key_of(revoked, 0))).await.is_err());
	assert_eq!(rogue.get(key_of(revoked, 0)).await, None, "a revoked stream's record is served");

	// Rotated twice: epoch 0 is no longer kept on chain, nor served.
	let rotating = RotationPolicy { every_blocks: Some(2), every_bytes: None };
	let (rotated, at) = initiator.request_stream(&client, &provider, 1, 2, rotating).await;
	let first = wait_for_epoch(&client, rotated, 0, at, EPOCH_TIMEOUT).await;
	wait_final(&client, first.block).await;
	assert!(rogue.get(key_of(rotated, 0)).await.is_some(), "epoch 0 is served while kept");
	let third = wait_for_epoch(&client, rotated, 2, first.block, EPOCH_TIMEOUT).await;
	wait_final(&client, third.block).await;
	assert_eq!(rogue.get(key_of(rotated, 0)).await, None, "an epoch no longer kept is served");
	assert!(rogue.get(key_of(rotated, 2)).await.is_some(), "the current epoch is served");
}
