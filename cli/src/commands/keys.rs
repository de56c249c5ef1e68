//! `keyorch keys new|show`: the identity's key file and its public parts.

use std::path::Path;

use clap::Subcommand;
use keyorch_client::Identity;
use serde::Serialize;

use crate::{context::Context, failure::Failure, input::hex, output::Report};

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
	/// Make a new identity (sr25519 account and X25519 encryption key) in the key file,
	/// readable by its owner only.
	New {
		/// Replace an existing key file; the keys in it are lost.
		#[arg(long)]
		force: bool,
	},
	/// Show the identity's account and encryption public key (never a secret).
	Show,
}

/// An identity's public parts.
#[derive(Debug, Serialize)]
pub struct PublicIdentity {
	pub account: String,
	pub account_hex: String,
	/// The X25519 public key shares are sealed to.
	pub encryption_key: String,
}

impl PublicIdentity {
	pub fn of(identity: &Identity) -> Self {
		let account = identity.signer().account_id();
		Self {
			account: account.to_string(),
			account_hex: hex(account.as_ref()),
			encryption_key: hex(&identity.encryption_public_key().0),
		}
	}
}

impl Report for PublicIdentity {
	fn table(&self) -> String {
		format!(
			"account         {}\naccount hex     {}\nencryption key  {} (X25519 public key)\n",
			self.account, self.account_hex, self.encryption_key
		)
	}
}

pub fn run(context: &Context, command: KeysCommand) -> Result<PublicIdentity, Failure> {
	match command {
		KeysCommand::New { force } => {
			if context.dev_seed.is_some() {
				return Err(Failure::input("a --dev-seed identity has no key file")
					.hint("leave out --dev-seed to make a new identity in --key-file"));
			}
			let identity = new_key_file(&context.key_file, force)?;
			eprintln!("wrote {} (readable by its owner only)", context.key_file.display());
			Ok(PublicIdentity::of(&identity))
		},
		KeysCommand::Show => Ok(PublicIdentity::of(&context.identity()?)),
	}
}

/// Writes a new identity to `path`, replacing an existing file only if `force`.
fn new_key_file(path: &Path, force: bool) -> Result<Identity, Failure> {
	let identity = Identity::generate();
	if !path.exists() {
		identity.save(path)?;
		return Ok(identity);
	}
	if !force {
		return Err(Failure::input(format!("key file {} exists already", path.display()))
			.hint("`keyorch keys new --force` replaces it, and the keys in it are lost"));
	}
	let name = path
		.file_name()
		.ok_or_else(|| Failure::input(format!("{} is not a file name", path.display())))?;
	// Written beside the old file, then renamed over it: the old keys stay until the new
	// ones are safely on disk.
	let fresh = path.with_file_name(format!(".{}.new", name.to_string_lossy()));
	let _ = std::fs::remove_file(&fresh);
	identity.save(&fresh)?;
	std::fs::rename(&fresh, path).map_err(|e| {
		let _ = std::fs::remove_file(&fresh);
		Failure::input(format!("cannot replace {}: {e}", path.display()))
	})?;
	Ok(identity)
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::failure;

	#[test]
	fn a_new_key_file_is_never_replaced_without_force() {
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("key.json");
		let first = new_key_file(&path, false).unwrap();
		let refused = new_key_file(&path, false).unwrap_err();
		assert_eq!(refused.kind, failure::Kind::BadInput);
		let account = |identity: &Identity| identity.signer().account_id();
		assert_eq!(account(&Identity::load(&path).unwrap()), account(&first));

		let second = new_key_file(&path, true).unwrap();
		assert_ne!(account(&second), account(&first));
		assert_eq!(account(&Identity::load(&path).unwrap()), account(&second));
		let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
		assert_eq!(files.len(), 1, "no temporary file is left behind");
	}
}
