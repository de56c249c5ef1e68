//! The task that runs one secure stream: it owns the frame ciphers, the resend buffer and the
//! transport, and talks to the handles through channels.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use keyorch_primitives::frame::{HEADER_LEN, TAG_LEN};
use keyorch_primitives::{
	Error as FrameError, FrameHeader, FrameReceiver, FrameSender, StreamKeys,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, Instant};

use super::hello::{KeyRing, ReadError};
use super::stream::{BoxTransport, Counters, LinkState, Shared};
use super::{frame_buffer, EndReason, SecureConfig, SecureStreamError, BODY_OFFSET, PREFIX_LEN};

/// Longest wait for the last frames to leave and the peer to close.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// Frames read ahead of the driver per transport.
const READ_AHEAD: usize = 16;
/// Most frames handed to one vectored write.
const MAX_WRITE_SLICES: usize = 64;
/// Least room made for each read from the transport.
const READ_CHUNK: usize = 1024 * 1024;

/// The kind of a frame, its first plaintext byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Kind {
	/// A message chunk with more to come.
	More = 0,
	/// The last chunk of a message.
	Last = 1,
	/// Only the piggybacked ack.
	Ack = 2,
	/// The sender holds the keys of the epoch in the body.
	Ready = 3,
	/// The sender's next frame is sequence 0 under the epoch in the body.
	Switch = 4,
	/// The sender sends no more messages.
	Finish = 5,
	/// The stream ended for the reason in the body.
	End = 6,
}

impl Kind {
	fn from_byte(byte: u8) -> Option<Self> {
		[Self::More, Self::Last, Self::Ack, Self::Ready, Self::Switch, Self::Finish, Self::End]
			.into_iter()
			.find(|kind| *kind as u8 == byte)
	}
}

/// A handle's request to the driver.
pub(crate) enum Command {
	InstallEpoch(StreamKeys, oneshot::Sender<Result<(), SecureStreamError>>),
	End(EndReason, oneshot::Sender<()>),
	/// What a resume hello needs.
	Snapshot(oneshot::Sender<Snapshot>),
	/// A resume hello completed: use this transport from now on.
	Attach {
		generation: u64,
		transport: BoxTransport,
		peer_received: u64,
		reply: oneshot::Sender<Result<(), SecureStreamError>>,
	},
	/// End the stream with this error.
	Fail(SecureStreamError),
	/// Stop (`true`) or go on (`false`) taking messages and reading the transport.
	Pause(bool),
}

/// The state a resume hello needs.
pub(crate) struct Snapshot {
	pub(crate) keys: KeyRing,
	pub(crate) received: u64,
	pub(crate) generation: u64,
}

/// From the sender to the driver.
pub(crate) enum Outgoing {
	/// A message chunk in a [`frame_buffer`].
	Chunk {
		buf: Vec<u8>,
		last: bool,
	},
	Finish,
}

/// From the driver to the receiver.
#[derive(Debug)]
pub(crate) enum Delivery {
	Chunk { data: Bytes, last: bool },
	Finished,
}

/// From a transport's reader and writer tasks to the driver.
enum LinkEvent {
	Frame(u64, BytesMut),
	Broken(u64, ReadError),
}

enum WriterCommand {
	Frame(Bytes),
	/// Flush, shut the writing side down, and say so.
	Close(oneshot::Sender<()>),
}

/// An attached transport: its reader and writer tasks. Dropping it closes the transport.
struct Link {
	writer: mpsc::UnboundedSender<WriterCommand>,
	tasks: [JoinHandle<()>; 2],
}

impl Drop for Link {
	fn drop(&mut self) {
		self.tasks.iter().for_each(JoinHandle::abort);
	}
}

impl Link {
	fn start(transport: BoxTransport, generation: u64, events: mpsc::Sender<LinkEvent>) -> Self {
		let (read, write) = tokio::io::split(transport);
		let (writer, commands) = mpsc::unbounded_channel();
		let tasks = [
			tokio::spawn(read_loop(read, generation, events.clone())),
			tokio::spawn(write_loop(write, generation, commands, events)),
		];
		Self { writer, tasks }
	}
}

