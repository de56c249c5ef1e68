//! A witness under a flood of share requests from strangers: every stranger signs its own
//! request for a real stream and epoch with a fresh keypair. The stream's initiator is still
//! answered promptly, and the witness neither records the strangers' nonces nor grows in
//! memory with them.

use std::{
	path::{Path, PathBuf},
	time::{Duration, Instant},
};

use futures::StreamExt;
use keyorch_client::{Error, NodeClient, Refusal, Signer};
use keyorch_primitives::ShareReleaseRequest;
use keyorch_runtime::pallet_keyorch::RotationPolicy;
use keyorch_tests::{
	dev_node_with_witness,
	parties::{register_and_request, wait_for_shares, Party},
	Node,
};
use sp_core::{sr25519, Pair};

/// Requests from strangers.
const STRANGERS: usize = 10_000;

/// The strangers' connections to the witness node, and the requests each has under way.
const CONNECTIONS: usize = 4;
const IN_FLIGHT: usize = 64;

/// How long the initiator may wait for its share during the flood, at most.
const ANSWER_WITHIN: Duration = Duration::from_secs(1);

/// Requests the initiator makes during the flood, one after the other.
const LEGITIMATE: usize = 10;

/// How much the witness node's resident memory may grow during the flood, at most.
const MEMORY_GROWTH: u64 = 64 << 20;

/// How long the witness may take to keep its share.
const SHARE_TIMEOUT: Duration = Duration::from_secs(120);

/// Asks `client`'s witness for a share; the answer and how long it took.
async fn ask(
	client: &NodeClient,
	request: ShareReleaseRequest,
) -> (Result<keyorch_primitives::SealedShareAnswer, Error>, Duration) {
	let started = Instant::now();
	let answer = client.request_share(&request).await;
	(answer, started.elapsed())
}

/// The resident memory of process `pid`, in bytes.
fn resident_bytes(pid: u32) -> u64 {
	let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
	let kib: u64 = status
		.lines()
		.find_map(|line| line.strip_prefix("VmRSS:"))
		.and_then(|rest| rest.trim().strip_suffix("kB"))
		.and_then(|kib| kib.trim().parse().ok())
		.expect("VmRSS");
	kib << 10
}

/// The witness's nonce log under the node's base path.
fn nonce_log(base: &Path) -> Option<PathBuf> {
	let mut dirs = vec![base.to_path_buf()];
	while let Some(dir) = dirs.pop() {
		for entry in std::fs::read_dir(&dir).ok()?.flatten() {
			let path = entry.path();
			if path.is_dir() {
				dirs.push(path);
			} else if path.file_name().is_some_and(|name| name == "nonces.log") {
				return Some(path);
			}
		}
	}
	None
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_strangers_share_requests_does_not_delay_the_initiator() {
	let node: Node = dev_node_with_witness("//Dave").await;
	let client = node.client().await;
	let (initiator, provider) = (Party::new("//Bob"), Party::new("//Charlie"));
	let witness = Party::dev("//Dave");
	let no_rotation = RotationPolicy { every_blocks: None, every_bytes: None };
	let (stream, _) = register_and_request(
		&client,
		&initiator,
		&provider,
		std::slice::from_ref(&witness),
		2,
		no_rotation,
	)
	.await;
	wait_for_shares(&[&node], 1, SHARE_TIMEOUT).await;
	let expires_at = client.finalized_number().await.expect("finalized") + 50;
	let initiator_asks = |when: &'static str| {
		let (client, initiator, witness) = (&client, &initiator, &witness);
		async move {
			let mut latencies = Vec::new();
			for _ in 0..LEGITIMATE {
				let request = initiator.release_request(stream, 0, witness, expires_at);
				let (answer, took) = ask(client, request).await;
				answer.unwrap_or_else(|e| panic!("the initiator's share {when}: {e}"));
				latencies.push(took);
				tokio::time::sleep(Duration::from_millis(100)).await;
			}
			latencies.sort_unstable();
			latencies
		}
	};
	let quiet = initiator_asks("before the flood").await;

	// Each stranger's request is signed by a keypair of its own.
	let strangers: Vec<ShareReleaseRequest> = (0..STRANGERS)
		.map(|_| {
			let stranger = Party::from_signer(Signer::from_pair(sr25519::Pair::generate().0));
			stranger.release_request(stream, 0, &witness, expires_at)
		})
		.collect();
	let pid = node.pid().expect("the witness node runs");
	let memory_before = resident_bytes(pid);
	let log = nonce_log(&node.base_path()).expect("the witness's nonce log");
	let log_before = std::fs::metadata(&log).expect("nonce log").len();

	let mut connections = Vec::new();
	for _ in 0..CONNECTIONS {
		connections.push(node.client().await);
	}
	let flood = futures::stream::iter(strangers.into_iter().enumerate())
		.map(|(i, request)| {
			let client = &connections[i % CONNECTIONS];
			async move { client.request_share(&request).await }
		})
		.buffer_unordered(CONNECTIONS * IN_FLIGHT)
		.fold((0usize, 0usize), |(refused, other), answer| async move {
			match answer {
				Err(Error::Refused { refusal: Refusal::NotAuthorized, .. }) => (refused + 1, other),
				_ => (refused, other + 1),
			}
		});
	let ((refused, other), latencies) = tokio::join!(flood, initiator_asks("during the flood"));

	assert_eq!((refused, other), (STRANGERS, 0), "every stranger is refused as not authorized");
	let slowest = latencies.iter().max().expect("answers");
	assert!(slowest < &ANSWER_WITHIN, "the initiator waited {slowest:?}: {latencies:?}");
	let log_after = std::fs::metadata(&log).expect("nonce log").len();
	assert!(
		log_after - log_before <= (LEGITIMATE as u64) * 36,
		"the nonce log grew by {} bytes",
		log_after - log_before
	);
	let memory_after = resident_bytes(pid);
	assert!(
		memory_after < memory_before + MEMORY_GROWTH,
		"the witness node grew from {memory_before} to {memory_after} bytes"
	);
	// Figures for the record (the bound above is what the test asserts).
	println!(
		"{STRANGERS} strangers refused; the initiator's {LEGITIMATE} answers took \
		 {quiet:?} before and {latencies:?} during the flood; resident memory {} -> {} MiB",
		memory_before >> 20,
		memory_after >> 20
	);
}
