//! The application's handles on a secure stream.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use keyorch_primitives::{SessionId, StreamId, StreamKeys};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot, watch, Notify};

use super::driver::{Command, Delivery, Driver, Outgoing, Snapshot};
use super::hello::{initiate, timed, HelloKind, Incoming, KeyRing};
use super::{frame_buffer, EndReason, Role, SecureConfig, SecureStreamError, MAX_FRAME_PAYLOAD};

/// A byte transport a secure stream runs over: reliable and ordered (TCP, a Unix socket, a
/// WebSocket through [`super::WsTransport`], a TLS stream…).
pub trait Transport: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Transport for T {}

/// A boxed [`Transport`].
pub(crate) type BoxTransport = Box<dyn Transport>;

/// The state of a stream's transport.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkState {
	/// A transport is attached.
	Connected,
	/// The transport broke or was found tampered with; call [`StreamControl::resume`].
	Disconnected,
	/// The stream is over, for this reason.
	Terminated(SecureStreamError),
}

/// Application bytes through a stream, for `report_usage`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
	/// The epoch this side currently sends under.
	pub send_epoch: u32,
	/// The epoch this side currently receives under.
	pub receive_epoch: u32,
	/// Message bytes sent since the stream opened.
	pub bytes_sent: u64,
	/// Message bytes received since the stream opened.
	pub bytes_received: u64,
	/// Message bytes sent under [`Self::send_epoch`].
	pub bytes_sent_in_epoch: u64,
	/// Message bytes received under [`Self::receive_epoch`].
	pub bytes_received_in_epoch: u64,
}

/// Frame counters of a stream, rejections included.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
	/// Frames sealed (each once, however often it was sent).
	pub frames_sent: u64,
	/// Frames accepted.
	pub frames_received: u64,
	/// Frames sent again after a resume.
	pub frames_resent: u64,
	/// Frames rejected because they did not authenticate.
	pub forged: u64,
	/// Frames rejected because they had been received already (replays, duplicates).
	pub replayed: u64,
	/// Frames rejected because they came ahead of the next sequence number (the transport was
	/// then dropped).
	pub out_of_order: u64,
	/// Frames rejected because they belong to another session, direction or epoch (e.g. a
	/// retired one).
	pub wrong_context: u64,
	/// Frames cut short (the transport was then dropped).
	pub truncated: u64,
	/// Headers that did not parse (the transport was then dropped).
	pub malformed: u64,
	/// Transports lost (broken or dropped as tampered with).
	pub transport_failures: u64,
	/// Successful resumes.
	pub resumes: u64,
}

/// What the driver publishes to the handles.
#[derive(Clone, Debug)]
pub(crate) struct Status {
	pub(crate) link: LinkState,
	/// Whether the peer acknowledged this side's finish.
	pub(crate) finish_acked: bool,
}

/// Usage and counters, updated by the driver.
#[derive(Default)]
pub(crate) struct Metrics {
	pub(crate) usage: Usage,
	pub(crate) counters: Counters,
}

/// What the driver and the handles of one stream share.
pub(crate) struct Shared {
	pub(crate) role: Role,
	pub(crate) session_id: SessionId,
	pub(crate) stream_id: StreamId,
	pub(crate) status: watch::Sender<Status>,
	pub(crate) metrics: Mutex<Metrics>,
	/// Message bytes delivered to the receiver but not read yet.
	pub(crate) unread: AtomicUsize,
	/// Signalled when the application read some.
	pub(crate) consumed: Notify,
}

impl Shared {
	pub(crate) fn metrics(&self) -> std::sync::MutexGuard<'_, Metrics> {
		self.metrics.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
	}
}

/// Control of a stream from anywhere (clone it freely): keys, end, resumption, state and
/// counters. The stream's task stops when every handle is dropped.
#[derive(Clone)]
pub struct StreamControl {
	shared: Arc<Shared>,
	commands: mpsc::UnboundedSender<Command>,
	config: Arc<SecureConfig>,
}

impl std::fmt::Debug for StreamControl {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		f.debug_struct("StreamControl")
			.field("role", &self.shared.role)
			.field("session_id", &self.shared.session_id)
			.field("state", &self.state())
			.finish_non_exhaustive()
	}
}

impl StreamControl {
	/// This side's role.
	pub fn role(&self) -> Role {
		self.shared.role
	}

