//! keyorch's commands, one module each: its arguments, its operation and its result. The
//! operations that take a node client and an identity are what `keyorch agent`'s handlers call
//! too, so the CLI and the HTTP API do and answer the same.

pub mod close;
pub mod key;
pub mod keys;
pub mod receive;
pub mod register;
pub mod request;
pub mod revoke;
pub mod rotate;
pub mod send;
pub mod status;
pub mod streams;
pub mod usage;
pub mod witness;

use std::future::Future;

use keyorch_client::{Identity, Included, NodeClient, StreamId};
use serde::Serialize;
use sp_core::H256;
use utoipa::ToSchema;

use crate::{
	context::Context,
	failure::Failure,
	input::{self, hex},
	output::Report,
	progress::waiting,
};

/// A call on a stream included in a block: rotate, revoke, close or a usage report.
#[derive(Debug, Serialize, ToSchema)]
pub struct StreamChange {
	/// The stream id.
	pub stream: String,
	/// The block that includes the call.
	pub block: u32,
	/// What was done, for the table: `rotated`, `revoked`…
	#[serde(skip)]
	done: &'static str,
}

impl StreamChange {
	fn new(done: &'static str, stream: StreamId, included: Included) -> Self {
		Self { stream: hex(stream.as_bytes()), block: included.number, done }
	}
}

impl Report for StreamChange {
	fn table(&self) -> String {
		format!("{} stream {} in block #{}\n", self.done, self.stream, self.block)
	}
}

/// The latest finalized block: its hash, to read at, and its number, to report.
async fn finalized_block(client: &NodeClient) -> Result<(H256, u32), Failure> {
	let at = client.finalized_hash().await?;
	Ok((at, client.header(Some(at)).await?.number))
}

/// Runs `call` on the stream `stream` as the context's identity, saying that it waits for the
/// `call` (a noun) to be in a block. Bad input fails before connecting.
async fn change_stream<Call: Future<Output = Result<StreamChange, Failure>>>(
	context: &Context,
	stream: &str,
	call_name: &str,
	call: impl FnOnce(NodeClient, Identity, StreamId) -> Call,
) -> Result<StreamChange, Failure> {
	let identity = context.identity()?;
	let stream = input::stream_id(stream)?;
	let client = context.connect().await?;
	waiting(format!("waiting for the {call_name} to be in a block"), call(client, identity, stream))
		.await
}
