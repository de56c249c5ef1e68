//! Test harness: starts real `keyorch-node` processes on 127.0.0.1 with free ports, waits for
//! their RPC, and stops them (SIGTERM, then SIGKILL) when dropped. A node's log is kept in a
//! temporary directory and printed if the test fails while the node runs; with
//! `KEYORCH_KEEP_LOGS=<dir>`, every node's whole log is also copied there when the node is
//! dropped (for load runs, whose failures show only in the logs).

use std::{
	net::TcpListener,
	path::PathBuf,
	process::{Child, Command, Stdio},
	time::{Duration, Instant},
};

use keyorch_client::NodeClient;
use sp_keyring::Sr25519Keyring;

pub mod agent;
pub mod burst;
pub mod fast_path;
pub mod keyorch_rpc;
pub mod parties;
pub mod revocation;
pub mod rogue;
pub mod transfer;

/// The binary `$<variable>`, or the binary `name` cargo built beside this test executable (or
/// this binary of the tests crate).
fn built_binary(variable: &str, name: &str) -> PathBuf {
	if let Some(path) = std::env::var_os(variable) {
		return PathBuf::from(path);
	}
	let exe = std::env::current_exe().expect("test executable has a path");
	// target/<profile>/deps/<test> or target/<profile>/<bin> -> target/<profile>/<name>
	let mut dir = exe.parent().expect("target layout");
	if dir.ends_with("deps") {
		dir = dir.parent().expect("target layout");
	}
	dir.join(name)
}

/// The `keyorch-node` binary under test: `$KEYORCH_NODE_BIN`, or the one cargo built beside
/// this test executable.
pub fn node_binary() -> PathBuf {
	built_binary("KEYORCH_NODE_BIN", "keyorch-node")
}

/// The `keyorch` command line under test: `$KEYORCH_CLI_BIN`, or the one cargo built beside
/// this test executable (`cargo build --workspace`, as `scripts/build.sh` does).
pub fn cli_binary() -> PathBuf {
	built_binary("KEYORCH_CLI_BIN", "keyorch")
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
	TcpListener::bind("127.0.0.1:0")
		.and_then(|listener| listener.local_addr())
		.map(|addr| addr.port())
		.expect("the OS hands out a free port")
}

/// A running keyorch-node process.
pub struct Node {
	child: Option<Child>,
	/// Its JSON-RPC port (HTTP and WebSocket).
	pub rpc_port: u16,
	/// Its p2p port.
	pub p2p_port: u16,
	/// Its keyorch DHT overlay port.
	pub dht_port: u16,
	/// Its libp2p peer id, derived from `--node-key`.
	pub peer_id: String,
	/// Its overlay peer id (from `keyorch_status`).
	pub overlay_peer_id: String,
	args: Vec<String>,
	log: PathBuf,
	_dir: tempfile::TempDir,
}

/// How to start a node.
#[derive(Default)]
pub struct NodeConfig {
	/// Arguments besides ports, base path and node key: `--dev`, or `--chain local --alice`…
	pub args: Vec<String>,
	/// Bootnode multiaddresses.
	pub bootnodes: Vec<String>,
	/// Overlay bootnode multiaddresses (`--dht-bootnode`).
	pub dht_bootnodes: Vec<String>,
}

impl Node {
	/// Starts a node and waits until its RPC answers (at most `STARTUP`).
	pub async fn start(config: NodeConfig) -> Node {
		let dir = tempfile::tempdir().expect("temporary directory");
		let log = dir.path().join("node.log");
		let rpc_port = free_port();
		let p2p_port = free_port();
		let dht_port = free_port();
		// Validators of a non-dev chain must be given a network key; any non-zero 32 bytes do.
		let node_key = format!("{:064x}", (u64::from(p2p_port) << 16) | u64::from(rpc_port));
		let mut args = config.args;
		args.extend([
			"--base-path".into(),
			dir.path().join("data").display().to_string(),
			"--rpc-port".into(),
			rpc_port.to_string(),
			"--listen-addr".into(),
			format!("/ip4/127.0.0.1/tcp/{p2p_port}"),
			"--node-key".into(),
			node_key,
			"--dht-port".into(),
			dht_port.to_string(),
		]);
		args.extend(
			["--no-prometheus", "--no-telemetry", "--no-mdns", "--rpc-cors", "all"]
				.map(String::from),
		);
		args.extend(["--database".into(), "paritydb".into()]);
		for bootnode in config.bootnodes {
			args.extend(["--bootnodes".into(), bootnode]);
		}
		for bootnode in config.dht_bootnodes {
			args.extend(["--dht-bootnode".into(), bootnode]);
		}
		let mut node = Node {
			child: None,
			rpc_port,
			p2p_port,
			dht_port,
			peer_id: String::new(),
			overlay_peer_id: String::new(),
			args,
			log,
			_dir: dir,
		};
		node.spawn().await;
		node.peer_id = node.client().await.local_peer_id().await.expect("system_localPeerId");
		let status = node.keyorch().await.status().await;
		node.overlay_peer_id = status["peerId"].as_str().expect("overlay peer id").to_string();
		node
	}

