//! Where a command finds its identity and its node: the global options `--url` (`KEYORCH_URL`),
//! `--key-file` (`KEYORCH_KEY_FILE`) and `--dev-seed`.

use std::path::PathBuf;

use keyorch_client::{Identity, NodeClient};

use crate::failure::Failure;

/// Where the identity and the node are.
pub struct Context {
	pub url: String,
	pub key_file: PathBuf,
	pub dev_seed: Option<String>,
}

impl Context {
	/// The identity: the dev seed's, or the key file's.
	pub fn identity(&self) -> Result<Identity, Failure> {
		if let Some(uri) = &self.dev_seed {
			return Identity::dev(uri).map_err(Failure::from);
		}
		if !self.key_file.exists() {
			return Err(Failure::input(format!("no key file at {}", self.key_file.display()))
				.hint("make one with `keyorch keys new`, or use --dev-seed //Alice on a development chain"));
		}
		Ok(Identity::load(&self.key_file)?)
	}

	/// A client of the node that says on stderr what it waits for.
	pub async fn connect(&self) -> Result<NodeClient, Failure> {
		let client = NodeClient::connect(&self.url).await?;
		Ok(client.on_wait(|waiting| eprintln!("waiting: {waiting}")))
	}
}
