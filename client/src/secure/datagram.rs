//! Secure datagrams over UDP.

use std::time::Duration;

use keyorch_primitives::frame::{FrameHeader, HEADER_LEN, TAG_LEN};
use keyorch_primitives::{Direction, Error as FrameError, SessionId, StreamKeys};
use sha2::{Digest, Sha256};
use tokio::net::UdpSocket;
use tokio::time::Instant;

use super::{Role, SecureStreamError};

/// Hash prefix of the per-datagram session id.
const DATAGRAM_LABEL: &[u8] = b"keyorch/v1/secure-datagram";
/// Bytes of the sending socket's id in front of each frame.
const SENDER_LEN: usize = 16;
/// Bytes of the counter after the sender id.
const COUNTER_LEN: usize = 8;
/// Bytes in front of each frame.
const PREFIX_LEN: usize = SENDER_LEN + COUNTER_LEN;
/// Counters the replay window remembers behind the highest one seen.
const WINDOW: u64 = 1024;
/// Largest UDP payload over IPv4.
const MAX_UDP_PAYLOAD: usize = 65_507;

/// Largest message one datagram carries.
pub const MAX_DATAGRAM_PAYLOAD: usize = MAX_UDP_PAYLOAD - PREFIX_LEN - HEADER_LEN - TAG_LEN;

/// Counters of a [`SecureDatagram`] socket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DatagramCounters {
	/// Datagrams sent.
	pub sent: u64,
	/// Datagrams accepted.
	pub received: u64,
	/// Datagrams that did not authenticate.
	pub forged: u64,
	/// Datagrams seen before, or older than the replay window.
	pub replayed: u64,
	/// Datagrams of another session, direction or sending socket, of an unknown epoch, or of
	/// the previous epoch after its grace window; also datagrams whose counter or sender id was
	/// tampered with.
	pub wrong_context: u64,
	/// Datagrams too short or whose header does not parse.
	pub malformed: u64,
}

/// Remembers which counters in `(highest − WINDOW, highest]` were accepted.
#[derive(Debug, Default)]
struct ReplayWindow {
	highest: Option<u64>,
	seen: [u64; (WINDOW / 64) as usize],
}

impl ReplayWindow {
	fn bit(counter: u64) -> (usize, u64) {
		let slot = counter % WINDOW;
		((slot / 64) as usize, 1 << (slot % 64))
	}

	/// Whether `counter` may still be accepted.
	fn fresh(&self, counter: u64) -> bool {
		match self.highest {
			Some(highest) if counter <= highest => {
				let (word, mask) = Self::bit(counter);
				highest - counter < WINDOW && self.seen[word] & mask == 0
			},
			_ => true,
		}
	}

	/// Records `counter` (which is [`Self::fresh`]) as accepted.
	fn mark(&mut self, counter: u64) {
		let highest = self.highest.unwrap_or(0);
		if self.highest.is_none() || counter > highest {
			if self.highest.is_none() || counter - highest >= WINDOW {
				self.seen = Default::default();
			} else {
				for skipped in highest + 1..=counter {
					let (word, mask) = Self::bit(skipped);
					self.seen[word] &= !mask;
				}
			}
			self.highest = Some(counter);
		}
		let (word, mask) = Self::bit(counter);
		self.seen[word] |= mask;
	}
}

