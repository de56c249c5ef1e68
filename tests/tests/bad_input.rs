//! Bad command lines get one clear line and a non-zero exit, not a panic trace.

use std::{net::TcpListener, process::Command, time::Duration};

use keyorch_tests::{free_port, node_binary};

fn run(args: &[&str]) -> (i32, String) {
	let dir = tempfile::tempdir().unwrap();
	let output = Command::new(node_binary())
		.args(args)
		.arg("--base-path")
		.arg(dir.path())
		.output()
		.expect("keyorch-node runs");
	(output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stderr).into_owned())
}

fn assert_one_clear_error(stderr: &str, expected: &str) {
	let error_lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error: ")).collect();
	assert_eq!(error_lines.len(), 1, "expected one error line, stderr was:\n{stderr}");
	assert!(error_lines[0].contains(expected), "unexpected error line: {}", error_lines[0]);
	assert!(!stderr.contains("panicked"), "panic in stderr:\n{stderr}");
	assert!(!stderr.contains("RUST_BACKTRACE"), "backtrace hint in stderr:\n{stderr}");
}

#[test]
fn unknown_chain_name_says_which_names_exist() {
	let (code, stderr) = run(&["--chain", "no-such-chain"]);
	assert_ne!(code, 0);
	assert_one_clear_error(&stderr, "unknown chain 'no-such-chain': use 'dev' or 'local'");
}

#[test]
fn busy_rpc_port_says_what_to_do() {
	let holder = TcpListener::bind("127.0.0.1:0").unwrap();
	let busy = holder.local_addr().unwrap().port().to_string();
	let p2p = free_port().to_string();
	let started = std::time::Instant::now();
	let (code, stderr) =
		run(&["--dev", "--rpc-port", &busy, "--port", &p2p, "--no-prometheus", "--no-telemetry"]);
	assert_ne!(code, 0);
	assert_one_clear_error(&stderr, "--rpc-port");
	assert!(started.elapsed() < Duration::from_secs(60), "the node took too long to give up");
}
