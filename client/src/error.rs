//! The client's errors: each says what failed and where.

use crate::{assembly::WitnessReport, AccountId, EpochIndex, Refusal, StreamId};

/// Everything that can go wrong talking to a keyorch node.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
	/// The node could not be reached.
	#[error("cannot reach the keyorch node at {url}: {source}")]
	Connect {
		/// The URL tried.
		url: String,
		/// What the transport said.
		#[source]
		source: jsonrpsee::core::ClientError,
	},
	/// An RPC call failed or was refused.
	#[error("RPC call {method} failed: {source}")]
	Rpc {
		/// The JSON-RPC method.
		method: &'static str,
		/// What the node or transport said.
		#[source]
		source: jsonrpsee::core::ClientError,
	},
	/// The node answered something that does not decode as expected.
	#[error("the node's answer to {method} is malformed: {detail}")]
	Malformed {
		/// The JSON-RPC method.
		method: &'static str,
		/// What did not decode.
		detail: String,
	},
	/// The transaction pool refused the transaction or dropped it.
	#[error("the transaction was not included: {status}")]
	TransactionRejected {
		/// The pool's last status (`invalid`, `dropped`, `usurped`…).
		status: String,
	},
	/// The transaction was included but its call failed.
	#[error("the chain refused the call: {reason}")]
	DispatchFailed {
		/// The pallet error, e.g. `Keyorch(ProviderNotRegistered)`.
		reason: String,
	},
	/// A key file that cannot be written or read.
	#[error("key file {path}: {reason}")]
	KeyFile {
		/// The file.
		path: String,
		/// What is wrong.
		reason: String,
	},
	/// A request the chain would refuse before it is even sent.
	#[error("invalid request: {reason}")]
	InvalidRequest {
		/// What is wrong.
		reason: String,
	},
	/// The node holds no record under this key.
	#[error("no record with key {key:?} on this node")]
	RecordNotFound {
		/// The DHT key asked for.
		key: sp_core::H256,
	},
	/// A secret URI (`//Alice`, a mnemonic, a hex seed) that is not valid.
	#[error("not a valid secret URI for an sr25519 key (expected e.g. //Alice, a mnemonic or a 0x seed)")]
	BadSecretUri,
	/// A keyorch node refused `keyorch_getRecord` or `keyorch_requestShare`.
	#[error("{method} refused: {refusal}")]
	Refused {
		/// The JSON-RPC method.
		method: &'static str,
		/// The node's reason.
		refusal: Refusal,
	},
	/// No stream with this id is on chain, open or ended.
	#[error("no stream {stream:?} on chain")]
	UnknownStream {
		/// The stream id asked for.
		stream: StreamId,
	},
	/// The stream has ended: its key is no longer released.
	#[error("the stream has ended: it is {status}")]
	StreamEnded {
		/// `revoked`, `closed` or `expired`.
		status: String,
	},
	/// The account is neither the stream's initiator nor its provider.
	#[error("{account} is neither the initiator nor the provider of stream {stream:?}")]
	NotParticipant {
		/// The stream.
		stream: StreamId,
		/// The account that asked.
		account: AccountId,
	},
	/// The X25519 key registered for the account is not the identity's encryption key, so
	/// no share sealed to the account opens with this identity.
	#[error("the encryption key registered for {account} is not this identity's")]
	WrongEncryptionKey {
		/// The account.
		account: AccountId,
	},
	/// The epoch asked for is not dealt yet.
	#[error("epoch {epoch} of the stream is not dealt yet")]
	EpochNotDealt {
		/// The epoch.
		epoch: EpochIndex,
	},
	/// The epoch asked for is older than the ones the chain keeps (the current and the
	/// previous one).
	#[error("epoch {epoch} is no longer kept on chain (the current epoch is {current})")]
	EpochNotKept {
		/// The epoch asked for.
		epoch: EpochIndex,
		/// The stream's current epoch.
		current: EpochIndex,
	},
	/// The record a node returned is not the one whose hash is on chain.
	#[error("the record with key {key:?} does not match the hash on chain")]
	RecordHashMismatch {
		/// The DHT key of the record.
		key: sp_core::H256,
	},
	/// The holder's own record matches the chain but cannot be used.
	#[error("the own sealed share is unusable: {reason}")]
	BadRecord {
		/// Why: it does not decode, open or verify against the commitments.
		reason: String,
	},
	/// Fewer verified shares than the stream's threshold could be gathered.
	#[error(
		"only {have} of the {needed} shares needed could be verified ({})",
		WitnessReport::summary(witnesses)
	)]
	NotEnoughWitnesses {
		/// Verified shares held (the own share included).
		have: usize,
		/// The stream's threshold.
		needed: usize,
		/// What went wrong with each witness asked.
		witnesses: Vec<WitnessReport>,
	},
	/// Verified shares did not rebuild the key the commitments commit to.
	#[error("key assembly failed: {0}")]
	Assembly(keyorch_primitives::Error),
	/// The chain could not confirm that a secure stream's stream is live for the link's
	/// liveness timeout; the secure stream was ended (see [`crate::ChainLink`]).
	#[error(
		"could not confirm on chain for {seconds} s that the stream is still live ({reason}): \
		 the secure stream was stopped"
	)]
	LivenessUnconfirmed {
		/// How long it went unconfirmed.
		seconds: u64,
		/// The last reason it could not be confirmed.
		reason: String,
	},
	/// A key's dealing did not become final (see [`crate::Dealing`]): the key must not be
	/// used, and a secure stream that used it was ended.
	#[error(
		"the dealing of epoch {epoch} of stream {stream:?} (block #{dealt_at}) is not final: \
		 {reason}; its key is dropped"
	)]
	DealingDropped {
		/// The stream.
		stream: crate::StreamId,
		/// The epoch.
		epoch: u32,
		/// The block that dealt it, in the chain the key was assembled at.
		dealt_at: u32,
		/// Why it is dropped.
		reason: String,
	},
	/// Waiting for something on chain took longer than allowed.
	#[error("timed out after {seconds} s waiting for {what}")]
	Timeout {
		/// What was awaited.
		what: String,
		/// How long it waited.
		seconds: u64,
	},
}
