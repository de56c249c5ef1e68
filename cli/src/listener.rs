//! The provider's listener for `keyorch send`: it accepts connections on every `--listen`
//! endpoint and runs each connection's hello, so that only an initiator that proved it holds
//! the stream's key reaches the transfer.
//!
//! - Each connection's hello runs in a task of its own, at most [`MAX_HANDSHAKES`] at once; a
//!   connection beyond that is closed at once. A silent or slow peer holds one slot for at most
//!   the hello timeouts, and never holds up the transfer or another hello.
//! - A hello changes nothing until it is authenticated: a new session reaches the transfer
//!   only once the initiator's proof opened under the stream's key, and a resumption attaches
//!   to the running session only then ([`StreamControl::resume_incoming`]).
//! - Connections that fail their hello are summed up on the timeline, at most once per
//!   [`NOTE_EVERY`], so that a flood does not flood the terminal too.

use std::{
	sync::{Arc, Mutex},
	time::{Duration, Instant},
};

use keyorch_client::secure::{
	Incoming, SecureConfig, SecureStream, SecureStreamError, StreamControl, StreamKeys, WsTransport,
};
use tokio::{
	net::{TcpListener, UnixListener},
	sync::{mpsc, OwnedSemaphorePermit, Semaphore},
};

use crate::{
	failure::Failure,
	transfer::{Endpoint, Session, Timeline},
};

/// Hellos run at once, at most; connections beyond are closed unread.
pub const MAX_HANDSHAKES: usize = 256;

/// How long a connection may take to upgrade to a WebSocket and send its hello.
const HELLO_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Least time between two assemblies of a newer key on behalf of a hello: a hello is not
/// authenticated when it names an epoch, so a stranger could otherwise make this side ask the
/// witnesses at will.
const REFRESH_EVERY: Duration = Duration::from_secs(5);

/// Least time between two timeline notes of refused connections.
const NOTE_EVERY: Duration = Duration::from_secs(5);

/// Pause after a failed `accept` (out of file descriptors, say) before the next one.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What an authenticated hello brought.
pub enum Authenticated {
	/// An initiator opened a new session: it holds the stream's key, so it restarted.
	NewSession(SecureStream, Endpoint),
	/// The running session resumed on a transport of `Endpoint`.
	Resumed(Endpoint, Duration),
}

/// The key new sessions open with, and when it was last assembled again for a hello.
struct NewSessionKey {
	keys: Arc<StreamKeys>,
	refreshed: Option<Instant>,
}

/// Connections whose hello failed since the last note.
struct Refusals {
	count: u64,
	noted: Option<Instant>,
}

/// What the hello tasks share.
struct State {
	session: Arc<Session>,
	timeline: Timeline,
	key: tokio::sync::Mutex<NewSessionKey>,
	/// The running session, which resume hellos attach to.
	running: Mutex<Option<StreamControl>>,
	refusals: Mutex<Refusals>,
	authenticated: mpsc::Sender<Authenticated>,
}

/// The listening endpoints and the hellos that authenticated on them.
pub struct Listener {
	state: Arc<State>,
	authenticated: mpsc::Receiver<Authenticated>,
}

impl Listener {
	/// Listens on every endpoint; new sessions open with `keys` until a hello names a newer
	/// epoch. An endpoint that cannot be bound fails the whole.
	pub async fn start(
		session: Arc<Session>,
		endpoints: Vec<Endpoint>,
		keys: StreamKeys,
		timeline: Timeline,
	) -> Result<Self, Failure> {
		let (authenticated_tx, authenticated) = mpsc::channel(4);
		let state = Arc::new(State {
			session,
			timeline,
			key: tokio::sync::Mutex::new(NewSessionKey { keys: Arc::new(keys), refreshed: None }),
			running: Mutex::new(None),
			refusals: Mutex::new(Refusals { count: 0, noted: None }),
			authenticated: authenticated_tx,
		});
		let permits = Arc::new(Semaphore::new(MAX_HANDSHAKES));
		for endpoint in endpoints {
			let bound = Bound::bind(&endpoint)
				.await
				.map_err(|error| Failure::input(format!("cannot listen on {endpoint}: {error}")))?;
			timeline.note(format!("listening on {endpoint}"));
			tokio::spawn(accept_loop(bound, endpoint, state.clone(), permits.clone()));
		}
		Ok(Self { state, authenticated })
	}

	/// The next authenticated hello.
	pub async fn next(&mut self) -> Authenticated {
		// The state holds a sender: the channel never closes while `self` lives.
		self.authenticated.recv().await.expect("the listener holds a sender")
	}

	/// Resume hellos attach to `control`'s session from now on.
	pub fn set_running(&self, control: StreamControl) {
		*self.state.running.lock().expect("not poisoned") = Some(control);
	}
}

/// A bound listening socket.
enum Bound {
	/// TCP, for WebSockets if `true`.
	Tcp(TcpListener, bool),
	Unix(UnixListener),
}

impl Bound {
	async fn bind(endpoint: &Endpoint) -> std::io::Result<Self> {
		Ok(match endpoint {
			Endpoint::Tcp(address) => Self::Tcp(TcpListener::bind(address).await?, false),
			Endpoint::Ws(address) => Self::Tcp(TcpListener::bind(address).await?, true),
			Endpoint::Unix(path) => {
				let _ = std::fs::remove_file(path);
				Self::Unix(UnixListener::bind(path)?)
			},
		})
	}

