//! A stream's whole life through keyorch-client's key assembly, on real nodes with witness
//! services: request → the same key on both sides (one per direction) → rotation → a dead
//! witness → too few witnesses → revocation.

use std::time::{Duration, Instant};

use futures::StreamExt;
use keyorch_client::{AssembledKey, Error, KeyUpdate, NodeClient, WitnessEndpoint};
use keyorch_primitives::{
	frame::{HEADER_LEN, TAG_LEN},
	Direction, StreamKeys,
};
use keyorch_runtime::pallet_keyorch::{RotationPolicy, StreamId};
use keyorch_tests::{
	dev_node_with_witness, local_network_with_witnesses,
	parties::{
		assemble, register_and_request, wait_for_epoch, wait_for_shares, DealtStream, Party,
	},
	wait_for, Node, VALIDATORS,
};

const DEALING_TIMEOUT: Duration = Duration::from_secs(120);
const SHARE_TIMEOUT: Duration = Duration::from_secs(60);

/// Initiator and provider hold the same keys: a frame one seals, the other opens, in each
/// direction; a frame of one direction does not open as the other.
fn assert_same_keys(initiator: &StreamKeys, provider: &StreamKeys) {
	assert_eq!(initiator.fingerprint(), provider.fingerprint());
	let session = [7u8; 16];
	for (sender, receiver, direction, other) in [
		(initiator, provider, Direction::InitiatorToProvider, Direction::ProviderToInitiator),
		(provider, initiator, Direction::ProviderToInitiator, Direction::InitiatorToProvider),
	] {
		let seal = || {
			let mut frame = vec![0u8; HEADER_LEN + 5 + TAG_LEN];
			frame[HEADER_LEN..HEADER_LEN + 5].copy_from_slice(b"hello");
			let len =
				sender.sender(direction, session).seal_in_place(&mut frame, 5).expect("sealed");
			frame.truncate(len);
			frame
		};
		let mut frame = seal();
		let opened =
			receiver.receiver(direction, session).open_in_place(&mut frame).expect("opens");
		assert_eq!(opened, b"hello");
		let mut frame = seal();
		assert!(receiver.receiver(other, session).open_in_place(&mut frame).is_err());
	}
}

/// Rotates `stream` and waits for epoch `epoch` to be dealt.
async fn rotate(client: &NodeClient, party: &Party, stream: StreamId, epoch: u32) {
	let included = client.rotate(&party.signer, stream).await.expect("rotate");
	wait_for_epoch(client, stream, epoch, included.number, DEALING_TIMEOUT).await;
}

/// `party` assembles through node `node`, asking the witness nodes Dave and Eve.
async fn ask(
	nodes: &[Node],
	node: usize,
	party: &Party,
	stream: StreamId,
) -> Result<AssembledKey, Error> {
	let witnesses: Vec<&Node> = nodes[VALIDATORS.len()..].iter().collect();
	assemble(&nodes[node], party, stream, &witnesses).await
}

/// The next key update, within the dealing timeout.
async fn next_update(
	updates: &mut (impl futures::Stream<Item = Result<KeyUpdate, Error>> + Unpin),
) -> KeyUpdate {
	tokio::time::timeout(DEALING_TIMEOUT, updates.next())
		.await
		.expect("an update in time")
		.expect("the stream of updates goes on")
		.expect("no error")
}

fn assert_stream_ended(result: Result<AssembledKey, Error>) {
	match result {
		Err(Error::StreamEnded { status }) => assert_eq!(status, "revoked"),
		other => panic!("expected a revoked stream, got {other:?}"),
	}
}