	/// Starts the process (again, with the same base path and ports) and waits for its RPC.
	async fn spawn(&mut self) {
		const STARTUP: Duration = Duration::from_secs(120);
		let log_file = std::fs::OpenOptions::new()
			.create(true)
			.append(true)
			.open(&self.log)
			.expect("log file");
		let child = Command::new(node_binary())
			.args(&self.args)
			.stdin(Stdio::null())
			.stdout(log_file.try_clone().expect("log file handle"))
			.stderr(log_file)
			.spawn()
			.unwrap_or_else(|e| {
				panic!(
					"cannot start {}: {e} (build it with scripts/build.sh)",
					node_binary().display()
				)
			});
		self.child = Some(child);
		let deadline = Instant::now() + STARTUP;
		loop {
			if let Ok(client) = NodeClient::connect(&self.ws_url()).await {
				if client.health().await.is_ok() {
					return;
				}
			}
			if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
				panic!("node exited early with {status}; log:\n{}", self.log_tail());
			}
			assert!(
				Instant::now() < deadline,
				"node RPC not up in {STARTUP:?}; log:\n{}",
				self.log_tail()
			);
			tokio::time::sleep(Duration::from_millis(200)).await;
		}
	}

	/// Kills the process with SIGKILL, as a crash would: nothing is flushed or closed.
	pub fn kill(&mut self) {
		if let Some(mut child) = self.child.take() {
			let _ = child.kill();
			let _ = child.wait();
		}
	}

	/// Starts a killed or stopped node again, with the same base path, keys and ports.
	pub async fn restart(&mut self) {
		assert!(self.child.is_none(), "restart a node only after kill or stop");
		self.spawn().await;
	}

	/// The process id, while it runs.
	pub fn pid(&self) -> Option<u32> {
		self.child.as_ref().map(Child::id)
	}

	/// Its `--base-path`.
	pub fn base_path(&self) -> PathBuf {
		self._dir.path().join("data")
	}

	/// This node's overlay address for other nodes' `--dht-bootnode`.
	pub fn overlay_multiaddr(&self) -> String {
		format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", self.dht_port, self.overlay_peer_id)
	}

	/// A fresh client of this node's `keyorch_` RPC.
	pub async fn keyorch(&self) -> keyorch_rpc::KeyorchRpc {
		keyorch_rpc::KeyorchRpc::connect(&self.ws_url()).await
	}

	/// `ws://127.0.0.1:<rpc port>`.
	pub fn ws_url(&self) -> String {
		format!("ws://127.0.0.1:{}", self.rpc_port)
	}

	/// This node's address for other nodes' `--bootnodes`.
	pub fn multiaddr(&self) -> String {
		format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", self.p2p_port, self.peer_id)
	}

	/// A fresh RPC client of this node.
	pub async fn client(&self) -> NodeClient {
		NodeClient::connect(&self.ws_url()).await.expect("node RPC is up")
	}

	/// The last lines of the node's log.
	pub fn log_tail(&self) -> String {
		let text = std::fs::read_to_string(&self.log).unwrap_or_default();
		let lines: Vec<&str> = text.lines().collect();
		lines[lines.len().saturating_sub(60)..].join("\n")
	}

	/// Stops the node: SIGTERM, then SIGKILL if it has not exited within 20 s. Returns whether
	/// it exited by itself after SIGTERM.
	pub fn stop(&mut self) -> bool {
		let Some(mut child) = self.child.take() else { return true };
		// SAFETY: sending a signal to our own child process, whose pid we hold.
		unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
		let deadline = Instant::now() + Duration::from_secs(20);
		while Instant::now() < deadline {
			if let Ok(Some(_)) = child.try_wait() {
				return true;
			}
			std::thread::sleep(Duration::from_millis(100));
		}
		let _ = child.kill();
		let _ = child.wait();
		false
	}
}

