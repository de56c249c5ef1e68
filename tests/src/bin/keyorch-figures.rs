//! Measures the figures the issues ask for, on real node processes, each beside a baseline
//! measured in the same run:
//!
//! - `overlay`: `keyorch_getRecord` through a node that does not hold the record (a DHT
//!   lookup each time) and share release by a witness, both against `system_health` on the same
//!   node; the time from a revocation's inclusion to the last refusal.
//! - `assembly [--dev|--local] [N]`: time from `request_stream` to a usable key on both sides,
//!   over N streams.
//! - `cli`: start-up time of the `keyorch` binary against spawning `/bin/true`.
//!
//! Build with `scripts/build.sh`, then run `target/debug/keyorch-figures <what>`.

use std::{
	process::Command,
	time::{Duration, Instant},
};

use codec::Encode;
use keyorch_client::{AssembledKey, NodeClient, WitnessEndpoint};
use keyorch_runtime::pallet_keyorch::{RotationPolicy, StreamId};
use keyorch_tests::{
	cli_binary, local_network_with_witnesses,
	parties::{wait_for_epoch, DealtStream, Party},
	wait_for, Node, NodeConfig,
};

const WITNESSES: [&str; 2] = ["//Dave", "//Eve"];

/// Median and 99th percentile of `samples`.
fn summary(samples: &mut [Duration]) -> (Duration, Duration) {
	samples.sort();
	let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
	(at(0.5), at(0.99))
}

fn report(what: &str, samples: &mut [Duration], baseline: &mut [Duration]) {
	let (median, p99) = summary(samples);
	let (base_median, base_p99) = summary(baseline);
	println!(
		"{what}: n={} median {median:?} p99 {p99:?} | baseline n={} median {base_median:?} \
		 p99 {base_p99:?} | ratio median {:.2} p99 {:.2}",
		samples.len(),
		baseline.len(),
		median.as_secs_f64() / base_median.as_secs_f64(),
		p99.as_secs_f64() / base_p99.as_secs_f64(),
	);
}

async fn timed<F: std::future::Future>(future: F) -> (F::Output, Duration) {
	let started = Instant::now();
	let output = future.await;
	(output, started.elapsed())
}

async fn health_baseline(node: &Node, count: usize) -> Vec<Duration> {
	let client = node.client().await;
	let mut samples = Vec::with_capacity(count);
	for _ in 0..count {
		let (health, elapsed) = timed(client.health()).await;
		health.expect("system_health");
		samples.push(elapsed);
	}
	samples
}

async fn overlay() {
	let nodes = local_network_with_witnesses(&WITNESSES).await;
	let stream = DealtStream::new(&nodes, &WITNESSES).await;
	let key = stream.key(1);
	// Wait until replication settled, then pick a node that does not hold the record.
	tokio::time::sleep(Duration::from_secs(20)).await;
	let mut remote = None;
	for (index, node) in nodes.iter().enumerate() {
		if node.keyorch().await.get_record(key, true).await.is_err() {
			remote = Some(index);
		}
	}
	let remote = remote.unwrap_or_else(|| {
		println!("every node holds the record: measuring a local hit on node 2 instead");
		2
	});
	println!("getRecord through node {remote}");
	let rpc = nodes[remote].keyorch().await;
	let mut gets = Vec::new();
	for _ in 0..1000 {
		let (record, elapsed) = timed(rpc.get_record(key, false)).await;
		record.expect("the record");
		gets.push(elapsed);
	}
	let mut baseline = health_baseline(&nodes[remote], 1000).await;
	report("keyorch_getRecord via a remote node", &mut gets, &mut baseline);

	let dave = nodes[3].keyorch().await;
	let client = nodes[0].client().await;
	wait_for("Dave's share", Duration::from_secs(60), || async {
		(dave.status().await["sharesHeld"].as_u64() >= Some(1)).then_some(())
	})
	.await;
	let expires_at = client.finalized_number().await.expect("finalized") + 90;
	let mut releases = Vec::new();
	for _ in 0..200 {
		let request =
			stream.initiator.release_request(stream.stream, 0, &stream.witnesses[0], expires_at);
		let (answer, elapsed) = timed(dave.request_share(request.encode())).await;
		answer.expect("released");
		releases.push(elapsed);
	}
	let mut baseline = health_baseline(&nodes[3], 200).await;
	report("keyorch_requestShare", &mut releases, &mut baseline);

	let revoked =
		client.revoke(&stream.initiator.signer, stream.stream, "figures").await.expect("revoke");
	let included = Instant::now();
	for node in &nodes {
		let rpc = node.keyorch().await;
		wait_for("a refusal", Duration::from_secs(60), || async {
			rpc.get_record(key, false).await.err().filter(|e| e.code == 7003).map(drop)
		})
		.await;
	}
	println!(
		"revocation in block {}: last refusal {:?} after inclusion",
		revoked.number,
		included.elapsed()
	);
}

