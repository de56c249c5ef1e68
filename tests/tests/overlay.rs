//! The DHT overlay and the witness service on a real network: four validators (Alice, Bob,
//! Charlie, Ferdie) and two witness nodes (Dave, Eve), all real `keyorch-node` processes.
//!
//! - records are replicated, checked against the chain by every node, and outlive their dealer;
//! - witnesses release shares only to the stream's parties, only once per request, only while
//!   the stream is live, and keep them across a crash.

use std::time::{Duration, Instant};

use codec::Encode;
use keyorch_primitives::{combine, record_hash, SealedShareAnswer, SealedShareRecord, WireFormat};
use keyorch_tests::{
	keyorch_rpc::Refused,
	local_network_with_witnesses,
	parties::{DealtEpoch, DealtStream, Party},
	wait_for, Node, VALIDATORS,
};

/// The witness nodes' seeds; they run as nodes 3 and 4.
const WITNESSES: [&str; 2] = ["//Dave", "//Eve"];

/// Five nodes at once are all two cores can carry: network tests take turns.
static NETWORK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const SPREAD_TIMEOUT: Duration = Duration::from_secs(60);

/// Codes of `keyorch_` errors (see the node's `rpc::keyorch::error_code`).
const RECORD_NOT_FOUND: i32 = 7001;
const STREAM_ENDED: i32 = 7003;
const NOT_AUTHORIZED: i32 = 7004;
const REPLAYED: i32 = 7005;
const BAD_SIGNATURE: i32 = 7006;

/// Index of the node whose validator key dealt `dealt`.
fn dealer(dealt: &DealtEpoch) -> usize {
	VALIDATORS
		.iter()
		.position(|validator| validator.public().0 == dealt.orchestrator)
		.expect("a validator dealt the epoch")
}

/// Sum of a `keyorch_status` counter over `nodes`.
async fn total(nodes: &[&Node], field: &str) -> u64 {
	let mut sum = 0;
	for node in nodes {
		sum += node.keyorch().await.status().await[field].as_u64().expect("a counter");
	}
	sum
}

fn code(result: Result<Vec<u8>, Refused>) -> i32 {
	match result {
		Ok(_) => panic!("expected a refusal, got an answer"),
		Err(refused) => refused.code,
	}
}

#[tokio::test(flavor = "multi_thread")]
async fn records_spread_to_three_nodes_refuse_forgeries_and_outlive_their_dealer() {
	let _turn = NETWORK.lock().await;
	let mut nodes = local_network_with_witnesses(&WITNESSES).await;
	let stream = DealtStream::new(&nodes, &WITNESSES).await;
	let key = stream.key(1);
	let dealer = dealer(&stream.dealt);

	let holders = wait_for("the record on at least 3 nodes", SPREAD_TIMEOUT, || async {
		let mut holders = Vec::new();
		for (index, node) in nodes.iter().enumerate() {
			if node.keyorch().await.get_record(key, true).await.is_ok() {
				holders.push(index);
			}
		}
		(holders.len() >= 3).then_some(holders)
	})
	.await;
	assert!(holders.contains(&dealer), "the dealer holds what it dealt");

	let remote = (dealer + 2) % VALIDATORS.len();
	let bytes = nodes[remote].keyorch().await.get_record(key, false).await.expect("fetched");
	let record = SealedShareRecord::decode_exact(&bytes).expect("a sealed record");
	assert_eq!(record_hash(&record), stream.dealt.record_hashes[0], "the record on chain");

	// A record of the right shape for a holder the dealing does not have: its hash is on no
	// chain, so no node may keep it.
	let mut forged = record.clone();
	forged.holder_index = 9;
	let forged_key = stream.key(9);
	// And the genuine key with a tampered ciphertext.
	let mut tampered = record.clone();
	tampered.ciphertext[0] ^= 1;
	let all: Vec<&Node> = nodes.iter().collect();
	let refused_before = total(&all, "recordsRefused").await;
	let client_node = nodes[remote].keyorch().await;
	for (key, record) in [(forged_key, forged.encode()), (key, tampered.encode())] {
		let outcome = client_node.put_record(key, record).await;
		assert_eq!(outcome["storedLocally"], false, "{outcome}");
	}
	wait_for("peers to refuse the forgeries", SPREAD_TIMEOUT, || async {
		(total(&all, "recordsRefused").await >= refused_before + 4).then_some(())
	})
	.await;
	for node in &nodes {
		let rpc = node.keyorch().await;
		assert_eq!(code(rpc.get_record(forged_key, true).await), RECORD_NOT_FOUND);
		if let Ok(held) = rpc.get_record(key, true).await {
			assert_eq!(held, bytes, "only the genuine record is ever served");
		}
	}

	nodes[dealer].kill();
	for (index, node) in nodes.iter().enumerate().filter(|(index, _)| *index != dealer) {
		let fetched = node.keyorch().await.get_record(key, false).await;
		assert_eq!(fetched.as_ref(), Ok(&bytes), "node {index} after the dealer died");
	}
}