#[tokio::test(flavor = "multi_thread")]
async fn on_a_dev_node_both_sides_get_the_key_rotate_and_lose_it_on_revocation() {
	let node = dev_node_with_witness("//Dave").await;
	let client = node.client().await;
	let initiator = Party::new("//Bob");
	let provider = Party::new("//Charlie");
	let no_rotation = RotationPolicy { every_blocks: None, every_bytes: None };
	let requested = Instant::now();
	let witnesses = [Party::dev("//Dave")];
	let (stream, block) =
		register_and_request(&client, &initiator, &provider, &witnesses, 2, no_rotation).await;
	wait_for_epoch(&client, stream, 0, block, DEALING_TIMEOUT).await;
	wait_for_shares(&[&node], 1, SHARE_TIMEOUT).await;

	let first = assemble(&node, &initiator, stream, &[&node]).await.expect("initiator's key");
	let theirs = assemble(&node, &provider, stream, &[&node]).await.expect("provider's key");
	println!("dev: request to a key on both sides in {:?}", requested.elapsed());
	assert_same_keys(&first.keys, &theirs.keys);

	rotate(&client, &provider, stream, 1).await;
	wait_for_shares(&[&node], 2, SHARE_TIMEOUT).await;
	let rotated = assemble(&node, &initiator, stream, &[&node]).await.expect("epoch 1");
	let theirs = assemble(&node, &provider, stream, &[&node]).await.expect("epoch 1");
	assert_eq!(rotated.epoch, 1);
	assert_same_keys(&rotated.keys, &theirs.keys);
	assert_ne!(rotated.keys.fingerprint(), first.keys.fingerprint(), "a new key per epoch");

	client.revoke(&initiator.signer, stream, "done").await.expect("revoke");
	assert_stream_ended(assemble(&node, &initiator, stream, &[&node]).await);
	assert_stream_ended(assemble(&node, &provider, stream, &[&node]).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn on_a_network_assembly_skips_a_dead_witness_and_fails_fast_without_enough() {
	const WITNESSES: [&str; 2] = ["//Dave", "//Eve"];
	let mut nodes = local_network_with_witnesses(&WITNESSES).await;
	let stream = DealtStream::new(&nodes, &WITNESSES).await;
	let client = nodes[0].client().await;
	let (dave, eve) = (VALIDATORS.len(), VALIDATORS.len() + 1);
	wait_for_shares(&[&nodes[dave], &nodes[eve]], 1, SHARE_TIMEOUT).await;

	// Each party talks to its own node; both ask both witnesses.
	let first = ask(&nodes, 1, &stream.initiator, stream.stream).await.expect("initiator's key");
	let theirs = ask(&nodes, 2, &stream.provider, stream.stream).await.expect("provider's key");
	assert_same_keys(&first.keys, &theirs.keys);

	rotate(&client, &stream.initiator, stream.stream, 1).await;
	wait_for_shares(&[&nodes[dave], &nodes[eve]], 2, SHARE_TIMEOUT).await;
	let rotated = ask(&nodes, 1, &stream.initiator, stream.stream).await.expect("epoch 1");
	let theirs = ask(&nodes, 2, &stream.provider, stream.stream).await.expect("epoch 1");
	assert_eq!(rotated.epoch, 1);
	assert_same_keys(&rotated.keys, &theirs.keys);
	assert_ne!(rotated.keys.fingerprint(), first.keys.fingerprint());

	nodes[dave].kill();
	let without_dave =
		ask(&nodes, 1, &stream.initiator, stream.stream).await.expect("Eve's share is enough");
	assert_eq!(without_dave.keys.fingerprint(), rotated.keys.fingerprint());
	assert_eq!(without_dave.skipped.len(), 1, "{:?}", without_dave.skipped);

	nodes[eve].kill();
	let started = Instant::now();
	match ask(&nodes, 1, &stream.initiator, stream.stream).await {
		Err(Error::NotEnoughWitnesses { have: 1, needed: 2, witnesses }) => {
			assert_eq!(witnesses.len(), 2, "both witnesses reported: {witnesses:?}")
		},
		other => panic!("expected too few witnesses, got {other:?}"),
	}
	assert!(
		started.elapsed() < Duration::from_secs(15),
		"failed promptly: {:?}",
		started.elapsed()
	);

	client.revoke(&stream.provider.signer, stream.stream, "done").await.expect("revoke");
	let provider_client = nodes[2].client().await;
	wait_for("the revocation to be final", SHARE_TIMEOUT, || async {
		let status = provider_client.stream_status(stream.stream, None).await.ok()??;
		(format!("{status:?}") == "Revoked").then_some(())
	})
	.await;
	assert_stream_ended(ask(&nodes, 2, &stream.provider, stream.stream).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn following_a_stream_gives_each_new_epoch_and_then_its_end() {
	let node = dev_node_with_witness("//Dave").await;
	let client = node.client().await;
	let initiator = Party::new("//Bob");
	let provider = Party::new("//Charlie");
	let no_rotation = RotationPolicy { every_blocks: None, every_bytes: None };
	let witnesses = [Party::dev("//Dave")];
	let (stream, _) =
		register_and_request(&client, &initiator, &provider, &witnesses, 2, no_rotation).await;

	let witnesses = [WitnessEndpoint::new(node.ws_url())];
	let follower = node.client().await;
	let mut updates = Box::pin(follower.follow_keys(provider.identity(), stream, &witnesses));
	let KeyUpdate::Epoch(first) = next_update(&mut updates).await else {
		panic!("expected epoch 0")
	};
	assert_eq!(first.epoch, 0);
	client.rotate(&initiator.signer, stream).await.expect("rotate");
	let KeyUpdate::Epoch(second) = next_update(&mut updates).await else {
		panic!("expected epoch 1")
	};
	assert_eq!(second.epoch, 1);
	let mine = assemble(&node, &initiator, stream, &[&node]).await.expect("initiator's key");
	assert_same_keys(&mine.keys, &second.keys);

	let revoked = client.revoke(&initiator.signer, stream, "done").await.expect("revoke");
	match next_update(&mut updates).await {
		KeyUpdate::Ended { status, block } => {
			assert_eq!(status, "revoked");
			assert_eq!(block, revoked.number);
		},
		other => panic!("expected the end, got {other:?}"),
	}
	assert!(updates.next().await.is_none(), "nothing after the end");
}
