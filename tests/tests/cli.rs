//! The `keyorch` command line: key files, bad input (one `error:` line and the documented exit
//! code), and a stream registered, requested, followed and revoked on a dev node.

use std::{
	os::unix::fs::PermissionsExt,
	path::Path,
	process::Stdio,
	time::{Duration, Instant},
};

use keyorch_tests::{cli_binary, dev_node_with_witness, free_port};
use sp_keyring::Sr25519Keyring;

/// How long one `keyorch` command may take (a transaction waits for its block).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(90);

/// What one `keyorch` command did.
struct Run {
	code: i32,
	stdout: String,
	stderr: String,
}

impl Run {
	/// Asserts success and gives stdout.
	fn ok(&self) -> &str {
		assert_eq!(self.code, 0, "keyorch failed:\n{}", self.stderr);
		assert!(!self.stderr.contains("error:"), "error on success:\n{}", self.stderr);
		&self.stdout
	}

	/// Asserts exit code `code` and one `error:` line containing `expected`, and no panic.
	fn fails(&self, code: i32, expected: &str) {
		let errors: Vec<&str> =
			self.stderr.lines().filter(|line| line.starts_with("error: ")).collect();
		assert_eq!(errors.len(), 1, "expected one error line, stderr was:\n{}", self.stderr);
		assert!(errors[0].contains(expected), "unexpected error line: {}", errors[0]);
		assert!(!self.stderr.contains("panicked"), "panic in stderr:\n{}", self.stderr);
		assert_eq!(self.code, code, "exit code for: {}", errors[0]);
	}
}

/// Runs `keyorch args…` in `dir` (where the default key file is), within `COMMAND_TIMEOUT`.
async fn keyorch(dir: &Path, args: &[&str]) -> Run {
	let output = tokio::time::timeout(
		COMMAND_TIMEOUT,
		tokio::process::Command::new(cli_binary())
			.args(args)
			.current_dir(dir)
			.stdin(Stdio::null())
			.kill_on_drop(true)
			.output(),
	)
	.await
	.unwrap_or_else(|_| panic!("keyorch {args:?} took longer than {COMMAND_TIMEOUT:?}"))
	.unwrap_or_else(|e| {
		panic!("cannot run {}: {e} (build it with scripts/build.sh)", cli_binary().display())
	});
	Run {
		code: output.status.code().unwrap_or(-1),
		stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
		stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
	}
}

/// A stream id nobody requested.
fn unknown_stream() -> String {
	format!("0x{}", "5a".repeat(32))
}

#[tokio::test]
async fn keys_new_makes_a_private_key_file_and_show_prints_no_secret() {
	let dir = tempfile::tempdir().unwrap();
	let created = keyorch(dir.path(), &["keys", "new"]).await;
	created.ok();
	let path = dir.path().join("keyorch-key.json");
	let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
	assert_eq!(mode, 0o600, "the key file is readable by its owner only");

	let file: serde_json::Value =
		serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
	let secrets: Vec<String> = ["account_seed", "encryption_secret"]
		.iter()
		.map(|name| {
			file[name]
				.as_str()
				.expect("a secret in the key file")
				.trim_start_matches("0x")
				.to_string()
		})
		.collect();

	let shown = keyorch(dir.path(), &["keys", "show"]).await;
	let stdout = shown.ok();
	assert!(stdout.contains("account "), "{stdout}");
	assert!(stdout.contains("encryption key"), "{stdout}");
	assert_eq!(stdout, created.stdout, "`keys new` shows the same public parts");
	for secret in &secrets {
		assert!(!stdout.contains(secret.as_str()), "a secret is shown:\n{stdout}");
		assert!(
			!created.stdout.contains(secret.as_str()) && !created.stderr.contains(secret.as_str())
		);
	}

	// Never replaced without --force; replaced with it.
	let again = keyorch(dir.path(), &["keys", "new"]).await;
	again.fails(3, "exists already");
	assert!(again.stderr.contains("hint: "), "{}", again.stderr);
	assert_eq!(keyorch(dir.path(), &["keys", "show"]).await.ok(), stdout);
	keyorch(dir.path(), &["keys", "new", "--force"]).await.ok();
	assert_ne!(keyorch(dir.path(), &["keys", "show"]).await.ok(), stdout);
}

