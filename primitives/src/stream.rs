//! Directional stream keys derived from a stream secret.
//!
//! ```text
//! prk    = HKDF-SHA256-Extract(salt = STREAM_KEY, ikm = secret || channel_binding)
//! key[d] = HKDF-Expand(prk, info = stream_id || epoch_le || d)     d = 0, 1
//! ```
//!
//! with `d` the [`Direction`]: each direction has its own key, so the two sides
//! never encrypt under the same key.

use core::fmt;

use hkdf::{Hkdf, HkdfExtract};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::frame::{FrameReceiver, FrameSender, SessionId};
use crate::rng::expand_key;
use crate::vss::DealContext;
use crate::{domain, Error};

/// Direction of traffic in a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Direction {
	/// From the initiator to the provider (byte `0`).
	InitiatorToProvider = 0,
	/// From the provider to the initiator (byte `1`).
	ProviderToInitiator = 1,
}

impl Direction {
	/// Both directions, in byte order.
	pub const ALL: [Direction; 2] = [Self::InitiatorToProvider, Self::ProviderToInitiator];
}

impl TryFrom<u8> for Direction {
	type Error = Error;

	fn try_from(byte: u8) -> Result<Self, Error> {
		Self::ALL.get(usize::from(byte)).copied().ok_or(Error::Malformed)
	}
}

/// The two AES-256 keys of one stream epoch, one per [`Direction`].
/// Zeroized on drop; `Debug` shows the context and the fingerprint only.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct StreamKeys {
	#[zeroize(skip)]
	context: DealContext,
	keys: [[u8; 32]; 2],
}

impl StreamKeys {
	pub(crate) fn derive(secret: &[u8; 32], context: &DealContext, channel_binding: &[u8]) -> Self {
		let mut extract = HkdfExtract::<Sha256>::new(Some(domain::STREAM_KEY));
		extract.input_ikm(secret);
		extract.input_ikm(channel_binding);
		let (_, prk) = extract.finalize();
		let epoch = context.epoch.to_le_bytes();
		let keys = Direction::ALL
			.map(|direction| *expand_key(&prk, &[&context.stream_id, &epoch, &[direction as u8]]));
		Self { context: *context, keys }
	}

	/// The stream and epoch of the keys.
	pub fn context(&self) -> &DealContext {
		&self.context
	}

	/// A public fingerprint of both keys, to print or compare instead of the keys:
	/// the first 8 bytes of `SHA-256(KEY_FINGERPRINT || key[0] || key[1])`.
	pub fn fingerprint(&self) -> KeyFingerprint {
		let digest = Sha256::new()
			.chain_update(domain::KEY_FINGERPRINT)
			.chain_update(self.keys[0])
			.chain_update(self.keys[1])
			.finalize();
		let mut fingerprint = [0u8; 8];
		fingerprint.copy_from_slice(&digest[..8]);
		KeyFingerprint(fingerprint)
	}

	/// A frame sender for `direction` in session `session_id`, starting at
	/// sequence 0.
	pub fn sender(&self, direction: Direction, session_id: SessionId) -> FrameSender {
		FrameSender::new(self.key(direction), direction, session_id, self.context.epoch)
	}

	/// A frame receiver for `direction` in session `session_id`, expecting
	/// sequence 0 first.
	pub fn receiver(&self, direction: Direction, session_id: SessionId) -> FrameReceiver {
		FrameReceiver::new(self.key(direction), direction, session_id, self.context.epoch)
	}

	/// Both keys, [`Direction::InitiatorToProvider`]'s first, for an application that was
	/// explicitly allowed to take them out of keyorch (an agent's key export).
	pub fn export(&self) -> Zeroizing<[[u8; 32]; 2]> {
		Zeroizing::new(self.keys)
	}

	pub(crate) fn key(&self, direction: Direction) -> &[u8; 32] {
		&self.keys[direction as usize]
	}
}

impl fmt::Debug for StreamKeys {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		f.debug_struct("StreamKeys")
			.field("context", &self.context)
			.field("fingerprint", &self.fingerprint())
			.finish()
	}
}

/// Public fingerprint of a pair of stream keys; `Display` is lowercase hex.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyFingerprint(pub [u8; 8]);

impl fmt::Display for KeyFingerprint {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
	}
}

/// Derives the frame key of one session from a directional key:
/// `HKDF-Expand(key, FRAME_KEY || session_id || epoch_le || direction)`.
pub(crate) fn frame_key(
	key: &[u8; 32],
	direction: Direction,
	session_id: &SessionId,
	epoch: u32,
) -> Zeroizing<[u8; 32]> {
	let prk = Hkdf::<Sha256>::from_prk(key).expect("a 32-byte key is a valid SHA-256 PRK");
	expand_key(&prk, &[domain::FRAME_KEY, session_id, &epoch.to_le_bytes(), &[direction as u8]])
}
