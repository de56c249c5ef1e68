//! keyorch-client: what an application uses to talk to a keyorch node.
//!
//! - [`NodeClient`]: typed wrappers over the node's JSON-RPC (jsonrpsee), for chain state,
//!   health, accounts and transaction submission;
//! - [`Signer`]: an sr25519 account key that signs transactions the way polkadot.js does;
//! - [`Identity`]: an account key and an X25519 encryption key, in a private key file;
//! - streams: [`NodeClient::request_stream`], `rotate`, `report_usage`, `revoke`, `close`, and
//!   [`NodeClient::stream_events`], a `Stream` of typed [`StreamEvent`]s from finalized blocks.
//!
//! Stream requests, key assembly and secure streams build on these (see the README).

mod error;
mod identity;
mod node;
mod signer;
mod streams;

pub use error::Error;
pub use identity::Identity;
pub use node::{Health, Included, NodeClient, RuntimeVersionInfo};
pub use signer::Signer;
pub use streams::{StreamEvent, StreamRequest};

/// Types of the keyorch runtime an application needs to build calls.
pub use keyorch_runtime::{
	AccountId, Balance, BlockNumber, Hash, Header, RuntimeCall, RuntimeEvent,
};
