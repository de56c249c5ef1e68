//! Secure streams end to end: `keyorch send` and `keyorch receive` processes moving a file over
//! a dev chain's keys — across a cut transport and key rotations, stopped by a revocation,
//! finished by a receiver that crashed and was started again, untouched by strangers' forged
//! hellos and half-open connections, and stopped on both sides when their node dies.

use std::{
	path::PathBuf,
	process::Child,
	time::{Duration, Instant},
};

use futures::StreamExt;
use keyorch_client::{
	secure::{SecureConfig, SecureStream, SecureStreamError},
	NodeClient,
};
use keyorch_primitives::{combine, deal, DealContext, EncryptionSecret, StreamKeys};
use keyorch_runtime::pallet_keyorch::{RotationPolicy, StreamId};
use keyorch_tests::{
	dev_node_with_witness,
	parties::{register_and_request, Party},
	transfer::{
		digest, endpoints, finish, random_file, receive_args, send_args, spawn_keyorch,
		wait_for_bytes,
	},
	Node,
};

/// Hellos of a stranger who knows the stream id but not its key, thrown at `keyorch send`.
const FORGED_HELLOS: usize = 1_000;

/// Connections opened to `keyorch send` that never say anything.
const HALF_OPEN: usize = 200;

/// Forged hellos under way at once.
const FORGERS: usize = 32;

/// `--liveness-timeout` of the transfer whose node is killed.
const LIVENESS_TIMEOUT: Duration = Duration::from_secs(6);

/// A dev node with Dave's witness service and a stream from Bob to Charlie.
struct Setup {
	/// Mutable: a test kills it.
	node: Node,
	client: NodeClient,
	initiator: Party,
	stream: StreamId,
	dir: tempfile::TempDir,
}

impl Setup {
	async fn new(rotate_every_bytes: Option<u64>) -> Self {
		let node = dev_node_with_witness("//Dave").await;
		let client = node.client().await;
		let initiator = Party::dev("//Bob");
		let provider = Party::dev("//Charlie");
		let rotation = RotationPolicy { every_blocks: None, every_bytes: rotate_every_bytes };
		let witnesses = [Party::dev("//Dave")];
		let (stream, _) =
			register_and_request(&client, &initiator, &provider, &witnesses, 2, rotation).await;
		Self { node, client, initiator, stream, dir: tempfile::tempdir().expect("temporary dir") }
	}

	fn path(&self, name: &str) -> PathBuf {
		self.dir.path().join(name)
	}

	/// Runs `keyorch` as `seed` with `args`, stderr into `<log>.log`.
	fn keyorch(&self, seed: &str, log: &str, args: &[String]) -> Child {
		self.keyorch_with(seed, log, args, &[])
	}

	/// [`Self::keyorch`] with `options` after the command's own arguments.
	fn keyorch_with(&self, seed: &str, log: &str, args: &[String], options: &[&str]) -> Child {
		let url = self.node.ws_url();
		let log = self.path(&format!("{log}.log"));
		spawn_keyorch(&url, seed, self.stream, std::slice::from_ref(&url), args, options, &log)
	}

