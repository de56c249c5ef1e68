//! `keyorch key`: a stream epoch's key assembled from the identity's share and witnesses'
//! shares; only its fingerprint is shown, never the key.

use clap::Args;
use keyorch_client::WitnessEndpoint;
use serde::Serialize;

use crate::{
	context::Context,
	failure::Failure,
	input::{self, hex},
	output::Report,
	progress::waiting,
};

#[derive(Args, Debug)]
pub struct KeyArgs {
	/// The stream id (0x and 64 hex digits).
	stream: String,
	/// The epoch (the current one by default).
	#[arg(long, value_name = "N")]
	epoch: Option<u32>,
	/// A witness node's WebSocket RPC URL; repeat it or separate URLs with commas.
	#[arg(
		long = "witness-url",
		value_name = "URL",
		required = true,
		num_args = 1..,
		value_delimiter = ','
	)]
	pub witness_urls: Vec<String>,
}

/// A key assembled, shown by its fingerprint.
#[derive(Debug, Serialize)]
pub struct AssembledKey {
	pub stream: String,
	pub epoch: u32,
	/// The key's fingerprint (never the key).
	pub fingerprint: String,
	/// The witnesses whose shares were used.
	pub witnesses: Vec<String>,
	/// The best block the key was assembled at.
	pub block: u32,
	/// The block of the epoch's dealing, final.
	pub dealt_at: u32,
}

impl Report for AssembledKey {
	/// The fingerprint alone.
	fn table(&self) -> String {
		format!("{}\n", self.fingerprint)
	}
}

pub async fn run(context: &Context, args: KeyArgs) -> Result<AssembledKey, Failure> {
	let identity = context.identity()?;
	let stream = input::stream_id(&args.stream)?;
	let client = context.connect().await?;
	let endpoints: Vec<WitnessEndpoint> =
		args.witness_urls.into_iter().map(WitnessEndpoint::new).collect();
	let assembled = waiting(
		format!("assembling the key: asking up to {} witness node(s)", endpoints.len()),
		client.assemble_key_patiently(&identity, stream, args.epoch, &endpoints),
	)
	.await?;
	// What is reported must stay true: a key whose dealing a reorg undoes is dropped.
	waiting(
		format!("waiting for the dealing (block #{}) to be final", assembled.dealing.dealt_at),
		client.confirm_dealing(&assembled.dealing),
	)
	.await?;
	eprintln!(
		"epoch {} of stream {}: key assembled from this identity's share and {} witness \
		 share(s) at best block #{}; its dealing is final",
		assembled.epoch,
		hex(stream.as_bytes()),
		assembled.witnesses.len(),
		assembled.block
	);
	for report in &assembled.skipped {
		eprintln!("note: skipped {report}");
	}
	Ok(AssembledKey {
		stream: hex(stream.as_bytes()),
		epoch: assembled.epoch,
		fingerprint: assembled.keys.fingerprint().to_string(),
		witnesses: assembled.witnesses.iter().map(ToString::to_string).collect(),
		block: assembled.block,
		dealt_at: assembled.dealing.dealt_at,
	})
}