/// Reads frames into one buffer and splits each off it: a frame's bytes are written once, by
/// the kernel, into the memory where they are opened and delivered.
async fn read_loop(
	mut read: ReadHalf<BoxTransport>,
	generation: u64,
	events: mpsc::Sender<LinkEvent>,
) {
	let mut buffer = BytesMut::new();
	loop {
		let event = match next_frame(&mut read, &mut buffer).await {
			Ok(frame) => LinkEvent::Frame(generation, frame),
			Err(error) => {
				let _ = events.send(LinkEvent::Broken(generation, error)).await;
				return;
			},
		};
		if events.send(event).await.is_err() {
			return;
		}
	}
}

/// The next whole frame: from `buffer`, reading more into it as needed.
async fn next_frame(
	read: &mut ReadHalf<BoxTransport>,
	buffer: &mut BytesMut,
) -> Result<BytesMut, ReadError> {
	loop {
		let mut needed = HEADER_LEN;
		if buffer.len() >= HEADER_LEN {
			let header = FrameHeader::parse(buffer).map_err(|_| ReadError::Malformed)?;
			needed = header.frame_len();
			if buffer.len() >= needed {
				return Ok(buffer.split_to(needed));
			}
		}
		buffer.reserve(READ_CHUNK.max(needed - buffer.len()));
		if read.read_buf(buffer).await.map_err(ReadError::Io)? == 0 {
			return Err(if buffer.is_empty() { ReadError::Closed } else { ReadError::Truncated });
		}
	}
}

async fn write_loop(
	mut write: WriteHalf<BoxTransport>,
	generation: u64,
	mut commands: mpsc::UnboundedReceiver<WriterCommand>,
	events: mpsc::Sender<LinkEvent>,
) {
	let mut batch = VecDeque::new();
	while let Some(command) = commands.recv().await {
		// Whatever else is queued goes out with it, in as few system calls as possible.
		let mut closing = None;
		let mut next = Some(command);
		while let Some(command) = next.take().or_else(|| commands.try_recv().ok()) {
			match command {
				WriterCommand::Frame(frame) => batch.push_back(frame),
				WriterCommand::Close(done) => {
					closing = Some(done);
					break;
				},
			}
		}
		if let Err(error) = write_batch(&mut write, &mut batch).await {
			let _ = events.send(LinkEvent::Broken(generation, ReadError::Io(error))).await;
			return;
		}
		if let Some(done) = closing {
			let _ = write.shutdown().await;
			let _ = done.send(());
			return;
		}
	}
	let _ = write.shutdown().await;
}

/// Writes every frame of `batch`, several per vectored write where the transport has them.
async fn write_batch(
	write: &mut WriteHalf<BoxTransport>,
	batch: &mut VecDeque<Bytes>,
) -> std::io::Result<()> {
	while !batch.is_empty() {
		let slices: Vec<_> =
			batch.iter().take(MAX_WRITE_SLICES).map(|frame| IoSlice::new(frame)).collect();
		let mut written = write.write_vectored(&slices).await?;
		if written == 0 {
			return Err(std::io::ErrorKind::WriteZero.into());
		}
		while let Some(front) = batch.front_mut() {
			if written < front.len() {
				front.advance(written);
				break;
			}
			written -= front.len();
			batch.pop_front();
		}
	}
	write.flush().await
}

