//! Measures the figures the issues ask for, on real node processes, each beside a baseline
//! measured in the same run:
//!
//! - `overlay`: `keyorch_getRecord` through a node that does not hold the record (a DHT
//!   lookup each time) and share release by a witness, both against `system_health` on the same
//!   node; the time from a revocation's inclusion to the last refusal.
//! - `assembly [--dev|--local] [N]`: time from `request_stream` to a usable key on both sides,
//!   over N streams, each assembled as soon as the node allows (polling every 100 ms); how
//!   many keys came before their dealing was final; the finality lag. `--validator-down`
//!   stops one of the four validators first; `--random-arrival` pauses up to a slot before each
//!   request (by default each follows the previous stream's close, just after a block).
//! - `revocation [N] [--validator-down]`: on the four-validator network with two witness
//!   nodes, time from a revocation's inclusion to the last refusal by every witness and every
//!   node, over N streams (default 20), and the finality lag.
//! - `burst [--dev|--local] [N] [--witnesses W] [--assemble]`: N stream requests (default 200) submitted at
//!   once from six initiators without waiting for their inclusion, each stream with W witnesses
//!   (default 1, at most 16, accounts `//Witness0`… funded for their deposits): the submission
//!   time; per stream, blocks and seconds from its request's inclusion to its epoch 0 (p50,
//!   p99); epochs dealt per block against the chain's own inclusion rate of the requests; the
//!   time from the first inclusion to the last epoch 0. `--assemble` (local network only) runs
//!   two witness nodes, which are every stream's witnesses, and then has both parties of every
//!   stream assemble their key: per stream, the time from its inclusion to both keys (p50,
//!   p99), and from the first inclusion to the last key.
//! - `flood`: legitimate records accepted per second through `keyorch_putRecord` on a `--dev`
//!   node, alone and while a rogue Kademlia peer (`keyorch_tests::rogue`) floods the node with
//!   10,000 forged records; how many forged puts per second the node answered.
//! - `agent [N]`: `keyorch agent` on a `--dev` node with a witness: N seal and N open calls of
//!   1 KiB and of 64 KiB messages through the initiator's and the provider's agents, one at a
//!   time (p50, p99) against the same seal and open in process, and the calls per second with 8
//!   callers at once; the delay from an epoch's finality to its `epoch-ready` Server-Sent Event
//!   at the client, over five rotations.
//! - `cli`: start-up time of the `keyorch` binary against spawning `/bin/true`.
//!
//! Build with `scripts/build.sh`, then run `target/debug/keyorch-figures <what>`.

use std::{
	collections::HashMap,
	process::Command,
	sync::{Arc, Mutex},
	time::{Duration, Instant},
};

use base64::{engine::general_purpose::STANDARD as BASE64, Engine};
use keyorch_primitives::{combine, deal, DealContext, EncryptionSecret, StreamKeys};
use serde_json::json;

use codec::Encode;
use keyorch_client::{NodeClient, Signer};
use keyorch_runtime::{
	pallet_keyorch::{self, RotationPolicy},
	UNIT,
};
use keyorch_tests::{
	agent::Agent,
	burst::{self, Assembly},
	cli_binary, dev_node, dev_node_with_witness,
	fast_path::Parties,
	local_network, local_network_with_witnesses,
	parties::{register_and_request, stream_request, DealtStream, Party},
	revocation::{epoch_zero_keys, until_refused_everywhere},
	rogue::{forged_record, Rogue},
	wait_for, Node, NodeConfig, VALIDATORS,
};
use sp_core::Get;

const WITNESSES: [&str; 2] = ["//Dave", "//Eve"];

