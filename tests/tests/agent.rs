//! `keyorch agent`: the initiator's and the provider's agents on a dev chain with a witness.
//! A stream requested through one, messages sealed by each and opened by the other (across a
//! rotation), keys handed out only by an agent allowed to, the stream revoked through one and
//! refused by both; each agent lists its streams, a stranger's agent is refused; every bad
//! request a problem+json with its status; the OpenAPI document valid and served; nothing
//! secret logged.

use std::{os::unix::fs::PermissionsExt, path::Path, time::Duration};

use base64::{engine::general_purpose::STANDARD as BASE64, Engine};
use keyorch_runtime::pallet_keyorch::RotationPolicy;
use keyorch_tests::{
	agent::{Agent, Answer},
	dev_node_with_witness,
	parties::{register_and_request, Party},
	wait_for,
};
use serde_json::{json, Value};

/// How long a stream may take to show its next epoch, or its end, through an agent.
const CHAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// How long the Python example may take.
const PYTHON_TIMEOUT: Duration = Duration::from_secs(120);

/// A stream id nobody requested.
fn unknown_stream() -> String {
	format!("0x{}", "5a".repeat(32))
}

async fn seal(agent: &Agent, stream: &str, plaintext: &[u8], aad: &[u8]) -> Answer {
	let body = json!({ "plaintext": BASE64.encode(plaintext), "aad": BASE64.encode(aad) });
	agent.call("POST", &format!("/v1/streams/{stream}/seal"), Some(body)).await
}

async fn open(agent: &Agent, stream: &str, message: &Value, aad: &[u8]) -> Answer {
	let body = json!({ "message": message, "aad": BASE64.encode(aad) });
	agent.call("POST", &format!("/v1/streams/{stream}/open"), Some(body)).await
}

/// The plaintext of an `open` answer.
fn plaintext(answer: &Answer) -> Vec<u8> {
	BASE64.decode(answer.ok(200)["plaintext"].as_str().expect("plaintext")).expect("base64")
}

