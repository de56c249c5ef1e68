//! `keyorch agent` processes for tests, and plain HTTP/1.1 calls to them.

use std::{
	path::{Path, PathBuf},
	process::Stdio,
	time::Duration,
};

use http_body_util::{BodyExt, Full};
use hyper::{
	body::Bytes,
	header::{self, HeaderMap, HeaderValue},
	Request,
};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::process::{Child, Command};

use crate::{cli_binary, free_port, wait_for, Node};

/// How long one call to an agent may take (a transaction waits for its block; a first seal
/// waits for the key's assembly and finality).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(90);

/// An answer: status, headers and the body as JSON (`Null` if empty or not JSON) and as text.
pub struct Answer {
	pub status: u16,
	pub headers: HeaderMap,
	pub body: Value,
	pub text: String,
}

impl Answer {
	/// Asserts a problem+json answer with `status` and `reason`; gives the problem.
	pub fn problem(&self, status: u16, reason: &str) -> &Value {
		assert_eq!(self.status, status, "{}", self.body);
		assert_eq!(
			self.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()),
			Some("application/problem+json"),
			"{}",
			self.body
		);
		assert_eq!(self.body["status"], status, "{}", self.body);
		assert_eq!(self.body["reason"], reason, "{}", self.body);
		assert!(self.body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{}", self.body);
		&self.body
	}

	/// Asserts `status` and gives the body.
	pub fn ok(&self, status: u16) -> &Value {
		assert_eq!(self.status, status, "{}", self.body);
		&self.body
	}
}

/// One HTTP/1.1 request over `io` and its answer.
async fn exchange<Io>(
	io: Io,
	method: &str,
	path: &str,
	token: Option<&str>,
	body: Option<(&str, Vec<u8>)>,
) -> Result<Answer, Box<dyn std::error::Error + Send + Sync>>
where
	Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
	let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
	tokio::spawn(connection);
	let mut request = Request::builder().method(method).uri(path).header(header::HOST, "agent");
	if let Some(token) = token {
		request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
	}
	let (content_type, bytes) = body.unwrap_or(("application/json", Vec::new()));
	request = request.header(header::CONTENT_TYPE, HeaderValue::from_str(content_type)?);
	let response = sender.send_request(request.body(Full::new(Bytes::from(bytes)))?).await?;
	let status = response.status().as_u16();
	let headers = response.headers().clone();
	let bytes = response.into_body().collect().await?.to_bytes();
	let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
	Ok(Answer { status, headers, body, text: String::from_utf8_lossy(&bytes).into_owned() })
}

/// A running `keyorch agent`, killed when dropped.
pub struct Agent {
	child: Child,
	port: u16,
	token: String,
	token_file: PathBuf,
	log: PathBuf,
}

impl Agent {
	/// Starts the agent of dev account `seed` (e.g. `//Bob`) on `node`, using `node`'s witness
	/// service; `options` are passed on (e.g. `--allow-key-export`). Its files go in `dir`.
	pub async fn start(node: &Node, seed: &str, dir: &Path, options: &[&str]) -> Self {
		let port = free_port();
		let name = seed.trim_start_matches("//").to_lowercase();
		let token_file = dir.join(format!("{name}.token"));
		let log = dir.join(format!("{name}-agent.log"));
		let child = Command::new(cli_binary())
			.args(["--url", &node.ws_url(), "--dev-seed", seed, "agent"])
			.args(["--listen", &format!("127.0.0.1:{port}")])
			.arg("--token-file")
			.arg(&token_file)
			.args(["--witness-url", &node.ws_url()])
			.args(options)
			.stdin(Stdio::null())
			.stdout(Stdio::null())
			.stderr(std::fs::File::create(&log).expect("log file"))
			.kill_on_drop(true)
			.spawn()
			.expect("keyorch agent runs");
		let mut agent = Self { child, port, token: String::new(), token_file, log };
		wait_for("the agent to answer /v1/health", Duration::from_secs(30), || async {
			match agent.try_call("GET", "/v1/health", None, None).await {
				Ok(answer) if answer.status == 200 => Some(()),
				_ => None,
			}
		})
		.await;
		agent.token =
			std::fs::read_to_string(&agent.token_file).expect("the agent wrote its token");
		agent
	}