/// Median and 99th percentile of `samples`.
fn summary<T: Ord + Copy>(samples: &mut [T]) -> (T, T) {
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

	let dave = nodes[VALIDATORS.len()].keyorch().await;
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
	let mut baseline = health_baseline(&nodes[VALIDATORS.len()], 200).await;
	report("keyorch_requestShare", &mut releases, &mut baseline);

	let revoked =
		client.revoke(&stream.initiator.signer, stream.stream, "figures").await.expect("revoke");
	let all: Vec<&Node> = nodes.iter().collect();
	let witnesses: Vec<_> = stream.witnesses.iter().zip(&nodes[VALIDATORS.len()..]).collect();
	let keys = epoch_zero_keys(stream.stream, witnesses.len());
	let last = until_refused_everywhere(
		stream.stream,
		&stream.initiator,
		&witnesses,
		&all,
		&keys,
		Instant::now(),
		REFUSAL_TIMEOUT,
	)
	.await;
	println!("revocation in block {}: last refusal {last:?} after inclusion", revoked.number);
}

/// How long a revocation may take to be honoured everywhere before a figures run gives up.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(60);

/// Time from `request_stream` to both parties holding the key, for `count` streams; the
/// initiator talks to the first node, the provider to the last validator. With
/// `validator_down` (local network only), the third validator is stopped first. Each request
/// follows the previous stream's close, so it is submitted just after a block: the slowest
/// phase. With `random_arrival`, a pause drawn evenly from one slot comes first, as for
/// requests that arrive at any time.
async fn assembly(local: bool, count: usize, validator_down: bool, random_arrival: bool) {
	let mut nodes = if local {
		local_network_with_witnesses(&WITNESSES).await
	} else {
		let args = ["--dev", "--witness", "//Dave"].map(String::from).to_vec();
		vec![Node::start(NodeConfig { args, ..Default::default() }).await]
	};
	let witness_nodes = if local { &nodes[VALIDATORS.len()..] } else { &nodes[..] };
	let seeds = if local { &WITNESSES[..] } else { &WITNESSES[..1] };
	let client = nodes[0].client().await;
	let parties = Parties::register(&client, seeds, witness_nodes).await;
	let provider_client = nodes[nodes.len().min(VALIDATORS.len()) - 1].client().await;
	if local && validator_down {
		nodes[2].stop();
	}
	let mut samples = Vec::new();
	let mut blocks = Vec::new();
	let mut before_final = 0;
	for _ in 0..count {
		if random_arrival {
			let pause = rand::random::<u64>() % keyorch_runtime::SLOT_DURATION;
			tokio::time::sleep(Duration::from_millis(pause)).await;
		}
		let keys = parties.key_on_both_sides(&client, &provider_client).await;
		samples.push(keys.elapsed);
		blocks.push(keys.blocks_to_dealing);
		before_final += usize::from(keys.before_final);
		client.close(&parties.initiator.signer, keys.stream).await.expect("close");
	}
	let lag = finality_lag(&client, 20).await;
	let mut baseline = health_baseline(&nodes[0], count).await;
	let network = network_name(local, validator_down);
	let arrival = if random_arrival { "random arrival" } else { "just after a block" };
	let network = format!("{network}, requests {arrival}");
	report(&format!("request to a key on both sides ({network})"), &mut samples, &mut baseline);
	blocks.sort();
	println!(
		"blocks from request to dealing: median {}; keys assembled before their dealing was \
		 final: {before_final} of {count}; finality lag (best - finalized, 20 samples): median {}, \
		 max {}",
		blocks[blocks.len() / 2],
		lag.0,
		lag.1
	);
}

fn network_name(local: bool, validator_down: bool) -> &'static str {
	match (local, validator_down) {
		(true, true) => "local network, one validator down",
		(true, false) => "local network",
		(false, _) => "--dev",
	}
}

