//! Versioning and decoding of SCALE wire types.

use codec::{Decode, DecodeAll, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;

use crate::{Error, Result};

/// Version of a wire format: the first byte of every SCALE wire type.
///
/// Decoding a byte other than a known version fails, so a future format can be
/// introduced as a new variant with its own decoder.
#[derive(
	Clone,
	Copy,
	Debug,
	Default,
	PartialEq,
	Eq,
	Hash,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum WireVersion {
	/// Version 1, encoded as the byte `0x01`.
	#[default]
	#[codec(index = 1)]
	V1,
}

/// A SCALE wire type of keyorch.
pub trait WireFormat: Encode + Decode {
	/// Decodes a value that must fill `bytes` exactly.
	///
	/// Never panics; any failure — bad encoding, unknown version, out-of-range
	/// value, trailing bytes — is [`Error::Malformed`].
	fn decode_exact(bytes: &[u8]) -> Result<Self> {
		Self::decode_all(&mut &*bytes).map_err(|_| Error::Malformed)
	}
}