	/// The bearer token it wrote.
	pub fn token(&self) -> &str {
		&self.token
	}

	/// The file it wrote its token to.
	pub fn token_file(&self) -> &Path {
		&self.token_file
	}

	/// Its base URL.
	pub fn url(&self) -> String {
		format!("http://127.0.0.1:{}", self.port)
	}

	/// What it wrote on stderr.
	pub fn log(&self) -> String {
		std::fs::read_to_string(&self.log).unwrap_or_default()
	}

	/// `method path` with the agent's token and `body` as JSON.
	pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
		let body = body.map(|json| ("application/json", json.to_string().into_bytes()));
		self.call_raw(method, path, Some(&self.token.clone()), body).await
	}

	/// `method path` with `token` (none if `None`) and a raw body of a content type.
	pub async fn call_raw(
		&self,
		method: &str,
		path: &str,
		token: Option<&str>,
		body: Option<(&str, Vec<u8>)>,
	) -> Answer {
		tokio::time::timeout(CALL_TIMEOUT, self.try_call(method, path, token, body))
			.await
			.unwrap_or_else(|_| panic!("{method} {path} took longer than {CALL_TIMEOUT:?}"))
			.unwrap_or_else(|e| panic!("{method} {path}: {e}\nagent log:\n{}", self.log()))
	}

	async fn try_call(
		&self,
		method: &str,
		path: &str,
		token: Option<&str>,
		body: Option<(&str, Vec<u8>)>,
	) -> Result<Answer, Box<dyn std::error::Error + Send + Sync>> {
		let stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
		exchange(stream, method, path, token, body).await
	}

	/// `method path` through the Unix socket at `socket`, without a token.
	pub async fn call_socket(&self, socket: &Path, method: &str, path: &str) -> Answer {
		let call = async {
			let stream = tokio::net::UnixStream::connect(socket).await?;
			exchange(stream, method, path, None, None).await
		};
		tokio::time::timeout(CALL_TIMEOUT, call)
			.await
			.unwrap_or_else(|_| panic!("{method} {path} took longer than {CALL_TIMEOUT:?}"))
			.unwrap_or_else(|e| panic!("{method} {path} on {}: {e}", socket.display()))
	}

	/// Subscribes to `GET path` (Server-Sent Events) with the agent's token; each event is sent
	/// on the channel as (name, data) when it arrives, until the event stream ends.
	pub async fn events(
		&self,
		path: &str,
	) -> tokio::sync::mpsc::UnboundedReceiver<(String, Value)> {
		let stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.expect("agent");
		let (mut sender, connection) =
			hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("HTTP/1.1");
		tokio::spawn(connection);
		let request = Request::builder()
			.uri(path)
			.header(header::HOST, format!("127.0.0.1:{}", self.port))
			.header(header::AUTHORIZATION, format!("Bearer {}", self.token))
			.body(Full::new(Bytes::new()))
			.expect("request");
		let response = sender.send_request(request).await.expect("events");
		assert_eq!(response.status(), 200, "GET {path}");
		let (events, receiver) = tokio::sync::mpsc::unbounded_channel();
		let mut body = response.into_body();
		tokio::spawn(async move {
			let mut buffered = String::new();
			while let Some(Ok(frame)) = body.frame().await {
				let Ok(chunk) = frame.into_data() else { continue };
				buffered.push_str(&String::from_utf8_lossy(&chunk));
				while let Some(end) = buffered.find("\n\n") {
					let block: String = buffered.drain(..end + 2).collect();
					let field = |name: &str| {
						block.lines().find_map(|line| line.strip_prefix(name)).map(str::trim)
					};
					if let (Some(event), Some(data)) = (field("event:"), field("data:")) {
						let data = serde_json::from_str(data).unwrap_or(Value::Null);
						if events.send((event.to_owned(), data)).is_err() {
							return;
						}
					}
				}
			}
		});
		receiver
	}

	/// Stops it with SIGTERM and waits for it to exit; gives whether it exited cleanly.
	pub async fn stop(mut self) -> bool {
		if let Some(pid) = self.child.id() {
			// SAFETY: signalling a child process this test started.
			unsafe { libc::kill(pid as i32, libc::SIGTERM) };
		}
		matches!(
			tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await,
			Ok(Ok(status)) if status.success()
		)
	}
}