/// Time from a revocation's inclusion to the last refusal, on the four validators and two
/// witness nodes, over `count` streams: each stream's key is assembled on both sides, then the
/// stream is revoked and every witness (share release) and every running node (every record,
/// through the DHT too) is asked every 50 ms until it refuses. With `validator_down`, the third
/// validator is stopped first.
async fn revocation(count: usize, validator_down: bool) {
	let mut nodes = local_network_with_witnesses(&WITNESSES).await;
	let client = nodes[0].client().await;
	let parties = Parties::register(&client, &WITNESSES, &nodes[VALIDATORS.len()..]).await;
	let provider_client = nodes[VALIDATORS.len() - 1].client().await;
	if validator_down {
		nodes[2].stop();
	}
	let running: Vec<&Node> = nodes.iter().filter(|node| node.pid().is_some()).collect();
	let witnesses: Vec<_> = parties.witnesses.iter().zip(&nodes[VALIDATORS.len()..]).collect();
	let mut samples = Vec::new();
	for _ in 0..count {
		let keys = parties.key_on_both_sides(&client, &provider_client).await;
		let revoked = client.revoke(&parties.initiator.signer, keys.stream, "figures").await;
		let included = Instant::now();
		revoked.expect("the revocation is included");
		let records = epoch_zero_keys(keys.stream, witnesses.len());
		samples.push(
			until_refused_everywhere(
				keys.stream,
				&parties.initiator,
				&witnesses,
				&running,
				&records,
				included,
				REFUSAL_TIMEOUT,
			)
			.await,
		);
	}
	let lag = finality_lag(&client, 20).await;
	let mut baseline = health_baseline(&nodes[0], count).await;
	let network = network_name(true, validator_down);
	report(
		&format!("revocation inclusion to the last refusal by every witness and node ({network})"),
		&mut samples,
		&mut baseline,
	);
	println!("finality lag (best - finalized, 20 samples): median {}, max {}", lag.0, lag.1);
}

/// The best block's lead over the finalized one, sampled `samples` times a second apart:
/// median and maximum.
async fn finality_lag(client: &NodeClient, samples: usize) -> (u32, u32) {
	let mut lags = Vec::new();
	for _ in 0..samples {
		let best = client.header(None).await.expect("best block").number;
		let finalized = client.finalized_number().await.expect("finalized block");
		lags.push(best.saturating_sub(finalized));
		tokio::time::sleep(Duration::from_secs(1)).await;
	}
	lags.sort();
	(lags[lags.len() / 2], lags[lags.len() - 1])
}

/// The initiators of a burst: dev accounts that are not validators on `--dev` or `--chain
/// local` (the off-chain workers sign their dealings with the validators' accounts).
const BURST_INITIATORS: [&str; 6] =
	["//Dave", "//Eve", "//Ferdie//stash", "//Bob//stash", "//Charlie//stash", "//Dave//stash"];

/// Pays a burst's witness accounts what their deposits hold.
const BURST_FUNDER: &str = "//Eve//stash";

