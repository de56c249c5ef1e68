//! Typed access to a keyorch node's JSON-RPC.

use std::time::Duration;

use codec::{Decode, Encode};
use jsonrpsee::{
	core::client::ClientT,
	rpc_params,
	ws_client::{WsClient, WsClientBuilder},
};
use keyorch_runtime::{Address, SignedPayload, UncheckedExtrinsic};
use serde::{de::DeserializeOwned, Deserialize};
use sp_core::{Bytes, H256};
use sp_runtime::{generic::Era, MultiSignature};

use crate::{AccountId, Balance, Error, Header, RuntimeCall, Signer};

/// How long one RPC call may take before it fails.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What `system_health` reports.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Health {
	/// Connected peers.
	pub peers: u64,
	/// Whether the node is still catching up.
	pub is_syncing: bool,
	/// Whether the node expects to have peers.
	pub should_have_peers: bool,
}

/// The parts of the runtime version a transaction signs.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeVersionInfo {
	/// The runtime's spec name.
	pub spec_name: String,
	/// Runtime specification version.
	pub spec_version: u32,
	/// Transaction format version.
	pub transaction_version: u32,
}

type AccountInfo = frame_system::AccountInfo<u32, pallet_balances::AccountData<Balance>>;

/// A connection to one keyorch node.
pub struct NodeClient {
	rpc: WsClient,
	url: String,
}

impl NodeClient {
	/// Connects over WebSocket, e.g. to `ws://127.0.0.1:9944`.
	pub async fn connect(url: &str) -> Result<Self, Error> {
		let rpc = WsClientBuilder::default()
			.request_timeout(REQUEST_TIMEOUT)
			.build(url)
			.await
			.map_err(|source| Error::Connect { url: url.to_string(), source })?;
		Ok(Self { rpc, url: url.to_string() })
	}

	/// The URL this client is connected to.
	pub fn url(&self) -> &str {
		&self.url
	}

	async fn call<R: DeserializeOwned>(
		&self,
		method: &'static str,
		params: jsonrpsee::core::params::ArrayParams,
	) -> Result<R, Error> {
		self.rpc.request(method, params).await.map_err(|source| Error::Rpc { method, source })
	}

	/// The header of block `at`, or of the best block.
	pub async fn header(&self, at: Option<H256>) -> Result<Header, Error> {
		let header: Option<Header> = self.call("chain_getHeader", rpc_params![at]).await?;
		header.ok_or(Error::Malformed { method: "chain_getHeader", detail: "no such block".into() })
	}

	/// The hash of the latest finalized block.
	pub async fn finalized_hash(&self) -> Result<H256, Error> {
		self.call("chain_getFinalizedHead", rpc_params![]).await
	}

	/// The number of the latest finalized block.
	pub async fn finalized_number(&self) -> Result<u32, Error> {
		let hash = self.finalized_hash().await?;
		Ok(self.header(Some(hash)).await?.number)
	}

	/// The hash of block `number`.
	pub async fn block_hash(&self, number: u32) -> Result<H256, Error> {
		let hash: Option<H256> = self.call("chain_getBlockHash", rpc_params![number]).await?;
		hash.ok_or(Error::Malformed {
			method: "chain_getBlockHash",
			detail: "no such block".into(),
		})
	}

	/// `system_health`: peers and sync state.
	pub async fn health(&self) -> Result<Health, Error> {
		self.call("system_health", rpc_params![]).await
	}

	/// The node's libp2p peer id.
	pub async fn local_peer_id(&self) -> Result<String, Error> {
		self.call("system_localPeerId", rpc_params![]).await
	}

	/// The runtime version at the best block.
	pub async fn runtime_version(&self) -> Result<RuntimeVersionInfo, Error> {
		self.call("state_getRuntimeVersion", rpc_params![]).await
	}

	/// The next transaction index of `account`, counting transactions in the pool.
	pub async fn next_nonce(&self, account: &AccountId) -> Result<u32, Error> {
		self.call("system_accountNextIndex", rpc_params![account.to_string()]).await
	}

	/// Raw storage at `key` in the best block.
	pub async fn storage(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
		let value: Option<Bytes> =
			self.call("state_getStorage", rpc_params![Bytes(key.to_vec())]).await?;
		Ok(value.map(|bytes| bytes.0))
	}

	/// The free balance of `account` in the best block (0 for an account that does not exist).
	pub async fn free_balance(&self, account: &AccountId) -> Result<Balance, Error> {
		let key = [
			sp_crypto_hashing::twox_128(b"System").as_slice(),
			&sp_crypto_hashing::twox_128(b"Account"),
			&sp_crypto_hashing::blake2_128(account.as_ref()),
			account.as_ref(),
		]
		.concat();
		match self.storage(&key).await? {
			None => Ok(0),
			Some(raw) => {
				AccountInfo::decode(&mut &raw[..]).map(|info| info.data.free).map_err(|e| {
					Error::Malformed { method: "state_getStorage", detail: e.to_string() }
				})
			},
		}
	}

	/// The sealed record stored under DHT key `key`, SCALE-encoded, from this node.
	pub async fn record(&self, key: H256) -> Result<Vec<u8>, Error> {
		const RECORD_NOT_FOUND: i32 = 7001;
		match self.rpc.request::<Bytes, _>("keyorch_getRecord", rpc_params![key]).await {
			Ok(bytes) => Ok(bytes.0),
			Err(jsonrpsee::core::ClientError::Call(call)) if call.code() == RECORD_NOT_FOUND => {
				Err(Error::RecordNotFound { key })
			},
			Err(source) => Err(Error::Rpc { method: "keyorch_getRecord", source }),
		}
	}

	/// Signs `call` with `signer` (immortal, no tip) and submits it; returns the transaction hash.
	pub async fn sign_and_submit(&self, signer: &Signer, call: RuntimeCall) -> Result<H256, Error> {
		let genesis = self.block_hash(0).await?;
		let version = self.runtime_version().await?;
		let account = signer.account_id();
		let nonce = self.next_nonce(&account).await?;

		let extension = keyorch_runtime::tx_extension(nonce, Era::Immortal);
		let implicit = (
			(),
			version.spec_version,
			version.transaction_version,
			genesis,
			genesis,
			(),
			(),
			(),
			(),
		);
		let payload = SignedPayload::from_raw(call.clone(), extension.clone(), implicit);
		let signature = payload.using_encoded(|bytes| signer.sign(bytes));
		let extrinsic = UncheckedExtrinsic::new_signed(
			call,
			Address::Id(account),
			MultiSignature::Sr25519(signature),
			extension,
		);
		self.call("author_submitExtrinsic", rpc_params![Bytes(extrinsic.encode())]).await
	}
}