/// A secure datagram socket between the initiator and the provider: one frame per UDP
/// datagram.
///
/// Semantics:
///
/// - **Framing.** A datagram is `sender (16) ‖ counter (8, big-endian) ‖ frame`. The sender id
///   is drawn at random by each socket when it is made, inside this library; the counter
///   numbers the socket's datagrams 0, 1, 2, …; the frame is sealed under the session id
///   `SHA-256("keyorch/v1/secure-datagram" ‖ session_id ‖ sender ‖ direction ‖ counter)[..16]`
///   at sequence 0, so every datagram has its own frame key and a tampered counter or sender
///   id fails authentication.
/// - **Loss and order.** Datagrams may be lost, duplicated or reordered; [`Self::recv`]
///   returns each authentic datagram at most once, in arrival order. A datagram more than
///   1024 counters behind the newest one accepted, or accepted before, is dropped as replayed.
/// - **Rotation.** [`Self::install_epoch`] switches sending to the new epoch at once, and keeps
///   accepting the previous epoch for the grace window given to [`Self::new`]; after it, frames
///   under the retired key are rejected. Datagrams under an epoch this side does not hold yet
///   are dropped: install new keys on the receiving side first, or accept that loss.
/// - **Sessions.** Two sockets never seal under the same frame key, even with the same
///   session id and keys (a side that restarted and reused its session id): their sender ids
///   differ. A socket accepts the datagrams of one peer socket only, the first whose datagram
///   authenticates; a peer that restarts therefore needs a new socket on this side too, and
///   datagrams of the old one cannot be replayed into the new session.
///
/// Rejected datagrams are counted ([`Self::counters`]) and skipped.
#[derive(Debug)]
pub struct SecureDatagram {
	socket: UdpSocket,
	role: Role,
	session_id: SessionId,
	/// This socket's sender id, drawn when it was made.
	sender: [u8; SENDER_LEN],
	/// The peer socket's sender id, once one of its datagrams authenticated.
	peer: Option<[u8; SENDER_LEN]>,
	current: StreamKeys,
	previous: Option<(StreamKeys, Instant)>,
	grace: Duration,
	next_counter: u64,
	window: ReplayWindow,
	counters: DatagramCounters,
}

impl SecureDatagram {
	/// Secure datagrams over `socket` (connected to the peer) in `session_id`, with the keys of
	/// the current epoch; `grace` is how long the previous epoch stays accepted after a
	/// rotation.
	pub fn new(
		socket: UdpSocket,
		role: Role,
		session_id: SessionId,
		keys: StreamKeys,
		grace: Duration,
	) -> Self {
		Self {
			socket,
			role,
			session_id,
			sender: rand::random(),
			peer: None,
			current: keys,
			previous: None,
			grace,
			next_counter: 0,
			window: ReplayWindow::default(),
			counters: DatagramCounters::default(),
		}
	}

	/// The epoch this side sends under.
	pub fn epoch(&self) -> u32 {
		self.current.context().epoch
	}

	/// Counters, rejections included.
	pub fn counters(&self) -> DatagramCounters {
		self.counters
	}

	/// Sends `message` in one datagram.
	///
	/// # Errors
	///
	/// [`SecureStreamError::MessageTooLarge`] beyond [`MAX_DATAGRAM_PAYLOAD`],
	/// [`SecureStreamError::Transport`] if the socket fails.
	pub async fn send(&mut self, message: &[u8]) -> Result<(), SecureStreamError> {
		if message.len() > MAX_DATAGRAM_PAYLOAD {
			return Err(SecureStreamError::MessageTooLarge {
				len: message.len(),
				max: MAX_DATAGRAM_PAYLOAD,
			});
		}
		let counter = self.next_counter;
		let mut datagram = vec![0u8; PREFIX_LEN + HEADER_LEN + message.len() + TAG_LEN];
		datagram[..SENDER_LEN].copy_from_slice(&self.sender);
		datagram[SENDER_LEN..PREFIX_LEN].copy_from_slice(&counter.to_be_bytes());
		let body = PREFIX_LEN + HEADER_LEN;
		datagram[body..body + message.len()].copy_from_slice(message);
		let direction = self.role.send_direction();
		self.current
			.sender(direction, self.frame_session(&self.sender, direction, counter))
			.seal_in_place(&mut datagram[PREFIX_LEN..], message.len())
			.map_err(SecureStreamError::Frame)?;
		self.next_counter += 1;
		self.socket.send(&datagram).await?;
		self.counters.sent += 1;
		Ok(())
	}

	/// The next authentic, fresh datagram's message; rejected datagrams are counted and
	/// skipped.
	///
	/// # Errors
	///
	/// [`SecureStreamError::Transport`] if the socket fails.
	pub async fn recv(&mut self) -> Result<Vec<u8>, SecureStreamError> {
		let mut buf = vec![0u8; MAX_UDP_PAYLOAD];
		loop {
			let len = self.socket.recv(&mut buf).await?;
			match self.open(&mut buf[..len]) {
				Ok(payload) => {
					self.counters.received += 1;
					return Ok(payload);
				},
				Err(rejection) => rejection.count(&mut self.counters),
			}
		}
	}

