//! `keyorch send` and `keyorch receive`: a file from the stream's provider to its initiator
//! over a secure stream, on TCP, Unix sockets or WebSockets, kept in step with the chain.
//!
//! - The provider (`send`) listens on every `--listen` endpoint (see [`crate::listener`]: only
//!   hellos that authenticate reach the transfer); the initiator (`receive`) connects to its
//!   `--connect` endpoints, the first one first. When a transport breaks, the
//!   initiator resumes the same session over the next endpoint in its list, and the provider
//!   accepts the resumption on whichever endpoint it arrives: unacknowledged frames are resent,
//!   nothing is renegotiated.
//! - Both sides follow the chain: each new epoch's keys are installed as soon as they can be
//!   assembled, the provider reports the bytes it sends (`report_usage`) so that a byte budget
//!   rotates the key, and a final revocation, close or expiry ends both sides with that error.
//! - The initiator asks for the file from an offset: the size of what it already has. A
//!   receiver that crashed and is started again (same identity, same `--out`) therefore opens
//!   a new session and gets the rest.
//! - Each side prints a timeline on stderr; the receiver's result is the file's SHA-256.

use std::{
	io::{Read, Seek, SeekFrom, Write},
	path::{Path, PathBuf},
	sync::{
		atomic::{AtomicBool, Ordering},
		Arc,
	},
	task::{Context, Poll},
	time::{Duration, Instant},
};

use keyorch_client::{
	secure::{
		EndReason, LinkState, SecureConfig, SecureReceiver, SecureSender, SecureStream,
		SecureStreamError, StreamControl, WsTransport,
	},
	ChainLink, Dealing, Identity, LinkEvent, NodeClient, WitnessEndpoint,
};
use keyorch_runtime::pallet_keyorch::StreamId;
use sha2::{Digest, Sha256};
use tokio::{
	io::{AsyncRead, AsyncWrite, ReadBuf},
	net::{TcpStream, UnixStream},
};

use crate::{
	context::Context as Where,
	failure::{Failure, Kind},
	input::{self, hex},
	listener::{Authenticated, Listener},
	output::Report,
};

/// Where a transfer's keys come from: `keyorch send`'s and `keyorch receive`'s shared options.
#[derive(clap::Args, Debug)]
pub struct TransferArgs {
	/// The stream id (0x and 64 hex digits).
	stream: String,
	/// A witness node's WebSocket RPC URL; repeat it or separate URLs with commas.
	#[arg(long = "witness-url", value_name = "URL", required = true, num_args = 1.., value_delimiter = ',')]
	witness_urls: Vec<String>,
	/// Stop the transfer, with an error, when the chain cannot confirm for this many seconds
	/// that the stream is still live (the node unreachable or its chain stalled); it pauses
	/// after half of it.
	#[arg(long, value_name = "SECONDS", default_value_t = keyorch_client::DEFAULT_LIVENESS_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(2..))]
	liveness_timeout: u64,
}

/// A file sent: the initiator has all of it.
#[derive(Debug, serde::Serialize)]
pub struct Sent {
	pub stream: String,
	pub bytes: u64,
}

impl Report for Sent {
	fn table(&self) -> String {
		format!("sent {} bytes on stream {}\n", self.bytes, self.stream)
	}
}

/// A file received.
#[derive(Debug, serde::Serialize)]
pub struct Received {
	pub stream: String,
	/// The SHA-256 of the whole file, in hex.
	pub sha256: String,
	/// The file's size.
	pub bytes: u64,
}

impl Report for Received {
	fn table(&self) -> String {
		format!("sha256 {} bytes {}\n", self.sha256, self.bytes)
	}
}

/// Bytes per message of the file.
const CHUNK: usize = 256 * 1024;

/// How long an endpoint may take to answer a (re)connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How many times in a row the receiver tries its endpoints before giving up.
const RECONNECT_ROUNDS: usize = 20;

/// A transport endpoint: `tcp:HOST:PORT`, `unix:PATH` or `ws:HOST:PORT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
	/// TCP.
	Tcp(String),
	/// A Unix socket.
	Unix(PathBuf),
	/// A WebSocket (plain, `ws://HOST:PORT/`).
	Ws(String),
}

impl std::str::FromStr for Endpoint {
	type Err = String;

