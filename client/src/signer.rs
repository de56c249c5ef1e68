//! An sr25519 account key that signs transactions.

use keyorch_primitives::{DealContext, ReleaseTerms, ShareReleaseRequest};
use rand::RngCore;
use sp_core::{crypto::Pair as _, sr25519};
use sp_runtime::traits::IdentifyAccount;

use crate::{AccountId, Error};

/// An sr25519 account key. Its secret never leaves this value and is not shown by `Debug`.
#[derive(Clone)]
pub struct Signer {
	pair: sr25519::Pair,
}

impl Signer {
	/// A key from a secret URI: a dev seed such as `//Alice`, a mnemonic with optional
	/// derivation path, or a `0x` seed.
	pub fn from_uri(uri: &str) -> Result<Self, Error> {
		sr25519::Pair::from_string(uri, None)
			.map(|pair| Self { pair })
			.map_err(|_| Error::BadSecretUri)
	}

	/// A key from an sr25519 key pair.
	pub fn from_pair(pair: sr25519::Pair) -> Self {
		Self { pair }
	}

	/// The account this key controls.
	pub fn account_id(&self) -> AccountId {
		sp_runtime::MultiSigner::from(self.pair.public()).into_account()
	}

	/// An sr25519 signature over `message`.
	pub fn sign(&self, message: &[u8]) -> sr25519::Signature {
		self.pair.sign(message)
	}

	/// A request, signed by this account, for `witness` to release its share of `context`
	/// (stream and epoch), valid up to block `expires_at`, with a fresh random nonce.
	pub fn release_request(
		&self,
		context: &DealContext,
		witness: &AccountId,
		expires_at: u32,
	) -> ShareReleaseRequest {
		let mut nonce = [0u8; 32];
		rand::rngs::OsRng.fill_bytes(&mut nonce);
		let terms = ReleaseTerms {
			stream_id: context.stream_id,
			epoch: context.epoch,
			witness: *witness.as_ref(),
			requester: *self.account_id().as_ref(),
			nonce,
			expires_at,
		};
		let signature = self.sign(&terms.signing_payload());
		terms.with_signature(signature.0)
	}
}

impl core::fmt::Debug for Signer {
	fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
		f.debug_struct("Signer").field("account", &self.account_id()).finish_non_exhaustive()
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn dev_seed_gives_the_well_known_account_and_debug_hides_the_secret() {
		let alice = Signer::from_uri("//Alice").unwrap();
		assert_eq!(alice.account_id(), sp_keyring::Sr25519Keyring::Alice.to_account_id());
		let shown = format!("{alice:?}");
		assert!(shown.contains("account"));
		assert!(!shown.contains("secret"));
	}

	#[test]
	fn a_release_request_verifies_as_the_witness_checks_it() {
		let bob = Signer::from_uri("//Bob").unwrap();
		let witness = sp_keyring::Sr25519Keyring::Dave.to_account_id();
		let context = DealContext { stream_id: [7; 32], epoch: 3 };
		let request = bob.release_request(&context, &witness, 120);
		assert_eq!(request.terms.requester, <[u8; 32]>::from(bob.account_id()));
		assert_eq!(request.terms.context(), context);
		request.check(witness.as_ref(), 120).expect("valid until its expiry block");
		assert!(request.check(witness.as_ref(), 121).is_err(), "expired after it");
		let other = sp_keyring::Sr25519Keyring::Eve.to_account_id();
		assert!(request.check(other.as_ref(), 100).is_err(), "addressed to Dave only");

		// Every request has its own nonce, and a tampered one fails the signature check.
		let again = bob.release_request(&context, &witness, 120);
		assert_ne!(again.terms.nonce, request.terms.nonce);
		let mut tampered = request.clone();
		tampered.terms.epoch = 4;
		assert!(tampered.verify_signature().is_err());
	}

	#[test]
	fn a_bad_uri_is_a_typed_error() {
		assert!(matches!(Signer::from_uri("not a seed at all //"), Err(Error::BadSecretUri)));
	}
}