	fn log(&self, name: &str) -> String {
		std::fs::read_to_string(self.path(&format!("{name}.log"))).unwrap_or_default()
	}
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_crosses_a_cut_transport_and_three_key_rotations() {
	let setup = Setup::new(Some(4 << 20)).await;
	let sent = setup.path("sent.bin");
	let hash = random_file(&sent, 16 << 20);
	let endpoints = endpoints(setup.dir.path());
	let sender = setup.keyorch("//Charlie", "send", &send_args(&sent, &endpoints, 4_000_000));
	tokio::time::sleep(Duration::from_millis(500)).await;
	let out = setup.path("received.bin");
	let receiver = setup.keyorch(
		"//Bob",
		"receive",
		&receive_args(&out, &endpoints, &["--cut-after", "5000000"]),
	);
	let logs = || format!("send:\n{}\nreceive:\n{}", setup.log("send"), setup.log("receive"));
	let (code, stdout) = finish(receiver, "receive", logs);
	assert_eq!(code, 0, "{}", logs());
	assert_eq!(finish(sender, "send", logs).0, 0, "{}", logs());

	assert_eq!(stdout.trim(), format!("sha256 {hash} bytes {}", 16 << 20));
	assert_eq!(digest(&std::fs::read(&out).expect("received")), hash);
	let received_log = setup.log("receive");
	assert!(received_log.contains("session resumed over unix:"), "{}", logs());
	let epochs = received_log.matches("installed").count();
	assert!(epochs >= 3, "expected three rotations during the transfer: {}", logs());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revocation_mid_transfer_ends_both_sides_with_the_revocation_error() {
	let setup = Setup::new(None).await;
	let sent = setup.path("sent.bin");
	random_file(&sent, 32 << 20);
	let endpoints = endpoints(setup.dir.path());
	let sender = setup.keyorch("//Charlie", "send", &send_args(&sent, &endpoints, 2_000_000));
	tokio::time::sleep(Duration::from_millis(500)).await;
	let out = setup.path("received.bin");
	let receiver = setup.keyorch("//Bob", "receive", &receive_args(&out, &endpoints, &[]));
	let logs = || format!("send:\n{}\nreceive:\n{}", setup.log("send"), setup.log("receive"));

	// Revoke once bytes flow.
	wait_for_bytes(&out, 2 << 20, logs).await;
	let revoked = setup.client.revoke(&setup.initiator.signer, setup.stream, "stop").await;
	revoked.expect("revoked");
	let revoked_at = Instant::now();
	for (child, what) in [(receiver, "receive"), (sender, "send")] {
		let (code, _) = finish(child, what, logs);
		assert_eq!(code, 5, "{what} ends as refused by the chain: {}", logs());
		let log = setup.log(what);
		let error = log.lines().find(|line| line.starts_with("error: ")).unwrap_or_default();
		assert!(error.contains("revoked"), "{what}: {error}\n{}", logs());
	}
	assert!(revoked_at.elapsed() < Duration::from_secs(10), "both sides ended promptly");
	assert!(std::fs::metadata(&out).expect("partial file").len() < 32 << 20);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_that_crashed_restarts_and_gets_the_rest() {
	let setup = Setup::new(None).await;
	let sent = setup.path("sent.bin");
	let hash = random_file(&sent, 12 << 20);
	let endpoints = endpoints(setup.dir.path());
	let sender = setup.keyorch("//Charlie", "send", &send_args(&sent, &endpoints, 4_000_000));
	tokio::time::sleep(Duration::from_millis(500)).await;
	let out = setup.path("received.bin");
	let mut first = setup.keyorch("//Bob", "crashed", &receive_args(&out, &endpoints, &[]));
	let logs = || {
		format!(
			"send:\n{}\ncrashed:\n{}\nreceive:\n{}",
			setup.log("send"),
			setup.log("crashed"),
			setup.log("receive")
		)
	};
	wait_for_bytes(&out, 3 << 20, logs).await;
	first.kill().expect("SIGKILL");
	first.wait().expect("reaped");
	let partial = std::fs::metadata(&out).expect("partial file").len();
	assert!(partial < 12 << 20, "killed before the end");

	let again = setup.keyorch("//Bob", "receive", &receive_args(&out, &endpoints, &[]));
	let (code, stdout) = finish(again, "receive", logs);
	assert_eq!(code, 0, "{}", logs());
	assert_eq!(finish(sender, "send", logs).0, 0, "{}", logs());
	assert_eq!(stdout.trim(), format!("sha256 {hash} bytes {}", 12 << 20));
	assert!(setup.log("receive").contains("asking for the rest"), "{}", logs());
	assert!(setup.log("send").contains("initiator opened a new session"), "{}", logs());
}

/// Keys for epoch 0 of `stream` from a dealing of the stranger's own: what someone who knows
/// the stream id, but holds no share, can make.
fn forged_keys(stream: StreamId) -> StreamKeys {
	let holders: Vec<_> = (0..2).map(|_| EncryptionSecret::from_bytes(rand::random())).collect();
	let public: Vec<_> = holders.iter().map(EncryptionSecret::public_key).collect();
	let context = DealContext { stream_id: stream.0, epoch: 0 };
	let dealing = deal(&rand::random(), &context, 2, &public).expect("a dealing");
	let shares: Vec<_> = (0..2)
		.map(|i| dealing.records[i].open(&holders[i], &context, i as u8 + 1).expect("a share"))
		.collect();
	combine(&shares, &dealing.commitments).expect("two shares").derive_keys(None)
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_hellos_and_half_open_connections_do_not_disturb_a_transfer() {
	let setup = Setup::new(None).await;
	let sent = setup.path("sent.bin");
	let size = 64 << 20;
	let hash = random_file(&sent, size);
	let endpoints = endpoints(setup.dir.path());
	let sender = setup.keyorch("//Charlie", "send", &send_args(&sent, &endpoints, 8_000_000));
	tokio::time::sleep(Duration::from_millis(500)).await;
	let out = setup.path("received.bin");
	let receiver = setup.keyorch("//Bob", "receive", &receive_args(&out, &endpoints, &[]));
	let logs = || format!("send:\n{}\nreceive:\n{}", setup.log("send"), setup.log("receive"));
	wait_for_bytes(&out, 4 << 20, logs).await;

	let tcp = endpoints[0].strip_prefix("tcp:").expect("a TCP endpoint");
	let unix = setup.dir.path().join("transfer.sock");
	let mut silent = Vec::new();
	for i in 0..HALF_OPEN {
		let connection: Box<dyn std::any::Any> = if i % 2 == 0 {
			Box::new(tokio::net::TcpStream::connect(tcp).await.expect("a TCP connection"))
		} else {
			Box::new(tokio::net::UnixStream::connect(&unix).await.expect("a Unix connection"))
		};
		silent.push(connection);
	}
	let stream = setup.stream;
	let refused = futures::stream::iter(0..FORGED_HELLOS)
		.map(|_| async move {
			let tcp = tokio::net::TcpStream::connect(tcp).await.expect("a TCP connection");
			SecureStream::connect(tcp, forged_keys(stream), SecureConfig::default()).await.err()
		})
		.buffer_unordered(FORGERS)
		.filter(|outcome| {
			futures::future::ready(matches!(outcome, Some(SecureStreamError::AuthenticationFailed)))
		})
		.count()
		.await;
	assert_eq!(refused, FORGED_HELLOS, "every forged hello fails to authenticate: {}", logs());
	assert!(
		std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0) < size as u64,
		"the flood ended before the transfer: make the transfer slower\n{}",
		logs()
	);

	let (code, stdout) = finish(receiver, "receive", logs);
	assert_eq!(code, 0, "{}", logs());
	assert_eq!(finish(sender, "send", logs).0, 0, "{}", logs());
	assert_eq!(stdout.trim(), format!("sha256 {hash} bytes {size}"));
	assert!(setup.log("send").contains("did not authenticate"), "{}", logs());
	assert!(!setup.log("send").contains("new session over"), "{}", logs());
	drop(silent);
}

#[tokio::test(flavor = "multi_thread")]
async fn when_their_node_dies_both_sides_stop_within_the_liveness_timeout() {
	let mut setup = Setup::new(None).await;
	let sent = setup.path("sent.bin");
	let size = 64 << 20;
	random_file(&sent, size);
	let endpoints = endpoints(setup.dir.path());
	let timeout = LIVENESS_TIMEOUT.as_secs().to_string();
	let options = ["--liveness-timeout", timeout.as_str()];
	let send = send_args(&sent, &endpoints, 2_000_000);
	let sender = setup.keyorch_with("//Charlie", "send", &send, &options);
	tokio::time::sleep(Duration::from_millis(500)).await;
	let out = setup.path("received.bin");
	let receive = receive_args(&out, &endpoints, &[]);
	let receiver = setup.keyorch_with("//Bob", "receive", &receive, &options);
	let logs = || format!("send:\n{}\nreceive:\n{}", setup.log("send"), setup.log("receive"));
	wait_for_bytes(&out, 2 << 20, logs).await;

	setup.node.kill();
	let killed = Instant::now();
	let logs = || format!("send:\n{}\nreceive:\n{}", setup.log("send"), setup.log("receive"));
	for (child, what) in [(receiver, "receive"), (sender, "send")] {
		let (code, _) = finish(child, what, logs);
		assert_eq!(code, 4, "{what} stops as unreachable: {}", logs());
	}
	// The timeout, one liveness poll, and the peer's own timeout or its being told.
	let stopped = killed.elapsed();
	assert!(
		stopped < LIVENESS_TIMEOUT + Duration::from_secs(5),
		"stopped after {stopped:?}: {}",
		logs()
	);
	let received = std::fs::metadata(&out).expect("partial file").len();
	assert!(received < size as u64 / 2, "stopped long before the end ({received} bytes)");
	for what in ["send", "receive"] {
		let log = setup.log(what);
		assert!(log.contains("paused: the stream is not confirmed live"), "{what}: {}", logs());
		let error = log.lines().find(|line| line.starts_with("error: ")).unwrap_or_default();
		assert!(error.contains("could not confirm on chain"), "{what} says why: {}", logs());
	}
}
