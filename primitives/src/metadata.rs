//! Stream metadata: what `request_stream` puts on chain.

use bounded_collections::{BoundedVec, ConstU32};
use codec::{Decode, DecodeWithMemTracking, Encode, Input, MaxEncodedLen};
use scale_info::TypeInfo;

use crate::vss::check_sizes;
use crate::wire::{WireFormat, WireVersion};
use crate::{AccountId, MetadataError, Result};

/// Longest data type description, in bytes.
pub const MAX_DATA_TYPE_LEN: u32 = 64;

/// What the provider may do with the stream, as bit flags.
///
/// Decoding rejects unknown bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Encode, TypeInfo, MaxEncodedLen)]
pub struct Permissions(u8);

impl Permissions {
	/// No permission.
	pub const NONE: Self = Self(0);
	/// The provider may read the stream.
	pub const READ: Self = Self(1);
	/// The provider may write to the stream.
	pub const WRITE: Self = Self(1 << 1);
	/// Every defined bit.
	pub const ALL: Self = Self(Self::READ.0 | Self::WRITE.0);

	/// The permissions with these bits, or `None` if a bit is undefined.
	pub const fn from_bits(bits: u8) -> Option<Self> {
		if bits & !Self::ALL.0 == 0 {
			Some(Self(bits))
		} else {
			None
		}
	}

	/// The bits.
	pub const fn bits(self) -> u8 {
		self.0
	}

	/// Whether every permission of `other` is granted.
	pub const fn contains(self, other: Self) -> bool {
		self.0 & other.0 == other.0
	}

	/// The permissions of both.
	pub const fn union(self, other: Self) -> Self {
		Self(self.0 | other.0)
	}

	/// Whether no permission is granted.
	pub const fn is_empty(self) -> bool {
		self.0 == 0
	}
}

impl Decode for Permissions {
	fn decode<I: Input>(input: &mut I) -> Result<Self, codec::Error> {
		Self::from_bits(u8::decode(input)?).ok_or_else(|| "unknown permission bits".into())
	}
}

impl DecodeWithMemTracking for Permissions {}

/// When a stream is re-dealt under a new epoch; `None` disables a trigger.
#[derive(
	Clone,
	Copy,
	Debug,
	Default,
	PartialEq,
	Eq,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct RotationPolicy {
	/// Rotate every this many blocks.
	pub every_blocks: Option<u32>,
	/// Rotate after either party reports this many bytes of traffic.
	pub every_bytes: Option<u64>,
}

/// Metadata of a stream request. Holds no key material.
#[derive(
	Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
pub struct StreamMetadata {
	/// Format version.
	pub version: WireVersion,
	/// Application-defined type of the data (e.g. a MIME type).
	pub data_type: BoundedVec<u8, ConstU32<MAX_DATA_TYPE_LEN>>,
	/// What the provider may do.
	pub permissions: Permissions,
	/// Lifetime of the stream, in blocks.
	pub duration_blocks: u32,
	/// The provider's account.
	pub provider: AccountId,
	/// Number of witnesses holding a share.
	pub witness_count: u8,
	/// Shares needed to rebuild the key.
	pub threshold: u8,
	/// Key rotation policy.
	pub rotation: RotationPolicy,
}

impl WireFormat for StreamMetadata {}

impl StreamMetadata {
	/// Number of share holders: initiator, provider and the witnesses.
	pub fn holder_count(&self) -> usize {
		2 + usize::from(self.witness_count)
	}

	/// Checks that the request can be dealt: `MIN_THRESHOLD <= threshold <=
	/// holders <= MAX_HOLDERS`, a non-zero duration, at least one permission, and
	/// non-zero rotation intervals.
	pub fn validate(&self) -> Result<()> {
		check_sizes(usize::from(self.threshold), self.holder_count())?;
		if self.duration_blocks == 0 {
			return Err(MetadataError::ZeroDuration.into());
		}
		if self.permissions.is_empty() {
			return Err(MetadataError::NoPermissions.into());
		}
		if self.rotation.every_blocks == Some(0) || self.rotation.every_bytes == Some(0) {
			return Err(MetadataError::ZeroRotationInterval.into());
		}
		Ok(())
	}
}
