//! `keyorch close` and the agent's `POST /v1/streams/{id}/close`: the stream ends (initiator
//! or provider) and its deposit is released.

use clap::Args;
use keyorch_client::{NodeClient, Signer, StreamId};

use super::{change_stream, StreamChange};
use crate::{context::Context, failure::Failure};

#[derive(Args, Debug)]
pub struct CloseArgs {
	/// The stream id (0x and 64 hex digits).
	stream: String,
}

pub async fn close(
	client: &NodeClient,
	party: &Signer,
	stream: StreamId,
) -> Result<StreamChange, Failure> {
	let included = client.close(party, stream).await?;
	Ok(StreamChange::new("closed", stream, included))
}

pub async fn run(context: &Context, args: CloseArgs) -> Result<StreamChange, Failure> {
	change_stream(context, &args.stream, "closing", |client, identity, stream| async move {
		close(&client, identity.signer(), stream).await
	})
	.await
}