	/// The session id.
	pub fn session_id(&self) -> SessionId {
		self.shared.session_id
	}

	/// The stream the keys are for.
	pub fn stream_id(&self) -> StreamId {
		self.shared.stream_id
	}

	/// The state of the transport.
	pub fn state(&self) -> LinkState {
		self.shared.status.borrow().link.clone()
	}

	/// Waits until no transport is attached and returns the state then
	/// ([`LinkState::Disconnected`] or [`LinkState::Terminated`]).
	pub async fn disconnected(&self) -> LinkState {
		let mut status = self.shared.status.subscribe();
		let state = status.wait_for(|s| s.link != LinkState::Connected).await;
		state.map(|s| s.link.clone()).unwrap_or(LinkState::Terminated(stopped()))
	}

	/// Bytes sent and received, in total and in the current epochs.
	pub fn usage(&self) -> Usage {
		self.shared.metrics().usage
	}

	/// Frame counters, rejections included.
	pub fn counters(&self) -> Counters {
		self.shared.metrics().counters
	}

	/// Gives this side the keys of a newer epoch. The stream switches each direction to it once
	/// both sides have it (see the module documentation).
	///
	/// # Errors
	///
	/// [`SecureStreamError::StaleEpoch`] for keys of another stream or of an epoch not newer
	/// than the newest held; the terminal error if the stream is over.
	pub async fn install_epoch(&self, keys: StreamKeys) -> Result<(), SecureStreamError> {
		self.request(|reply| Command::InstallEpoch(keys, reply)).await?
	}

	/// Ends the stream for `reason` (the chain revoked, expired or closed it): every local send
	/// and receive fails with [`SecureStreamError::Ended`] from now on, the keys are dropped,
	/// and the peer is told if the transport is up. Ending an ended stream does nothing.
	pub async fn end(&self, reason: EndReason) {
		// A stream that is over already has nobody to tell.
		let _ = self.request(|reply| Command::End(reason, reply)).await;
		self.terminated().await;
	}

	/// Pauses the stream (`true`) or lets it go on (`false`): while paused this side neither
	/// takes messages to send nor reads the transport, so the peer soon stops too, held back by
	/// missing acknowledgements. Hellos and commands still work. For a side that cannot confirm
	/// for a moment that the stream may go on.
	pub fn pause(&self, paused: bool) {
		let _ = self.commands.send(Command::Pause(paused));
	}

	/// Resumes the session over a new transport (of any kind), after a cut or at any time;
	/// frames the peer has not received are sent again. The initiator sends its hello; the
	/// provider reads it first (use [`Self::resume_incoming`] if it was read already).
	///
	/// # Errors
	///
	/// [`SecureStreamError::SessionLost`] (the peer restarted: the stream has ended, open a new
	/// session), [`SecureStreamError::SessionMismatch`] (a provider got another session's
	/// hello), hello failures ([`SecureStreamError::AuthenticationFailed`],
	/// [`SecureStreamError::HelloTimeout`], [`SecureStreamError::Transport`]) after which the
	/// stream stays as it was and may be resumed again, [`SecureStreamError::ResendGap`], or
	/// the terminal error.
	pub async fn resume(&self, transport: impl Transport) -> Result<(), SecureStreamError> {
		if self.role() == Role::Provider {
			let incoming = Incoming::read(transport, self.config.hello_timeout).await?;
			return self.resume_incoming(incoming).await;
		}
		let snapshot = self.request(Command::Snapshot).await?;
		let mut transport: BoxTransport = Box::new(transport);
		let hello = initiate(
			&mut transport,
			HelloKind::Resume,
			&snapshot.keys,
			self.session_id(),
			snapshot.received,
		);
		match timed(self.config.hello_timeout, hello).await {
			Ok(peer_received) => self.attach(snapshot, transport, peer_received).await,
			Err(SecureStreamError::SessionLost) => {
				// The driver may be gone already; then the stream is over anyway.
				let _ = self.commands.send(Command::Fail(SecureStreamError::SessionLost));
				self.terminated().await;
				Err(SecureStreamError::SessionLost)
			},
			Err(error) => Err(error),
		}
	}