pub(crate) struct Driver {
	shared: Arc<Shared>,
	config: Arc<SecureConfig>,
	keys: KeyRing,
	sender: FrameSender,
	send_epoch: u32,
	receiver: FrameReceiver,
	receive_epoch: u32,
	/// The newest epoch the peer said it holds.
	peer_ready: u32,
	/// Frames sealed in the session.
	sent: u64,
	/// Frames accepted in the session.
	received: u64,
	/// Sealed frames not yet acknowledged, oldest first; the first is frame `resend_front`.
	resend: VecDeque<Bytes>,
	resend_front: u64,
	resend_bytes: usize,
	/// The ack value last sent to the peer.
	acked_to_peer: u64,
	/// When a standalone ack is due.
	ack_due: Option<Instant>,
	/// Index of this side's finish frame, once sealed.
	finish_at: Option<u64>,
	/// Whether [`Command::Pause`] holds the stream.
	paused: bool,
	link: Option<Link>,
	generation: u64,
	events: mpsc::Sender<LinkEvent>,
	events_rx: mpsc::Receiver<LinkEvent>,
	deliveries: mpsc::UnboundedSender<Delivery>,
}

impl Driver {
	pub(crate) fn new(
		shared: Arc<Shared>,
		config: Arc<SecureConfig>,
		keys: KeyRing,
		deliveries: mpsc::UnboundedSender<Delivery>,
	) -> Self {
		let (epoch, epoch_keys) = keys.newest();
		let sender = epoch_keys.sender(shared.role.send_direction(), shared.session_id);
		let receiver = epoch_keys.receiver(shared.role.receive_direction(), shared.session_id);
		let (events, events_rx) = mpsc::channel(READ_AHEAD);
		Self {
			shared,
			config,
			sender,
			send_epoch: epoch,
			receiver,
			receive_epoch: epoch,
			peer_ready: epoch,
			keys,
			sent: 0,
			received: 0,
			resend: VecDeque::new(),
			resend_front: 0,
			resend_bytes: 0,
			acked_to_peer: 0,
			ack_due: None,
			finish_at: None,
			paused: false,
			link: None,
			generation: 0,
			events,
			events_rx,
			deliveries,
		}
	}

	/// Runs the stream over `transport` (whose hello completed) until it ends or every handle
	/// is dropped.
	pub(crate) async fn run(
		mut self,
		transport: BoxTransport,
		mut commands: mpsc::UnboundedReceiver<Command>,
		mut outgoing: mpsc::Receiver<Outgoing>,
	) {
		self.link = Some(Link::start(transport, self.generation, self.events.clone()));
		let mut outgoing_open = true;
		let outcome = loop {
			let room = !self.paused && self.resend_bytes < self.config.resend_buffer_bytes;
			let readable = !self.paused
				&& self.shared.unread.load(Ordering::Relaxed) < self.config.receive_buffer_bytes;
			let ack_due = self.ack_due;
			let step = tokio::select! {
				command = commands.recv() => match command {
					Some(command) => self.command(command).await,
					None => {
						// What the sender queued before it was dropped still goes out; then the
						// peer is told, or it would wait for acks and a resumption forever.
						while let Ok(next) = outgoing.try_recv() {
							if self.outgoing(next).is_err() {
								break;
							}
						}
						self.end(EndReason::Abandoned).await;
						break SecureStreamError::Protocol("every handle was dropped");
					},
				},
				next = outgoing.recv(), if outgoing_open && room => match next {
					Some(next) => self.outgoing(next),
					None => {
						outgoing_open = false;
						Ok(())
					},
				},
				Some(event) = self.events_rx.recv(), if readable => self.event(event),
				() = self.shared.consumed.notified(), if !readable && !self.paused => Ok(()),
				() = sleep_until(ack_due.unwrap_or_else(Instant::now)), if ack_due.is_some() =>
					self.seal_control(Kind::Ack, &[]),
			};
			if let Err(error) = step {
				break error;
			}
		};
		self.shared.status.send_modify(|status| status.link = LinkState::Terminated(outcome));
	}