#[tokio::test]
async fn bad_input_gets_one_error_line_and_the_documented_exit_code() {
	let dir = tempfile::tempdir().unwrap();
	let stream = unknown_stream();

	// Nothing listens there, or it is not a URL: 4.
	let closed = format!("ws://127.0.0.1:{}", free_port());
	keyorch(dir.path(), &["--url", &closed, "status", &stream]).await.fails(4, "cannot reach");
	keyorch(dir.path(), &["--url", "no-such-scheme//x", "status", &stream])
		.await
		.fails(4, "cannot reach");

	// A malformed stream id, account, dev seed or key file: 3, before any connection.
	keyorch(dir.path(), &["--url", &closed, "status", "0x1234"]).await.fails(3, "not a stream id");
	keyorch(
		dir.path(),
		&["--url", &closed, "--dev-seed", "//Alice", "request", "--provider", "bob"],
	)
	.await
	.fails(3, "not an account");
	keyorch(dir.path(), &["--dev-seed", "not a seed //", "keys", "show"])
		.await
		.fails(3, "not a valid secret URI");
	let missing = keyorch(dir.path(), &["keys", "show"]).await;
	missing.fails(3, "no key file");
	assert!(missing.stderr.contains("hint: "), "{}", missing.stderr);
	let broken = dir.path().join("broken.json");
	std::fs::write(&broken, "{not json").unwrap();
	std::fs::set_permissions(&broken, std::fs::Permissions::from_mode(0o600)).unwrap();
	keyorch(dir.path(), &["--key-file", broken.to_str().unwrap(), "keys", "show"])
		.await
		.fails(3, "not a keyorch key file");

	// Missing arguments: clap's usage error, 2.
	let usage = keyorch(dir.path(), &["request"]).await;
	assert_eq!(usage.code, 2, "{}", usage.stderr);
	assert!(usage.stderr.contains("--provider"), "{}", usage.stderr);
	assert_eq!(keyorch(dir.path(), &["key", &stream]).await.code, 2);

	// The exit codes are documented in --help.
	let help = keyorch(dir.path(), &["--help"]).await;
	assert!(help.ok().contains("Exit codes:"), "{}", help.stdout);
}

/// Polls `status --output json` of `stream` until `done` holds for it (a stream only shows once its
/// block is finalized), within 60 s; gives that status.
async fn wait_status(
	dir: &Path,
	url: &str,
	stream: &str,
	what: &str,
	done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
	let deadline = Instant::now() + Duration::from_secs(60);
	loop {
		let run = keyorch(dir, &["--url", url, "--output", "json", "status", stream]).await;
		if run.code == 0 {
			let status: serde_json::Value = serde_json::from_str(&run.stdout)
				.unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", run.stdout));
			if done(&status) {
				return status;
			}
		}
		assert!(
			Instant::now() < deadline,
			"no {what} within 60 s; last status:\n{}{}",
			run.stdout,
			run.stderr
		);
		tokio::time::sleep(Duration::from_millis(500)).await;
	}
}

/// `--url url --dev-seed seed rest…`.
fn as_dev<'a>(url: &'a str, seed: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
	[&["--url", url, "--dev-seed", seed][..], rest].concat()
}

