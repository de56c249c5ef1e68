//! AES-256-GCM frames of the secure stream.
//!
//! A frame is a header, the encrypted payload and the 16-byte GCM tag:
//!
//! ```text
//! offset  size  field
//!      0     1  version (1)
//!      1     1  direction (0 initiator→provider, 1 provider→initiator)
//!      2    16  session id
//!     18     4  epoch, big-endian
//!     22     8  sequence number, big-endian
//!     30     4  payload length, big-endian
//!     34     n  ciphertext
//!   34+n    16  tag
//! ```
//!
//! The whole header is the associated data. Each (direction, session, epoch) has
//! its own key, derived from the directional stream key, and the 96-bit nonce is
//! `direction || epoch (4, big-endian) || sequence (low 7 bytes, big-endian)`:
//! a sender numbers its frames 0, 1, 2, … and refuses to go past
//! [`MAX_SEQUENCE`], so a nonce never repeats under a key. A side that lost its
//! sequence state must open a new session (a new session id, hence new keys)
//! instead of reusing the old one.
//!
//! A receiver accepts exactly the next sequence number: replayed, reordered,
//! truncated and forged frames are rejected with distinct errors and leave the
//! receiver's state unchanged. Sealing and opening work in place, without
//! allocation.
//!
//! A transport reads [`HEADER_LEN`] bytes, calls [`FrameHeader::parse`] to learn
//! [`FrameHeader::frame_len`], then reads the rest of the frame.

use core::fmt;

use crate::frame_cipher::{FrameCipher, Nonce};
use crate::stream::{frame_key, Direction};
use crate::{Error, Result};

/// Identifier of a session of a stream, chosen at random by its initiator.
pub type SessionId = [u8; 16];

/// Length of a frame header.
pub const HEADER_LEN: usize = 34;

/// Length of the GCM tag closing a frame.
pub const TAG_LEN: usize = 16;

/// Largest payload of one frame (16 MiB).
pub const MAX_PAYLOAD_LEN: usize = 1 << 24;

/// Largest sequence number (2^56 − 1): the nonce holds the low 7 bytes.
pub const MAX_SEQUENCE: u64 = (1 << 56) - 1;

const FRAME_VERSION: u8 = 1;

/// The authenticated header of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
	/// Direction of the frame.
	pub direction: Direction,
	/// Session of the frame.
	pub session_id: SessionId,
	/// Key epoch of the frame.
	pub epoch: u32,
	/// Sequence number of the frame in its session and direction.
	pub sequence: u64,
	/// Length of the payload.
	pub payload_len: u32,
}

/// Splits the first `N` bytes off `bytes`.
fn take<const N: usize>(bytes: &mut &[u8]) -> Result<[u8; N]> {
	let (head, rest) = bytes.split_first_chunk::<N>().ok_or(Error::FrameTruncated)?;
	*bytes = rest;
	Ok(*head)
}

impl FrameHeader {
	/// Parses the header at the start of `bytes` (further bytes are ignored).
	///
	/// # Errors
	///
	/// [`Error::FrameTruncated`] for fewer than [`HEADER_LEN`] bytes,
	/// [`Error::Malformed`] for an unknown version or direction,
	/// [`Error::FrameTooLarge`] for a payload length above [`MAX_PAYLOAD_LEN`].
	pub fn parse(mut bytes: &[u8]) -> Result<Self> {
		let [version, direction] = take(&mut bytes)?;
		let session_id = take(&mut bytes)?;
		let epoch = u32::from_be_bytes(take(&mut bytes)?);
		let sequence = u64::from_be_bytes(take(&mut bytes)?);
		let payload_len = u32::from_be_bytes(take(&mut bytes)?);
		if version != FRAME_VERSION {
			return Err(Error::Malformed);
		}
		if payload_len as usize > MAX_PAYLOAD_LEN {
			return Err(Error::FrameTooLarge { len: payload_len as usize });
		}
		Ok(Self {
			direction: Direction::try_from(direction)?,
			session_id,
			epoch,
			sequence,
			payload_len,
		})
	}

