//! `keyorch register`: the identity becomes a participant, with its X25519 encryption key.

use serde::Serialize;

use crate::{context::Context, failure::Failure, input::hex, output::Report, progress::waiting};

/// A participant registered.
#[derive(Debug, Serialize)]
pub struct Registered {
	pub account: String,
	pub encryption_key: String,
	pub block: u32,
}

impl Report for Registered {
	fn table(&self) -> String {
		format!(
			"registered {} with encryption key {} in block #{}\n",
			self.account, self.encryption_key, self.block
		)
	}
}

pub async fn run(context: &Context) -> Result<Registered, Failure> {
	let identity = context.identity()?;
	let client = context.connect().await?;
	let included = waiting(
		"waiting for the registration to be in a block",
		client.register_participant(&identity),
	)
	.await?;
	Ok(Registered {
		account: identity.signer().account_id().to_string(),
		encryption_key: hex(&identity.encryption_public_key().0),
		block: included.number,
	})
}