/// `party`'s key of epoch 0 of `stream`, assembled through the node at `url` as soon as it can be.
async fn key_when_ready(
	url: String,
	party: &Party,
	stream: StreamId,
	endpoints: &[WitnessEndpoint],
) -> AssembledKey {
	let client = NodeClient::connect(&url).await.expect("node RPC");
	wait_for("a usable key", Duration::from_secs(120), || async {
		client.assemble_key(party.identity(), stream, Some(0), endpoints).await.ok()
	})
	.await
}

/// Time from `request_stream` to both parties holding the key, for `count` streams.
async fn assembly(local: bool, count: usize) {
	let nodes = if local {
		local_network_with_witnesses(&WITNESSES).await
	} else {
		let args = ["--dev", "--witness", "//Dave"].map(String::from).to_vec();
		vec![Node::start(NodeConfig { args, ..Default::default() }).await]
	};
	let witness_nodes = if local { &nodes[3..] } else { &nodes[..] };
	let seeds = if local { &WITNESSES[..] } else { &WITNESSES[..1] };
	let client = nodes[0].client().await;
	let initiator = Party::new("//Ferdie");
	let provider = Party::new("//Alice//stash");
	initiator.register(&client, false).await;
	provider.register(&client, false).await;
	for seed in seeds {
		Party::dev(seed).register(&client, true).await;
	}
	let endpoints: Vec<_> =
		witness_nodes.iter().map(|node| WitnessEndpoint::new(node.ws_url())).collect();
	let provider_node = &nodes[nodes.len().min(3) - 1];
	let no_rotation = RotationPolicy { every_blocks: None, every_bytes: None };
	let mut samples = Vec::new();
	let mut blocks = Vec::new();
	for _ in 0..count {
		let started = Instant::now();
		let (stream, block) =
			initiator.request_stream(&client, &provider, seeds.len() as u32, 2, no_rotation).await;
		let dealt = wait_for_epoch(&client, stream, 0, block, Duration::from_secs(120)).await;
		let (mine, theirs) = tokio::join!(
			key_when_ready(nodes[0].ws_url(), &initiator, stream, &endpoints),
			key_when_ready(provider_node.ws_url(), &provider, stream, &endpoints)
		);
		assert_eq!(mine.keys.fingerprint(), theirs.keys.fingerprint());
		samples.push(started.elapsed());
		blocks.push(dealt.block - block);
		client.close(&initiator.signer, stream).await.expect("close");
	}
	let mut baseline = health_baseline(&nodes[0], count).await;
	let network = if local { "local network" } else { "--dev" };
	report(&format!("request to a key on both sides ({network})"), &mut samples, &mut baseline);
	blocks.sort();
	println!("blocks from request to dealing: median {}", blocks[blocks.len() / 2]);
}

fn cli() {
	let dir = tempfile::tempdir().expect("temporary directory");
	let key_file = dir.path().join("key.json");
	let status = Command::new(cli_binary())
		.args(["keys", "new", "--key-file"])
		.arg(&key_file)
		.output()
		.expect("keyorch keys new");
	assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
	let run = |command: &mut Command| {
		let started = Instant::now();
		let output = command.output().expect("spawn");
		assert!(output.status.success());
		started.elapsed()
	};
	let mut cli = Vec::new();
	let mut baseline = Vec::new();
	for _ in 0..50 {
		cli.push(run(Command::new(cli_binary())
			.args(["keys", "show", "--key-file"])
			.arg(&key_file)));
		baseline.push(run(&mut Command::new("/bin/true")));
	}
	report("keyorch keys show (start-up)", &mut cli, &mut baseline);
}

#[tokio::main]
async fn main() {
	let args: Vec<String> = std::env::args().skip(1).collect();
	let count = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(50);
	match args.first().map(String::as_str) {
		Some("overlay") => overlay().await,
		Some("assembly") => assembly(args.get(1).is_some_and(|a| a == "--local"), count).await,
		Some("cli") => cli(),
		_ => {
			eprintln!("usage: keyorch-figures overlay | assembly --dev|--local [N] | cli");
			std::process::exit(2);
		},
	}
}