	/// The provider's [`Self::resume`] with an initiator's hello read already (e.g. by a
	/// listener that routes connections to streams by [`Incoming::session_id`]).
	///
	/// # Errors
	///
	/// As [`Self::resume`]; [`SecureStreamError::SessionMismatch`] if the hello opens a new
	/// session or is for another one; [`SecureStreamError::Protocol`] on the initiator's side.
	pub async fn resume_incoming(&self, mut incoming: Incoming) -> Result<(), SecureStreamError> {
		if self.role() != Role::Provider {
			return Err(SecureStreamError::Protocol("only the provider reads hellos"));
		}
		if !incoming.is_resume() || incoming.session_id() != self.session_id() {
			return Err(SecureStreamError::SessionMismatch { got: incoming.session_id() });
		}
		let snapshot = self.request(Command::Snapshot).await?;
		let hello = incoming.respond(&snapshot.keys, Some(snapshot.received));
		let peer_received = timed(self.config.hello_timeout, hello).await?;
		self.attach(snapshot, incoming.transport, peer_received).await
	}

	async fn attach(
		&self,
		snapshot: Snapshot,
		transport: BoxTransport,
		peer_received: u64,
	) -> Result<(), SecureStreamError> {
		self.request(|reply| Command::Attach {
			generation: snapshot.generation,
			transport,
			peer_received,
			reply,
		})
		.await?
	}

	/// Sends a command to the driver and waits for its answer.
	async fn request<T>(
		&self,
		command: impl FnOnce(oneshot::Sender<T>) -> Command,
	) -> Result<T, SecureStreamError> {
		let (reply, answer) = oneshot::channel();
		if self.commands.send(command(reply)).is_err() {
			return Err(self.terminal_error());
		}
		match answer.await {
			Ok(answer) => Ok(answer),
			Err(_) => Err(self.terminated().await),
		}
	}

	/// The error that ended the stream, if it is over.
	fn terminal(&self) -> Option<SecureStreamError> {
		match &self.shared.status.borrow().link {
			LinkState::Terminated(error) => Some(error.clone()),
			_ => None,
		}
	}

	fn terminal_error(&self) -> SecureStreamError {
		self.terminal().unwrap_or_else(stopped)
	}

	/// Waits until the stream is over and returns why.
	async fn terminated(&self) -> SecureStreamError {
		let mut status = self.shared.status.subscribe();
		let result = status.wait_for(|s| matches!(s.link, LinkState::Terminated(_))).await;
		match result.as_deref() {
			Ok(Status { link: LinkState::Terminated(error), .. }) => error.clone(),
			_ => stopped(),
		}
	}
}

/// The error when the stream's task is gone without saying why (it cannot happen while a
/// handle is alive, short of a panic).
fn stopped() -> SecureStreamError {
	SecureStreamError::Protocol("the stream's task stopped")
}

/// The sending half of a secure stream.
#[derive(Debug)]
pub struct SecureSender {
	control: StreamControl,
	outgoing: mpsc::Sender<Outgoing>,
	finished: bool,
}

impl SecureSender {
	/// Sends one message: it is sealed in chunks of [`SecureConfig::max_frame_payload`] bytes
	/// and kept until the peer acknowledges it. Waits while the resend buffer is full; while
	/// the transport is down, messages wait in that buffer for [`StreamControl::resume`].
	///
	/// # Errors
	///
	/// [`SecureStreamError::Finished`], [`SecureStreamError::MessageTooLarge`], or the
	/// terminal error (e.g. [`SecureStreamError::Ended`]).
	pub async fn send(&mut self, message: &[u8]) -> Result<(), SecureStreamError> {
		if self.finished {
			return Err(SecureStreamError::Finished);
		}
		let config = &self.control.config;
		if message.len() > config.max_message_len {
			return Err(SecureStreamError::MessageTooLarge {
				len: message.len(),
				max: config.max_message_len,
			});
		}
		let chunk_len = config.max_frame_payload.clamp(1, MAX_FRAME_PAYLOAD);
		let chunks = message.len().div_ceil(chunk_len).max(1);
		for index in 0..chunks {
			let chunk = &message[index * chunk_len..message.len().min((index + 1) * chunk_len)];
			let buf = frame_buffer(chunk);
			self.push(Outgoing::Chunk { buf, last: index + 1 == chunks }).await?;
		}
		Ok(())
	}

