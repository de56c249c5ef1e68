//! `keyorch witness register`: the identity becomes a witness, with a deposit held.

use clap::Subcommand;
use serde::Serialize;

use crate::{context::Context, failure::Failure, output::Report, progress::waiting};

#[derive(Subcommand, Debug)]
pub enum WitnessCommand {
	/// Register the identity as a witness (it must be a participant; a deposit is held).
	Register,
}

/// A witness registered.
#[derive(Debug, Serialize)]
pub struct WitnessRegistered {
	pub account: String,
	pub block: u32,
}

impl Report for WitnessRegistered {
	fn table(&self) -> String {
		format!("registered {} as a witness in block #{}\n", self.account, self.block)
	}
}

pub async fn run(context: &Context, command: WitnessCommand) -> Result<WitnessRegistered, Failure> {
	let WitnessCommand::Register = command;
	let identity = context.identity()?;
	let client = context.connect().await?;
	let included = waiting(
		"waiting for the witness registration to be in a block",
		client.register_witness(identity.signer()),
	)
	.await?;
	Ok(WitnessRegistered {
		account: identity.signer().account_id().to_string(),
		block: included.number,
	})
}