	/// The header's encoding.
	pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
		let mut out = [0u8; HEADER_LEN];
		out[0] = FRAME_VERSION;
		out[1] = self.direction as u8;
		out[2..18].copy_from_slice(&self.session_id);
		out[18..22].copy_from_slice(&self.epoch.to_be_bytes());
		out[22..30].copy_from_slice(&self.sequence.to_be_bytes());
		out[30..34].copy_from_slice(&self.payload_len.to_be_bytes());
		out
	}

	/// Length of the whole frame: header, payload and tag.
	pub fn frame_len(&self) -> usize {
		HEADER_LEN + self.payload_len as usize + TAG_LEN
	}

	fn nonce(&self) -> Nonce {
		let mut nonce = Nonce::default();
		nonce[0] = self.direction as u8;
		nonce[1..5].copy_from_slice(&self.epoch.to_be_bytes());
		nonce[5..12].copy_from_slice(&self.sequence.to_be_bytes()[1..]);
		nonce
	}
}

/// What a sender and a receiver of one (direction, session, epoch) share.
struct Channel {
	cipher: FrameCipher,
	direction: Direction,
	session_id: SessionId,
	epoch: u32,
	next_sequence: u64,
}

impl Channel {
	fn new(key: &[u8; 32], direction: Direction, session_id: SessionId, epoch: u32) -> Self {
		let key = frame_key(key, direction, &session_id, epoch);
		Self { cipher: FrameCipher::new(&key), direction, session_id, epoch, next_sequence: 0 }
	}

	fn fmt(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		f.debug_struct(name)
			.field("direction", &self.direction)
			.field("session_id", &self.session_id)
			.field("epoch", &self.epoch)
			.field("next_sequence", &self.next_sequence)
			.finish_non_exhaustive()
	}
}

/// Seals the frames of one direction of one session. The key schedule is
/// zeroized on drop; `Debug` does not show it.
pub struct FrameSender(Channel);

impl FrameSender {
	pub(crate) fn new(
		key: &[u8; 32],
		direction: Direction,
		session_id: SessionId,
		epoch: u32,
	) -> Self {
		Self(Channel::new(key, direction, session_id, epoch))
	}

	/// Sequence number of the next frame.
	pub fn next_sequence(&self) -> u64 {
		self.0.next_sequence
	}

	/// Seals the payload in `buf[HEADER_LEN..HEADER_LEN + payload_len]` in place:
	/// writes the header before it and the tag after it, and returns the frame
	/// length `HEADER_LEN + payload_len + TAG_LEN`; `buf[..frame length]` is the
	/// frame.
	///
	/// # Errors
	///
	/// [`Error::FrameTooLarge`], [`Error::BufferTooSmall`], or
	/// [`Error::SequenceExhausted`] once [`MAX_SEQUENCE`] frames were sent. On
	/// error nothing is sealed and the sequence number is not consumed.
	pub fn seal_in_place(&mut self, buf: &mut [u8], payload_len: usize) -> Result<usize> {
		let channel = &mut self.0;
		if payload_len > MAX_PAYLOAD_LEN {
			return Err(Error::FrameTooLarge { len: payload_len });
		}
		let header = FrameHeader {
			direction: channel.direction,
			session_id: channel.session_id,
			epoch: channel.epoch,
			sequence: channel.next_sequence,
			payload_len: payload_len as u32,
		};
		if header.sequence > MAX_SEQUENCE {
			return Err(Error::SequenceExhausted);
		}
		let frame_len = header.frame_len();
		let available = buf.len();
		let frame = buf
			.get_mut(..frame_len)
			.ok_or(Error::BufferTooSmall { needed: frame_len, available })?;
		let (head, rest) = frame.split_at_mut(HEADER_LEN);
		let (payload, tag) = rest.split_at_mut(payload_len);
		let aad = header.to_bytes();
		head.copy_from_slice(&aad);
		tag.copy_from_slice(&channel.cipher.seal(header.nonce(), &aad, payload)?);
		channel.next_sequence += 1;
		Ok(frame_len)
	}
}

impl fmt::Debug for FrameSender {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		self.0.fmt("FrameSender", f)
	}
}

/// Opens the frames of one direction of one session, in order. The key schedule
/// is zeroized on drop; `Debug` does not show it.
pub struct FrameReceiver(Channel);

