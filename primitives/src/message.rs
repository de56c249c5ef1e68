//! Sealed messages: one AES-256-GCM message under a stream epoch's key, outside any session.
//!
//! What an application seals through its agent and the other party opens through its own,
//! each call standing alone (no sequence to keep, unlike [`crate::frame`]):
//!
//! ```text
//! offset  size  field
//!      0     1  version (1)
//!      1     1  direction (0 initiator→provider, 1 provider→initiator)
//!      2     4  epoch, big-endian
//!      6    12  nonce, random
//!     18     n  ciphertext
//!   18+n    16  tag
//! ```
//!
//! The key is `HKDF-Expand(key[direction], MESSAGE_KEY || epoch_le || direction)`, apart from
//! every frame key, so a random message nonce can never meet a frame's counter nonce under one
//! key. The associated data is the 18-byte header followed by the caller's associated data.
//! With random 96-bit nonces, at most [`MAX_MESSAGES_PER_KEY`] messages may be sealed under
//! one epoch's key (NIST SP 800-38D, 8.3); rotation gives the next epoch a new key.

use alloc::vec::Vec;

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::frame::{MAX_PAYLOAD_LEN, TAG_LEN};
use crate::frame_cipher::{FrameCipher, Nonce};
use crate::rng::expand_key;
use crate::stream::{Direction, StreamKeys};
use crate::{domain, Error, Result};

/// Version byte of a sealed message.
pub const MESSAGE_VERSION: u8 = 1;

/// Length of a sealed message's header.
pub const MESSAGE_HEADER_LEN: usize = 18;

/// Bytes a sealed message adds to its plaintext: header and tag.
pub const MESSAGE_OVERHEAD: usize = MESSAGE_HEADER_LEN + TAG_LEN;

/// Largest plaintext of one message (16 MiB, as a frame's).
pub const MAX_MESSAGE_LEN: usize = MAX_PAYLOAD_LEN;

/// Messages one epoch's key may seal with random nonces: 2^32.
pub const MAX_MESSAGES_PER_KEY: u64 = 1 << 32;

/// The header of a sealed message, read before its keys are known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageHeader {
	/// Who sealed it.
	pub direction: Direction,
	/// The epoch whose key sealed it.
	pub epoch: u32,
	/// The random GCM nonce.
	pub nonce: [u8; 12],
}

impl MessageHeader {
	/// Reads the header of `message`; [`Error::Malformed`] if it is too short for a header and
	/// a tag or of another version.
	pub fn parse(message: &[u8]) -> Result<Self> {
		if message.len() < MESSAGE_OVERHEAD || message[0] != MESSAGE_VERSION {
			return Err(Error::Malformed);
		}
		let direction = Direction::try_from(message[1])?;
		let mut epoch = [0u8; 4];
		epoch.copy_from_slice(&message[2..6]);
		let mut nonce = [0u8; 12];
		nonce.copy_from_slice(&message[6..MESSAGE_HEADER_LEN]);
		Ok(Self { direction, epoch: u32::from_be_bytes(epoch), nonce })
	}

	fn encode(&self) -> [u8; MESSAGE_HEADER_LEN] {
		let mut header = [0u8; MESSAGE_HEADER_LEN];
		header[0] = MESSAGE_VERSION;
		header[1] = self.direction as u8;
		header[2..6].copy_from_slice(&self.epoch.to_be_bytes());
		header[6..].copy_from_slice(&self.nonce);
		header
	}
}

/// The header followed by the caller's associated data.
fn associated_data(header: &[u8; MESSAGE_HEADER_LEN], aad: &[u8]) -> Vec<u8> {
	[&header[..], aad].concat()
}

impl StreamKeys {
	/// The message cipher of `direction`.
	fn message_cipher(&self, direction: Direction) -> FrameCipher {
		let prk = Hkdf::<Sha256>::from_prk(self.key(direction))
			.expect("a 32-byte key is a valid SHA-256 PRK");
		let epoch = self.context().epoch.to_le_bytes();
		let key = expand_key(&prk, &[domain::MESSAGE_KEY, &epoch, &[direction as u8]]);
		FrameCipher::new(&key)
	}