/// The Python to run: `$KEYORCH_PYTHON` (set by scripts/env.sh), else `python3`.
fn python() -> String {
	std::env::var("KEYORCH_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Runs `command` (a Python one) to its end; `None`, with a note saying that `skipped`, where
/// there is no Python.
async fn run_python(
	mut command: tokio::process::Command,
	skipped: &str,
) -> Option<std::process::Output> {
	let run = command.kill_on_drop(true).output();
	match tokio::time::timeout(PYTHON_TIMEOUT, run).await.expect("python finishes") {
		Ok(output) => Some(output),
		Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
			eprintln!("note: no {} here, {skipped}", python());
			None
		},
		Err(error) => panic!("cannot run {}: {error}", python()),
	}
}

/// The stream ids `GET /v1/streams{query}` lists, sorted.
async fn listed(agent: &Agent, query: &str) -> Vec<String> {
	let answer = agent.call("GET", &format!("/v1/streams{query}"), None).await;
	let streams = answer.ok(200)["streams"].as_array().expect("a list of streams");
	let mut ids: Vec<String> =
		streams.iter().map(|listed| listed["stream"].as_str().expect("an id").to_owned()).collect();
	ids.sort();
	ids
}

/// Checks the agent's OpenAPI document with PyPI's `openapi-spec-validator`; skipped, with a
/// note, where there is no python3 or no such module.
async fn openapi_document_is_valid(document: &Value) {
	let dir = tempfile::tempdir().unwrap();
	let file = dir.path().join("openapi.json");
	std::fs::write(&file, document.to_string()).unwrap();
	let check = "import json, sys\n\
		try:\n    from openapi_spec_validator import validate\n\
		except ImportError:\n    sys.exit(99)\n\
		validate(json.load(open(sys.argv[1])))";
	let mut command = tokio::process::Command::new(python());
	command.args(["-c", check]).arg(&file);
	let Some(output) = run_python(command, "the OpenAPI document was not validated").await else {
		return;
	};
	if output.status.code() == Some(99) {
		eprintln!(
			"note: no openapi-spec-validator here (pip install openapi-spec-validator), the \
			 OpenAPI document was not validated"
		);
		return;
	}
	let stderr = String::from_utf8_lossy(&output.stderr);
	assert!(output.status.success(), "the OpenAPI document is not valid:\n{stderr}");
}

/// Every operation of the agent's OpenAPI document is served: none is refused as an unknown
/// path or method.
async fn every_documented_operation_is_routed(agent: &Agent, document: &Value) {
	let paths = document["paths"].as_object().expect("paths");
	for (path, item) in paths {
		let path = path.replace("{id}", &unknown_stream()).replace("{epoch}", "current");
		for method in item.as_object().expect("operations").keys() {
			let answer = agent.call(&method.to_uppercase(), &path, None).await;
			let reason = answer.body["reason"].as_str().unwrap_or_default();
			assert!(
				!["no-route", "method-not-allowed"].contains(&reason),
				"{method} {path} is documented, not served: {}",
				answer.status
			);
		}
	}
}

/// Runs `examples/python/agent_messages.py` (standard library only) with `sealer` sealing and
/// `opener` opening; skipped, with a note, where there is no python3.
async fn python_seals_and_opens(sealer: &Agent, opener: &Agent, stream: &str) {
	let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/python/agent_messages.py");
	let mut command = tokio::process::Command::new(python());
	command.arg(&script).args([stream, &sealer.url()]).arg(sealer.token_file());
	command.arg(opener.url()).arg(opener.token_file()).arg("from python");
	let Some(output) = run_python(command, "the Python example was not run").await else {
		return;
	};
	let stderr = String::from_utf8_lossy(&output.stderr);
	assert!(output.status.success(), "the Python example failed:\n{stderr}");
	let answer: Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
	assert_eq!(answer["opened"], "from python", "{answer}");
	assert_eq!(answer["other_aad_refused"], "bad-input", "{answer}");
}

/// Starts `examples/javascript/follow_events.mjs` on `agent`: it opens `message`, then follows
/// the events of `stream` from block `from`. `None`, with a note, where there is no node.
fn javascript_follower(
	agent: &Agent,
	stream: &str,
	from: u64,
	message: &Value,
) -> Option<tokio::process::Child> {
	let script =
		Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/javascript/follow_events.mjs");
	let spawned = tokio::process::Command::new("node")
		.arg(&script)
		.arg(agent.url())
		.arg(agent.token_file())
		.args([stream, &from.to_string(), message.as_str().expect("base64")])
		.stdout(std::process::Stdio::piped())
		.stderr(std::process::Stdio::piped())
		.kill_on_drop(true)
		.spawn();
	match spawned {
		Ok(child) => Some(child),
		Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
			eprintln!("note: no node here, the JavaScript example was not run");
			None
		},
		Err(error) => panic!("cannot run node: {error}"),
	}
}