/// `count` requests from [`BURST_INITIATORS`] at once, each for a stream with `witnesses`
/// witnesses: how fast they are submitted, included and dealt, and with `assemble` how soon
/// both parties hold every key. Returns whether every request was included and dealt in time
/// and every key assembled (the nodes stop on return).
async fn burst_figures(BurstArgs { local, count, witnesses, assemble }: BurstArgs) -> bool {
	let most = <keyorch_runtime::Runtime as pallet_keyorch::Config>::MaxWitnessesPerStream::get();
	if !(1..=most).contains(&witnesses) {
		eprintln!("burst --witnesses {witnesses}: a stream has from 1 to {most} witnesses");
		std::process::exit(2);
	}
	let nodes = match (local, assemble) {
		(true, true) => local_network_with_witnesses(&WITNESSES).await,
		(true, false) => local_network().await,
		(false, _) => vec![dev_node().await],
	};
	let client = nodes[0].client().await;
	if local {
		for node in &nodes {
			let client = node.client().await;
			wait_for("the validators to peer", Duration::from_secs(60), || async {
				(client.health().await.ok()?.peers >= VALIDATORS.len() as u64 - 1).then_some(())
			})
			.await;
		}
	}
	let provider = Party::new("//Alice//stash");
	// With witness nodes, Dave and Eve are witnesses, not initiators.
	let initiators = &BURST_INITIATORS[if assemble { 2 } else { 0 }..];
	let initiators: Vec<Party> = initiators.iter().map(|uri| Party::new(uri)).collect();
	let witness_parties: Vec<Party> = if assemble {
		WITNESSES.iter().map(|seed| Party::dev(seed)).collect()
	} else {
		(0..witnesses).map(|i| Party::new(&format!("//Witness{i}"))).collect()
	};
	let accounts: Vec<_> = witness_parties.iter().map(|w| w.signer.account_id()).collect();
	let funder = Signer::from_uri(BURST_FUNDER).expect("dev seed");
	burst::fund(&client, &funder, &accounts, 1_000 * UNIT).await;
	burst::register(&client, &provider, &initiators, &witness_parties).await;

	let no_rotation = RotationPolicy { every_blocks: None, every_bytes: None };
	let request = stream_request(&provider, witnesses, 2, no_rotation);
	let timeout = Duration::from_secs(120) + Duration::from_millis(500) * count as u32;
	let outcome = burst::run(&client, &initiators, &request, count, timeout).await;
	let (submission, followed) = (&outcome.submission, &outcome.followed);

	let network = if local { "local network" } else { "--dev" };
	println!(
		"burst of {count} requests from {} initiators, {witnesses} witness(es) per stream \
		 ({network})",
		initiators.len()
	);
	println!(
		"submission: {} accepted in {:?} ({:.0} per second)",
		submission.accepted,
		submission.elapsed,
		submission.accepted as f64 / submission.elapsed.as_secs_f64()
	);
	for refusal in &submission.refusals {
		println!("refused: {refusal}");
	}
	let incomplete = followed.timed_out || followed.undealt() > 0;
	let (Some(first), Some(last), Some(first_dealt), Some(last_dealt)) = (
		followed.first_requested(),
		followed.last_requested(),
		followed.first_dealt(),
		followed.last_dealt(),
	) else {
		print!("{}", followed.table());
		println!("no request was both included and dealt within {timeout:?}");
		return false;
	};

	// The baseline: how many requests the chain included per block, in the same run.
	let requested = followed.streams.len();
	let inclusion_blocks = last - first + 1;
	let included_max = followed.blocks.iter().map(|b| b.requested.len()).max().unwrap_or(0);
	let included_mean = requested as f64 / f64::from(inclusion_blocks);
	let dealt = requested - followed.undealt();
	let dealing_blocks = last_dealt - first_dealt + 1;
	let dealt_max = followed.blocks.iter().map(|b| b.dealt.len()).max().unwrap_or(0);
	let dealt_mean = dealt as f64 / f64::from(dealing_blocks);
	println!(
		"epochs 0 dealt per block: n={dealt} max {dealt_max} mean {dealt_mean:.1} over blocks \
		 {first_dealt}..={last_dealt} | baseline requests included per block: n={requested} max \
		 {included_max} mean {included_mean:.1} over blocks {first}..={last} | ratio mean {:.2}",
		dealt_mean / included_mean
	);

	let streams: Vec<(u32, u32)> =
		followed.streams.iter().filter_map(|s| Some((s.requested, s.dealt?))).collect();
	let mut blocks: Vec<u32> =
		streams.iter().map(|&(requested, dealt)| dealt - requested).collect();
	let mut seconds: Vec<Duration> = streams
		.iter()
		.map(|&(requested, dealt)| followed.seconds_between(requested, dealt).unwrap_or_default())
		.collect();
	let (blocks_median, blocks_p99) = summary(&mut blocks);
	let (seconds_median, seconds_p99) = summary(&mut seconds);
	println!(
		"inclusion to epoch 0 per stream: n={} blocks median {blocks_median} p99 {blocks_p99} | \
		 seconds median {seconds_median:?} p99 {seconds_p99:?}",
		streams.len()
	);
	let within = streams.iter().filter(|&&(_, dealt)| dealt <= last + 5).count();
	println!("dealt by the last request's block {last} + 5: {within} of {requested}");
	println!(
		"first inclusion (block {first}) to last epoch 0 (block {last_dealt}): {} blocks, {:?} \
		 (inclusion alone: {} blocks, {:?})",
		last_dealt - first,
		followed.seconds_between(first, last_dealt).unwrap_or_default(),
		last - first,
		followed.seconds_between(first, last).unwrap_or_default(),
	);
	if incomplete || requested < submission.accepted {
		print!("{}", followed.table());
		println!(
			"incomplete after {timeout:?}: {requested} of {} accepted requests included, {} \
			 epochs 0 not dealt",
			submission.accepted,
			followed.undealt()
		);
		return false;
	}
	if assemble {
		let assembly = Assembly {
			initiators: &initiators,
			provider: &provider,
			nodes: (&nodes[1], &nodes[2]),
			witnesses: [&nodes[VALIDATORS.len()], &nodes[VALIDATORS.len() + 1]],
		};
		return assembly_figures(followed, &assembly).await;
	}
	true
}

