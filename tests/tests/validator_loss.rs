//! A network that loses a validator mid-transfer: four validators and three witnesses, a 64 MiB
//! `keyorch send`/`receive` transfer whose key rotates every 8 MiB sent. The validator that dealt
//! the current epoch is SIGKILLed while the file moves; the next rotation is still dealt (by the
//! designated orchestrator, or by another one after the take-over delay), the transfer completes
//! with the right SHA-256, and the killed validator restarts and catches up.

use std::time::Duration;

use keyorch_runtime::pallet_keyorch::RotationPolicy;
use keyorch_tests::{
	local_network_with_witnesses,
	parties::{register_and_request, wait_for_epoch, Party},
	transfer::{
		digest, endpoints, finish, random_file, receive_args, send_args, spawn_keyorch,
		wait_for_bytes,
	},
	wait_for, VALIDATORS,
};

/// Witness services, none of them a validator's account (their off-chain workers sign with it).
const WITNESSES: [&str; 3] = ["//Dave", "//Eve", "//Dave//stash"];

const SIZE: usize = 64 << 20;

/// The byte budget of one epoch.
const ROTATE_EVERY: u64 = 8 << 20;

/// Slow enough (84 s in all) that epoch 1 is installed during the transfer even when it waits
/// for the take-over delay.
const RATE: u64 = 800_000;

/// Epoch 0 on a fresh network; the next one when its designated orchestrator may be the one
/// killed (take-over delay: 10 blocks).
const DEALING_TIMEOUT: Duration = Duration::from_secs(150);

#[tokio::test(flavor = "multi_thread")]
async fn a_transfer_and_its_rotations_survive_the_loss_of_any_validator() {
	let mut nodes = local_network_with_witnesses(&WITNESSES).await;
	let witness_nodes = VALIDATORS.len()..nodes.len();
	// The parties talk to a witness node, which stays up.
	let url = nodes[VALIDATORS.len()].ws_url();
	let client = nodes[VALIDATORS.len()].client().await;
	let witness_urls: Vec<String> = nodes[witness_nodes].iter().map(|node| node.ws_url()).collect();

	// Dev identities, so that `keyorch --dev-seed` is the same party.
	let initiator = Party::dev("//Bob//stash");
	let provider = Party::dev("//Charlie//stash");
	let witnesses: Vec<Party> = WITNESSES.iter().map(|seed| Party::dev(seed)).collect();
	let rotation = RotationPolicy { every_blocks: None, every_bytes: Some(ROTATE_EVERY) };
	let (stream, requested) =
		register_and_request(&client, &initiator, &provider, &witnesses, 2, rotation).await;
	let first = wait_for_epoch(&client, stream, 0, requested, DEALING_TIMEOUT).await;
	let dealer = VALIDATORS
		.iter()
		.position(|validator| validator.public().0 == first.orchestrator)
		.expect("epoch 0 was dealt by a validator");

	let dir = tempfile::tempdir().expect("temporary dir");
	let path = |name: &str| dir.path().join(name);
	let sent = path("sent.bin");
	let hash = random_file(&sent, SIZE);
	let endpoints = endpoints(dir.path());
	let keyorch = |seed: &str, args: &[String]| {
		let log = path(&format!("{}.log", args[0]));
		spawn_keyorch(&url, seed, stream, &witness_urls, args, &[], &log)
	};
	let sender = keyorch("//Charlie//stash", &send_args(&sent, &endpoints, RATE));
	tokio::time::sleep(Duration::from_millis(500)).await;
	let out = path("received.bin");
	let receiver = keyorch("//Bob//stash", &receive_args(&out, &endpoints, &[]));
	let log =
		|name: &str| std::fs::read_to_string(path(&format!("{name}.log"))).unwrap_or_default();
	let logs = || format!("send:\n{}\nreceive:\n{}", log("send"), log("receive"));

	// Mid-transfer, before the first rotation: the validator that dealt the current epoch dies.
	wait_for_bytes(&out, 4 << 20, logs).await;
	nodes[dealer].kill();
	let next = wait_for_epoch(&client, stream, 1, first.block, DEALING_TIMEOUT).await;
	assert_ne!(next.orchestrator, first.orchestrator, "a dead validator dealt epoch 1");
	assert!(
		std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0) < SIZE as u64,
		"the rotation came after the transfer: make the transfer slower\n{}",
		logs()
	);

	// The killed validator comes back and catches up with the finalized chain.
	nodes[dealer].restart().await;
	let back = nodes[dealer].client().await;
	wait_for("the restarted validator to catch up", Duration::from_secs(90), || async {
		(back.finalized_number().await.ok()? >= next.block).then_some(())
	})
	.await;

	let (code, stdout) = finish(receiver, "receive", logs);
	assert_eq!(code, 0, "{}", logs());
	assert_eq!(finish(sender, "send", logs).0, 0, "{}", logs());
	assert_eq!(stdout.trim(), format!("sha256 {hash} bytes {SIZE}"));
	assert_eq!(digest(&std::fs::read(&out).expect("received")), hash);
	assert!(log("receive").contains("key epoch 1 installed"), "{}", logs());
}