/// Waits for the JavaScript follower to end with the stream, and checks what it saw: the
/// message opened, epochs 0 and 1 ready, the revocation last.
async fn javascript_followed_to_the_end(follower: tokio::process::Child) {
	let output = tokio::time::timeout(CHAIN_TIMEOUT, follower.wait_with_output())
		.await
		.expect("the JavaScript follower ends with the stream")
		.expect("node runs");
	let (stdout, stderr) =
		(String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
	assert!(output.status.success(), "the JavaScript example failed:\n{stdout}\n{stderr}");
	let lines: Vec<Value> =
		stdout.lines().map(|line| serde_json::from_str(line).expect("JSON lines")).collect();
	assert_eq!(lines[0]["opened"], "hello javascript", "{stdout}");
	let ready: Vec<&Value> =
		lines.iter().filter(|line| line["event"] == "epoch-ready").map(|l| &l["epoch"]).collect();
	assert_eq!(ready, [0, 1], "{stdout}");
	let last = lines.last().unwrap();
	assert_eq!((&last["event"], &last["by"]), (&"revoked".into(), &"provider".into()), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_agents_request_seal_open_rotate_and_revoke_a_stream() {
	let node = dev_node_with_witness("//Dave").await;
	let client = node.client().await;
	let (bob, charlie) = (Party::dev("//Bob"), Party::dev("//Charlie"));
	let witnesses = [Party::dev("//Dave")];
	// Registers the three; the stream it requests is closed through the agent below.
	let (first, _) =
		register_and_request(&client, &bob, &charlie, &witnesses, 2, RotationPolicy::default())
			.await;
	let first = format!("{first:#x}");
	let dir = tempfile::tempdir().unwrap();
	let initiator = Agent::start(&node, "//Bob", dir.path(), &[]).await;
	let provider = Agent::start(&node, "//Charlie", dir.path(), &["--allow-key-export"]).await;

	// Health needs no token and shows no secret.
	let health = initiator.call_raw("GET", "/v1/health", None, None).await;
	assert_eq!(health.ok(200)["account"], bob.signer.account_id().to_string());
	assert_eq!(health.body["key_export"], false);

	// The stream, requested through the initiator's agent.
	let request = json!({ "provider": charlie.signer.account_id().to_string(), "witnesses": 1 });
	let requested = initiator.call("POST", "/v1/streams", Some(request)).await;
	let stream = requested.ok(201)["stream"].as_str().expect("stream id").to_owned();
	let status = wait_for("epoch 0 in the stream's status", CHAIN_TIMEOUT, || async {
		let answer = provider.call("GET", &format!("/v1/streams/{stream}"), None).await;
		(answer.status == 200 && answer.body["current_epoch"] == 0).then_some(answer.body)
	})
	.await;
	assert_eq!(status["status"], "live");
	assert_eq!(status["initiator"], bob.signer.account_id().to_string());

	// Each agent lists the streams in its identity's role, and only there; a closed one is no
	// longer listed.
	let mut both = [first.clone(), stream.clone()];
	both.sort();
	assert_eq!(listed(&initiator, "?role=initiator").await, both);
	assert_eq!(listed(&provider, "?role=provider").await, both);
	assert_eq!(listed(&provider, "").await, both);
	assert!(listed(&provider, "?role=initiator").await.is_empty());
	let closed = initiator.call("POST", &format!("/v1/streams/{first}/close"), None).await;
	assert_eq!(closed.ok(200)["stream"], first.as_str());
	wait_for("the closed stream to leave the list", CHAIN_TIMEOUT, || async {
		(listed(&initiator, "").await == [stream.as_str()]).then_some(())
	})
	.await;

	// Usage reported through an agent counts on chain.
	let usage = json!({ "stream": stream, "bytes": 4096 });
	provider.call("POST", "/v1/usage", Some(usage)).await.ok(200);
	wait_for("the usage in the stream's status", CHAIN_TIMEOUT, || async {
		let answer = initiator.call("GET", &format!("/v1/streams/{stream}"), None).await;
		(answer.body["total_bytes"] == 4096).then_some(())
	})
	.await;
	initiator.call("GET", "/v1/streams?role=witness", None).await.problem(400, "bad-input");

	// An agent whose identity is no party of the stream is refused what only parties may do.
	let stranger = Agent::start(&node, "//Eve", dir.path(), &[]).await;
	seal(&stranger, &stream, b"not mine", b"").await.problem(403, "not-stream-party");
	let revoke_path = format!("/v1/streams/{stream}/revoke");
	stranger.call("POST", &revoke_path, None).await.problem(403, "not-stream-party");
	assert!(stranger.stop().await);

	// Sealed by each side, opened by the other; the associated data must match.
	let sealed = seal(&initiator, &stream, b"hello provider", b"order 7").await;
	assert_eq!(sealed.ok(200)["epoch"], 0);
	let message = sealed.body["message"].clone();
	assert_eq!(plaintext(&open(&provider, &stream, &message, b"order 7").await), b"hello provider");
	open(&provider, &stream, &message, b"order 8").await.problem(400, "bad-input");
	open(&initiator, &stream, &message, b"order 7").await.problem(400, "bad-input");
	let mut forged = BASE64.decode(message.as_str().unwrap()).unwrap();
	*forged.last_mut().unwrap() ^= 1;
	open(&provider, &stream, &BASE64.encode(&forged).into(), b"order 7")
		.await
		.problem(400, "bad-input");
	let reply = seal(&provider, &stream, b"hello initiator", b"").await;
	let reply = reply.ok(200)["message"].clone();
	assert_eq!(plaintext(&open(&initiator, &stream, &reply, b"").await), b"hello initiator");

	// An application in Python does the same through the two agents; one in JavaScript opens
	// the first message and follows the stream's events through the provider's agent.
	python_seals_and_opens(&initiator, &provider, &stream).await;
	let requested_at = requested.body["block"].as_u64().expect("the request's block");
	let for_javascript = seal(&initiator, &stream, b"hello javascript", b"").await;
	let follower =
		javascript_follower(&provider, &stream, requested_at, &for_javascript.ok(200)["message"]);

	// Keys leave only an agent started with --allow-key-export.
	let path = format!("/v1/streams/{stream}/keys/current");
	initiator.call("GET", &path, None).await.problem(403, "key-export-disabled");
	let exported = provider.call("GET", &path, None).await;
	let exported = exported.ok(200);
	assert_eq!(exported["epoch"], 0);
	for direction in ["initiator_to_provider", "provider_to_initiator"] {
		let key = exported[direction].as_str().expect("a key");
		assert!(key.starts_with("0x") && key.len() == 66, "{exported}");
	}

	// After a rotation, new messages are sealed under epoch 1; epoch 0's still open.
	initiator.call("POST", &format!("/v1/streams/{stream}/rotate"), None).await.ok(200);
	let rotated = wait_for("a message sealed under epoch 1", CHAIN_TIMEOUT, || async {
		let sealed = seal(&initiator, &stream, b"after rotation", b"").await;
		(sealed.body["epoch"] == 1).then_some(sealed.body)
	})
	.await;
	assert_eq!(
		plaintext(&open(&provider, &stream, &rotated["message"], b"").await),
		b"after rotation"
	);
	assert_eq!(plaintext(&open(&provider, &stream, &message, b"order 7").await), b"hello provider");

	// Revoked through the provider's agent: both agents refuse the stream from then on.
	let revoke = json!({ "reason": "test over" });
	provider.call("POST", &revoke_path, Some(revoke)).await.ok(200);
	seal(&provider, &stream, b"too late", b"").await.problem(410, "stream-ended");
	wait_for("the initiator's agent to refuse the revoked stream", CHAIN_TIMEOUT, || async {
		let refused = seal(&initiator, &stream, b"too late", b"").await;
		(refused.status == 410).then_some(())
	})
	.await;
	open(&initiator, &stream, &reply, b"").await.problem(410, "stream-ended");
	provider.call("GET", &path, None).await.problem(410, "stream-ended");
	wait_for("the ended stream to leave the list", CHAIN_TIMEOUT, || async {
		(!listed(&initiator, "").await.contains(&stream)).then_some(())
	})
	.await;
	if let Some(follower) = follower {
		javascript_followed_to_the_end(follower).await;
	}
	// Its end is final by now (the follower saw it): no new event stream is opened on it.
	let events = format!("/v1/streams/{stream}/events");
	wait_for("events of the ended stream to be refused", CHAIN_TIMEOUT, || async {
		(initiator.call("GET", &events, None).await.status == 410).then_some(())
	})
	.await;

	// Nothing secret in either agent's log: no token, no key, no plaintext.
	let secrets = [
		initiator.token().to_owned(),
		provider.token().to_owned(),
		exported["initiator_to_provider"].as_str().unwrap().to_owned(),
		BASE64.encode(b"hello provider"),
		"hello provider".to_owned(),
	];
	for agent in [&initiator, &provider] {
		let log = agent.log();
		assert!(log.contains("POST /v1/streams/"), "requests are logged:\n{log}");
		for secret in &secrets {
			assert!(!log.contains(secret.as_str()), "a secret in the agent's log:\n{log}");
		}
	}
	assert!(initiator.stop().await, "the agent exits cleanly on SIGTERM");
}

/// Opens the socket to everyone, then calls the agent through it as user `nobody` (uid 65534,
/// with `setpriv` and `curl`): the agent must close the connection unanswered, by its check of
/// the peer's credentials. Skipped, with a
/// note, unless this runs as root with both tools.
async fn another_user_is_refused(agent: &Agent, socket: &Path) {
	let tools = ["/usr/bin/setpriv", "/usr/bin/curl"].iter().all(|tool| Path::new(tool).exists());
	// SAFETY: getuid has no preconditions.
	if !tools || unsafe { libc::getuid() } != 0 {
		eprintln!("note: not root with setpriv and curl: another user's connection not tried");
		return;
	}
	let open_to_all = |path: &Path, mode| {
		std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
	};
	open_to_all(socket.parent().unwrap(), 0o755);
	open_to_all(socket, 0o666);
	let output = tokio::process::Command::new("/usr/bin/setpriv")
		.args(["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/curl", "-sS"])
		.args(["--max-time", "10", "--unix-socket"])
		.arg(socket)
		.arg("http://agent/v1/health")
		.kill_on_drop(true)
		.output()
		.await
		.expect("setpriv runs");
	open_to_all(socket, 0o600);
	let stderr = String::from_utf8_lossy(&output.stderr);
	assert!(!output.status.success(), "another user got an answer: {stderr}");
	assert!(output.stdout.is_empty(), "another user got an answer");
	wait_for("the agent to refuse uid 65534", Duration::from_secs(5), || async {
		agent.log().contains("refused a socket connection from uid 65534").then_some(())
	})
	.await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_problem_details_with_their_status() {
	let node = dev_node_with_witness("//Dave").await;
	let dir = tempfile::tempdir().unwrap();
	let socket = dir.path().join("bob.sock");
	let agent =
		Agent::start(&node, "//Bob", dir.path(), &["--socket", socket.to_str().unwrap()]).await;
	let unknown = unknown_stream();
	let status_path = format!("/v1/streams/{unknown}");

	// No token, a wrong one: 401 with a Bearer challenge.
	let missing = agent.call_raw("GET", &status_path, None, None).await;
	missing.problem(401, "unauthorized");
	assert_eq!(missing.headers.get("www-authenticate").unwrap(), "Bearer");
	agent.call_raw("GET", &status_path, Some("0x00"), None).await.problem(401, "unauthorized");

	// An unknown stream, a malformed id, an unknown path or method.
	agent.call("GET", &status_path, None).await.problem(404, "unknown-stream");
	agent.call("GET", "/v1/streams/0x1234", None).await.problem(400, "bad-input");
	agent.call("GET", "/v1/nothing", None).await.problem(404, "no-route");
	agent.call("DELETE", "/v1/usage", None).await.problem(405, "method-not-allowed");

	// Bodies: not JSON, malformed, with unknown fields, bad base64, too large.
	let token = Some(agent.token());
	let seal_path = format!("/v1/streams/{unknown}/seal");
	agent
		.call_raw("POST", &seal_path, token, Some(("text/plain", b"hello".to_vec())))
		.await
		.problem(415, "not-json");
	agent
		.call_raw("POST", &seal_path, token, Some(("application/json", b"{not json".to_vec())))
		.await
		.problem(400, "bad-input");
	agent
		.call("POST", &seal_path, Some(json!({ "plaintext": "", "key": "x" })))
		.await
		.problem(400, "bad-input");
	agent
		.call("POST", &seal_path, Some(json!({ "plaintext": "not base64!" })))
		.await
		.problem(400, "bad-input");
	let huge = vec![b'a'; 3 << 20];
	agent
		.call_raw("POST", &seal_path, token, Some(("application/json", huge)))
		.await
		.problem(413, "too-large");

	// A well-formed request for an unknown stream, or a call the chain refuses.
	agent
		.call("POST", &seal_path, Some(json!({ "plaintext": BASE64.encode(b"x") })))
		.await
		.problem(404, "unknown-stream");
	agent
		.call("POST", &format!("/v1/streams/{unknown}/revoke"), None)
		.await
		.problem(404, "unknown-stream");
	let bad_provider = json!({ "provider": "nobody" });
	agent.call("POST", "/v1/streams", Some(bad_provider)).await.problem(400, "bad-input");
	agent
		.call("GET", &format!("/v1/streams/{unknown}/keys/current"), None)
		.await
		.problem(403, "key-export-disabled");
	agent
		.call("GET", &format!("/v1/streams/{unknown}/events"), None)
		.await
		.problem(404, "unknown-stream");
	agent
		.call("GET", &format!("/v1/streams/{unknown}/events?from=soon"), None)
		.await
		.problem(400, "bad-input");

	// On the Unix socket (mode 0600), its owner needs no token; another user is refused, even
	// where the file's mode would let them in.
	let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
	assert_eq!(mode, 0o600, "the socket is its owner's only");
	agent.call_socket(&socket, "GET", &status_path).await.problem(404, "unknown-stream");
	another_user_is_refused(&agent, &socket).await;

	// Metrics count requests by route, never by stream id.
	let metrics = agent.call("GET", "/metrics", None).await;
	assert_eq!(metrics.status, 200);
	let route = "keyorch_agent_requests_total{route=\"/v1/streams/{id}/seal\",status=\"404\"} 1";
	assert!(metrics.text.contains(route), "{}", metrics.text);
	assert!(!metrics.text.contains(&unknown), "{}", metrics.text);

	// The OpenAPI document needs no token, is valid, and describes what is served.
	let document = agent.call_raw("GET", "/v1/openapi.json", None, None).await;
	let document = document.ok(200).clone();
	assert_eq!(document["openapi"], "3.1.0");
	openapi_document_is_valid(&document).await;
	every_documented_operation_is_routed(&agent, &document).await;
	assert!(!agent.log().contains(agent.token()), "the token is never logged");
}