/// Streams whose keys `burst --assemble` assembles at once, each on both sides.
const ASSEMBLING_STREAMS: usize = 16;

/// Has both parties of every stream of `followed` assemble their key, and reports per stream
/// the time from its inclusion (when the follower read its block) to both keys, and from the
/// first inclusion to the last key. Returns whether every stream's keys were assembled and
/// agreed.
async fn assembly_figures(followed: &burst::Followed, assembly: &Assembly<'_>) -> bool {
	let keys = assembly.assemble_all(&followed.streams, ASSEMBLING_STREAMS).await;
	let included = |requested: u32| followed.block(requested).expect("a block read").seen;
	let mut samples: Vec<Duration> = keys
		.iter()
		.filter_map(|(stream, both)| {
			Some(both.as_ref().ok()?.duration_since(included(stream.requested)))
		})
		.collect();
	let failures: Vec<&String> = keys.iter().filter_map(|(_, both)| both.as_ref().err()).collect();
	let first = included(followed.first_requested().expect("requests seen"));
	let last_key = keys.iter().filter_map(|(_, both)| both.as_ref().ok()).max();
	let (median, p99) = summary(&mut samples);
	println!(
		"inclusion to both keys per stream: n={} median {median:?} p99 {p99:?} | first inclusion \
		 to the last key: {:?}",
		samples.len(),
		last_key.map(|at| at.duration_since(first)).unwrap_or_default(),
	);
	if let Some(failure) = failures.first() {
		println!("{} streams without both keys; first: {failure}", failures.len());
	}
	failures.is_empty()
}

/// Legitimate offers of one record per run of `flood`.
const OFFERS: usize = 500;

/// Forged records the rogue peer offers during `flood`.
const FORGED: usize = 10_000;

/// Offers `record` under `key` to `node` `OFFERS` times in a row; the offers accepted per
/// second (each one is validated against the chain, as a new record would be).
async fn accepted_per_second(node: &Node, key: [u8; 32], record: &[u8]) -> f64 {
	let rpc = node.keyorch().await;
	let started = Instant::now();
	for _ in 0..OFFERS {
		let outcome = rpc.put_record(key, record.to_vec()).await;
		assert_eq!(outcome["storedLocally"], true, "a legitimate offer is refused: {outcome}");
	}
	OFFERS as f64 / started.elapsed().as_secs_f64()
}

/// Keys of a stream epoch dealt and rebuilt in process: the baseline of `agent`.
fn in_process_keys() -> StreamKeys {
	let secrets: Vec<_> = [[1u8; 32], [2; 32], [3; 32]].map(EncryptionSecret::from_bytes).into();
	let public: Vec<_> = secrets.iter().map(EncryptionSecret::public_key).collect();
	let context = DealContext { stream_id: [0xab; 32], epoch: 0 };
	let dealing = deal(&[0x42; 32], &context, 2, &public).expect("deal");
	let shares: Vec<_> = (0..2)
		.map(|i| dealing.records[i].open(&secrets[i], &context, i as u8 + 1).expect("share"))
		.collect();
	combine(&shares, &dealing.commitments).expect("combine").derive_keys(None)
}

