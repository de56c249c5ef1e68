//! Typed access to a keyorch node's JSON-RPC.

use std::{
	sync::{Arc, PoisonError, RwLock},
	time::Duration,
};

use backon::Retryable;
use codec::{Decode, Encode};
use jsonrpsee::{
	core::{
		client::{ClientT, Subscription, SubscriptionClientT},
		params::ArrayParams,
		ClientError,
	},
	rpc_params,
	ws_client::{WsClient, WsClientBuilder},
};
use keyorch_primitives::{SealedShareAnswer, ShareReleaseRequest, WireFormat};
use keyorch_runtime::{Address, SignedPayload, UncheckedExtrinsic};
use serde::{de::DeserializeOwned, Deserialize};
use sp_core::{Bytes, H256};
use sp_runtime::{generic::Era, MultiSignature};

use crate::{
	retry::{backoff, WaitObserver, Waiting, RECONNECT_PATIENCE},
	AccountId, Balance, Error, Header, Refusal, RuntimeCall, RuntimeEvent, Signer,
};

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
type EventRecord = frame_system::EventRecord<RuntimeEvent, H256>;

/// How long [`NodeClient::submit_and_watch`] waits for a transaction to be included.
const TX_TIMEOUT: Duration = Duration::from_secs(60);

/// What `keyorch_status` reports about a node's keyorch services.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NodeStatus {
	/// The witness account whose shares the node serves, if it runs a witness service.
	#[serde(default, deserialize_with = "witness_account")]
	pub witness: Option<AccountId>,
	/// Sealed records in the node's store.
	#[serde(default)]
	pub records_held: u64,
	/// Peers in the DHT overlay.
	#[serde(default)]
	pub overlay_peers: u64,
	/// Witness shares held.
	#[serde(default)]
	pub shares_held: u64,
	/// Share requests answered.
	#[serde(default)]
	pub requests_served: u64,
	/// Share requests refused.
	#[serde(default)]
	pub requests_refused: u64,
}

/// A witness account written as `0x` and 32 bytes of hex, or `null`.
fn witness_account<'de, D: serde::Deserializer<'de>>(
	deserializer: D,
) -> Result<Option<AccountId>, D::Error> {
	let raw: Option<H256> = Deserialize::deserialize(deserializer)?;
	Ok(raw.map(|hash| AccountId::new(hash.0)))
}

/// A transaction in a block.
#[derive(Debug, Clone)]
pub struct Included {
	/// The block's hash.
	pub block: H256,
	/// The block's number.
	pub number: u32,
	/// The events the transaction emitted.
	pub events: Vec<RuntimeEvent>,
}

/// A connection to one keyorch node. When the connection drops, the next call reconnects,
/// trying with backoff for [`RECONNECT_PATIENCE`] (see [`Self::with_reconnect_patience`]), and
/// calls that are safe to repeat (reads; not transaction submissions or share requests) are
/// sent again on the new connection.
pub struct NodeClient {
	rpc: RwLock<Arc<WsClient>>,
	url: String,
	timeout: Duration,
	reconnect_patience: Duration,
	/// Held while reconnecting, so that concurrent calls wait for one new connection.
	reconnecting: tokio::sync::Mutex<()>,
	observer: Option<WaitObserver>,
}

/// Whether a call of `method` may be sent again after its connection dropped without an
/// answer: not for what may already have taken effect (a submitted transaction, a share
/// request whose nonce the witness may have spent).
fn safe_to_repeat(method: &str) -> bool {
	!method.starts_with("author_") && method != "keyorch_requestShare"
}

/// First and longest pause between two tries to reconnect.
const RECONNECT_PAUSES: (Duration, Duration) = (Duration::from_millis(250), Duration::from_secs(4));

/// Opens a WebSocket connection to `url` whose connecting and calls time out after `timeout`.
async fn open(url: &str, timeout: Duration) -> Result<WsClient, jsonrpsee::core::ClientError> {
	WsClientBuilder::default().connection_timeout(timeout).request_timeout(timeout).build(url).await
}

impl NodeClient {
	/// Connects over WebSocket, e.g. to `ws://127.0.0.1:9944`.
	pub async fn connect(url: &str) -> Result<Self, Error> {
		Self::connect_with_timeout(url, REQUEST_TIMEOUT).await
	}

	/// Connects over WebSocket, giving up on connecting and on every later call after
	/// `timeout`.
	pub async fn connect_with_timeout(url: &str, timeout: Duration) -> Result<Self, Error> {
		let rpc = open(url, timeout)
			.await
			.map_err(|source| Error::Connect { url: url.to_string(), source })?;
		Ok(Self {
			rpc: RwLock::new(Arc::new(rpc)),
			url: url.to_string(),
			timeout,
			reconnect_patience: RECONNECT_PATIENCE,
			reconnecting: tokio::sync::Mutex::new(()),
			observer: None,
		})
	}

