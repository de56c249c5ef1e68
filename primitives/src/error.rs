//! The crate's error type.

use core::fmt;

use crate::HolderIndex;

/// Result type of this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Everything that can go wrong in keyorch's primitives.
///
/// No variant carries secret material; every variant can be logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
	/// The threshold is not in `MIN_THRESHOLD..=holders`.
	ThresholdOutOfRange {
		/// Requested threshold.
		threshold: usize,
		/// Number of holders.
		holders: usize,
	},
	/// More holders than [`crate::MAX_HOLDERS`].
	TooManyHolders {
		/// Requested number of holders.
		holders: usize,
	},
	/// Two holders share one encryption key.
	DuplicateHolderKey {
		/// Index of the first holder with that key.
		first: HolderIndex,
		/// Index of the second holder with that key.
		second: HolderIndex,
	},
	/// The X25519 key of this holder is of low order (including all-zero) and
	/// would not contribute to a key agreement.
	InvalidHolderKey(HolderIndex),
	/// An X25519 public key is of low order (including all-zero).
	InvalidEncryptionKey,
	/// A key agreement gave a non-contributory (all-zero) shared secret.
	NonContributory,
	/// A holder index of 0 (index 0 is the secret itself).
	InvalidHolderIndex,
	/// Fewer shares than the threshold.
	NotEnoughShares {
		/// Shares supplied.
		have: usize,
		/// Threshold.
		need: usize,
	},
	/// Two shares with the same holder index.
	DuplicateShare(HolderIndex),
	/// The share of this holder does not match the commitments.
	ShareVerificationFailed(HolderIndex),
	/// The interpolated secret does not match the commitment to the secret.
	SecretMismatch,
	/// A commitment element is not a canonical, non-identity Ristretto point.
	InvalidCommitment {
		/// Position of the element in the commitments.
		position: usize,
	},
	/// The number of commitment elements is outside `MIN_THRESHOLD..=MAX_HOLDERS`.
	CommitmentCountOutOfRange {
		/// Number of elements.
		count: usize,
	},
	/// A record, share, request or frame belongs to another stream, epoch,
	/// holder, session or direction than expected.
	WrongContext,
	/// AEAD decryption of a sealed share failed: wrong recipient or tampered data.
	DecryptionFailed,
	/// Bytes that do not decode (bad SCALE, unknown version, wrong length or
	/// value out of range).
	Malformed,
	/// Stream metadata is inconsistent.
	InvalidMetadata(MetadataError),
	/// An sr25519 signature (or its public key) is invalid.
	BadSignature,
	/// The keypair given to sign a request is not the request's requester.
	SignerMismatch,
	/// A request is past its expiry block.
	Expired {
		/// Last block at which the request is valid.
		expires_at: u32,
		/// Current block.
		now: u32,
	},
	/// A buffer is too small for the frame to be written.
	BufferTooSmall {
		/// Bytes needed.
		needed: usize,
		/// Bytes available.
		available: usize,
	},
	/// A frame payload is larger than [`crate::frame::MAX_PAYLOAD_LEN`].
	FrameTooLarge {
		/// Payload length.
		len: usize,
	},
	/// A frame is shorter than its header says.
	FrameTruncated,
	/// A frame failed authentication.
	FrameForged,
	/// A frame's sequence number was already received.
	FrameReplayed {
		/// Next sequence number the receiver accepts.
		expected: u64,
		/// Sequence number of the frame.
		got: u64,
	},
	/// A frame arrived ahead of the next expected sequence number.
	FrameOutOfOrder {
		/// Next sequence number the receiver accepts.
		expected: u64,
		/// Sequence number of the frame.
		got: u64,
	},
	/// The sender used every sequence number of its session; start a new session.
	SequenceExhausted,
}

/// Why stream metadata is inconsistent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetadataError {
	/// The duration is zero blocks.
	ZeroDuration,
	/// Neither read nor write permission is granted.
	NoPermissions,
	/// A rotation interval of zero blocks or zero bytes.
	ZeroRotationInterval,
}

