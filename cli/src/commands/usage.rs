//! `keyorch usage` and the agent's `POST /v1/usage`: bytes of traffic reported on chain, toward
//! the stream's byte-budget rotation.

use clap::Args;
use keyorch_client::{NodeClient, Signer, StreamId};

use super::{change_stream, StreamChange};
use crate::{context::Context, failure::Failure};

#[derive(Args, Debug)]
pub struct UsageArgs {
	/// The stream id (0x and 64 hex digits).
	stream: String,
	/// The bytes carried since the last report.
	#[arg(long, value_name = "N")]
	bytes: u64,
}

pub async fn report(
	client: &NodeClient,
	party: &Signer,
	stream: StreamId,
	bytes: u64,
) -> Result<StreamChange, Failure> {
	let included = client.report_usage(party, stream, bytes).await?;
	Ok(StreamChange::new("reported usage of", stream, included))
}

pub async fn run(context: &Context, args: UsageArgs) -> Result<StreamChange, Failure> {
	change_stream(context, &args.stream, "usage report", |client, identity, stream| async move {
		report(&client, identity.signer(), stream, args.bytes).await
	})
	.await
}