	/// How long to keep trying to reconnect after the connection dropped before a call fails
	/// ([`Duration::ZERO`]: one immediate try).
	pub fn with_reconnect_patience(mut self, patience: Duration) -> Self {
		self.reconnect_patience = patience;
		self
	}

	/// Tells `observer` whatever this client waits for: a dropped connection to come back, a
	/// key that cannot be assembled yet (see [`Waiting`]).
	pub fn on_wait(mut self, observer: impl Fn(&Waiting) + Send + Sync + 'static) -> Self {
		self.observer = Some(Arc::new(observer));
		self
	}

	/// Tells the observer, if there is one, what this client waits for.
	pub(crate) fn notify(&self, waiting: Waiting) {
		if let Some(observer) = &self.observer {
			observer(&waiting);
		}
	}

	/// The URL this client is connected to.
	pub fn url(&self) -> &str {
		&self.url
	}

	/// The current connection.
	fn connection(&self) -> Arc<WsClient> {
		self.rpc.read().unwrap_or_else(PoisonError::into_inner).clone()
	}

	/// Replaces the connection `dropped`, trying with backoff for the reconnect patience;
	/// whether a connection is up again.
	async fn reconnect(&self, dropped: &Arc<WsClient>) -> bool {
		let _one_at_a_time = self.reconnecting.lock().await;
		if !Arc::ptr_eq(&self.connection(), dropped) {
			// Another call reconnected meanwhile.
			return true;
		}
		let (first, longest) = RECONNECT_PAUSES;
		let connected = (|| open(&self.url, self.timeout))
			.retry(backoff(first, longest, self.reconnect_patience))
			.notify(|error, retry_in| {
				let (url, error) = (self.url.clone(), error.to_string());
				self.notify(Waiting::Reconnecting { url, error, retry_in })
			})
			.await;
		match connected {
			Ok(rpc) => {
				*self.rpc.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(rpc);
				self.notify(Waiting::Reconnected { url: self.url.clone() });
				true
			},
			Err(_) => false,
		}
	}

	/// Calls `method` on the node, reconnecting if the connection had dropped, and calling
	/// again on the new connection if that is [`safe_to_repeat`].
	async fn request<R: DeserializeOwned>(
		&self,
		method: &'static str,
		params: ArrayParams,
	) -> Result<R, ClientError> {
		let connection = self.connection();
		match connection.request(method, params.clone()).await {
			Err(error @ ClientError::RestartNeeded(_)) => {
				if self.reconnect(&connection).await && safe_to_repeat(method) {
					self.connection().request(method, params).await
				} else {
					Err(error)
				}
			},
			outcome => outcome,
		}
	}

	pub(crate) async fn call<R: DeserializeOwned>(
		&self,
		method: &'static str,
		params: ArrayParams,
	) -> Result<R, Error> {
		self.request(method, params).await.map_err(|source| Error::Rpc { method, source })
	}

	/// The header of block `at`, or of the best block.
	pub async fn header(&self, at: Option<H256>) -> Result<Header, Error> {
		let header: Option<Header> = self.call("chain_getHeader", rpc_params![at]).await?;
		header.ok_or(Error::Malformed { method: "chain_getHeader", detail: "no such block".into() })
	}