impl fmt::Display for MetadataError {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		f.write_str(match self {
			Self::ZeroDuration => "duration is zero blocks",
			Self::NoPermissions => "no permission granted",
			Self::ZeroRotationInterval => "rotation interval is zero",
		})
	}
}

impl fmt::Display for Error {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		match self {
			Self::ThresholdOutOfRange { threshold, holders } => write!(
				f,
				"threshold {threshold} out of range for {holders} holders (need {} <= t <= n)",
				crate::MIN_THRESHOLD
			),
			Self::TooManyHolders { holders } => {
				write!(f, "{holders} holders, at most {} allowed", crate::MAX_HOLDERS)
			},
			Self::DuplicateHolderKey { first, second } => {
				write!(f, "holders {first} and {second} have the same encryption key")
			},
			Self::InvalidHolderKey(index) => {
				write!(f, "encryption key of holder {index} is of low order")
			},
			Self::InvalidEncryptionKey => f.write_str("encryption key is of low order"),
			Self::NonContributory => f.write_str("key agreement was not contributory"),
			Self::InvalidHolderIndex => f.write_str("holder index 0 is not a holder"),
			Self::NotEnoughShares { have, need } => {
				write!(f, "{have} shares, threshold is {need}")
			},
			Self::DuplicateShare(index) => write!(f, "two shares of holder {index}"),
			Self::ShareVerificationFailed(index) => {
				write!(f, "share of holder {index} does not match the commitments")
			},
			Self::SecretMismatch => {
				f.write_str("rebuilt secret does not match the commitment to the secret")
			},
			Self::InvalidCommitment { position } => {
				write!(f, "commitment element {position} is not a valid Ristretto point")
			},
			Self::CommitmentCountOutOfRange { count } => write!(
				f,
				"{count} commitment elements, expected {}..={}",
				crate::MIN_THRESHOLD,
				crate::MAX_HOLDERS
			),
			Self::WrongContext => {
				f.write_str("stream, epoch, holder, session or direction does not match")
			},
			Self::DecryptionFailed => f.write_str("sealed share does not decrypt"),
			Self::Malformed => f.write_str("malformed or unsupported encoding"),
			Self::InvalidMetadata(why) => write!(f, "invalid stream metadata: {why}"),
			Self::BadSignature => f.write_str("bad sr25519 signature"),
			Self::SignerMismatch => f.write_str("signing key is not the requester's"),
			Self::Expired { expires_at, now } => {
				write!(f, "request expired at block {expires_at}, now {now}")
			},
			Self::BufferTooSmall { needed, available } => {
				write!(f, "buffer of {available} bytes, frame needs {needed}")
			},
			Self::FrameTooLarge { len } => {
				write!(f, "frame payload of {len} bytes exceeds {}", crate::frame::MAX_PAYLOAD_LEN)
			},
			Self::FrameTruncated => f.write_str("frame truncated"),
			Self::FrameForged => f.write_str("frame failed authentication"),
			Self::FrameReplayed { expected, got } => {
				write!(f, "frame {got} replayed, expected {expected}")
			},
			Self::FrameOutOfOrder { expected, got } => {
				write!(f, "frame {got} out of order, expected {expected}")
			},
			Self::SequenceExhausted => f.write_str("frame sequence numbers exhausted"),
		}
	}
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

#[cfg(feature = "std")]
impl std::error::Error for MetadataError {}

impl From<MetadataError> for Error {
	fn from(why: MetadataError) -> Self {
		Self::InvalidMetadata(why)
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn messages_say_what_failed() {
		let cases = [
			(
				Error::ThresholdOutOfRange { threshold: 5, holders: 3 },
				"threshold 5 out of range for 3 holders (need 2 <= t <= n)",
			),
			(Error::NotEnoughShares { have: 1, need: 2 }, "1 shares, threshold is 2"),
			(Error::ShareVerificationFailed(4), "share of holder 4 does not match the commitments"),
			(Error::FrameReplayed { expected: 9, got: 3 }, "frame 3 replayed, expected 9"),
			(
				MetadataError::ZeroDuration.into(),
				"invalid stream metadata: duration is zero blocks",
			),
		];
		for (error, message) in cases {
			assert_eq!(error.to_string(), message);
		}
	}
}
