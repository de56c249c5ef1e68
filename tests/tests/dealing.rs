//! Off-chain dealing on real nodes: an orchestrator's off-chain worker deals each epoch, the
//! sealed records are served over RPC, and only their holders can open them.

use std::time::Duration;

use keyorch_client::NodeClient;
use keyorch_primitives::{
	combine, record_dht_key, record_hash, Commitments, DealContext, HolderShare, SealedShareRecord,
	WireFormat, WireVersion,
};
use keyorch_runtime::pallet_keyorch::RotationPolicy;
use keyorch_tests::{
	dev_node, local_network,
	parties::{wait_for_epoch, DealtEpoch, Party},
	wait_for, VALIDATORS,
};
use sp_core::H256;

const DEALING_TIMEOUT: Duration = Duration::from_secs(60);

fn no_rotation() -> RotationPolicy {
	RotationPolicy { every_blocks: None, every_bytes: None }
}

/// Registers `initiator` and `provider` as participants and `witnesses` as witnesses.
async fn register_all(
	client: &NodeClient,
	initiator: &Party,
	provider: &Party,
	witnesses: &[Party],
) {
	initiator.register(client, false).await;
	provider.register(client, false).await;
	for witness in witnesses {
		witness.register(client, true).await;
	}
}

/// Fetches the record of every holder of `epoch` over RPC, once it is final, and checks it
/// against the chain.
async fn fetch_records(
	client: &NodeClient,
	context: &DealContext,
	dealt: &DealtEpoch,
) -> Vec<SealedShareRecord> {
	// Once the dealing is final, every node's chain commits to the records, whatever its best
	// block.
	wait_for("the dealing to be final", Duration::from_secs(120), || async {
		(client.finalized_number().await.ok()? >= dealt.block).then_some(())
	})
	.await;
	let mut records = Vec::new();
	for (position, expected_hash) in dealt.record_hashes.iter().enumerate() {
		let key = record_dht_key(context, position as u8 + 1);
		let bytes = client.record(H256(key)).await.expect("keyorch_getRecord");
		let record = SealedShareRecord::decode_exact(&bytes).expect("a well-formed record");
		assert_eq!(
			&record_hash(&record),
			expected_hash,
			"record {position} is not the one on chain"
		);
		records.push(record);
	}
	records
}

fn commitments_of(dealt: &DealtEpoch) -> Commitments {
	Commitments {
		version: WireVersion::V1,
		points: dealt.commitments.clone().try_into().expect("within bounds"),
	}
}