	/// Ends this direction gracefully: the peer's [`SecureReceiver::recv`] returns `None` after
	/// the last message. Waits until the peer has acknowledged everything sent.
	///
	/// # Errors
	///
	/// [`SecureStreamError::Finished`] if called twice, or the terminal error.
	pub async fn finish(&mut self) -> Result<(), SecureStreamError> {
		if self.finished {
			return Err(SecureStreamError::Finished);
		}
		self.push(Outgoing::Finish).await?;
		self.finished = true;
		let mut status = self.control.shared.status.subscribe();
		let done = status
			.wait_for(|s| s.finish_acked || matches!(s.link, LinkState::Terminated(_)))
			.await
			.map(|s| s.finish_acked);
		match done {
			Ok(true) => Ok(()),
			_ => Err(self.control.terminal_error()),
		}
	}

	/// The stream's control.
	pub fn control(&self) -> &StreamControl {
		&self.control
	}

	async fn push(&mut self, outgoing: Outgoing) -> Result<(), SecureStreamError> {
		if let Some(error) = self.control.terminal() {
			return Err(error);
		}
		tokio::select! {
			biased;
			error = self.control.terminated() => Err(error),
			sent = self.outgoing.send(outgoing) => sent.map_err(|_| self.control.terminal_error()),
		}
	}
}

/// The receiving half of a secure stream.
#[derive(Debug)]
pub struct SecureReceiver {
	control: StreamControl,
	deliveries: mpsc::UnboundedReceiver<Delivery>,
	partial: BytesMut,
	finished: bool,
}

impl SecureReceiver {
	/// The next message, in order; `None` once the peer finished sending.
	///
	/// # Errors
	///
	/// The terminal error (e.g. [`SecureStreamError::Ended`]) as soon as the stream is over,
	/// even if messages were waiting, except when the peer abandoned the stream
	/// ([`EndReason::Abandoned`]): what it sent before is delivered first.
	/// [`SecureStreamError::MessageTooLarge`] (which ends the
	/// stream) if the peer sends a message larger than [`SecureConfig::max_message_len`].
	pub async fn recv(&mut self) -> Result<Option<Bytes>, SecureStreamError> {
		loop {
			if self.finished {
				return Ok(None);
			}
			let delivery = match self.control.terminal() {
				Some(SecureStreamError::Ended(reason)) if reason.keeps_delivered() => {
					match self.deliveries.try_recv() {
						Ok(delivery) => Some(delivery),
						Err(_) => return Err(SecureStreamError::Ended(reason)),
					}
				},
				Some(error) => return Err(error),
				None => tokio::select! {
					biased;
					_ = self.control.terminated() => continue,
					delivery = self.deliveries.recv() => delivery,
				},
			};
			let (data, last) = match delivery {
				Some(Delivery::Chunk { data, last }) => (data, last),
				Some(Delivery::Finished) => {
					self.finished = true;
					continue;
				},
				None => return Err(self.control.terminal_error()),
			};
			let shared = &self.control.shared;
			shared.unread.fetch_sub(data.len(), Ordering::Relaxed);
			shared.consumed.notify_one();
			let max = self.control.config.max_message_len;
			if self.partial.len() + data.len() > max {
				let error = SecureStreamError::MessageTooLarge {
					len: self.partial.len() + data.len(),
					max,
				};
				let _ = self.control.commands.send(Command::Fail(error.clone()));
				return Err(error);
			}
			if last && self.partial.is_empty() {
				return Ok(Some(data));
			}
			self.partial.extend_from_slice(&data);
			if last {
				return Ok(Some(self.partial.split().freeze()));
			}
		}
	}

	/// The stream's control.
	pub fn control(&self) -> &StreamControl {
		&self.control
	}
}

/// A secure message stream between the initiator and the provider of a keyorch stream (see
/// the module documentation). [`Self::split`] gives separate halves for concurrent sending
/// and receiving; [`Self::control`] a handle for keys, ending and resumption.
#[derive(Debug)]
pub struct SecureStream {
	sender: SecureSender,
	receiver: SecureReceiver,
}

