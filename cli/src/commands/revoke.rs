//! `keyorch revoke` and the agent's `POST /v1/streams/{id}/revoke`: witnesses stop releasing
//! the stream's keys (initiator or provider).

use clap::Args;
use keyorch_client::{NodeClient, Signer, StreamId};

use super::{change_stream, StreamChange};
use crate::{context::Context, failure::Failure};

#[derive(Args, Debug)]
pub struct RevokeArgs {
	/// The stream id (0x and 64 hex digits).
	stream: String,
	/// A short reason, recorded on chain.
	#[arg(long, default_value = "")]
	reason: String,
}

pub async fn revoke(
	client: &NodeClient,
	party: &Signer,
	stream: StreamId,
	reason: &str,
) -> Result<StreamChange, Failure> {
	let included = client.revoke(party, stream, reason).await?;
	Ok(StreamChange::new("revoked", stream, included))
}

pub async fn run(context: &Context, args: RevokeArgs) -> Result<StreamChange, Failure> {
	change_stream(context, &args.stream, "revocation", |client, identity, stream| async move {
		revoke(&client, identity.signer(), stream, &args.reason).await
	})
	.await
}
