//! X25519 encryption keys of share holders.
//!
//! Every participant registers an [`EncryptionPublicKey`] on chain, separate from
//! its sr25519 account key; shares are sealed to it.

use core::fmt;

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::ZeroizeOnDrop;

use crate::{Error, Result};

/// An X25519 public key (Montgomery u-coordinate, 32 bytes little-endian).
#[derive(
	Clone,
	Copy,
	Debug,
	PartialEq,
	Eq,
	PartialOrd,
	Ord,
	Hash,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct EncryptionPublicKey(pub [u8; 32]);

impl EncryptionPublicKey {
	/// Rejects low-order keys — the all-zero key and every point of the 8-torsion
	/// of the curve or the 4-torsion of its twist, in any encoding — with which a
	/// key agreement would not depend on the other party's secret.
	///
	/// The pallet calls this when a key is registered. It is exactly the set of
	/// keys [`crate::deal`] rejects: a clamped scalar is a multiple of the
	/// cofactor, so it maps a point to zero iff the point is of low order.
	pub fn validate(&self) -> Result<()> {
		// Any clamped scalar works; the all-zero input clamps to 2^254.
		let probe = x25519_dalek::x25519([0u8; 32], self.0);
		if probe == [0u8; 32] {
			Err(Error::InvalidEncryptionKey)
		} else {
			Ok(())
		}
	}

	pub(crate) fn to_dalek(self) -> PublicKey {
		PublicKey::from(self.0)
	}
}

impl From<PublicKey> for EncryptionPublicKey {
	fn from(key: PublicKey) -> Self {
		Self(key.to_bytes())
	}
}

/// An X25519 secret key. Zeroized on drop; `Debug` prints a redaction.
#[derive(Clone, ZeroizeOnDrop)]
pub struct EncryptionSecret(StaticSecret);

impl EncryptionSecret {
	/// The secret with these 32 bytes (clamped as X25519 requires).
	///
	/// Fill `bytes` from a CSPRNG and zeroize your copy after the call.
	pub fn from_bytes(bytes: [u8; 32]) -> Self {
		Self(StaticSecret::from(bytes))
	}

	/// The matching public key, to register on chain.
	pub fn public_key(&self) -> EncryptionPublicKey {
		PublicKey::from(&self.0).into()
	}

	pub(crate) fn as_dalek(&self) -> &StaticSecret {
		&self.0
	}
}

impl fmt::Debug for EncryptionSecret {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		f.write_str("EncryptionSecret(<redacted>)")
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn low_order_keys_are_rejected() {
		// u = 0, u = 1 and u = p - 1 (order 1, 4 and 2 on curve or twist), and
		// the order-8 point 0xe0eb...
		let mut p_minus_1 = [0xffu8; 32];
		p_minus_1[0] = 0xec;
		p_minus_1[31] = 0x7f;
		let order_8 = [
			0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f,
			0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16,
			0x5f, 0x49, 0xb8, 0x00,
		];
		let mut one = [0u8; 32];
		one[0] = 1;
		for bytes in [[0u8; 32], one, p_minus_1, order_8] {
			assert_eq!(EncryptionPublicKey(bytes).validate(), Err(Error::InvalidEncryptionKey));
		}
		let key = EncryptionSecret::from_bytes([7; 32]).public_key();
		assert_eq!(key.validate(), Ok(()));
	}

	#[test]
	fn debug_redacts_secret() {
		let secret = EncryptionSecret::from_bytes([0xab; 32]);
		let shown = format!("{secret:?}");
		assert_eq!(shown, "EncryptionSecret(<redacted>)");
	}
}