	fn from_str(text: &str) -> Result<Self, String> {
		match text.split_once(':') {
			Some(("tcp", address)) if !address.is_empty() => Ok(Self::Tcp(address.into())),
			Some(("unix", path)) if !path.is_empty() => Ok(Self::Unix(path.into())),
			Some(("ws", address)) if !address.is_empty() => Ok(Self::Ws(address.into())),
			_ => Err(format!("'{text}' is not tcp:HOST:PORT, unix:PATH or ws:HOST:PORT")),
		}
	}
}

impl std::fmt::Display for Endpoint {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		match self {
			Self::Tcp(address) => write!(f, "tcp:{address}"),
			Self::Unix(path) => write!(f, "unix:{}", path.display()),
			Self::Ws(address) => write!(f, "ws:{address}"),
		}
	}
}

/// A timeline on stderr: each line with the time since the command started.
#[derive(Clone, Copy)]
pub struct Timeline(Instant);

impl Timeline {
	/// A timeline that starts now.
	pub fn start() -> Self {
		Self(Instant::now())
	}

	/// Prints `what` with the time since the start.
	pub fn note(&self, what: impl std::fmt::Display) {
		eprintln!("[{:>8.3}s] {what}", self.0.elapsed().as_secs_f64());
	}

	fn link_event(&self, event: LinkEvent) {
		match event {
			LinkEvent::EpochInstalled { epoch } => {
				self.note(format!("key epoch {epoch} installed"))
			},
			LinkEvent::UsageReported { bytes, block } => {
				self.note(format!("reported {bytes} bytes on chain (block #{block})"))
			},
			LinkEvent::Ended { reason, block } => {
				self.note(format!("the chain {reason} the stream in finalized block #{block}"))
			},
			LinkEvent::Paused { reason } => {
				self.note(format!("paused: the stream is not confirmed live on chain ({reason})"))
			},
			LinkEvent::Unpaused { block } => {
				self.note(format!("going on: the stream is live in block #{block}"))
			},
		}
	}
}

/// What both commands need.
pub struct Session {
	/// The node.
	pub client: NodeClient,
	/// This side.
	pub identity: Identity,
	/// The stream.
	pub stream: StreamId,
	/// Witness nodes for key assembly.
	pub witnesses: Vec<WitnessEndpoint>,
	/// How long a transfer goes on when the chain cannot confirm that the stream is live.
	pub liveness_timeout: Duration,
	/// Where the transfer, and what the client waits for, is told.
	pub timeline: Timeline,
}

impl Session {
	/// The node, identity, stream and witness endpoints of a transfer.
	pub async fn open(context: &Where, args: &TransferArgs) -> Result<Arc<Self>, Failure> {
		// Bad input fails before connecting.
		let stream = input::stream_id(&args.stream)?;
		let identity = context.identity()?;
		let timeline = Timeline::start();
		let client = NodeClient::connect(&context.url).await?;
		Ok(Arc::new(Self {
			stream,
			witnesses: args.witness_urls.iter().cloned().map(WitnessEndpoint::new).collect(),
			liveness_timeout: Duration::from_secs(args.liveness_timeout),
			identity,
			client: client.on_wait(move |waiting| timeline.note(format!("waiting: {waiting}"))),
			timeline,
		}))
	}
}

fn stream_failure(error: SecureStreamError) -> Failure {
	match error {
		SecureStreamError::Ended(EndReason::Unconfirmed) => Failure::new(
			Kind::Unreachable,
			"the stream was stopped: a side could not confirm on chain that it is still live",
		),
		SecureStreamError::Ended(reason) => Failure::new(
			Kind::Refused,
			format!("the stream was {reason} on chain: the transfer ends here"),
		),
		other => Failure::new(Kind::Unreachable, format!("secure stream: {other}")),
	}
}

fn io_failure(what: &str, path: &Path, error: std::io::Error) -> Failure {
	Failure::input(format!("{what} {}: {error}", path.display()))
}

/// A transport that can be cut on purpose, to show and test resumption.
struct Cuttable<T> {
	inner: T,
	cut: Arc<AtomicBool>,
}

fn cut_error() -> std::io::Error {
	std::io::Error::new(std::io::ErrorKind::BrokenPipe, "transport cut on purpose")
}

