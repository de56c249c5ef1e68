//! The `keyorch_` JSON-RPC namespace: sealed records and node state for applications.
//!
//! Everything served here is public or sealed to its holder; no method returns or logs key
//! material.

use jsonrpsee::{
	core::RpcResult,
	proc_macros::rpc,
	types::{ErrorObject, ErrorObjectOwned},
};
use sp_core::{offchain::OffchainStorage, Bytes, H256};

/// JSON-RPC error codes of the `keyorch_` namespace.
pub mod error_code {
	/// No record with that key is held by this node.
	pub const RECORD_NOT_FOUND: i32 = 7001;
	/// The node keeps no off-chain storage (it was started without it).
	pub const NO_STORE: i32 = 7002;
}

/// The `keyorch_` methods.
#[rpc(server, namespace = "keyorch")]
pub trait KeyorchApi {
	/// The sealed share record stored under `key` (its DHT key, see
	/// `keyorch_primitives::record_dht_key`), SCALE-encoded. Only its holder can open it.
	#[method(name = "getRecord")]
	fn get_record(&self, key: H256) -> RpcResult<Bytes>;
}

/// Serves the `keyorch_` methods from the node's persistent off-chain storage, where the
/// off-chain worker writes the records it deals.
pub struct Keyorch<S> {
	store: Option<S>,
}

impl<S> Keyorch<S> {
	/// `store` is the node's off-chain storage, if it has one.
	pub fn new(store: Option<S>) -> Self {
		Self { store }
	}
}

fn error(code: i32, message: impl Into<String>, key: H256) -> ErrorObjectOwned {
	ErrorObject::owned(code, message.into(), Some(format!("{key:?}")))
}

impl<S: OffchainStorage + 'static> KeyorchApiServer for Keyorch<S> {
	fn get_record(&self, key: H256) -> RpcResult<Bytes> {
		let store = self.store.as_ref().ok_or_else(|| {
			error(error_code::NO_STORE, "this node keeps no off-chain storage", key)
		})?;
		let storage_key = keyorch_primitives::offchain_record_key(key.as_fixed_bytes());
		store
			.get(sp_core::offchain::STORAGE_PREFIX, &storage_key)
			.map(Bytes)
			.ok_or_else(|| error(error_code::RECORD_NOT_FOUND, "no record with this key", key))
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use sp_core::offchain::{storage::InMemOffchainStorage, OffchainStorage};

	#[test]
	fn a_stored_record_is_served_and_an_unknown_key_is_a_typed_error() {
		let mut store = InMemOffchainStorage::default();
		let key = H256::repeat_byte(7);
		store.set(
			sp_core::offchain::STORAGE_PREFIX,
			&keyorch_primitives::offchain_record_key(key.as_fixed_bytes()),
			b"sealed",
		);
		let rpc = Keyorch::new(Some(store));
		assert_eq!(rpc.get_record(key).unwrap().0, b"sealed");

		let missing = rpc.get_record(H256::repeat_byte(8)).unwrap_err();
		assert_eq!(missing.code(), error_code::RECORD_NOT_FOUND);

		let without_store = Keyorch::<InMemOffchainStorage>::new(None).get_record(key).unwrap_err();
		assert_eq!(without_store.code(), error_code::NO_STORE);
	}
}