	/// Switches sending to a newer epoch at once; the previous epoch stays accepted for the
	/// grace window.
	///
	/// # Errors
	///
	/// [`SecureStreamError::StaleEpoch`] for keys of another stream or of an epoch not newer
	/// than the current one.
	pub fn install_epoch(&mut self, keys: StreamKeys) -> Result<(), SecureStreamError> {
		let (epoch, newest) = (keys.context().epoch, self.epoch());
		if epoch <= newest || keys.context().stream_id != self.current.context().stream_id {
			return Err(SecureStreamError::StaleEpoch { epoch, newest });
		}
		let previous = std::mem::replace(&mut self.current, keys);
		self.previous = Some((previous, Instant::now() + self.grace));
		Ok(())
	}

	fn frame_session(
		&self,
		sender: &[u8; SENDER_LEN],
		direction: Direction,
		counter: u64,
	) -> SessionId {
		let digest = Sha256::new()
			.chain_update(DATAGRAM_LABEL)
			.chain_update(self.session_id)
			.chain_update(sender)
			.chain_update([direction as u8])
			.chain_update(counter.to_be_bytes())
			.finalize();
		digest[..16].try_into().expect("16 bytes")
	}

	/// Opens a datagram, or says why it is rejected.
	fn open(&mut self, datagram: &mut [u8]) -> Result<Vec<u8>, Rejection> {
		let (sender, rest) =
			datagram.split_first_chunk_mut::<SENDER_LEN>().ok_or(Rejection::Malformed)?;
		let sender = *sender;
		let (counter, frame) =
			rest.split_first_chunk_mut::<COUNTER_LEN>().ok_or(Rejection::Malformed)?;
		let counter = u64::from_be_bytes(*counter);
		if self.peer.is_some_and(|peer| peer != sender) {
			return Err(Rejection::WrongContext);
		}
		if !self.window.fresh(counter) {
			return Err(Rejection::Replayed);
		}
		let header = FrameHeader::parse(frame).map_err(|_| Rejection::Malformed)?;
		let keys = match &self.previous {
			_ if header.epoch == self.epoch() => &self.current,
			Some((previous, until))
				if header.epoch == previous.context().epoch && Instant::now() < *until =>
			{
				previous
			},
			_ => return Err(Rejection::WrongContext),
		};
		let direction = self.role.receive_direction();
		let payload = keys
			.receiver(direction, self.frame_session(&sender, direction, counter))
			.open_in_place(frame)
			.map_err(|error| match error {
				FrameError::FrameForged => Rejection::Forged,
				FrameError::WrongContext => Rejection::WrongContext,
				_ => Rejection::Malformed,
			})?
			.to_vec();
		self.peer = Some(sender);
		self.window.mark(counter);
		Ok(payload)
	}
}

/// Why a datagram was rejected.
enum Rejection {
	Forged,
	Replayed,
	WrongContext,
	Malformed,
}

impl Rejection {
	fn count(self, counters: &mut DatagramCounters) {
		*match self {
			Self::Forged => &mut counters.forged,
			Self::Replayed => &mut counters.replayed,
			Self::WrongContext => &mut counters.wrong_context,
			Self::Malformed => &mut counters.malformed,
		} += 1;
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn replay_window_accepts_each_counter_once_and_forgets_old_ones() {
		let mut window = ReplayWindow::default();
		for counter in [5, 3, 4, 0, 1200, 1000] {
			assert!(window.fresh(counter), "{counter}");
			window.mark(counter);
			assert!(!window.fresh(counter), "{counter}");
		}
		// 5 is now more than WINDOW behind 1200.
		assert!(!window.fresh(5));
		assert!(!window.fresh(1200 - WINDOW));
		assert!(window.fresh(1200 - WINDOW + 1));
		assert!(window.fresh(999));
		window.mark(5000);
		assert!(window.fresh(4999) && !window.fresh(1200));
	}
}
