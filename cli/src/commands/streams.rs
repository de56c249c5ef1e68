//! `keyorch streams` and the agent's `GET /v1/streams`: the open streams the identity is
//! initiator or provider of, at the latest finalized block.

use clap::{Args, ValueEnum};
use keyorch_client::{stream_status_name, AccountId, HolderRole, NodeClient};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::status::role_name;
use crate::{context::Context, failure::Failure, input::hex, output::Report};

/// A party's role in a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PartyRole {
	Initiator,
	Provider,
}

impl PartyRole {
	fn holds(self, role: HolderRole) -> bool {
		matches!(
			(self, role),
			(Self::Initiator, HolderRole::Initiator) | (Self::Provider, HolderRole::Provider)
		)
	}
}

/// Which streams to list.
#[derive(Args, Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StreamsArgs {
	/// Only the streams the identity has this role in (both by default).
	#[arg(long, value_enum)]
	#[serde(default)]
	pub role: Option<PartyRole>,
}

/// A party's open streams.
#[derive(Debug, Serialize, ToSchema)]
pub struct StreamList {
	/// The identity's account.
	pub account: String,
	/// The finalized block the list is read at.
	pub finalized_block: u32,
	pub streams: Vec<ListedStream>,
}

/// One open stream of a party.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListedStream {
	pub stream: String,
	/// `initiator` or `provider`: the identity's role.
	pub role: String,
	/// `requested` or `live`.
	pub status: String,
	/// The other party's account.
	pub counterparty: String,
	pub requested_at: u32,
	pub expires_at: u32,
	pub current_epoch: Option<u32>,
}

impl Report for StreamList {}

/// The open streams `account` has the role in that `args` asks for.
pub async fn list(
	client: &NodeClient,
	account: &AccountId,
	args: &StreamsArgs,
) -> Result<StreamList, Failure> {
	let (at, finalized_block) = super::finalized_block(client).await?;
	let streams = client
		.party_streams(account, Some(at))
		.await?
		.into_iter()
		.filter(|stream| args.role.is_none_or(|role| role.holds(stream.role)))
		.map(|stream| ListedStream {
			stream: hex(stream.id.as_bytes()),
			role: role_name(stream.role).to_owned(),
			status: stream_status_name(stream.status).to_owned(),
			counterparty: stream.counterparty.to_string(),
			requested_at: stream.requested_at,
			expires_at: stream.expires_at,
			current_epoch: stream.current_epoch,
		})
		.collect();
	Ok(StreamList { account: account.to_string(), finalized_block, streams })
}

pub async fn run(context: &Context, args: StreamsArgs) -> Result<StreamList, Failure> {
	let identity = context.identity()?;
	let client = context.connect().await?;
	list(&client, &identity.signer().account_id(), &args).await
}