impl<T: AsyncRead + Unpin> AsyncRead for Cuttable<T> {
	fn poll_read(
		mut self: std::pin::Pin<&mut Self>,
		cx: &mut Context<'_>,
		buf: &mut ReadBuf<'_>,
	) -> Poll<std::io::Result<()>> {
		if self.cut.load(Ordering::Relaxed) {
			return Poll::Ready(Err(cut_error()));
		}
		std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
	}
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Cuttable<T> {
	fn poll_write(
		mut self: std::pin::Pin<&mut Self>,
		cx: &mut Context<'_>,
		buf: &[u8],
	) -> Poll<std::io::Result<usize>> {
		if self.cut.load(Ordering::Relaxed) {
			return Poll::Ready(Err(cut_error()));
		}
		std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
	}

	fn poll_flush(
		mut self: std::pin::Pin<&mut Self>,
		cx: &mut Context<'_>,
	) -> Poll<std::io::Result<()>> {
		std::pin::Pin::new(&mut self.inner).poll_flush(cx)
	}

	fn poll_shutdown(
		mut self: std::pin::Pin<&mut Self>,
		cx: &mut Context<'_>,
	) -> Poll<std::io::Result<()>> {
		std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
	}
}

type Transport = Box<dyn keyorch_client::secure::Transport>;

/// Opens a transport to `endpoint`, with a switch that cuts it.
async fn dial(endpoint: &Endpoint) -> std::io::Result<(Transport, Arc<AtomicBool>)> {
	let cut = Arc::new(AtomicBool::new(false));
	let transport: Transport = match endpoint {
		Endpoint::Tcp(address) => {
			let tcp = TcpStream::connect(address).await?;
			tcp.set_nodelay(true)?;
			Box::new(Cuttable { inner: tcp, cut: cut.clone() })
		},
		Endpoint::Unix(path) => {
			Box::new(Cuttable { inner: UnixStream::connect(path).await?, cut: cut.clone() })
		},
		Endpoint::Ws(address) => {
			let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{address}/"))
				.await
				.map_err(std::io::Error::other)?;
			Box::new(Cuttable { inner: WsTransport::new(ws), cut: cut.clone() })
		},
	};
	Ok((transport, cut))
}

impl Session {
	/// The current epoch's keys, once witnesses can release them.
	pub async fn current_key(
		&self,
		timeline: Timeline,
	) -> Result<keyorch_client::AssembledKey, Failure> {
		let key = self
			.client
			.assemble_key_patiently(&self.identity, self.stream, None, &self.witnesses)
			.await?;
		timeline.note(format!(
			"key of epoch {} assembled with {} witness share(s), fingerprint {}",
			key.epoch,
			key.witnesses.len(),
			key.keys.fingerprint()
		));
		Ok(key)
	}

	/// Follows the chain for `control`'s stream until the chain ends it (the caller polls this
	/// beside the transfer). An error means the secure stream was ended (fail closed): the
	/// transfer stops with it.
	async fn follow_chain(
		&self,
		(epoch, dealing): (u32, &Dealing),
		report_every: Option<u64>,
		control: StreamControl,
		timeline: Timeline,
	) -> Result<(), Failure> {
		let link = ChainLink {
			identity: &self.identity,
			stream: self.stream,
			witnesses: &self.witnesses,
			epoch,
			dealing: dealing.clone(),
			report_every,
			liveness_timeout: self.liveness_timeout,
		};
		self.client.keep_in_step(link, control, |e| timeline.link_event(e)).await?;
		Ok(())
	}