/// The ids of the streams `seed` lists in `role` (`keyorch streams --role`).
async fn listed(dir: &Path, url: &str, seed: &str, role: &str) -> Vec<String> {
	let run =
		keyorch(dir, &as_dev(url, seed, &["--output", "json", "streams", "--role", role])).await;
	let list: serde_json::Value = serde_json::from_str(run.ok()).expect("one JSON object");
	let streams = list["streams"].as_array().expect("a list of streams");
	streams.iter().map(|listed| listed["stream"].as_str().expect("an id").to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn register_request_follow_and_revoke_a_stream_on_a_dev_node() {
	let node = dev_node_with_witness("//Charlie").await;
	let url = node.ws_url();
	let url = url.as_str();
	let dir = tempfile::tempdir().unwrap();
	let dir = dir.path();

	for seed in ["//Alice", "//Bob", "//Charlie"] {
		let registered = keyorch(dir, &as_dev(url, seed, &["register"])).await;
		assert!(registered.ok().starts_with("registered "), "{}", registered.stdout);
	}
	keyorch(dir, &as_dev(url, "//Charlie", &["witness", "register"])).await.ok();
	let twice = keyorch(dir, &as_dev(url, "//Alice", &["register"])).await;
	twice.fails(5, "AlreadyRegistered");
	assert!(twice.stderr.contains("hint: "), "{}", twice.stderr);

	let alice = Sr25519Keyring::Alice.to_account_id().to_string();
	let bob = Sr25519Keyring::Bob.to_account_id().to_string();
	let charlie = Sr25519Keyring::Charlie.to_account_id().to_string();
	let requested =
		keyorch(dir, &as_dev(url, "//Alice", &["request", "--provider", &bob, "--witnesses", "1"]))
			.await;
	let stream = requested.ok().trim().to_string();
	let stream = stream.as_str();
	assert!(stream.starts_with("0x") && stream.len() == 66, "not a stream id: {stream}");

	let status = wait_status(dir, url, stream, "stream", |_| true).await;
	assert_eq!(status["stream"], stream);
	assert!(matches!(status["status"].as_str(), Some("requested" | "live")), "{status}");
	assert_eq!(status["initiator"], alice.as_str());
	assert_eq!(status["provider"], bob.as_str());
	assert_eq!(status["witnesses"], serde_json::json!([charlie]));
	assert_eq!(status["holders"].as_array().map(Vec::len), Some(3), "{status}");
	assert_eq!(status["threshold"], 2);
	assert!(status["expires_at"].as_u64() > status["requested_at"].as_u64(), "{status}");

	// The orchestrator deals epoch 0 within a few blocks.
	let dealt =
		wait_status(dir, url, stream, "epoch 0", |status| status["current_epoch"] == 0).await;
	assert_eq!(dealt["status"], "live");
	assert_eq!(dealt["pending_epoch"], serde_json::Value::Null);
	assert!(dealt["current_epoch_dealt_at"].is_u64(), "{dealt}");

	// The human table says the same.
	let table = keyorch(dir, &["--url", url, "status", stream]).await;
	assert!(table.ok().lines().any(|line| line.starts_with("status") && line.ends_with(" live")));

	// Initiator and provider assemble the same key; only its fingerprint is printed.
	let alice = keyorch(dir, &as_dev(url, "//Alice", &["key", stream, "--witness-url", url])).await;
	let bob = keyorch(dir, &as_dev(url, "//Bob", &["key", stream, "--witness-url", url])).await;
	let fingerprint = alice.ok().trim();
	assert_eq!(fingerprint, bob.ok().trim());
	assert!(
		fingerprint.len() == 16 && fingerprint.chars().all(|c| c.is_ascii_hexdigit()),
		"a fingerprint and nothing else: {fingerprint}"
	);

	// The same result for scripts: one JSON object.
	let json = keyorch(
		dir,
		&as_dev(url, "//Bob", &["--output", "json", "key", stream, "--witness-url", url]),
	)
	.await;
	let json: serde_json::Value = serde_json::from_str(json.ok()).expect("one JSON object");
	assert_eq!((&json["fingerprint"], &json["epoch"]), (&fingerprint.into(), &0.into()), "{json}");

	// Each party lists the stream in its role.
	assert_eq!(listed(dir, url, "//Alice", "initiator").await, [stream]);
	assert_eq!(listed(dir, url, "//Bob", "provider").await, [stream]);
	assert!(listed(dir, url, "//Bob", "initiator").await.is_empty());

	// Either party rotates and reports usage; the orchestrator deals epoch 1.
	let rotated = keyorch(dir, &as_dev(url, "//Bob", &["rotate", stream])).await;
	assert!(rotated.ok().starts_with("rotated stream"), "{}", rotated.stdout);
	keyorch(dir, &as_dev(url, "//Bob", &["usage", stream, "--bytes", "4096"])).await.ok();
	let rotated =
		wait_status(dir, url, stream, "epoch 1", |status| status["current_epoch"] == 1).await;
	assert_eq!(rotated["total_bytes"], 4096);

	// Only the initiator and provider may assemble the key or revoke the stream.
	keyorch(dir, &as_dev(url, "//Eve", &["key", stream, "--witness-url", url]))
		.await
		.fails(5, "neither the initiator nor the provider");
	keyorch(dir, &as_dev(url, "//Eve", &["revoke", stream])).await.fails(5, "NotStreamParty");

	// An unknown stream is refused by the chain: 5.
	keyorch(dir, &["--url", url, "status", &unknown_stream()]).await.fails(5, "no stream");

	// Revoked: the status says so, and the key is no longer assembled.
	let revoked =
		keyorch(dir, &as_dev(url, "//Alice", &["revoke", stream, "--reason", "test over"])).await;
	assert!(revoked.ok().starts_with("revoked stream"), "{}", revoked.stdout);
	let ended =
		wait_status(dir, url, stream, "revocation", |status| status["status"] != "live").await;
	assert_eq!(ended["status"], "revoked");
	assert_eq!(ended["ended_by"], "initiator");
	assert_eq!(ended["final_epoch"], 1);
	keyorch(dir, &as_dev(url, "//Bob", &["key", stream, "--witness-url", url]))
		.await
		.fails(5, "revoked");
}
