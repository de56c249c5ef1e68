//! `keyorch-node --dev`: blocks, RPC, transactions, clean shutdown.

use std::time::Duration;

use keyorch_client::{RuntimeCall, Signer};
use keyorch_tests::{dev_node, wait_for};
use sp_keyring::Sr25519Keyring;

#[tokio::test(flavor = "multi_thread")]
async fn dev_node_produces_and_finalizes_blocks_and_answers_rpc() {
	let mut node = dev_node().await;
	let client = node.client().await;

	let health = client.health().await.expect("system_health");
	assert!(!health.should_have_peers, "a dev chain expects no peers: {health:?}");

	let genesis = client.header(None).await.expect("chain_getHeader").number;
	// Without any transaction, a block still comes every slot (3 s), finalized at once.
	let finalized =
		wait_for("the dev chain to finalize two blocks", Duration::from_secs(30), || async {
			let number = client.finalized_number().await.ok()?;
			(number >= genesis + 2).then_some(number)
		})
		.await;
	let best = client.header(None).await.expect("chain_getHeader").number;
	assert!(best >= finalized, "best {best} is behind finalized {finalized}");

	let unknown = client.record(sp_core::H256::repeat_byte(0x5a)).await;
	assert!(
		matches!(unknown, Err(keyorch_client::Error::RecordNotFound { .. })),
		"keyorch_getRecord of an unknown key: {unknown:?}"
	);

	assert!(node.stop(), "the node did not stop within 20 s of SIGTERM");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transfer_signed_by_alice_is_included_at_once_and_moves_balance() {
	let node = dev_node().await;
	let client = node.client().await;
	let alice = Signer::from_uri("//Alice").unwrap();
	let dave = Sr25519Keyring::Dave.to_account_id();
	let amount = 1_234_567_890_000u128;

	let alice_before = client.free_balance(&alice.account_id()).await.unwrap();
	let dave_before = client.free_balance(&dave).await.unwrap();
	let call = RuntimeCall::Balances(keyorch_runtime::BalancesCall::transfer_keep_alive {
		dest: dave.clone().into(),
		value: amount,
	});
	client.sign_and_submit(&alice, call).await.expect("author_submitExtrinsic");

	// Instant seal: included well before the next empty-block slot would have been due.
	let dave_after = wait_for("the transfer to be included", Duration::from_secs(10), || async {
		let now = client.free_balance(&dave).await.ok()?;
		(now != dave_before).then_some(now)
	})
	.await;
	assert_eq!(dave_after, dave_before + amount);
	let alice_after = client.free_balance(&alice.account_id()).await.unwrap();
	assert!(
		alice_after < alice_before - amount,
		"Alice paid the amount plus a fee: before {alice_before}, after {alice_after}"
	);
}