	/// `keyorch send`: serves `file` to the initiator on `endpoints`.
	pub async fn send(
		self: Arc<Self>,
		file: &Path,
		endpoints: Vec<Endpoint>,
		rate: Option<u64>,
		report_every: Option<u64>,
	) -> Result<Sent, Failure> {
		let timeline = self.timeline;
		let size = std::fs::metadata(file).map_err(|e| io_failure("cannot read", file, e))?.len();
		let key = self.current_key(timeline).await?;
		let dealing = key.dealing;
		let mut listener = Listener::start(self.clone(), endpoints, key.keys, timeline).await?;
		let mut next = loop {
			match listener.next().await {
				Authenticated::NewSession(secure, endpoint) => break Some((secure, endpoint)),
				// Only a session of this process can resume, and none runs yet.
				Authenticated::Resumed(..) => {},
			}
		};
		while let Some((secure, endpoint)) = next.take() {
			let control = secure.control().clone();
			listener.set_running(control.clone());
			timeline.note(format!("initiator connected over {endpoint}: new session"));
			let epoch = control.usage().send_epoch;
			let opened_with = (epoch, &dealing);
			let mut chain = std::pin::pin!(self.follow_chain(
				opened_with,
				report_every,
				control.clone(),
				timeline
			));
			let mut following = true;
			let (sender, receiver) = secure.split();
			let mut transfer = tokio::spawn(serve_file(file.to_path_buf(), sender, receiver, rate));
			let outcome = loop {
				tokio::select! {
					outcome = &mut transfer => break Some(outcome),
					followed = &mut chain, if following => {
						following = false;
						if let Err(failure) = followed {
							transfer.abort();
							return Err(failure);
						}
					},
					authenticated = listener.next() => match authenticated {
						Authenticated::Resumed(endpoint, took) => {
							timeline.note(format!("session resumed over {endpoint} in {took:?}"))
						},
						Authenticated::NewSession(secure, endpoint) => {
							// The initiator proved it holds the key: it restarted, and its old
							// session is gone.
							timeline.note(format!("initiator opened a new session over {endpoint}"));
							transfer.abort();
							next = Some((secure, endpoint));
							break None;
						},
					},
				}
			};
			match outcome {
				Some(Ok(Ok(sent))) => {
					timeline
						.note(format!("sent {sent} bytes of {size}; the initiator has them all"));
					return Ok(Sent { stream: hex(self.stream.as_bytes()), bytes: size });
				},
				Some(Ok(Err(error))) => return Err(stream_failure(error)),
				Some(Err(_)) => {
					return Err(Failure::new(Kind::Unreachable, "the transfer stopped"))
				},
				None => continue,
			}
		}
		Err(Failure::new(Kind::Unreachable, "no initiator session to serve"))
	}