	async fn command(&mut self, command: Command) -> Result<(), SecureStreamError> {
		match command {
			Command::InstallEpoch(keys, reply) => match self.keys.insert(keys) {
				Err(error) => {
					let _ = reply.send(Err(error));
					Ok(())
				},
				Ok(epoch) => {
					let _ = reply.send(Ok(()));
					self.seal_control(Kind::Ready, &epoch.to_be_bytes())?;
					self.try_switch()
				},
			},
			Command::End(reason, reply) => {
				self.end(reason).await;
				let _ = reply.send(());
				Err(SecureStreamError::Ended(reason))
			},
			Command::Snapshot(reply) => {
				let _ = reply.send(Snapshot {
					keys: self.keys.clone(),
					received: self.received,
					generation: self.generation,
				});
				Ok(())
			},
			Command::Attach { generation, transport, peer_received, reply } => {
				if generation != self.generation {
					let error = SecureStreamError::Protocol("another resume completed meanwhile");
					let _ = reply.send(Err(error));
					return Ok(());
				}
				let attached = self.attach(transport, peer_received);
				let _ = reply.send(attached.clone());
				attached
			},
			Command::Fail(error) => Err(error),
			Command::Pause(paused) => {
				self.paused = paused;
				Ok(())
			},
		}
	}

	/// Uses `transport` from now on and sends again every frame after the first
	/// `peer_received`.
	fn attach(
		&mut self,
		transport: BoxTransport,
		peer_received: u64,
	) -> Result<(), SecureStreamError> {
		if peer_received < self.resend_front {
			return Err(SecureStreamError::ResendGap {
				requested: peer_received,
				oldest: self.resend_front,
			});
		}
		self.acknowledge(peer_received)?;
		self.generation += 1;
		let link = Link::start(transport, self.generation, self.events.clone());
		for frame in &self.resend {
			let _ = link.writer.send(WriterCommand::Frame(frame.clone()));
		}
		self.link = Some(link);
		let mut metrics = self.shared.metrics();
		metrics.counters.frames_resent += self.resend.len() as u64;
		metrics.counters.resumes += 1;
		drop(metrics);
		self.shared.status.send_modify(|status| status.link = LinkState::Connected);
		Ok(())
	}

	fn drop_link(&mut self, count: impl FnOnce(&mut Counters)) {
		self.link = None;
		let mut metrics = self.shared.metrics();
		count(&mut metrics.counters);
		metrics.counters.transport_failures += 1;
		drop(metrics);
		self.shared.status.send_modify(|status| status.link = LinkState::Disconnected);
	}

	fn outgoing(&mut self, outgoing: Outgoing) -> Result<(), SecureStreamError> {
		match outgoing {
			Outgoing::Chunk { buf, last } => {
				let len = (buf.len() - BODY_OFFSET - TAG_LEN) as u64;
				self.seal(if last { Kind::Last } else { Kind::More }, buf)?;
				let mut metrics = self.shared.metrics();
				metrics.usage.bytes_sent += len;
				metrics.usage.bytes_sent_in_epoch += len;
				Ok(())
			},
			Outgoing::Finish => {
				self.seal_control(Kind::Finish, &[])?;
				self.finish_at = Some(self.sent - 1);
				Ok(())
			},
		}
	}

	fn event(&mut self, event: LinkEvent) -> Result<(), SecureStreamError> {
		match event {
			_ if self.link.is_none() => Ok(()),
			LinkEvent::Frame(generation, frame) if generation == self.generation => {
				self.frame(frame)
			},
			LinkEvent::Broken(generation, error) if generation == self.generation => {
				self.drop_link(|counters| match error {
					ReadError::Truncated => counters.truncated += 1,
					ReadError::Malformed => counters.malformed += 1,
					ReadError::Closed | ReadError::Io(_) => {},
				});
				Ok(())
			},
			_ => Ok(()),
		}
	}

