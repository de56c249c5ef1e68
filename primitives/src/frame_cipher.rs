//! The AES-256-GCM cipher of one frame channel.
//!
//! Two implementations of the same standard cipher, so frames are identical whichever seals
//! or opens them:
//!
//! - with the `ring` feature (std builds: the client and the node), ring's. Its assembly
//!   (AES-NI with an aggregated CLMUL/AVX GHASH) is several times faster than RustCrypto's on
//!   x86-64, and it is what rustls uses. ring keeps the AES key schedule and the GHASH key
//!   inline in its key and never wipes them, so the key lives in one heap allocation that is
//!   zeroized on drop (the only `unsafe` code of this crate).
//! - otherwise (no_std, the runtime), RustCrypto's `aes-gcm`, which zeroizes its own key
//!   schedule on drop.

use crate::frame::TAG_LEN;
use crate::{Error, Result};

/// A 96-bit GCM nonce.
pub(crate) type Nonce = [u8; 12];

#[cfg(feature = "ring")]
pub(crate) use ring_backend::FrameCipher;
#[cfg(not(feature = "ring"))]
pub(crate) use rust_crypto_backend::FrameCipher;

#[cfg(feature = "ring")]
#[allow(unsafe_code)]
mod ring_backend {
	use alloc::boxed::Box;
	use core::mem::MaybeUninit;

	use ring::aead::{Aad, LessSafeKey, Nonce as RingNonce, Tag, UnboundKey, AES_256_GCM};
	use zeroize::Zeroize;

	use super::{Error, Nonce, Result, TAG_LEN};

	/// ring's AES-256-GCM key in a heap allocation of its own (never moved after it is set
	/// up), zeroized on drop.
	pub(crate) struct FrameCipher(Box<MaybeUninit<LessSafeKey>>);

	impl FrameCipher {
		pub(crate) fn new(key: &[u8; 32]) -> Self {
			let key = UnboundKey::new(&AES_256_GCM, key)
				.expect("ring takes any 32-byte key for AES-256-GCM");
			Self(Box::new(MaybeUninit::new(LessSafeKey::new(key))))
		}

		fn key(&self) -> &LessSafeKey {
			// SAFETY: initialized in `new`, and only uninitialized again by `drop`.
			unsafe { self.0.assume_init_ref() }
		}

		/// Encrypts `payload` in place; returns the tag.
		pub(crate) fn seal(
			&self,
			nonce: Nonce,
			aad: &[u8],
			payload: &mut [u8],
		) -> Result<[u8; TAG_LEN]> {
			let nonce = RingNonce::assume_unique_for_key(nonce);
			let tag = self
				.key()
				.seal_in_place_separate_tag(nonce, Aad::from(aad), payload)
				.map_err(|_| Error::FrameTooLarge { len: payload.len() })?;
			let mut out = [0u8; TAG_LEN];
			out.copy_from_slice(tag.as_ref());
			Ok(out)
		}

		/// Authenticates and decrypts `payload` in place.
		pub(crate) fn open(
			&self,
			nonce: Nonce,
			aad: &[u8],
			payload: &mut [u8],
			tag: &[u8; TAG_LEN],
		) -> Result<()> {
			let nonce = RingNonce::assume_unique_for_key(nonce);
			self.key()
				.open_in_place_separate_tag(nonce, Aad::from(aad), Tag::from(*tag), payload, 0..)
				.map(drop)
				.map_err(|_| Error::FrameForged)
		}
	}

	impl Drop for FrameCipher {
		fn drop(&mut self) {
			// SAFETY: initialized in `new`; it is not used after this.
			unsafe { self.0.assume_init_drop() };
			(*self.0).zeroize();
		}
	}
}

#[cfg(not(feature = "ring"))]
mod rust_crypto_backend {
	use aes_gcm::aead::{AeadInPlace, KeyInit};
	use aes_gcm::{Aes256Gcm, Tag};

	use super::{Error, Nonce, Result, TAG_LEN};

	/// RustCrypto's AES-256-GCM (its `zeroize` feature wipes the key schedule on drop).
	pub(crate) struct FrameCipher(Aes256Gcm);

	impl FrameCipher {
		pub(crate) fn new(key: &[u8; 32]) -> Self {
			Self(Aes256Gcm::new(key.into()))
		}

		/// Encrypts `payload` in place; returns the tag.
		pub(crate) fn seal(
			&self,
			nonce: Nonce,
			aad: &[u8],
			payload: &mut [u8],
		) -> Result<[u8; TAG_LEN]> {
			self.0
				.encrypt_in_place_detached(&nonce.into(), aad, payload)
				.map(Into::into)
				.map_err(|_| Error::FrameTooLarge { len: payload.len() })
		}

		/// Authenticates and decrypts `payload` in place.
		pub(crate) fn open(
			&self,
			nonce: Nonce,
			aad: &[u8],
			payload: &mut [u8],
			tag: &[u8; TAG_LEN],
		) -> Result<()> {
			self.0
				.decrypt_in_place_detached(&nonce.into(), aad, payload, Tag::from_slice(tag))
				.map_err(|_| Error::FrameForged)
		}
	}
}

#[cfg(all(test, feature = "ring"))]
mod tests {
	use aes_gcm::aead::{AeadInPlace, KeyInit};
	use aes_gcm::{Aes256Gcm, Tag};

	use super::*;

	/// ring's frames are RustCrypto's, byte for byte, and each opens the other's: a node or
	/// client built either way talks to any other.
	#[test]
	fn ring_and_rust_crypto_seal_the_same_bytes() {
		let (key, nonce, aad) = ([0x11u8; 32], [0x22u8; 12], [0x33u8; 34]);
		for len in [0usize, 1, 15, 16, 17, 255, 4096, 65_537] {
			let plaintext: alloc::vec::Vec<u8> = (0..len).map(|i| i as u8).collect();
			let reference = Aes256Gcm::new((&key).into());

			let mut by_ring = plaintext.clone();
			let ring_tag = FrameCipher::new(&key).seal(nonce, &aad, &mut by_ring).unwrap();
			let mut by_rust_crypto = plaintext.clone();
			let rust_crypto_tag = reference
				.encrypt_in_place_detached(&nonce.into(), &aad, &mut by_rust_crypto)
				.unwrap();
			assert_eq!((&by_ring, &ring_tag[..]), (&by_rust_crypto, &rust_crypto_tag[..]));

			reference
				.decrypt_in_place_detached(
					&nonce.into(),
					&aad,
					&mut by_ring,
					Tag::from_slice(&ring_tag),
				)
				.unwrap();
			FrameCipher::new(&key)
				.open(nonce, &aad, &mut by_rust_crypto, &rust_crypto_tag.into())
				.unwrap();
			assert_eq!((by_ring, by_rust_crypto), (plaintext.clone(), plaintext));
		}
	}

	#[test]
	fn ring_refuses_a_flipped_bit_anywhere() {
		let cipher = FrameCipher::new(&[7; 32]);
		let mut payload = [5u8; 40];
		let tag = cipher.seal([1; 12], b"header", &mut payload).unwrap();
		for bit in 0..(payload.len() + TAG_LEN) * 8 {
			let (mut payload, mut tag) = (payload, tag);
			let (byte, mask) = (bit / 8, 1u8 << (bit % 8));
			match byte.checked_sub(payload.len()) {
				None => payload[byte] ^= mask,
				Some(in_tag) => tag[in_tag] ^= mask,
			}
			assert_eq!(
				cipher.open([1; 12], b"header", &mut payload, &tag),
				Err(Error::FrameForged)
			);
		}
	}
}