impl Drop for Node {
	fn drop(&mut self) {
		if std::thread::panicking() {
			eprintln!("--- log of node on rpc port {} ---\n{}", self.rpc_port, self.log_tail());
		}
		self.stop();
		if let Some(dir) = std::env::var_os("KEYORCH_KEEP_LOGS") {
			let kept = PathBuf::from(dir).join(format!("node-{}.log", self.rpc_port));
			if let Err(error) = std::fs::copy(&self.log, &kept) {
				eprintln!("cannot keep the node log as {}: {error}", kept.display());
			}
		}
	}
}

/// Polls `probe` every 250 ms until it returns `Some`, or panics with `what` after `timeout`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, probe: F) -> T
where
	F: FnMut() -> Fut,
	Fut: std::future::Future<Output = Option<T>>,
{
	poll_until(what, timeout, Duration::from_millis(250), probe).await
}

/// Polls `probe` every `every` until it returns `Some`, or panics with `what` after `timeout`.
pub async fn poll_until<T, F, Fut>(
	what: &str,
	timeout: Duration,
	every: Duration,
	mut probe: F,
) -> T
where
	F: FnMut() -> Fut,
	Fut: std::future::Future<Output = Option<T>>,
{
	let deadline = Instant::now() + timeout;
	loop {
		if let Some(value) = probe().await {
			return value;
		}
		assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
		tokio::time::sleep(every).await;
	}
}

/// Starts `--dev --tmp`-like single node (its own temporary base path).
pub async fn dev_node() -> Node {
	Node::start(NodeConfig { args: vec!["--dev".into()], ..Default::default() }).await
}

/// Starts a `--dev` node that also runs the witness service for `seed` (e.g. `//Dave`).
pub async fn dev_node_with_witness(seed: &str) -> Node {
	let args = vec!["--dev".into(), "--witness".into(), seed.into()];
	Node::start(NodeConfig { args, ..Default::default() }).await
}

/// The validators of `--chain local`, in genesis order (which is also the orchestrators'): the
/// first nodes [`local_network`] starts. Four, so that finality survives losing any one.
pub const VALIDATORS: [Sr25519Keyring; 4] =
	[Sr25519Keyring::Alice, Sr25519Keyring::Bob, Sr25519Keyring::Charlie, Sr25519Keyring::Ferdie];

/// Starts the [`VALIDATORS`] of `--chain local`, peered through Alice.
pub async fn local_network() -> Vec<Node> {
	local_network_with_witnesses(&[]).await
}

/// The [`VALIDATORS`] of [`local_network`], then one full node per witness seed (e.g.
/// `//Dave`) running the witness service, from index `VALIDATORS.len()` on; chain and overlay
/// are joined through Alice.
pub async fn local_network_with_witnesses(witnesses: &[&str]) -> Vec<Node> {
	let validator = |keyring: &Sr25519Keyring| {
		let flag = format!("--{keyring:?}").to_lowercase();
		vec!["--chain".into(), "local".into(), flag, "--validator".into()]
	};
	let alice =
		Node::start(NodeConfig { args: validator(&VALIDATORS[0]), ..Default::default() }).await;
	let joined = |args: Vec<String>| NodeConfig {
		args,
		bootnodes: vec![alice.multiaddr()],
		dht_bootnodes: vec![alice.overlay_multiaddr()],
	};
	let mut nodes = Vec::new();
	for keyring in &VALIDATORS[1..] {
		nodes.push(Node::start(joined(validator(keyring))).await);
	}
	for seed in witnesses {
		let args = vec!["--chain".into(), "local".into(), "--witness".into(), seed.to_string()];
		nodes.push(Node::start(joined(args)).await);
	}
	nodes.insert(0, alice);
	nodes
}