	/// Opens a frame from the transport and acts on it.
	fn frame(&mut self, mut frame: BytesMut) -> Result<(), SecureStreamError> {
		let len = match self.receiver.open_in_place(&mut frame) {
			Ok(payload) => payload.len(),
			Err(error) => {
				self.reject(error);
				return Ok(());
			},
		};
		if len < PREFIX_LEN {
			return Err(SecureStreamError::Protocol("a frame without kind and ack"));
		}
		let kind = Kind::from_byte(frame[HEADER_LEN])
			.ok_or(SecureStreamError::Protocol("unknown frame kind"))?;
		let ack = u64::from_be_bytes(frame[HEADER_LEN + 1..BODY_OFFSET].try_into().expect("8"));
		self.received += 1;
		self.shared.metrics().counters.frames_received += 1;
		self.acknowledge(ack)?;
		let body = BODY_OFFSET..HEADER_LEN + len;
		match kind {
			Kind::More | Kind::Last => {
				let data = frame.freeze().slice(body);
				let len = data.len();
				let mut metrics = self.shared.metrics();
				metrics.usage.bytes_received += len as u64;
				metrics.usage.bytes_received_in_epoch += len as u64;
				drop(metrics);
				// Counted before the receiver can read it; uncounted if nobody will (the
				// receiving half was dropped), so that acks keep flowing for what this side
				// sends.
				self.shared.unread.fetch_add(len, Ordering::Relaxed);
				let delivery = Delivery::Chunk { data, last: kind == Kind::Last };
				if self.deliveries.send(delivery).is_err() {
					self.shared.unread.fetch_sub(len, Ordering::Relaxed);
				}
			},
			Kind::Ack => {},
			Kind::Ready => {
				self.peer_ready = self.peer_ready.max(epoch_in(&frame[body])?);
				self.try_switch()?;
			},
			Kind::Switch => self.switch_receiver(epoch_in(&frame[body])?)?,
			Kind::Finish => {
				let _ = self.deliveries.send(Delivery::Finished);
			},
			Kind::End => {
				let reason = frame[body]
					.first()
					.and_then(|byte| EndReason::from_byte(*byte))
					.ok_or(SecureStreamError::Protocol("malformed end frame"))?;
				return Err(SecureStreamError::Ended(reason));
			},
		}
		if kind != Kind::Ack && self.ack_due.is_none() {
			self.ack_due = Some(Instant::now() + self.config.ack_delay);
		}
		// The peer waits for the ack of its finish, and this side may be dropped soon after.
		if kind == Kind::Finish || self.received - self.acked_to_peer >= self.config.ack_every {
			self.seal_control(Kind::Ack, &[])?;
		}
		Ok(())
	}

	/// Counts a rejected frame; drops the transport if the rejection means it cannot be
	/// trusted to deliver the frames in order.
	fn reject(&mut self, error: FrameError) {
		match error {
			FrameError::FrameForged => self.shared.metrics().counters.forged += 1,
			FrameError::FrameReplayed { .. } => self.shared.metrics().counters.replayed += 1,
			FrameError::WrongContext => self.shared.metrics().counters.wrong_context += 1,
			FrameError::FrameOutOfOrder { .. } => {
				self.drop_link(|counters| counters.out_of_order += 1)
			},
			FrameError::FrameTruncated => self.drop_link(|counters| counters.truncated += 1),
			_ => self.drop_link(|counters| counters.malformed += 1),
		}
	}

	/// The peer received the first `ack` frames: drop them from the resend buffer.
	fn acknowledge(&mut self, ack: u64) -> Result<(), SecureStreamError> {
		if ack > self.sent {
			return Err(SecureStreamError::Protocol("the peer acknowledged frames never sent"));
		}
		while self.resend_front < ack {
			let frame = self.resend.pop_front().expect("unacknowledged frames are kept");
			self.resend_bytes -= frame.len();
			self.resend_front += 1;
		}
		if self.finish_at.is_some_and(|at| at < ack) && !self.shared.status.borrow().finish_acked {
			self.shared.status.send_modify(|status| status.finish_acked = true);
		}
		Ok(())
	}