	/// Seals `plaintext` as a message of `direction` under these keys, with `nonce` (12 bytes
	/// from a CSPRNG, never reused) and the caller's associated data `aad`.
	pub fn seal_message(
		&self,
		direction: Direction,
		nonce: [u8; 12],
		aad: &[u8],
		plaintext: &[u8],
	) -> Result<Vec<u8>> {
		if plaintext.len() > MAX_MESSAGE_LEN {
			return Err(Error::FrameTooLarge { len: plaintext.len() });
		}
		let header = MessageHeader { direction, epoch: self.context().epoch, nonce }.encode();
		let mut message = Vec::with_capacity(plaintext.len() + MESSAGE_OVERHEAD);
		message.extend_from_slice(&header);
		message.extend_from_slice(plaintext);
		let tag = self.message_cipher(direction).seal(
			Nonce::from(nonce),
			&associated_data(&header, aad),
			&mut message[MESSAGE_HEADER_LEN..],
		)?;
		message.extend_from_slice(&tag);
		Ok(message)
	}

	/// Opens a message sealed by [`Self::seal_message`] in `direction` under these keys with
	/// associated data `aad`. [`Error::WrongContext`] if it was sealed in the other direction
	/// or under another epoch; [`Error::FrameForged`] if it fails authentication.
	pub fn open_message(
		&self,
		direction: Direction,
		aad: &[u8],
		message: &[u8],
	) -> Result<Zeroizing<Vec<u8>>> {
		let header = MessageHeader::parse(message)?;
		if header.direction != direction || header.epoch != self.context().epoch {
			return Err(Error::WrongContext);
		}
		let (sealed, tag) = message.split_at(message.len() - TAG_LEN);
		let mut tag_bytes = [0u8; TAG_LEN];
		tag_bytes.copy_from_slice(tag);
		let mut plaintext = Zeroizing::new(sealed[MESSAGE_HEADER_LEN..].to_vec());
		self.message_cipher(direction).open(
			header.nonce,
			&associated_data(&header.encode(), aad),
			&mut plaintext,
			&tag_bytes,
		)?;
		Ok(plaintext)
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::vss::DealContext;

	fn keys(epoch: u32, secret: u8) -> StreamKeys {
		StreamKeys::derive(&[secret; 32], &DealContext { stream_id: [3; 32], epoch }, &[])
	}

	const TO_PROVIDER: Direction = Direction::InitiatorToProvider;

	#[test]
	fn a_message_opens_with_the_same_keys_direction_and_associated_data() {
		let keys = keys(4, 9);
		let sealed = keys.seal_message(TO_PROVIDER, [1; 12], b"invoice 7", b"hello").unwrap();
		assert_eq!(sealed.len(), 5 + MESSAGE_OVERHEAD);
		let header = MessageHeader::parse(&sealed).unwrap();
		assert_eq!((header.direction, header.epoch, header.nonce), (TO_PROVIDER, 4, [1; 12]));
		assert_eq!(&keys.open_message(TO_PROVIDER, b"invoice 7", &sealed).unwrap()[..], b"hello");
		let empty = keys.seal_message(TO_PROVIDER, [2; 12], b"", b"").unwrap();
		assert!(keys.open_message(TO_PROVIDER, b"", &empty).unwrap().is_empty());
	}

	#[test]
	fn anything_else_is_refused() {
		let keys = keys(4, 9);
		let sealed = keys.seal_message(TO_PROVIDER, [1; 12], b"aad", b"hello").unwrap();
		let refused = |with: &StreamKeys, direction, aad: &[u8], message: &[u8]| {
			with.open_message(direction, aad, message).unwrap_err()
		};
		assert_eq!(refused(&keys, TO_PROVIDER, b"other", &sealed), Error::FrameForged);
		assert_eq!(refused(&self::keys(4, 8), TO_PROVIDER, b"aad", &sealed), Error::FrameForged);
		assert_eq!(refused(&self::keys(5, 9), TO_PROVIDER, b"aad", &sealed), Error::WrongContext);
		assert_eq!(
			refused(&keys, Direction::ProviderToInitiator, b"aad", &sealed),
			Error::WrongContext
		);
		for position in 0..sealed.len() {
			let mut flipped = sealed.clone();
			flipped[position] ^= 0x80;
			assert!(keys.open_message(TO_PROVIDER, b"aad", &flipped).is_err(), "byte {position}");
		}
		assert_eq!(
			refused(&keys, TO_PROVIDER, b"aad", &sealed[..MESSAGE_OVERHEAD - 1]),
			Error::Malformed
		);
	}

	#[test]
	fn each_direction_has_its_own_message_key() {
		let keys = keys(0, 9);
		let a = keys.seal_message(TO_PROVIDER, [0; 12], b"", b"same").unwrap();
		let b = keys.seal_message(Direction::ProviderToInitiator, [0; 12], b"", b"same").unwrap();
		assert_ne!(a[MESSAGE_HEADER_LEN..], b[MESSAGE_HEADER_LEN..]);
	}
}
