//! An sr25519 account key that signs transactions.

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
	fn a_bad_uri_is_a_typed_error() {
		assert!(matches!(Signer::from_uri("not a seed at all //"), Err(Error::BadSecretUri)));
	}
}