	/// Seals a frame of `kind` whose body is in `buf` (a [`frame_buffer`]), keeps it for
	/// resending and sends it if a transport is attached.
	fn seal(&mut self, kind: Kind, mut buf: Vec<u8>) -> Result<(), SecureStreamError> {
		buf[HEADER_LEN] = kind as u8;
		buf[HEADER_LEN + 1..BODY_OFFSET].copy_from_slice(&self.received.to_be_bytes());
		let payload_len = buf.len() - HEADER_LEN - TAG_LEN;
		self.sender.seal_in_place(&mut buf, payload_len).map_err(SecureStreamError::Frame)?;
		let frame = Bytes::from(buf);
		self.sent += 1;
		self.resend_bytes += frame.len();
		self.resend.push_back(frame.clone());
		self.acked_to_peer = self.received;
		self.ack_due = None;
		self.shared.metrics().counters.frames_sent += 1;
		if let Some(link) = &self.link {
			let _ = link.writer.send(WriterCommand::Frame(frame));
		}
		Ok(())
	}

	fn seal_control(&mut self, kind: Kind, body: &[u8]) -> Result<(), SecureStreamError> {
		self.seal(kind, frame_buffer(body))
	}

	/// Switches the sending direction to the newest epoch both sides hold, if newer.
	fn try_switch(&mut self) -> Result<(), SecureStreamError> {
		let target = self.peer_ready.min(self.keys.newest().0);
		if target <= self.send_epoch {
			return Ok(());
		}
		let Some(keys) = self.keys.get(target).cloned() else { return Ok(()) };
		self.seal_control(Kind::Switch, &target.to_be_bytes())?;
		self.sender = keys.sender(self.shared.role.send_direction(), self.shared.session_id);
		self.send_epoch = target;
		let mut metrics = self.shared.metrics();
		metrics.usage.send_epoch = target;
		metrics.usage.bytes_sent_in_epoch = 0;
		drop(metrics);
		self.keys.retain_from(self.send_epoch.min(self.receive_epoch));
		Ok(())
	}

	/// The peer's next frame is sequence 0 under `epoch`: retire the receiving key.
	fn switch_receiver(&mut self, epoch: u32) -> Result<(), SecureStreamError> {
		if epoch <= self.receive_epoch {
			return Err(SecureStreamError::Protocol("the peer switched to an older epoch"));
		}
		let keys = self
			.keys
			.get(epoch)
			.ok_or(SecureStreamError::Protocol("the peer switched to an epoch not held here"))?;
		self.receiver = keys.receiver(self.shared.role.receive_direction(), self.shared.session_id);
		self.receive_epoch = epoch;
		let mut metrics = self.shared.metrics();
		metrics.usage.receive_epoch = epoch;
		metrics.usage.bytes_received_in_epoch = 0;
		drop(metrics);
		self.keys.retain_from(self.send_epoch.min(self.receive_epoch));
		Ok(())
	}

	/// Tells the peer, if the transport is up, that the stream ended, and closes the transport.
	async fn end(&mut self, reason: EndReason) {
		if self.link.is_some() && self.seal_control(Kind::End, &[reason as u8]).is_ok() {
			self.close_link().await;
		}
	}

	/// Closes the transport gracefully, acknowledging what was received first: this side
	/// shuts its writing down and reads until the peer closes too (closing with unread data
	/// would reset the connection, and the peer could lose the last frames).
	async fn close_link(&mut self) {
		if self.link.is_some() && self.received > self.acked_to_peer {
			let _ = self.seal_control(Kind::Ack, &[]);
		}
		let Some(link) = self.link.take() else { return };
		let (done, closed) = oneshot::channel();
		if link.writer.send(WriterCommand::Close(done)).is_err() {
			return;
		}
		let generation = self.generation;
		let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
			let _ = closed.await;
			while let Some(event) = self.events_rx.recv().await {
				if matches!(event, LinkEvent::Broken(broken, _) if broken == generation) {
					return;
				}
			}
		})
		.await;
	}
}

/// The epoch in a `ready` or `switch` body.
fn epoch_in(body: &[u8]) -> Result<u32, SecureStreamError> {
	body.try_into()
		.map(u32::from_be_bytes)
		.map_err(|_| SecureStreamError::Protocol("malformed epoch frame"))
}