async fn agent_figures(count: usize) {
	let node = dev_node_with_witness("//Dave").await;
	let client = node.client().await;
	let (bob, charlie) = (Party::dev("//Bob"), Party::dev("//Charlie"));
	let witnesses = [Party::dev("//Dave")];
	register_and_request(&client, &bob, &charlie, &witnesses, 2, RotationPolicy::default()).await;
	let dir = tempfile::tempdir().expect("temporary directory");
	let initiator = Agent::start(&node, "//Bob", dir.path(), &[]).await;
	let provider = Agent::start(&node, "//Charlie", dir.path(), &[]).await;
	let request =
		json!({ "provider": charlie.signer.account_id().to_string(), "rotate_blocks": 10 });
	let requested = initiator.call("POST", "/v1/streams", Some(request)).await;
	let stream = requested.ok(201)["stream"].as_str().expect("stream id").to_owned();
	let mut events = provider.events(&format!("/v1/streams/{stream}/events")).await;
	let finalized_at = finality_times(node.client().await);
	let (seal_path, open_path) =
		(format!("/v1/streams/{stream}/seal"), format!("/v1/streams/{stream}/open"));
	wait_for("a first sealed message", Duration::from_secs(60), || async {
		let sealed = initiator.call("POST", &seal_path, Some(json!({ "plaintext": "" }))).await;
		(sealed.status == 200).then_some(())
	})
	.await;
	let keys = in_process_keys();
	let direction = keyorch_primitives::Direction::InitiatorToProvider;
	for size in [1 << 10, 64 << 10] {
		let plaintext = vec![7u8; size];
		let encoded = BASE64.encode(&plaintext);
		let (mut seal, mut open, mut base_seal, mut base_open) = (vec![], vec![], vec![], vec![]);
		for _ in 0..count {
			let body = json!({ "plaintext": encoded });
			let (sealed, elapsed) = timed(initiator.call("POST", &seal_path, Some(body))).await;
			seal.push(elapsed);
			let body = json!({ "message": sealed.ok(200)["message"] });
			let (opened, elapsed) = timed(provider.call("POST", &open_path, Some(body))).await;
			assert_eq!(opened.ok(200)["plaintext"], encoded.as_str());
			open.push(elapsed);
			let started = Instant::now();
			let message = keys.seal_message(direction, [9; 12], b"", &plaintext).expect("seal");
			base_seal.push(started.elapsed());
			let started = Instant::now();
			keys.open_message(direction, b"", &message).expect("open");
			base_open.push(started.elapsed());
		}
		report(&format!("seal {size} B via agent vs in process"), &mut seal, &mut base_seal);
		report(&format!("open {size} B via agent vs in process"), &mut open, &mut base_open);
		let started = Instant::now();
		futures::future::join_all((0..8).map(|_| async {
			for _ in 0..count / 8 {
				let body = json!({ "plaintext": encoded });
				initiator.call("POST", &seal_path, Some(body)).await.ok(200);
			}
		}))
		.await;
		let per_second = (count / 8 * 8) as f64 / started.elapsed().as_secs_f64();
		println!("seal {size} B via agent, 8 callers at once: {per_second:.0} calls/s");
	}
	// Events queued while the calls above ran arrived earlier than they are read: dropped.
	while events.try_recv().is_ok() {}
	let mut delays = Vec::new();
	while delays.len() < 5 {
		let (event, data) = tokio::time::timeout(Duration::from_secs(120), events.recv())
			.await
			.expect("an epoch within 120 s")
			.expect("the event stream goes on");
		let arrived = Instant::now();
		if event != "epoch-ready" {
			continue;
		}
		let block = data["block"].as_u64().expect("block") as u32;
		let finalized = finalized_at.lock().expect("times").get(&block).copied();
		if let Some(finalized) = finalized {
			delays.push(arrived.saturating_duration_since(finalized));
		}
	}
	let (median, p99) = summary(&mut delays);
	println!(
		"epoch finality -> epoch-ready event at the client: n={} median {median:?} max {p99:?}",
		delays.len()
	);
}

/// When each block became final, as seen by polling the node every 20 ms.
fn finality_times(client: NodeClient) -> Arc<Mutex<HashMap<u32, Instant>>> {
	let times = Arc::new(Mutex::new(HashMap::new()));
	let seen = times.clone();
	tokio::spawn(async move {
		let mut last = client.finalized_number().await.unwrap_or_default();
		loop {
			if let Ok(now) = client.finalized_number().await {
				let at = Instant::now();
				let mut seen = seen.lock().expect("times");
				for block in last + 1..=now {
					seen.insert(block, at);
				}
				last = last.max(now);
			}
			tokio::time::sleep(Duration::from_millis(20)).await;
		}
	});
	times
}