#[tokio::test(flavor = "multi_thread")]
async fn every_holder_opens_its_share_and_any_two_rebuild_the_same_key() {
	let node = dev_node().await;
	let client = node.client().await;
	let initiator = Party::new("//Bob");
	let provider = Party::new("//Charlie");
	let witnesses = [Party::new("//Dave"), Party::new("//Eve"), Party::new("//Ferdie")];
	register_all(&client, &initiator, &provider, &witnesses).await;

	let (stream, requested) =
		initiator.request_stream(&client, &provider, 3, 2, no_rotation()).await;
	let dealt = wait_for_epoch(&client, stream, 0, requested, DEALING_TIMEOUT).await;
	let context = DealContext { stream_id: stream.0, epoch: 0 };
	let records = fetch_records(&client, &context, &dealt).await;
	let commitments = commitments_of(&dealt);

	// Holders in share order; every one opens and verifies its own share.
	let everyone: Vec<&Party> =
		[&initiator, &provider].into_iter().chain(witnesses.iter()).collect();
	let party_of = |account: &keyorch_client::AccountId| {
		everyone.iter().copied().find(|p| &p.signer.account_id() == account).expect("a holder")
	};
	assert_eq!(dealt.holders[0], initiator.signer.account_id());
	assert_eq!(dealt.holders[1], provider.signer.account_id());
	let shares: Vec<HolderShare> = dealt
		.holders
		.iter()
		.zip(&records)
		.enumerate()
		.map(|(position, (account, record))| {
			let index = position as u8 + 1;
			let share = record.open(party_of(account).secret(), &context, index).expect("opens");
			share.verify(&commitments).expect("verifies against the chain's commitments");
			share
		})
		.collect();

	// Initiator + a witness and provider + another witness rebuild the same key.
	let initiator_side = combine(&[shares[0].clone(), shares[2].clone()], &commitments)
		.expect("initiator and witness 1")
		.derive_keys(None);
	let provider_side = combine(&[shares[1].clone(), shares[3].clone()], &commitments)
		.expect("provider and witness 2")
		.derive_keys(None);
	assert_eq!(initiator_side.fingerprint(), provider_side.fingerprint());

	// No record opens with another holder's key.
	for (position, record) in records.iter().enumerate() {
		let index = position as u8 + 1;
		for (other, account) in dealt.holders.iter().enumerate() {
			if other != position {
				assert!(
					record.open(party_of(account).secret(), &context, index).is_err(),
					"record {index} opened with holder {}'s key",
					other + 1
				);
			}
		}
	}
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotating_stream_gets_epochs_one_two_three_with_different_keys() {
	let node = dev_node().await;
	let client = node.client().await;
	let initiator = Party::new("//Bob");
	let provider = Party::new("//Charlie");
	let witnesses = [Party::new("//Dave")];
	register_all(&client, &initiator, &provider, &witnesses).await;

	let rotation = RotationPolicy { every_blocks: Some(2), every_bytes: None };
	let (stream, requested) = initiator.request_stream(&client, &provider, 1, 2, rotation).await;
	let mut from = requested;
	let mut secrets_commitments = Vec::new();
	for epoch in 0..=3 {
		let dealt = wait_for_epoch(&client, stream, epoch, from, DEALING_TIMEOUT).await;
		from = dealt.block;
		// Each epoch's records are served and open for the initiator.
		let context = DealContext { stream_id: stream.0, epoch };
		let records = fetch_records(&client, &context, &dealt).await;
		let share = records[0].open(initiator.secret(), &context, 1).expect("initiator's share");
		share.verify(&commitments_of(&dealt)).expect("verifies");
		secrets_commitments.push(dealt.commitments[0]);
	}
	for (i, a) in secrets_commitments.iter().enumerate() {
		for b in &secrets_commitments[i + 1..] {
			assert_ne!(a, b, "two epochs share a secret");
		}
	}
}

#[tokio::test(flavor = "multi_thread")]
async fn another_orchestrator_takes_over_when_the_designated_one_is_down() {
	let mut nodes = local_network().await;
	let clients = {
		let mut clients = Vec::new();
		for node in &nodes {
			clients.push(node.client().await);
		}
		clients
	};
	let others = VALIDATORS.len() as u64 - 1;
	for client in &clients {
		wait_for("the validators to peer", Duration::from_secs(60), || async {
			(client.health().await.ok()?.peers >= others).then_some(())
		})
		.await;
	}

	let initiator = Party::new("//Dave");
	let provider = Party::new("//Eve");
	let witnesses = [Party::new("//Ferdie//stash")];
	register_all(&clients[0], &initiator, &provider, &witnesses).await;

	// The next stream's id, and so its designated orchestrator, is known in advance.
	let nonce_key = [
		sp_crypto_hashing::twox_128(b"Keyorch").to_vec(),
		sp_crypto_hashing::twox_128(b"StreamNonce").to_vec(),
	]
	.concat();
	let nonce: u64 = clients[0]
		.storage(&nonce_key, None)
		.await
		.unwrap()
		.map(|raw| codec::Decode::decode(&mut &raw[..]).unwrap())
		.unwrap_or(0);
	let stream = keyorch_runtime::Keyorch::stream_id(&initiator.signer.account_id(), nonce);
	// The orchestrators are the validators, in genesis order: the nodes' order.
	let designated = keyorch_runtime::Keyorch::primary_index(&stream, 0, VALIDATORS.len()).unwrap();
	assert!(nodes[designated].stop(), "the designated orchestrator did not stop");
	let survivor = (designated + 1) % VALIDATORS.len();
	let client = &clients[survivor];

	let (requested_stream, requested) =
		initiator.request_stream(client, &provider, 1, 2, no_rotation()).await;
	assert_eq!(requested_stream, stream);
	// TakeoverDelay is 10 blocks; with one validator of four down, ~40 s.
	let dealt = wait_for_epoch(client, stream, 0, requested, Duration::from_secs(150)).await;
	assert!(
		dealt.block >= requested + 10,
		"dealt at block {} before the take-over delay from {}",
		dealt.block,
		requested
	);
	// Three of four validators still finalize: the records flow while the designated one is
	// down, and it catches up when it comes back.
	let context = DealContext { stream_id: stream.0, epoch: 0 };
	let records = fetch_records(client, &context, &dealt).await;
	records[0].open(initiator.secret(), &context, 1).expect("initiator's share");
	nodes[designated].restart().await;
	let back = nodes[designated].client().await;
	wait_for("the restarted validator to catch up", Duration::from_secs(90), || async {
		(back.finalized_number().await.ok()? >= dealt.block).then_some(())
	})
	.await;
}
