//! Sealing a 32-byte secret to an X25519 public key (ECIES-style).
//!
//! `seal` draws an ephemeral X25519 secret, agrees a shared secret with the
//! recipient's key, rejects it if it is non-contributory, and derives a one-time
//! AES-256-GCM key:
//!
//! ```text
//! key = HKDF-SHA256(salt = label, ikm = X25519(e, R)).expand(info = E || R)
//! aad = SCALE(label, E, R, binding)
//! ct  = AES-256-GCM(key, nonce = 0^96, aad, plaintext)       (32 + 16 bytes)
//! ```
//!
//! with `E` the ephemeral and `R` the recipient public key. The key is used for
//! exactly one message (a fresh ephemeral secret per seal), so the fixed nonce
//! never repeats under a key. `label` separates the purposes (dealt share,
//! released share) and `binding` is the context a ciphertext belongs to (stream,
//! epoch, holder, request); opening with any other label, binding, recipient or
//! ephemeral key fails authentication.

use aes_gcm::aead::{AeadInPlace, KeyInit, Nonce};
use aes_gcm::{Aes256Gcm, Tag};
use codec::Encode;
use hkdf::Hkdf;
use rand_core::{CryptoRng, RngCore};
use x25519_dalek::{EphemeralSecret, PublicKey, SharedSecret};
use zeroize::Zeroizing;

use crate::keys::{EncryptionPublicKey, EncryptionSecret};
use crate::rng::expand_key;
use crate::{Error, Result};

/// Length of a sealed 32-byte secret: ciphertext and 16-byte GCM tag.
pub(crate) const SEALED_LEN: usize = 32 + 16;

/// A sealed 32-byte secret: ciphertext followed by the GCM tag.
pub(crate) type Sealed = [u8; SEALED_LEN];

/// The cipher and associated data of one sealed message.
fn cipher_and_aad(
	shared: &SharedSecret,
	label: &[u8],
	ephemeral: &EncryptionPublicKey,
	recipient: &EncryptionPublicKey,
	binding: &impl Encode,
) -> Result<(Aes256Gcm, alloc::vec::Vec<u8>)> {
	if !shared.was_contributory() {
		return Err(Error::NonContributory);
	}
	let prk = Hkdf::new(Some(label), shared.as_bytes());
	let key = expand_key(&prk, &[&ephemeral.0, &recipient.0]);
	let cipher = Aes256Gcm::new(key.as_ref().into());
	let aad = (label, ephemeral, recipient, binding).encode();
	Ok((cipher, aad))
}

/// Seals `plaintext` to `recipient`; returns the ephemeral public key and the
/// sealed bytes.
///
/// Fails with [`Error::NonContributory`] if `recipient` is of low order.
pub(crate) fn seal(
	rng: &mut (impl RngCore + CryptoRng),
	recipient: &EncryptionPublicKey,
	label: &[u8],
	binding: &impl Encode,
	plaintext: &[u8; 32],
) -> Result<(EncryptionPublicKey, Sealed)> {
	let ephemeral_secret = EphemeralSecret::random_from_rng(rng);
	let ephemeral = EncryptionPublicKey::from(PublicKey::from(&ephemeral_secret));
	let shared = ephemeral_secret.diffie_hellman(&recipient.to_dalek());
	let (cipher, aad) = cipher_and_aad(&shared, label, &ephemeral, recipient, binding)?;

	let mut sealed = [0u8; SEALED_LEN];
	let (body, tag) = sealed.split_at_mut(32);
	body.copy_from_slice(plaintext);
	let computed = cipher
		.encrypt_in_place_detached(&Nonce::<Aes256Gcm>::default(), &aad, body)
		.expect("32 bytes are within the AES-GCM message length limit");
	tag.copy_from_slice(&computed);
	Ok((ephemeral, sealed))
}

/// Opens what [`seal`] sealed to `recipient`'s key under `label` and `binding`.
pub(crate) fn open(
	recipient: &EncryptionSecret,
	ephemeral: &EncryptionPublicKey,
	label: &[u8],
	binding: &impl Encode,
	sealed: &Sealed,
) -> Result<Zeroizing<[u8; 32]>> {
	let shared = recipient.as_dalek().diffie_hellman(&ephemeral.to_dalek());
	let (cipher, aad) =
		cipher_and_aad(&shared, label, ephemeral, &recipient.public_key(), binding)?;

	let (body, tag) = sealed.split_at(32);
	let mut plaintext = Zeroizing::new([0u8; 32]);
	plaintext.copy_from_slice(body);
	cipher
		.decrypt_in_place_detached(
			&Nonce::<Aes256Gcm>::default(),
			&aad,
			plaintext.as_mut(),
			Tag::from_slice(tag),
		)
		.map_err(|_| Error::DecryptionFailed)?;
	Ok(plaintext)
}
