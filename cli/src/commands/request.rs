//! `keyorch request` and the agent's `POST /v1/streams`: a stream to a provider, metadata and
//! policy only. One type of options with the same names and defaults for both.

use clap::{Args, ValueEnum};
use keyorch_client::{NodeClient, Permissions, Signer, StreamRequest};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
	context::Context,
	failure::Failure,
	input::{self, hex},
	output::Report,
	progress::waiting,
};

/// A stream request's metadata and policy.
#[derive(Args, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestArgs {
	/// The provider's account (SS58 or 0x hex); it must be a registered participant.
	#[arg(long, value_name = "ACCOUNT")]
	provider: String,
	/// How many blocks the stream lives.
	#[arg(long, value_name = "N", default_value_t = DURATION)]
	#[serde(default = "duration")]
	duration: u32,
	/// How many witnesses keep a share.
	#[arg(long, value_name = "N", default_value_t = WITNESSES)]
	#[serde(default = "witnesses")]
	witnesses: u32,
	/// How many shares rebuild the key (2 to witnesses + 2).
	#[arg(long, value_name = "N", default_value_t = THRESHOLD)]
	#[serde(default = "threshold")]
	threshold: u32,
	/// A new key every N blocks.
	#[arg(long, value_name = "N")]
	#[serde(default)]
	rotate_blocks: Option<u32>,
	/// A new key after N bytes reported.
	#[arg(long, value_name = "N")]
	#[serde(default)]
	rotate_bytes: Option<u64>,
	/// What flows, e.g. a media type.
	#[arg(long, value_name = "S", default_value = DATA_TYPE)]
	#[serde(default = "data_type")]
	data_type: String,
	/// What the initiator may do with the provider's data.
	#[arg(long, value_enum, default_value_t = Access::Read)]
	#[serde(default)]
	permissions: Access,
}

const DURATION: u32 = 600;
const WITNESSES: u32 = 1;
const THRESHOLD: u32 = 2;
const DATA_TYPE: &str = "application/octet-stream";

fn duration() -> u32 {
	DURATION
}
fn witnesses() -> u32 {
	WITNESSES
}
fn threshold() -> u32 {
	THRESHOLD
}
fn data_type() -> String {
	DATA_TYPE.into()
}

/// The permissions of a stream request.
#[derive(Clone, Copy, Debug, Default, ValueEnum, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
	/// Read the provider's data.
	#[default]
	Read,
	/// Write to the provider.
	Write,
	/// Both.
	ReadWrite,
}

impl Access {
	fn flags(self) -> u8 {
		match self {
			Self::Read => Permissions::READ,
			Self::Write => Permissions::WRITE,
			Self::ReadWrite => Permissions::READ | Permissions::WRITE,
		}
	}
}

impl RequestArgs {
	/// The request, its provider parsed.
	pub fn stream_request(self) -> Result<StreamRequest, Failure> {
		Ok(StreamRequest {
			provider: input::account(&self.provider)?,
			data_type: self.data_type.into_bytes(),
			permissions: self.permissions.flags(),
			duration_blocks: self.duration,
			witness_count: self.witnesses,
			threshold: self.threshold,
			rotate_every_blocks: self.rotate_blocks,
			rotate_every_bytes: self.rotate_bytes,
		})
	}
}

/// A stream requested.
#[derive(Debug, Serialize, ToSchema)]
pub struct Requested {
	/// The stream id.
	pub stream: String,
	/// The block that includes the request.
	pub block: u32,
}

impl Report for Requested {
	/// The stream id alone, for `id=$(keyorch request …)`.
	fn table(&self) -> String {
		format!("{}\n", self.stream)
	}
}

/// Requests the stream `args` describes, as `initiator`.
pub async fn request(
	client: &NodeClient,
	initiator: &Signer,
	args: RequestArgs,
) -> Result<Requested, Failure> {
	let request = args.stream_request()?;
	let (stream, block) = client.request_stream(initiator, &request).await?;
	Ok(Requested { stream: hex(stream.as_bytes()), block })
}

pub async fn run(context: &Context, args: RequestArgs) -> Result<Requested, Failure> {
	let identity = context.identity()?;
	// Bad input fails before connecting (`request` parses it again: it is cheap).
	input::account(&args.provider)?;
	let client = context.connect().await?;
	let requested = waiting(
		"waiting for the stream request to be in a block",
		request(&client, identity.signer(), args),
	)
	.await?;
	eprintln!(
		"requested in block #{}; `keyorch status {}` shows when its key is dealt",
		requested.block, requested.stream
	);
	Ok(requested)
}

#[cfg(test)]
mod tests {
	use clap::Parser;

	use super::*;

	#[derive(Parser)]
	struct Command {
		#[command(flatten)]
		request: RequestArgs,
	}

	#[test]
	fn options_and_json_have_the_same_defaults() {
		let bob = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty";
		let from_options = Command::parse_from(["request", "--provider", bob]).request;
		let from_json: RequestArgs =
			serde_json::from_value(serde_json::json!({ "provider": bob })).unwrap();
		assert_eq!(format!("{from_options:?}"), format!("{from_json:?}"));
		let request = from_json.stream_request().unwrap();
		assert_eq!(
			(request.duration_blocks, request.witness_count, request.threshold),
			(600, 1, 2)
		);
		assert_eq!(request.permissions, Permissions::READ);
		let unknown = serde_json::json!({ "provider": bob, "key": "x" });
		assert!(serde_json::from_value::<RequestArgs>(unknown).is_err());
	}
}
