//! `keyorch send` and `keyorch receive` as processes: their arguments, a random file to move
//! and its SHA-256, and waiting for bytes to arrive and for the processes to end.

use std::{
	path::Path,
	process::{Child, Command, Stdio},
	time::{Duration, Instant},
};

use keyorch_runtime::pallet_keyorch::StreamId;
use sha2::{Digest, Sha256};

use crate::{cli_binary, free_port};

/// How long a transfer process may take.
pub const PROCESS_TIMEOUT: Duration = Duration::from_secs(120);

/// Starts `keyorch --url <url> --dev-seed <seed> <args[0]> <stream> <args[1..]>
/// --witness-url <witness_urls> <options>`, stdout piped and stderr into the file `log`.
pub fn spawn_keyorch(
	url: &str,
	seed: &str,
	stream: StreamId,
	witness_urls: &[String],
	args: &[String],
	options: &[&str],
	log: &Path,
) -> Child {
	let stderr = std::fs::File::create(log).expect("log file");
	Command::new(cli_binary())
		.args(["--url", url, "--dev-seed", seed])
		.arg(args[0].as_str())
		.arg(format!("{stream:?}"))
		.args(&args[1..])
		.args(["--witness-url", &witness_urls.join(",")])
		.args(options)
		.stdin(Stdio::null())
		.stdout(Stdio::piped())
		.stderr(stderr)
		.spawn()
		.expect("keyorch runs")
}

/// The transfer's endpoints: TCP, a Unix socket and a WebSocket.
pub fn endpoints(dir: &Path) -> [String; 3] {
	[
		format!("tcp:127.0.0.1:{}", free_port()),
		format!("unix:{}", dir.join("transfer.sock").display()),
		format!("ws:127.0.0.1:{}", free_port()),
	]
}

/// `send` of `file` on `endpoints` at `rate` bytes per second.
pub fn send_args(file: &Path, endpoints: &[String], rate: u64) -> Vec<String> {
	let mut args = vec!["send".into(), "--file".into(), file.display().to_string()];
	args.extend(["--rate".into(), rate.to_string()]);
	for endpoint in endpoints {
		args.extend(["--listen".into(), endpoint.clone()]);
	}
	args
}

/// `receive` into `out` from `endpoints`, then `extra`.
pub fn receive_args(out: &Path, endpoints: &[String], extra: &[&str]) -> Vec<String> {
	let mut args = vec!["receive".into(), "--out".into(), out.display().to_string()];
	for endpoint in endpoints {
		args.extend(["--connect".into(), endpoint.clone()]);
	}
	args.extend(extra.iter().map(|arg| arg.to_string()));
	args
}

/// A file of `len` random bytes and its SHA-256.
pub fn random_file(path: &Path, len: usize) -> String {
	let mut bytes = vec![0u8; len];
	rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
	std::fs::write(path, &bytes).expect("written");
	digest(&bytes)
}

/// The SHA-256 of `bytes` in hex, as `keyorch receive` prints it.
pub fn digest(bytes: &[u8]) -> String {
	Sha256::digest(bytes).iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Waits until `path` holds at least `len` bytes.
pub async fn wait_for_bytes(path: &Path, len: u64, logs: impl Fn() -> String) {
	let started = Instant::now();
	while std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) < len {
		assert!(started.elapsed() < PROCESS_TIMEOUT, "no bytes arrived: {}", logs());
		tokio::time::sleep(Duration::from_millis(100)).await;
	}
}

/// Waits for `child` to exit (killing it after the timeout); its exit code and stdout.
pub fn finish(mut child: Child, what: &str, logs: impl Fn() -> String) -> (i32, String) {
	let deadline = Instant::now() + PROCESS_TIMEOUT;
	loop {
		if let Some(status) = child.try_wait().expect("wait") {
			let mut stdout = String::new();
			use std::io::Read;
			child.stdout.take().expect("piped").read_to_string(&mut stdout).expect("stdout");
			return (status.code().unwrap_or(-1), stdout);
		}
		if Instant::now() > deadline {
			let _ = child.kill();
			panic!("{what} did not finish in {PROCESS_TIMEOUT:?}; logs:\n{}", logs());
		}
		std::thread::sleep(Duration::from_millis(100));
	}
}