	async fn accept(&self) -> std::io::Result<Connection> {
		Ok(match self {
			Self::Tcp(listener, ws) => {
				let (tcp, _) = listener.accept().await?;
				let _ = tcp.set_nodelay(true);
				if *ws {
					Connection::Ws(tcp)
				} else {
					Connection::Tcp(tcp)
				}
			},
			Self::Unix(listener) => Connection::Unix(listener.accept().await?.0),
		})
	}
}

/// Accepts connections on `bound` and runs each one's hello in a task, while a slot is free.
async fn accept_loop(bound: Bound, endpoint: Endpoint, state: Arc<State>, permits: Arc<Semaphore>) {
	loop {
		let connection = match bound.accept().await {
			Ok(connection) => connection,
			Err(error) => {
				state.refused(&endpoint, &format!("accept failed: {error}"));
				tokio::time::sleep(ACCEPT_BACKOFF).await;
				continue;
			},
		};
		let Ok(permit) = permits.clone().try_acquire_owned() else {
			state.refused(&endpoint, &format!("{MAX_HANDSHAKES} hellos under way already"));
			continue;
		};
		tokio::spawn(hello(connection, endpoint.clone(), state.clone(), permit));
	}
}

/// An accepted connection, before its hello.
enum Connection {
	Tcp(tokio::net::TcpStream),
	Ws(tokio::net::TcpStream),
	Unix(tokio::net::UnixStream),
}

impl Connection {
	/// Reads the initiator's hello (after the WebSocket upgrade, for a WebSocket).
	async fn read_hello(self) -> Result<Incoming, String> {
		fn failed(error: SecureStreamError) -> String {
			error.to_string()
		}
		match self {
			Self::Tcp(tcp) => Incoming::read(tcp, HELLO_READ_TIMEOUT).await.map_err(failed),
			Self::Unix(unix) => Incoming::read(unix, HELLO_READ_TIMEOUT).await.map_err(failed),
			Self::Ws(tcp) => {
				let started = Instant::now();
				let ws =
					tokio::time::timeout(HELLO_READ_TIMEOUT, tokio_tungstenite::accept_async(tcp))
						.await
						.map_err(|_| "no WebSocket upgrade in time".to_string())?
						.map_err(|error| format!("WebSocket upgrade: {error}"))?;
				let left = HELLO_READ_TIMEOUT.saturating_sub(started.elapsed());
				Incoming::read(WsTransport::new(ws), left).await.map_err(failed)
			},
		}
	}
}

/// Runs one connection's hello; tells the transfer what authenticated.
async fn hello(
	connection: Connection,
	endpoint: Endpoint,
	state: Arc<State>,
	_permit: OwnedSemaphorePermit,
) {
	let incoming = match connection.read_hello().await {
		Ok(incoming) => incoming,
		Err(reason) => return state.refused(&endpoint, &reason),
	};
	let started = Instant::now();
	let running = state.running.lock().expect("not poisoned").clone();
	let outcome = match running {
		Some(control) if incoming.is_resume() && incoming.session_id() == control.session_id() => {
			control
				.resume_incoming(incoming)
				.await
				.map(|()| Authenticated::Resumed(endpoint.clone(), started.elapsed()))
		},
		// A new session, or the resumption of one this process does not know (it restarted):
		// `accept` tells the latter's initiator to open a new one.
		_ => {
			let keys = state.key_for(incoming.epoch()).await;
			SecureStream::accept(incoming, keys, SecureConfig::default())
				.await
				.map(|secure| Authenticated::NewSession(secure, endpoint.clone()))
		},
	};
	match outcome {
		Ok(authenticated) => {
			let _ = state.authenticated.send(authenticated).await;
		},
		Err(SecureStreamError::UnknownSession) => state
			.timeline
			.note(format!("asked over {endpoint} to resume an unknown session: refused")),
		Err(error) => state.refused(&endpoint, &error.to_string()),
	}
}

impl State {
	/// The key a new session opens with, for a hello that names `epoch` as its newest.
	async fn key_for(&self, epoch: u32) -> Arc<StreamKeys> {
		let mut held = self.key.lock().await;
		let newer = epoch > held.keys.context().epoch;
		if newer && held.refreshed.is_none_or(|at| at.elapsed() >= REFRESH_EVERY) {
			held.refreshed = Some(Instant::now());
			match self.session.current_key(self.timeline).await {
				Ok(key) => held.keys = Arc::new(key.keys),
				Err(failure) => self
					.timeline
					.note(format!("cannot assemble the current key: {}", failure.message)),
			}
		}
		held.keys.clone()
	}

	/// Counts a connection refused for `reason`, and notes the count now and then.
	fn refused(&self, endpoint: &Endpoint, reason: &str) {
		let mut refusals = self.refusals.lock().expect("not poisoned");
		refusals.count += 1;
		if refusals.noted.is_some_and(|at| at.elapsed() < NOTE_EVERY) {
			return;
		}
		self.timeline.note(format!(
			"refused {} connection(s) that did not authenticate; the last over {endpoint}: \
			 {reason}",
			refusals.count
		));
		*refusals = Refusals { count: 0, noted: Some(Instant::now()) };
	}
}
