//! The node's `keyorch_` RPC as the tests see it: raw bytes in and out, and refusals as their
//! JSON-RPC error code, so tests can assert exactly which refusal a node gives.

use jsonrpsee::{
	core::{client::ClientT, ClientError},
	rpc_params,
	ws_client::{WsClient, WsClientBuilder},
};
use sp_core::{Bytes, H256};

/// A refusal: the JSON-RPC error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
	/// The error code (7001… for keyorch's own errors).
	pub code: i32,
	/// The message.
	pub message: String,
	/// The `data` field, if any, as JSON text.
	pub data: Option<String>,
}

/// A WebSocket client of one node's `keyorch_` methods.
pub struct KeyorchRpc {
	rpc: WsClient,
}

fn refused(error: ClientError) -> Refused {
	match error {
		ClientError::Call(call) => Refused {
			code: call.code(),
			message: call.message().to_string(),
			data: call.data().map(|data| data.get().to_string()),
		},
		other => panic!("keyorch RPC transport failed: {other}"),
	}
}

impl KeyorchRpc {
	/// Connects to `url`.
	pub async fn connect(url: &str) -> Self {
		let rpc = WsClientBuilder::default()
			.request_timeout(std::time::Duration::from_secs(30))
			.build(url)
			.await
			.expect("node RPC is up");
		Self { rpc }
	}

	/// `keyorch_status`.
	pub async fn status(&self) -> serde_json::Value {
		self.rpc.request("keyorch_status", rpc_params![]).await.expect("keyorch_status")
	}

	/// `keyorch_getRecord(key, localOnly)`.
	pub async fn get_record(&self, key: [u8; 32], local_only: bool) -> Result<Vec<u8>, Refused> {
		self.rpc
			.request::<Bytes, _>("keyorch_getRecord", rpc_params![H256(key), local_only])
			.await
			.map(|bytes| bytes.0)
			.map_err(refused)
	}

	/// `keyorch_putRecord(key, record)`.
	pub async fn put_record(&self, key: [u8; 32], record: Vec<u8>) -> serde_json::Value {
		self.rpc
			.request("keyorch_putRecord", rpc_params![H256(key), Bytes(record)])
			.await
			.expect("keyorch_putRecord")
	}

	/// `keyorch_requestShare(request)`.
	pub async fn request_share(&self, request: Vec<u8>) -> Result<Vec<u8>, Refused> {
		self.rpc
			.request::<Bytes, _>("keyorch_requestShare", rpc_params![Bytes(request)])
			.await
			.map(|bytes| bytes.0)
			.map_err(refused)
	}
}