	/// The hash of the best block.
	pub async fn best_hash(&self) -> Result<H256, Error> {
		let hash: Option<H256> = self.call("chain_getBlockHash", rpc_params![]).await?;
		hash.ok_or(Error::Malformed {
			method: "chain_getBlockHash",
			detail: "no best block".into(),
		})
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

	/// Raw storage at `key` in block `at`, or in the best block.
	pub async fn storage(&self, key: &[u8], at: Option<H256>) -> Result<Option<Vec<u8>>, Error> {
		let value: Option<Bytes> =
			self.call("state_getStorage", rpc_params![Bytes(key.to_vec()), at]).await?;
		Ok(value.map(|bytes| bytes.0))
	}

	/// The timestamp of block `at`, in milliseconds since the Unix epoch (`pallet_timestamp`).
	pub async fn timestamp(&self, at: H256) -> Result<u64, Error> {
		let key = [sp_crypto_hashing::twox_128(b"Timestamp"), sp_crypto_hashing::twox_128(b"Now")]
			.concat();
		let malformed = |detail: String| Error::Malformed { method: "state_getStorage", detail };
		let raw =
			self.storage(&key, Some(at)).await?.ok_or_else(|| malformed("no timestamp".into()))?;
		u64::decode(&mut &raw[..]).map_err(|e| malformed(e.to_string()))
	}

	/// The runtime events of block `at`.
	pub async fn events(&self, at: H256) -> Result<Vec<RuntimeEvent>, Error> {
		Ok(self.event_records(at).await?.into_iter().map(|record| record.event).collect())
	}

	async fn event_records(&self, at: H256) -> Result<Vec<EventRecord>, Error> {
		let key = [sp_crypto_hashing::twox_128(b"System"), sp_crypto_hashing::twox_128(b"Events")]
			.concat();
		let Some(raw) = self.storage(&key, Some(at)).await? else { return Ok(Vec::new()) };
		Vec::<EventRecord>::decode(&mut &raw[..])
			.map_err(|e| Error::Malformed { method: "state_getStorage", detail: e.to_string() })
	}

	/// Waits until a block from number `from` on has an event for which `matches` gives a value,
	/// and returns that value and the block number; gives up after `timeout`.
	pub async fn wait_for_event<R>(
		&self,
		from: u32,
		timeout: Duration,
		what: &str,
		mut matches: impl FnMut(&RuntimeEvent) -> Option<R>,
	) -> Result<(R, u32), Error> {
		let deadline = tokio::time::Instant::now() + timeout;
		let mut next = from;
		loop {
			let best = self.header(None).await?.number;
			while next <= best {
				let hash = self.block_hash(next).await?;
				if let Some(found) = self.events(hash).await?.iter().find_map(&mut matches) {
					return Ok((found, next));
				}
				next += 1;
			}
			if tokio::time::Instant::now() >= deadline {
				return Err(Error::Timeout { what: what.to_string(), seconds: timeout.as_secs() });
			}
			tokio::time::sleep(Duration::from_millis(250)).await;
		}
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
		match self.storage(&key, None).await? {
			None => Ok(0),
			Some(raw) => {
				AccountInfo::decode(&mut &raw[..]).map(|info| info.data.free).map_err(|e| {
					Error::Malformed { method: "state_getStorage", detail: e.to_string() }
				})
			},
		}
	}

	/// The sealed record stored under DHT key `key`, SCALE-encoded, from this node.
	///
	/// Fails with [`Error::RecordNotFound`], [`Error::StreamEnded`] once the record's stream
	/// has ended, or [`Error::Refused`] if the node keeps no records.
	pub async fn record(&self, key: H256) -> Result<Vec<u8>, Error> {
		let method = "keyorch_getRecord";
		match self.request::<Bytes>(method, rpc_params![key]).await {
			Ok(bytes) => Ok(bytes.0),
			Err(source) => match Error::from_keyorch_rpc(method, source) {
				Error::Refused { refusal: Refusal::RecordNotFound, .. } => {
					Err(Error::RecordNotFound { key })
				},
				other => Err(other),
			},
		}
	}

	/// Asks this node's witness service for its share (`keyorch_requestShare`); the answer is
	/// sealed to the requester and not yet opened.
	///
	/// Fails with [`Error::StreamEnded`], [`Error::Refused`] for the node's other refusals, or
	/// [`Error::Malformed`] if the answer does not decode.
	pub async fn request_share(
		&self,
		request: &ShareReleaseRequest,
	) -> Result<SealedShareAnswer, Error> {
		let method = "keyorch_requestShare";
		let answer: Bytes = self
			.request(method, rpc_params![Bytes(request.encode())])
			.await
			.map_err(|source| Error::from_keyorch_rpc(method, source))?;
		SealedShareAnswer::decode_exact(&answer)
			.map_err(|e| Error::Malformed { method, detail: e.to_string() })
	}

	/// What the node says about its keyorch services (`keyorch_status`): which witness it
	/// serves, and counters.
	pub async fn status(&self) -> Result<NodeStatus, Error> {
		self.call("keyorch_status", rpc_params![]).await
	}

	/// `call` signed by `signer` with its next transaction index (counting the pool's), immortal
	/// and without tip, SCALE-encoded.
	async fn signed_extrinsic(&self, signer: &Signer, call: RuntimeCall) -> Result<Vec<u8>, Error> {
		let nonce = self.next_nonce(&signer.account_id()).await?;
		self.signed_extrinsic_with_nonce(signer, call, nonce).await
	}

	/// `call` signed by `signer` with transaction index `nonce`, immortal and without tip,
	/// SCALE-encoded.
	async fn signed_extrinsic_with_nonce(
		&self,
		signer: &Signer,
		call: RuntimeCall,
		nonce: u32,
	) -> Result<Vec<u8>, Error> {
		let (genesis, version) = futures::try_join!(self.block_hash(0), self.runtime_version())?;
		let account = signer.account_id();

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
		Ok(extrinsic.encode())
	}

	/// Signs `call` with `signer` and submits it without waiting; returns the transaction hash.
	pub async fn sign_and_submit(&self, signer: &Signer, call: RuntimeCall) -> Result<H256, Error> {
		let extrinsic = self.signed_extrinsic(signer, call).await?;
		self.call("author_submitExtrinsic", rpc_params![Bytes(extrinsic)]).await
	}

	/// Signs `call` with `signer` as its transaction number `nonce` and submits it without
	/// waiting; returns the transaction hash.
	///
	/// For many transactions of one account in a row: [`Self::sign_and_submit`] asks the node
	/// for the next index each time, this takes consecutive indices from the caller (the first
	/// from [`Self::next_nonce`]). The pool keeps a transaction whose index is ahead of the
	/// account's until the ones before it arrive.
	pub async fn sign_and_submit_with_nonce(
		&self,
		signer: &Signer,
		call: RuntimeCall,
		nonce: u32,
	) -> Result<H256, Error> {
		let extrinsic = self.signed_extrinsic_with_nonce(signer, call, nonce).await?;
		self.call("author_submitExtrinsic", rpc_params![Bytes(extrinsic)]).await
	}

	/// Signs `call` with `signer`, submits it and waits (at most `TX_TIMEOUT`) until it is in a
	/// block; returns that block and its events, or the reason the chain refused the call.
	pub async fn submit_and_watch(
		&self,
		signer: &Signer,
		call: RuntimeCall,
	) -> Result<Included, Error> {
		let extrinsic = self.signed_extrinsic(signer, call).await?;
		let method = "author_submitAndWatchExtrinsic";
		let connection = self.connection();
		let subscribed = connection
			.subscribe(method, rpc_params![Bytes(extrinsic.clone())], "author_unwatchExtrinsic")
			.await;
		let mut statuses: Subscription<serde_json::Value> = match subscribed {
			Ok(statuses) => statuses,
			Err(source) => {
				if let ClientError::RestartNeeded(_) = source {
					// Not submitted again (it may be in the pool), but the next call finds a
					// connection.
					self.reconnect(&connection).await;
				}
				return Err(Error::Rpc { method, source });
			},
		};
		let deadline = tokio::time::Instant::now() + TX_TIMEOUT;
		let block = loop {
			let status = tokio::time::timeout_at(deadline, statuses.next())
				.await
				.map_err(|_| Error::Timeout {
					what: "the transaction to be included".into(),
					seconds: TX_TIMEOUT.as_secs(),
				})?
				.ok_or_else(|| Error::Malformed { method, detail: "subscription closed".into() })?
				.map_err(|e| Error::Malformed { method, detail: e.to_string() })?;
			if let Some(hash) = ["inBlock", "finalized"]
				.iter()
				.find_map(|state| status.get(state))
				.and_then(|hash| serde_json::from_value::<H256>(hash.clone()).ok())
			{
				break hash;
			}
			let state = status
				.as_str()
				.map(str::to_string)
				.or_else(|| status.as_object().and_then(|o| o.keys().next().cloned()));
			if let Some(state @ ("invalid" | "dropped" | "usurped" | "finalityTimeout")) =
				state.as_deref()
			{
				return Err(Error::TransactionRejected { status: state.to_string() });
			}
		};
		self.included(block, &extrinsic).await
	}

	/// The outcome of `extrinsic` in `block`.
	async fn included(&self, block: H256, extrinsic: &[u8]) -> Result<Included, Error> {
		let method = "chain_getBlock";
		let body: serde_json::Value = self.call(method, rpc_params![block]).await?;
		let encoded = sp_core::bytes::to_hex(extrinsic, false);
		let index = body["block"]["extrinsics"]
			.as_array()
			.and_then(|all| all.iter().position(|x| x.as_str() == Some(encoded.as_str())))
			.ok_or_else(|| Error::Malformed {
				method,
				detail: "transaction not in its block".into(),
			})? as u32;
		let number = self.header(Some(block)).await?.number;
		let events: Vec<RuntimeEvent> = self
			.event_records(block)
			.await?
			.into_iter()
			.filter(|record| record.phase == frame_system::Phase::ApplyExtrinsic(index))
			.map(|record| record.event)
			.collect();
		for event in &events {
			if let RuntimeEvent::System(frame_system::Event::ExtrinsicFailed {
				dispatch_error,
				..
			}) = event
			{
				let reason = keyorch_runtime::RuntimeError::from_dispatch_error(*dispatch_error)
					.map(|error| format!("{error:?}"))
					.unwrap_or_else(|| format!("{dispatch_error:?}"));
				return Err(Error::DispatchFailed { reason });
			}
		}
		Ok(Included { block, number, events })
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn reads_are_repeated_after_a_drop_and_what_may_have_taken_effect_is_not() {
		for read in ["chain_getHeader", "state_call", "state_getStorage", "keyorch_getRecord"] {
			assert!(safe_to_repeat(read), "{read}");
		}
		for write in
			["author_submitExtrinsic", "author_submitAndWatchExtrinsic", "keyorch_requestShare"]
		{
			assert!(!safe_to_repeat(write), "{write}");
		}
	}
}
