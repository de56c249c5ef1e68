//! Clients ride out the transient on a real dev node: `keyorch key` waits for an epoch that is
//! not dealt yet and for its node to come back after a SIGKILL and a restart, saying on stderr
//! what it waits for; the client crate's `follow_keys` goes on across the same restart.

use std::{
	process::Stdio,
	sync::{Arc, Mutex},
	time::Duration,
};

use futures::{Stream, StreamExt};
use keyorch_client::{AssembledKey, Error, KeyUpdate, NodeClient, Waiting, WitnessEndpoint};
use keyorch_runtime::pallet_keyorch::RotationPolicy;
use keyorch_tests::{
	cli_binary, dev_node_with_witness,
	parties::{register_and_request, wait_for_epoch, Party},
	wait_for,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

/// How long a key may take: the node's restart, a rotation, its dealing and the witness's fetch.
const KEY_TIMEOUT: Duration = Duration::from_secs(120);

/// The next update of `keys`, which must be an epoch's keys.
async fn next_epoch(
	keys: &mut (impl Stream<Item = Result<KeyUpdate, Error>> + Unpin),
) -> Box<AssembledKey> {
	match tokio::time::timeout(KEY_TIMEOUT, keys.next()).await {
		Ok(Some(Ok(KeyUpdate::Epoch(key)))) => key,
		other => panic!("expected the keys of an epoch, got {other:?}"),
	}
}

#[tokio::test(flavor = "multi_thread")]
async fn key_assembly_and_following_ride_out_a_node_restart() {
	let mut node = dev_node_with_witness("//Dave").await;
	let url = node.ws_url();
	let client = node.client().await;
	// Dev identities, so that `keyorch --dev-seed` is the same party.
	let initiator = Party::dev("//Bob");
	let provider = Party::dev("//Charlie");
	let witnesses = [Party::dev("//Dave")];
	let no_rotation = RotationPolicy { every_blocks: None, every_bytes: None };
	let (stream, requested) =
		register_and_request(&client, &initiator, &provider, &witnesses, 2, no_rotation).await;
	wait_for_epoch(&client, stream, 0, requested, Duration::from_secs(60)).await;

	// The initiator follows its keys through the client crate.
	let heard = Arc::new(Mutex::new(Vec::new()));
	let log = heard.clone();
	let follower = NodeClient::connect(&url)
		.await
		.expect("node RPC")
		.on_wait(move |waiting| log.lock().unwrap().push(waiting.clone()));
	let endpoints = [WitnessEndpoint::new(url.clone())];
	let mut keys = Box::pin(follower.follow_keys(initiator.identity(), stream, &endpoints));
	assert_eq!(next_epoch(&mut keys).await.epoch, 0);

	// The provider asks the command line for epoch 1, which nobody has asked the chain for yet.
	let stream_hex = format!("{stream:?}");
	let mut key = tokio::process::Command::new(cli_binary())
		.args(["--url", &url, "--dev-seed", "//Charlie", "key", &stream_hex])
		.args(["--epoch", "1", "--witness-url", &url])
		.stdin(Stdio::null())
		.stdout(Stdio::piped())
		.stderr(Stdio::piped())
		.kill_on_drop(true)
		.spawn()
		.expect("keyorch runs");
	let stderr = Arc::new(Mutex::new(String::new()));
	let mut lines = BufReader::new(key.stderr.take().unwrap()).lines();
	let sink = stderr.clone();
	let reading = tokio::spawn(async move {
		while let Ok(Some(line)) = lines.next_line().await {
			let mut text = sink.lock().unwrap();
			text.push_str(&line);
			text.push('\n');
		}
	});
	let said = |what: &'static str| {
		let stderr = stderr.clone();
		move || {
			let found = stderr.lock().unwrap().contains(what);
			async move { found.then_some(()) }
		}
	};
	wait_for("keyorch key to say it waits for epoch 1", Duration::from_secs(30), said("epoch 1"))
		.await;

	// The node dies and comes back on the same port.
	node.kill();
	node.restart().await;
	node.client().await.rotate(&provider.signer, stream).await.expect("rotate");

	let second = next_epoch(&mut keys).await;
	assert_eq!(second.epoch, 1, "following went on across the restart");
	assert!(
		heard.lock().unwrap().iter().any(|waiting| matches!(waiting, Waiting::Reconnected { .. })),
		"the follower reconnected and said so: {:?}",
		heard.lock().unwrap()
	);

	let status = tokio::time::timeout(KEY_TIMEOUT, key.wait())
		.await
		.expect("keyorch key ends")
		.expect("exit status");
	reading.await.unwrap();
	let mut stdout = String::new();
	key.stdout.take().unwrap().read_to_string(&mut stdout).await.unwrap();
	let stderr = stderr.lock().unwrap().clone();
	assert!(status.success(), "keyorch key failed:\n{stderr}");
	assert_eq!(stdout.trim(), second.keys.fingerprint().to_string(), "both parties' keys agree");
	for line in ["waiting: the key of epoch 1 of stream", "waiting: the connection to"] {
		assert!(stderr.contains(line), "stderr says `{line}`:\n{stderr}");
	}
	assert!(stderr.contains("reconnected"), "{stderr}");
}
