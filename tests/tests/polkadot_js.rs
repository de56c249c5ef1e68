//! polkadot.js against a real node: `scripts/polkadot-js/request-stream.mjs` reads the keyorch
//! metadata, submits `request_stream` signed by Alice and reads the stream back. Skipped, with a
//! message, only where Node.js is not installed.

use std::{path::PathBuf, process::Command, time::Duration};

use keyorch_client::RuntimeEvent;
use keyorch_runtime::pallet_keyorch;
use keyorch_tests::dev_node;
use sp_core::H256;

fn script_dir() -> PathBuf {
	PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/polkadot-js")
}

fn node_js_available() -> bool {
	Command::new("node").arg("--version").output().is_ok_and(|out| out.status.success())
}

#[tokio::test(flavor = "multi_thread")]
async fn polkadot_js_requests_a_stream_and_reads_it_back() {
	if !node_js_available() {
		eprintln!("SKIPPED: Node.js is not installed, so the polkadot.js script cannot run");
		return;
	}
	let dir = script_dir();
	if !dir.join("node_modules/@polkadot/api").exists() {
		let install = Command::new("npm")
			.args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
			.current_dir(&dir)
			.output()
			.expect("npm runs");
		assert!(
			install.status.success(),
			"npm ci failed:\n{}",
			String::from_utf8_lossy(&install.stderr)
		);
	}

	let node = dev_node().await;
	let run = tokio::process::Command::new("node")
		.arg("request-stream.mjs")
		.arg(node.ws_url())
		.current_dir(&dir)
		.kill_on_drop(true)
		.output();
	let output = tokio::time::timeout(Duration::from_secs(120), run)
		.await
		.expect("the script finished within 120 s")
		.expect("node runs");
	let stdout = String::from_utf8_lossy(&output.stdout);
	assert!(
		output.status.success(),
		"script failed:\n{stdout}\n{}",
		String::from_utf8_lossy(&output.stderr)
	);
	let line = stdout.lines().find(|l| l.starts_with('{')).expect("a JSON line");
	let answer: serde_json::Value = serde_json::from_str(line).expect("JSON");
	assert_eq!(answer["initiator"], "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY", "Alice");
	assert_eq!(answer["provider"], "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty", "Bob");
	assert_eq!(answer["threshold"], 2);
	let stream: H256 = serde_json::from_value(answer["stream"].clone()).expect("a stream id");

	// The Rust client sees the same stream requested on chain.
	let client = node.client().await;
	client
		.wait_for_event(0, Duration::from_secs(10), "the StreamRequested event", |event| {
			matches!(
				event,
				RuntimeEvent::Keyorch(pallet_keyorch::Event::StreamRequested { stream: s, .. })
					if *s == stream
			)
			.then_some(())
		})
		.await
		.expect("StreamRequested for the script's stream");
}
