//! keyorch-client: what an application uses to talk to a keyorch node.
//!
//! - [`NodeClient`]: typed wrappers over the node's JSON-RPC (jsonrpsee), for chain state,
//!   health, accounts and transaction submission;
//! - [`Signer`]: an sr25519 account key that signs transactions the way polkadot.js does, and
//!   share release requests;
//! - [`Identity`]: an account key and an X25519 encryption key, in a private key file;
//! - streams: [`NodeClient::request_stream`], `rotate`, `report_usage`, `revoke`, `close`, and
//!   [`NodeClient::stream_events`], a `Stream` of typed [`StreamEvent`]s from finalized blocks;
//! - the ledger: [`NodeClient::stream_view`], `epoch_view`, `tombstone`… — typed runtime-API
//!   reads at the latest finalized block;
//! - key assembly: [`NodeClient::assemble_key`] rebuilds a stream epoch's keys from the
//!   holder's own sealed share and shares released by [`WitnessEndpoint`]s, as soon as the
//!   epoch is in the best block; a key whose [`Dealing`] does not become final within
//!   [`DEALING_FINALITY_BLOCKS`] is dropped ([`NodeClient::dealing_finality`]);
//!   [`NodeClient::follow_keys`] gives each new epoch's keys and the stream's end as they
//!   become final;
//! - riding out the transient: a [`NodeClient`] reconnects with backoff when its connection
//!   drops, key assembly is retried while its failure passes by itself, and
//!   [`NodeClient::on_wait`] hears what it waits for ([`Waiting`]).
//!
//! - secure streams: [`secure::SecureStream`], AES-256-GCM frames between initiator and
//!   provider over TCP, Unix sockets or WebSockets, with resumption, rotation and revocation,
//!   and [`secure::SecureDatagram`] over UDP.

mod assembly;
mod dealing;
mod error;
mod follow;
mod identity;
mod ledger;
mod node;
mod refusal;
mod retry;
pub mod secure;
mod session;
mod signer;
mod streams;

pub use assembly::{
	AssembledKey, WitnessEndpoint, WitnessFailure, WitnessReport, REQUEST_VALIDITY_BLOCKS,
	WITNESS_TIMEOUT,
};
pub use dealing::{Dealing, DealingFinality, DEALING_FINALITY_BLOCKS};
pub use error::Error;
pub use follow::{KeyUpdate, ASSEMBLY_PATIENCE};
pub use identity::Identity;
pub use ledger::{ended_by_name, stream_status_name, PartyStream};
pub use node::{Health, Included, NodeClient, NodeStatus, RuntimeVersionInfo};
pub use refusal::Refusal;
pub use retry::{Waiting, RECONNECT_PATIENCE};
pub use session::{ChainLink, LinkEvent, DEFAULT_LIVENESS_TIMEOUT, LIVENESS_POLL};
pub use signer::Signer;
pub use streams::{StreamEvent, StreamRequest};

/// The JSON-RPC client error that [`Error::Connect`] and [`Error::Rpc`] carry.
pub use jsonrpsee::core::ClientError as RpcClientError;

/// Types of the keyorch runtime an application needs to build calls.
pub use keyorch_runtime::{
	AccountId, Balance, BlockNumber, Hash, Header, RuntimeCall, RuntimeEvent,
};

/// Ledger types of `pallet-keyorch` that the client's reads return.
pub use keyorch_runtime::pallet_keyorch::{
	EndedBy, EpochIndex, HolderRole, Permissions, RotationPolicy, StreamId, StreamPolicy,
	StreamStatus,
};

/// An open stream as the runtime API shows it.
pub type StreamView = keyorch_runtime::pallet_keyorch::StreamView<AccountId, BlockNumber>;
/// A holder of an open stream as the runtime API shows it.
pub type HolderView = keyorch_runtime::pallet_keyorch::HolderView<AccountId>;
/// A dealt epoch as the runtime API shows it.
pub type EpochView = keyorch_runtime::pallet_keyorch::EpochView<BlockNumber>;
/// What remains of an ended stream.
pub type Tombstone = keyorch_runtime::pallet_keyorch::Tombstone<AccountId, BlockNumber>;
