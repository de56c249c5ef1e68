//! `keyorch rotate` and the agent's `POST /v1/streams/{id}/rotate`: a new key epoch asked for
//! now (initiator or provider; it counts against the stream's prepaid epochs).

use clap::Args;
use keyorch_client::{NodeClient, Signer, StreamId};

use super::{change_stream, StreamChange};
use crate::{context::Context, failure::Failure};

#[derive(Args, Debug)]
pub struct RotateArgs {
	/// The stream id (0x and 64 hex digits).
	stream: String,
}

pub async fn rotate(
	client: &NodeClient,
	party: &Signer,
	stream: StreamId,
) -> Result<StreamChange, Failure> {
	let included = client.rotate(party, stream).await?;
	Ok(StreamChange::new("rotated", stream, included))
}

pub async fn run(context: &Context, args: RotateArgs) -> Result<StreamChange, Failure> {
	change_stream(context, &args.stream, "rotation", |client, identity, stream| async move {
		rotate(&client, identity.signer(), stream).await
	})
	.await
}
