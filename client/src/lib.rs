//! keyorch-client: what an application uses to talk to a keyorch node.
//!
//! - [`NodeClient`]: typed wrappers over the node's JSON-RPC (jsonrpsee), for chain state,
//!   health, accounts and transaction submission;
//! - [`Signer`]: an sr25519 account key that signs transactions the way polkadot.js does.
//!
//! Stream requests, key assembly and secure streams build on these (see the README).

mod error;
mod node;
mod signer;

pub use error::Error;
pub use node::{Health, Included, NodeClient, RuntimeVersionInfo};
pub use signer::Signer;

/// Types of the keyorch runtime an application needs to build calls.
pub use keyorch_runtime::{
	AccountId, Balance, BlockNumber, Hash, Header, RuntimeCall, RuntimeEvent,
};
