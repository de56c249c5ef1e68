//! An application's keyorch identity: the sr25519 account key that signs its transactions and
//! share requests, and the X25519 key its shares are sealed to. Both live in one key file,
//! readable by its owner only.

use std::{
	io::Write,
	os::unix::fs::{OpenOptionsExt, PermissionsExt},
	path::Path,
};

use keyorch_primitives::{EncryptionPublicKey, EncryptionSecret};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sp_core::{crypto::Pair as _, sr25519};
use zeroize::{Zeroize, Zeroizing};

use crate::{Error, Signer};

/// Version of the key-file format.
const KEY_FILE_VERSION: u32 = 1;

/// The key file, as JSON. Its secrets are hex strings, zeroized when dropped.
#[derive(Serialize, Deserialize)]
struct KeyFile {
	version: u32,
	account_seed: String,
	encryption_secret: String,
}

impl Drop for KeyFile {
	fn drop(&mut self) {
		self.account_seed.zeroize();
		self.encryption_secret.zeroize();
	}
}

/// An sr25519 account key and an X25519 encryption key. Secrets are zeroized on drop and never
/// shown by `Debug`. A clone zeroizes its own copy when dropped.
#[derive(Clone)]
pub struct Identity {
	signer: Signer,
	encryption: EncryptionSecret,
	/// The seeds of both keys, kept to write the key file (the account seed is all zero when
	/// the account key came from elsewhere).
	account_seed: Zeroizing<[u8; 32]>,
	encryption_seed: Zeroizing<[u8; 32]>,
}

fn random_32() -> Zeroizing<[u8; 32]> {
	let mut bytes = Zeroizing::new([0u8; 32]);
	rand::rngs::OsRng.fill_bytes(bytes.as_mut());
	bytes
}

fn key_file_error(path: &Path, reason: impl Into<String>) -> Error {
	Error::KeyFile { path: path.display().to_string(), reason: reason.into() }
}

/// 32 secret bytes from `0x`-prefixed hex.
fn decode_hex_32(text: &str) -> Option<Zeroizing<[u8; 32]>> {
	let bytes = Zeroizing::new(sp_core::bytes::from_hex(text).ok()?);
	if bytes.len() != 32 {
		return None;
	}
	let mut out = Zeroizing::new([0u8; 32]);
	out.copy_from_slice(&bytes);
	Some(out)
}

fn encode_hex(bytes: &[u8]) -> String {
	sp_core::bytes::to_hex(bytes, false)
}

impl Identity {
	/// A new identity from OS randomness.
	pub fn generate() -> Self {
		Self::from_seeds(random_32(), random_32())
	}

	fn from_seeds(account_seed: Zeroizing<[u8; 32]>, encryption_seed: Zeroizing<[u8; 32]>) -> Self {
		let pair = sr25519::Pair::from_seed(&account_seed);
		Self {
			signer: Signer::from_pair(pair),
			encryption: EncryptionSecret::from_bytes(*encryption_seed),
			account_seed,
			encryption_seed,
		}
	}

	/// `signer`'s account with a new X25519 key from OS randomness. It has no key file (the
	/// account key is not a seed); use it for accounts whose keys live elsewhere.
	pub fn with_new_encryption_key(signer: Signer) -> Self {
		let encryption_seed = random_32();
		Self {
			signer,
			encryption: EncryptionSecret::from_bytes(*encryption_seed),
			account_seed: Zeroizing::new([0; 32]),
			encryption_seed,
		}
	}

	/// The account of a dev seed such as `//Alice`, with an X25519 key derived from that seed
	/// (`blake2_256("keyorch/v1/dev-x25519" ‖ uri)`): for development chains only, since
	/// anyone who knows the seed knows the key.
	pub fn dev(uri: &str) -> Result<Self, Error> {
		let signer = Signer::from_uri(uri)?;
		let encryption = sp_crypto_hashing::blake2_256(
			&[b"keyorch/v1/dev-x25519".as_slice(), uri.as_bytes()].concat(),
		);
		Ok(Self {
			signer,
			encryption: EncryptionSecret::from_bytes(encryption),
			account_seed: Zeroizing::new([0; 32]),
			encryption_seed: Zeroizing::new([0; 32]),
		})
	}