impl SecureStream {
	/// The initiator opens a new session (with a random session id) over `transport`, with
	/// the keys of the stream's current epoch.
	///
	/// # Errors
	///
	/// Hello failures: [`SecureStreamError::AuthenticationFailed`],
	/// [`SecureStreamError::NoCommonEpoch`], [`SecureStreamError::HelloTimeout`],
	/// [`SecureStreamError::Transport`], [`SecureStreamError::Protocol`].
	pub async fn connect(
		transport: impl Transport,
		keys: StreamKeys,
		config: SecureConfig,
	) -> Result<Self, SecureStreamError> {
		let keys = KeyRing::new(Arc::new(keys));
		let session_id: SessionId = rand::random();
		let mut transport: BoxTransport = Box::new(transport);
		let hello = initiate(&mut transport, HelloKind::New, &keys, session_id, 0);
		if timed(config.hello_timeout, hello).await? != 0 {
			return Err(SecureStreamError::Protocol("a new session starts with nothing received"));
		}
		Ok(Self::start(Role::Initiator, session_id, keys, transport, config))
	}

	/// The provider accepts a new session from an initiator's hello (see [`Incoming::read`]).
	///
	/// # Errors
	///
	/// [`SecureStreamError::UnknownSession`] if the hello resumes a session (this side does not
	/// know it — the initiator is told to open a new one); [`SecureStreamError::WrongStream`];
	/// hello failures as for [`Self::connect`].
	pub async fn accept(
		mut incoming: Incoming,
		keys: impl Into<Arc<StreamKeys>>,
		config: SecureConfig,
	) -> Result<Self, SecureStreamError> {
		let keys = KeyRing::new(keys.into());
		let known = (!incoming.is_resume()).then_some(0);
		if timed(config.hello_timeout, incoming.respond(&keys, known)).await? != 0 {
			return Err(SecureStreamError::Protocol("a new session starts with nothing received"));
		}
		let session_id = incoming.session_id();
		Ok(Self::start(Role::Provider, session_id, keys, incoming.transport, config))
	}

	/// Starts the driver of a session whose first hello completed on `transport`.
	fn start(
		role: Role,
		session_id: SessionId,
		keys: KeyRing,
		transport: BoxTransport,
		config: SecureConfig,
	) -> Self {
		let (epoch, _) = keys.newest();
		let (status, _) =
			watch::channel(Status { link: LinkState::Connected, finish_acked: false });
		let metrics = Metrics {
			usage: Usage { send_epoch: epoch, receive_epoch: epoch, ..Usage::default() },
			counters: Counters::default(),
		};
		let shared = Arc::new(Shared {
			role,
			session_id,
			stream_id: keys.stream_id(),
			status,
			metrics: Mutex::new(metrics),
			unread: AtomicUsize::new(0),
			consumed: Notify::new(),
		});
		let config = Arc::new(config);
		let (commands, commands_rx) = mpsc::unbounded_channel();
		let (outgoing, outgoing_rx) = mpsc::channel(4);
		let (deliveries_tx, deliveries) = mpsc::unbounded_channel();
		let driver = Driver::new(shared.clone(), config.clone(), keys, deliveries_tx);
		tokio::spawn(driver.run(transport, commands_rx, outgoing_rx));
		let control = StreamControl { shared, commands, config };
		Self {
			sender: SecureSender { control: control.clone(), outgoing, finished: false },
			receiver: SecureReceiver {
				control,
				deliveries,
				partial: BytesMut::new(),
				finished: false,
			},
		}
	}

	/// See [`SecureSender::send`].
	///
	/// # Errors
	///
	/// As [`SecureSender::send`].
	pub async fn send(&mut self, message: &[u8]) -> Result<(), SecureStreamError> {
		self.sender.send(message).await
	}

	/// See [`SecureSender::finish`].
	///
	/// # Errors
	///
	/// As [`SecureSender::finish`].
	pub async fn finish(&mut self) -> Result<(), SecureStreamError> {
		self.sender.finish().await
	}

	/// See [`SecureReceiver::recv`].
	///
	/// # Errors
	///
	/// As [`SecureReceiver::recv`].
	pub async fn recv(&mut self) -> Result<Option<Bytes>, SecureStreamError> {
		self.receiver.recv().await
	}

	/// The stream's control (clone it to use it from another task).
	pub fn control(&self) -> &StreamControl {
		&self.sender.control
	}

	/// Separate halves, to send and receive from different tasks.
	pub fn split(self) -> (SecureSender, SecureReceiver) {
		(self.sender, self.receiver)
	}
}
