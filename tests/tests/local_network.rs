//! The four `--chain local` validators on 127.0.0.1: they peer, author in turn and GRANDPA
//! finalizes.

use std::time::Duration;

use keyorch_client::NodeClient;
use keyorch_tests::{local_network, wait_for, VALIDATORS};

#[tokio::test(flavor = "multi_thread")]
async fn the_validators_peer_and_finality_advances() {
	let nodes = local_network().await;
	let mut clients: Vec<NodeClient> = Vec::new();
	for node in &nodes {
		clients.push(node.client().await);
	}

	for (i, client) in clients.iter().enumerate() {
		wait_for(&format!("node {i} to peer with all others"), Duration::from_secs(60), || async {
			let health = client.health().await.ok()?;
			(health.peers >= VALIDATORS.len() as u64 - 1).then_some(())
		})
		.await;
	}

	// Finality must advance by several blocks on every node (3 s slots).
	let target = clients[0].finalized_number().await.unwrap() + 3;
	for (i, client) in clients.iter().enumerate() {
		wait_for(
			&format!("node {i} to finalize block {target}"),
			Duration::from_secs(90),
			|| async {
				let number = client.finalized_number().await.ok()?;
				(number >= target).then_some(number)
			},
		)
		.await;
	}

	// And all of them finalized the same block.
	let mut hashes = Vec::new();
	for client in &clients {
		hashes.push(client.block_hash(target).await.unwrap());
	}
	assert!(
		hashes.windows(2).all(|w| w[0] == w[1]),
		"validators disagree on block {target}: {hashes:?}"
	);
}