async fn flood() {
	let node = dev_node().await;
	let stream = DealtStream::new(std::slice::from_ref(&node), &WITNESSES[..1]).await;
	let key = stream.key(1);
	let rpc = node.keyorch().await;
	// Records are published once their epoch is final.
	let record = wait_for("the live record", Duration::from_secs(60), || async {
		rpc.get_record(key, false).await.ok()
	})
	.await;
	let alone = accepted_per_second(&node, key, &record).await;
	let mut rogue = Rogue::join(&node).await;
	let forged = (0..FORGED).map(|_| forged_record()).collect();
	let started = Instant::now();
	let (answered, flooded) =
		tokio::join!(rogue.put_all(forged), accepted_per_second(&node, key, &record));
	let flood_rate = answered as f64 / started.elapsed().as_secs_f64();
	let status = rpc.status().await;
	println!(
		"legitimate records accepted: {alone:.0}/s alone, {flooded:.0}/s during the flood (ratio \
		 {:.2}); forged puts answered {answered} of {FORGED}, {flood_rate:.0}/s; refused {}, shed \
		 unread {}, pending after the flood {}",
		flooded / alone,
		status["recordsRefused"],
		status["recordsShed"],
		status["recordsPending"]
	);
}

/// `burst`'s arguments.
struct BurstArgs {
	/// On the four validators, not `--dev`.
	local: bool,
	/// Requests in the burst.
	count: usize,
	/// Witnesses per stream.
	witnesses: u32,
	/// Whether both parties of every stream then assemble their key.
	assemble: bool,
}

/// `burst`'s arguments after the subcommand; `None` if they do not parse or do not go together
/// (`--assemble` runs on the local network with its two witness nodes as every stream's
/// witnesses).
fn burst_args(args: &[String]) -> Option<BurstArgs> {
	let mut parsed = BurstArgs { local: false, count: 200, witnesses: 1, assemble: false };
	let mut witnesses = None;
	let mut args = args.iter();
	while let Some(arg) = args.next() {
		match arg.as_str() {
			"--dev" => parsed.local = false,
			"--local" => parsed.local = true,
			"--assemble" => parsed.assemble = true,
			"--witnesses" => witnesses = Some(args.next()?.parse::<u32>().ok()?),
			number => parsed.count = number.parse::<usize>().ok().filter(|&n| n > 0)?,
		}
	}
	if parsed.assemble {
		let two = WITNESSES.len() as u32;
		if !parsed.local || witnesses.is_some_and(|w| w != two) {
			return None;
		}
		parsed.witnesses = two;
	} else if let Some(witnesses) = witnesses {
		parsed.witnesses = witnesses;
	}
	Some(parsed)
}

fn usage() -> ! {
	eprintln!(
		"usage: keyorch-figures overlay | flood | assembly --dev|--local [N] [--validator-down] \
		 [--random-arrival] | revocation [N] [--validator-down] | burst [--dev|--local] [N] \
		 [--witnesses W] | burst --local [N] --assemble | agent [N] | cli"
	);
	std::process::exit(2);
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
		Some("assembly") => {
			let local = args.get(1).is_some_and(|a| a == "--local");
			let flag = |name: &str| args.iter().any(|a| a == name);
			assembly(local, count, flag("--validator-down"), flag("--random-arrival")).await
		},
		Some("revocation") => {
			let count = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(20);
			revocation(count, args.iter().any(|a| a == "--validator-down")).await
		},
		Some("burst") => match burst_args(&args[1..]) {
			Some(burst_args) => {
				if !burst_figures(burst_args).await {
					std::process::exit(1);
				}
			},
			None => usage(),
		},
		Some("flood") => flood().await,
		Some("cli") => cli(),
		Some("agent") => {
			agent_figures(args.get(1).and_then(|n| n.parse().ok()).unwrap_or(200)).await
		},
		_ => usage(),
	}
}
