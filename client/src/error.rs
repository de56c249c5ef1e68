//! The client's errors: each says what failed and where.

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
	/// Waiting for something on chain took longer than allowed.
	#[error("timed out after {seconds} s waiting for {what}")]
	Timeout {
		/// What was awaited.
		what: String,
		/// How long it waited.
		seconds: u64,
	},
}