	/// Writes a new key file at `path`, readable and writable by its owner only. Refuses to
	/// overwrite an existing file, so no key is ever lost; dev identities cannot be saved.
	pub fn save(&self, path: &Path) -> Result<(), Error> {
		if *self.account_seed == [0; 32] {
			return Err(key_file_error(
				path,
				"this identity's account key is not a seed this client made; it has no key file",
			));
		}
		let file = KeyFile {
			version: KEY_FILE_VERSION,
			account_seed: encode_hex(self.account_seed.as_ref()),
			encryption_secret: encode_hex(self.encryption_seed.as_ref()),
		};
		let json = Zeroizing::new(
			serde_json::to_string_pretty(&file).map_err(|e| key_file_error(path, e.to_string()))?,
		);
		let mut out = std::fs::OpenOptions::new()
			.write(true)
			.create_new(true)
			.mode(0o600)
			.open(path)
			.map_err(|e| key_file_error(path, e.to_string()))?;
		out.write_all(json.as_bytes()).map_err(|e| key_file_error(path, e.to_string()))
	}

	/// Reads a key file written by [`Identity::save`]. Refuses files others can read.
	pub fn load(path: &Path) -> Result<Self, Error> {
		let metadata = std::fs::metadata(path).map_err(|e| key_file_error(path, e.to_string()))?;
		if metadata.permissions().mode() & 0o077 != 0 {
			return Err(key_file_error(
				path,
				"others can read it; run `chmod 600` on it (and consider the key compromised)",
			));
		}
		let text = Zeroizing::new(
			std::fs::read_to_string(path).map_err(|e| key_file_error(path, e.to_string()))?,
		);
		let file: KeyFile = serde_json::from_str(&text)
			.map_err(|e| key_file_error(path, format!("not a keyorch key file: {e}")))?;
		if file.version != KEY_FILE_VERSION {
			return Err(key_file_error(path, format!("unknown key-file version {}", file.version)));
		}
		let account_seed = decode_hex_32(&file.account_seed)
			.ok_or_else(|| key_file_error(path, "account_seed is not 32 bytes of hex"))?;
		let encryption = decode_hex_32(&file.encryption_secret)
			.ok_or_else(|| key_file_error(path, "encryption_secret is not 32 bytes of hex"))?;
		Ok(Self::from_seeds(account_seed, encryption))
	}

	/// The account key.
	pub fn signer(&self) -> &Signer {
		&self.signer
	}

	/// The X25519 secret shares are sealed to.
	pub fn encryption_secret(&self) -> &EncryptionSecret {
		&self.encryption
	}

	/// The X25519 public key registered on chain.
	pub fn encryption_public_key(&self) -> EncryptionPublicKey {
		self.encryption.public_key()
	}
}

impl core::fmt::Debug for Identity {
	fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
		f.debug_struct("Identity")
			.field("account", &self.signer.account_id())
			.field("encryption_public_key", &self.encryption_public_key())
			.finish_non_exhaustive()
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn a_saved_identity_loads_back_and_its_file_is_private() {
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("me.json");
		let identity = Identity::generate();
		identity.save(&path).unwrap();
		let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
		assert_eq!(mode, 0o600);

		let loaded = Identity::load(&path).unwrap();
		assert_eq!(loaded.signer().account_id(), identity.signer().account_id());
		assert_eq!(loaded.encryption_public_key(), identity.encryption_public_key());

		// Never overwritten.
		assert!(matches!(Identity::generate().save(&path), Err(Error::KeyFile { .. })));
		assert_eq!(
			Identity::load(&path).unwrap().signer().account_id(),
			identity.signer().account_id()
		);
	}

	#[test]
	fn unsafe_or_broken_key_files_are_refused_with_a_reason() {
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("k.json");
		Identity::generate().save(&path).unwrap();
		std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
		let err = Identity::load(&path).unwrap_err().to_string();
		assert!(err.contains("chmod 600"), "{err}");

		let broken = dir.path().join("broken.json");
		std::fs::write(&broken, "{\"version\":1}").unwrap();
		std::fs::set_permissions(&broken, std::fs::Permissions::from_mode(0o600)).unwrap();
		assert!(Identity::load(&broken)
			.unwrap_err()
			.to_string()
			.contains("not a keyorch key file"));
	}

	#[test]
	fn debug_shows_public_parts_only() {
		let identity = Identity::generate();
		let shown = format!("{identity:?}");
		let secret = encode_hex(identity.encryption_seed.as_ref());
		assert!(!shown.contains(&secret[2..]), "secret in Debug: {shown}");
		assert!(shown.contains("account"));
	}
}