#[tokio::test(flavor = "multi_thread")]
async fn witnesses_release_shares_to_the_parties_only_while_the_stream_is_live() {
	let _turn = NETWORK.lock().await;
	let mut nodes = local_network_with_witnesses(&WITNESSES).await;
	let stream = DealtStream::new(&nodes, &WITNESSES).await;
	let client = nodes[0].client().await;
	let first_witness = VALIDATORS.len();
	for witness_node in &nodes[first_witness..] {
		wait_for("the witness to keep its share", SPREAD_TIMEOUT, || async {
			let status = witness_node.keyorch().await.status().await;
			(status["sharesHeld"].as_u64() >= Some(1)).then_some(())
		})
		.await;
	}
	let expires_at = client.finalized_number().await.expect("finalized") + 50;
	let request = |requester: &Party, witness: usize| {
		requester.release_request(stream.stream, 0, &stream.witnesses[witness], expires_at)
	};

	// The initiator rebuilds the key from the two witnesses' shares alone, and it is the key
	// its own share and the provider's give.
	let started = Instant::now();
	let mut released = Vec::new();
	let mut first_request = None;
	for witness in 0..2 {
		let request = request(&stream.initiator, witness);
		let answer = nodes[first_witness + witness]
			.keyorch()
			.await
			.request_share(request.encode())
			.await
			.expect("the witness releases its share");
		let answer = SealedShareAnswer::decode_exact(&answer).expect("a sealed answer");
		let share = answer.open(stream.initiator.secret(), &request).expect("sealed to us");
		share.verify(&stream.commitments()).expect("a valid share");
		released.push(share);
		first_request.get_or_insert(request);
	}
	println!("share release: two witnesses answered in {:?}", started.elapsed());
	let commitments = stream.commitments();
	let from_witnesses = combine(&released, &commitments).expect("rebuilt").derive_keys(None);
	let initiator_share = stream.own_share(&nodes[1], &stream.initiator, 1).await;
	let provider_share = stream.own_share(&nodes[2], &stream.provider, 2).await;
	let from_parties = combine(&[initiator_share, provider_share], &commitments)
		.expect("rebuilt")
		.derive_keys(None);
	assert_eq!(from_witnesses.fingerprint(), from_parties.fingerprint());

	// Refusals, each with its own code.
	let dave = nodes[first_witness].keyorch().await;
	let stranger = Party::new("//Bob//stash");
	assert_eq!(code(dave.request_share(request(&stranger, 0).encode()).await), NOT_AUTHORIZED);
	let replayed = first_request.expect("sent").encode();
	assert_eq!(code(dave.request_share(replayed).await), REPLAYED);
	let mut forged = request(&stream.initiator, 0);
	forged.signature[0] ^= 1;
	assert_eq!(code(dave.request_share(forged.encode()).await), BAD_SIGNATURE);

	// A crashed witness comes back with its shares.
	nodes[first_witness].kill();
	nodes[first_witness].restart().await;
	let again = request(&stream.provider, 0);
	let answer =
		nodes[first_witness].keyorch().await.request_share(again.encode()).await.expect("served");
	let answer = SealedShareAnswer::decode_exact(&answer).expect("a sealed answer");
	let share = answer.open(stream.provider.secret(), &again).expect("sealed to the provider");
	share.verify(&commitments).expect("the same valid share after the restart");

	// Revocation: once final, every witness refuses and every node answers "revoked".
	let revoked =
		client.revoke(&stream.initiator.signer, stream.stream, "test").await.expect("revoked");
	let included = Instant::now();
	for node in &nodes {
		let node_client = node.client().await;
		wait_for("the revocation to be final", SPREAD_TIMEOUT, || async {
			let finalized = node_client.finalized_number().await.ok()?;
			(finalized >= revoked.number).then_some(())
		})
		.await;
	}
	let final_at = included.elapsed();
	// One more block time is all a node may take to act on a final revocation.
	for (index, node) in nodes.iter().enumerate() {
		let rpc = node.keyorch().await;
		wait_for("the record to be refused as revoked", Duration::from_secs(6), || async {
			let refused = rpc.get_record(stream.key(1), false).await.err()?;
			assert_ne!(refused.code, 0);
			(refused.code == STREAM_ENDED && refused.data.as_deref() == Some("\"revoked\""))
				.then_some(())
		})
		.await;
		if index >= first_witness {
			let witness = &stream.initiator;
			let result = rpc.request_share(request(witness, index - first_witness).encode()).await;
			assert_eq!(code(result), STREAM_ENDED, "witness node {index}");
			let status = rpc.status().await;
			assert_eq!(status["sharesHeld"], 0, "the witness deleted its shares");
		}
	}
	println!(
		"revocation: final on every node {final_at:?} after inclusion, last refusal {:?}",
		included.elapsed()
	);
}