	/// `keyorch receive`: fetches the file into `out` from the provider at `endpoints`.
	pub async fn receive(
		&self,
		out: &Path,
		endpoints: Vec<Endpoint>,
		cut_after: Option<u64>,
	) -> Result<Received, Failure> {
		let timeline = self.timeline;
		let mut file = std::fs::OpenOptions::new()
			.create(true)
			.append(true)
			.open(out)
			.map_err(|e| io_failure("cannot write", out, e))?;
		let offset = file.metadata().map_err(|e| io_failure("cannot read", out, e))?.len();
		if offset > 0 {
			timeline
				.note(format!("{} has {offset} bytes already: asking for the rest", out.display()));
		}
		let key = self.current_key(timeline).await?;
		let mut turn = 0;
		let (transport, mut cut) = connect_any(&endpoints, &mut turn, timeline).await?;
		let opened_with = (key.epoch, &key.dealing);
		let secure = SecureStream::connect(transport, key.keys, SecureConfig::default())
			.await
			.map_err(stream_failure)?;
		let control = secure.control().clone();
		let mut chain =
			std::pin::pin!(self.follow_chain(opened_with, None, control.clone(), timeline));
		let mut following = true;
		let (mut sender, mut receiver) = secure.split();
		sender.send(&offset.to_be_bytes()).await.map_err(stream_failure)?;
		let mut received = offset;
		let mut cut_after = cut_after;
		let outcome = loop {
			tokio::select! {
				// Messages first: once the provider has the finish acknowledged it may exit, and
				// the transport it closes must not hide the end of the file already received.
				biased;
				message = receiver.recv() => match message {
					Ok(Some(bytes)) => {
						file.write_all(&bytes).map_err(|e| io_failure("cannot write", out, e))?;
						received += bytes.len() as u64;
						if cut_after.is_some_and(|at| received >= at) {
							cut_after = None;
							timeline.note(format!("cutting the transport on purpose after {received} bytes"));
							cut.store(true, Ordering::Relaxed);
						}
					},
					Ok(None) => break Ok(()),
					Err(error) => break Err(stream_failure(error)),
				},
				followed = &mut chain, if following => {
					following = false;
					if let Err(failure) = followed {
						break Err(failure);
					}
				},
				state = control.disconnected() => {
					if let LinkState::Terminated(error) = state {
						break Err(stream_failure(error));
					}
					timeline.note("transport lost");
					let started = Instant::now();
					let (transport, new_cut) = connect_any(&endpoints, &mut turn, timeline).await?;
					match control.resume(transport).await {
						Ok(()) => {
							cut = new_cut;
							timeline.note(format!(
								"session resumed over {} in {:?}",
								endpoints[(turn + endpoints.len() - 1) % endpoints.len()],
								started.elapsed()
							));
						},
						Err(error) => break Err(stream_failure(error)),
					}
				},
			}
		};
		outcome?;
		file.flush().map_err(|e| io_failure("cannot write", out, e))?;
		let digest = file_digest(out)?;
		timeline
			.note(format!("received {} bytes in this run, {received} in all", received - offset));
		Ok(Received { stream: hex(self.stream.as_bytes()), sha256: digest, bytes: received })
	}
}

/// Connects to the endpoints in turn from `turn` on, a few rounds at most.
async fn connect_any(
	endpoints: &[Endpoint],
	turn: &mut usize,
	timeline: Timeline,
) -> Result<(Transport, Arc<AtomicBool>), Failure> {
	for _ in 0..RECONNECT_ROUNDS * endpoints.len() {
		let endpoint = &endpoints[*turn % endpoints.len()];
		*turn += 1;
		match tokio::time::timeout(CONNECT_TIMEOUT, dial(endpoint)).await {
			Ok(Ok(connected)) => {
				timeline.note(format!("connected over {endpoint}"));
				return Ok(connected);
			},
			Ok(Err(error)) => timeline.note(format!("{endpoint}: {error}")),
			Err(_) => timeline.note(format!("{endpoint}: no answer")),
		}
		tokio::time::sleep(Duration::from_millis(250)).await;
	}
	Err(Failure::new(Kind::Unreachable, "no --connect endpoint answers")
		.hint("is `keyorch send` running and listening there?"))
}

/// Sends the file from the offset the initiator asks for; returns the bytes sent.
async fn serve_file(
	path: PathBuf,
	mut sender: SecureSender,
	mut receiver: SecureReceiver,
	rate: Option<u64>,
) -> Result<u64, SecureStreamError> {
	let request = receiver.recv().await?.ok_or(SecureStreamError::Finished)?;
	let offset = <[u8; 8]>::try_from(&request[..])
		.map(u64::from_be_bytes)
		.map_err(|_| SecureStreamError::Protocol("the initiator's first message is an offset"))?;
	let mut file = std::fs::File::open(&path)
		.and_then(|mut file| file.seek(SeekFrom::Start(offset)).map(|_| file))
		.map_err(|e| SecureStreamError::Transport(e.to_string()))?;
	let started = Instant::now();
	let mut sent = 0u64;
	let mut chunk = vec![0u8; CHUNK];
	loop {
		let len = file.read(&mut chunk).map_err(|e| SecureStreamError::Transport(e.to_string()))?;
		if len == 0 {
			break;
		}
		sender.send(&chunk[..len]).await?;
		sent += len as u64;
		if let Some(rate) = rate.filter(|rate| *rate > 0) {
			let due = Duration::from_secs_f64(sent as f64 / rate as f64);
			tokio::time::sleep(due.saturating_sub(started.elapsed())).await;
		}
	}
	sender.finish().await?;
	Ok(sent)
}

/// SHA-256 of a file, in hex as `sha256sum` prints it.
pub fn file_digest(path: &Path) -> Result<String, Failure> {
	let mut file = std::fs::File::open(path).map_err(|e| io_failure("cannot read", path, e))?;
	let mut hasher = Sha256::new();
	std::io::copy(&mut file, &mut hasher).map_err(|e| io_failure("cannot read", path, e))?;
	Ok(hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect())
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn endpoints_parse_and_print_back() {
		for text in ["tcp:127.0.0.1:7000", "unix:/tmp/k.sock", "ws:127.0.0.1:7001"] {
			let endpoint: Endpoint = text.parse().expect("valid");
			assert_eq!(endpoint.to_string(), text);
		}
		for bad in ["udp:1.2.3.4:5", "tcp:", "127.0.0.1:7000", ""] {
			assert!(bad.parse::<Endpoint>().is_err(), "{bad}");
		}
	}
}