impl FrameReceiver {
	pub(crate) fn new(
		key: &[u8; 32],
		direction: Direction,
		session_id: SessionId,
		epoch: u32,
	) -> Self {
		Self(Channel::new(key, direction, session_id, epoch))
	}

	/// Sequence number of the next frame accepted.
	pub fn next_sequence(&self) -> u64 {
		self.0.next_sequence
	}

	/// Authenticates and decrypts the frame that fills `frame` exactly, in place,
	/// and returns its payload (a sub-slice of `frame`).
	///
	/// # Errors
	///
	/// [`Error::FrameTruncated`] if `frame` is shorter than its header says,
	/// [`Error::Malformed`] if longer or if the header does not parse,
	/// [`Error::WrongContext`] for another direction, session or epoch,
	/// [`Error::FrameReplayed`] / [`Error::FrameOutOfOrder`] for a sequence number
	/// other than [`Self::next_sequence`], [`Error::FrameForged`] if
	/// authentication fails. On error the receiver's state is unchanged (the
	/// contents of `frame` are unspecified).
	pub fn open_in_place<'a>(&mut self, frame: &'a mut [u8]) -> Result<&'a [u8]> {
		let channel = &mut self.0;
		let header = FrameHeader::parse(frame)?;
		if (header.direction, header.session_id, header.epoch)
			!= (channel.direction, channel.session_id, channel.epoch)
		{
			return Err(Error::WrongContext);
		}
		let payload_len = header.payload_len as usize;
		let frame_len = header.frame_len();
		if frame.len() != frame_len {
			return Err(if frame.len() < frame_len {
				Error::FrameTruncated
			} else {
				Error::Malformed
			});
		}
		let (expected, got) = (channel.next_sequence, header.sequence);
		if got != expected {
			return Err(if got < expected {
				Error::FrameReplayed { expected, got }
			} else {
				Error::FrameOutOfOrder { expected, got }
			});
		}
		let (head, rest) = frame.split_at_mut(HEADER_LEN);
		let (payload, tag) = rest.split_at_mut(payload_len);
		let tag = <&[u8; TAG_LEN]>::try_from(&*tag).map_err(|_| Error::FrameTruncated)?;
		channel.cipher.open(header.nonce(), head, payload, tag)?;
		channel.next_sequence += 1;
		Ok(payload)
	}
}

impl fmt::Debug for FrameReceiver {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		self.0.fmt("FrameReceiver", f)
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	const KEY: [u8; 32] = [9; 32];
	const SESSION: SessionId = [3; 16];

	#[test]
	fn nonce_layout() {
		let header = FrameHeader {
			direction: Direction::ProviderToInitiator,
			session_id: SESSION,
			epoch: 0x0102_0304,
			sequence: 0x0005_0607_0809_0a0b,
			payload_len: 0,
		};
		assert_eq!(header.nonce().as_slice(), [1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
	}

	#[test]
	fn sender_refuses_to_wrap() {
		let direction = Direction::InitiatorToProvider;
		let mut sender = FrameSender::new(&KEY, direction, SESSION, 0);
		let mut receiver = FrameReceiver::new(&KEY, direction, SESSION, 0);
		sender.0.next_sequence = MAX_SEQUENCE;
		receiver.0.next_sequence = MAX_SEQUENCE;
		let mut buf = [0u8; HEADER_LEN + TAG_LEN];
		assert_eq!(sender.seal_in_place(&mut buf, 0), Ok(HEADER_LEN + TAG_LEN));
		assert_eq!(receiver.open_in_place(&mut buf), Ok(&[][..]));
		assert_eq!(sender.seal_in_place(&mut buf, 0), Err(Error::SequenceExhausted));
		assert_eq!(sender.next_sequence(), MAX_SEQUENCE + 1);
	}

	#[test]
	fn debug_hides_the_key() {
		let sender = FrameSender::new(&KEY, Direction::InitiatorToProvider, SESSION, 0);
		let shown = format!("{sender:?}");
		assert!(shown.starts_with("FrameSender {"), "{shown}");
		assert!(!shown.contains("cipher"), "{shown}");
	}
}
