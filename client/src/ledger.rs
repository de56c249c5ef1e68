//! Typed reads of keyorch's ledger through its runtime API (`KeyorchApi_*` via `state_call`).
//!
//! Every read takes the block to read at; `None` means the latest finalized block, so what a
//! client acts on cannot be reverted.

use codec::{DecodeAll, Encode};
use jsonrpsee::rpc_params;
use keyorch_runtime::{pallet_keyorch::StreamInfo, Runtime};
use sp_core::{Bytes, H256};

use crate::{
	AccountId, BlockNumber, EndedBy, EpochIndex, EpochView, Error, HolderRole, NodeClient,
	StreamId, StreamStatus, StreamView, Tombstone,
};

/// How a stream status is written for people and scripts: `requested`, `live`, `closed`,
/// `revoked` or `expired`.
pub fn stream_status_name(status: StreamStatus) -> &'static str {
	match status {
		StreamStatus::Requested => "requested",
		StreamStatus::Live => "live",
		StreamStatus::Closed => "closed",
		StreamStatus::Revoked => "revoked",
		StreamStatus::Expired => "expired",
	}
}

/// How the party that ended a stream is written: `initiator`, `provider`, `governance` or
/// `expiry`.
pub fn ended_by_name(by: EndedBy) -> &'static str {
	match by {
		EndedBy::Initiator => "initiator",
		EndedBy::Provider => "provider",
		EndedBy::Governance => "governance",
		EndedBy::Expiry => "expiry",
	}
}

impl NodeClient {
	/// `block`, or the latest finalized block if `None`.
	pub(crate) async fn at_or_finalized(&self, block: Option<H256>) -> Result<H256, Error> {
		match block {
			Some(hash) => Ok(hash),
			None => self.finalized_hash().await,
		}
	}

	/// Calls runtime-API function `function` (e.g. `KeyorchApi_stream`) with SCALE-encoded
	/// `args` at block `at` (the latest finalized block if `None`) and decodes its answer.
	pub async fn runtime_call<R: DecodeAll>(
		&self,
		function: &'static str,
		args: impl Encode,
		at: Option<H256>,
	) -> Result<R, Error> {
		let at = self.at_or_finalized(at).await?;
		let answer: Bytes =
			self.call("state_call", rpc_params![function, Bytes(args.encode()), at]).await?;
		R::decode_all(&mut &answer[..])
			.map_err(|e| Error::Malformed { method: function, detail: e.to_string() })
	}

	/// An open stream with its holders, policy and epochs (`KeyorchApi_stream`); `None` if no
	/// such stream is open (see [`Self::tombstone`] for ended ones).
	pub async fn stream_view(
		&self,
		stream: StreamId,
		at: Option<H256>,
	) -> Result<Option<StreamView>, Error> {
		self.runtime_call("KeyorchApi_stream", stream, at).await
	}

	/// The status of an open or ended stream (`KeyorchApi_stream_status`).
	pub async fn stream_status(
		&self,
		stream: StreamId,
		at: Option<H256>,
	) -> Result<Option<StreamStatus>, Error> {
		self.runtime_call("KeyorchApi_stream_status", stream, at).await
	}

	/// What remains of an ended stream (`KeyorchApi_tombstone`).
	pub async fn tombstone(
		&self,
		stream: StreamId,
		at: Option<H256>,
	) -> Result<Option<Tombstone>, Error> {
		self.runtime_call("KeyorchApi_tombstone", stream, at).await
	}

	/// The commitments and record hashes of the stream's current epoch
	/// (`KeyorchApi_current_epoch`).
	pub async fn current_epoch_view(
		&self,
		stream: StreamId,
		at: Option<H256>,
	) -> Result<Option<EpochView>, Error> {
		self.runtime_call("KeyorchApi_current_epoch", stream, at).await
	}

	/// A stored epoch of the stream, the current or the previous one (`KeyorchApi_epoch`).
	pub async fn epoch_view(
		&self,
		stream: StreamId,
		epoch: EpochIndex,
		at: Option<H256>,
	) -> Result<Option<EpochView>, Error> {
		self.runtime_call("KeyorchApi_epoch", (stream, epoch), at).await
	}

	/// The X25519 public key `who` registered, if it is a participant
	/// (`KeyorchApi_participant_key`).
	pub async fn participant_key(
		&self,
		who: &AccountId,
		at: Option<H256>,
	) -> Result<Option<[u8; 32]>, Error> {
		self.runtime_call("KeyorchApi_participant_key", who, at).await
	}
}

/// A stream an account is initiator or provider of, as [`NodeClient::party_streams`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartyStream {
	pub id: StreamId,
	/// [`HolderRole::Initiator`] or [`HolderRole::Provider`].
	pub role: HolderRole,
	/// `Requested` or `Live`: ended streams are not listed.
	pub status: StreamStatus,
	/// The other party.
	pub counterparty: AccountId,
	pub requested_at: BlockNumber,
	pub expires_at: BlockNumber,
	pub current_epoch: Option<EpochIndex>,
}

/// Stream entries read per `state_getKeysPaged` and `state_queryStorageAt` call.
const STREAMS_PER_PAGE: u32 = 256;

/// One block's answer of `state_queryStorageAt`.
#[derive(serde::Deserialize)]
struct StorageAt {
	changes: Vec<(Bytes, Option<Bytes>)>,
}

impl NodeClient {
	/// The open streams `account` is initiator or provider of, at `at` (the latest finalized
	/// block if `None`), in storage order.
	///
	/// The ledger keeps no index by account, so this reads every open stream's entry, a page at
	/// a time: its cost grows with the chain's open streams, not with the account's.
	pub async fn party_streams(
		&self,
		account: &AccountId,
		at: Option<H256>,
	) -> Result<Vec<PartyStream>, Error> {
		const METHOD: &str = "state_queryStorageAt";
		let at = self.at_or_finalized(at).await?;
		let prefix =
			[sp_crypto_hashing::twox_128(b"Keyorch"), sp_crypto_hashing::twox_128(b"Streams")]
				.concat();
		let mut found = Vec::new();
		let mut start: Option<Bytes> = None;
		loop {
			let keys: Vec<Bytes> = self
				.call(
					"state_getKeysPaged",
					rpc_params![Bytes(prefix.clone()), STREAMS_PER_PAGE, start.clone(), at],
				)
				.await?;
			let Some(last) = keys.last().cloned() else { break };
			let sets: Vec<StorageAt> = self.call(METHOD, rpc_params![keys.clone(), at]).await?;
			for (key, value) in sets.into_iter().flat_map(|set| set.changes) {
				let Some(value) = value else { continue };
				let malformed = |detail: String| Error::Malformed { method: METHOD, detail };
				// The prefix, the id's Blake2-128, the id (Blake2_128Concat).
				if key.len() != prefix.len() + 16 + 32 || !key.starts_with(&prefix) {
					let key = sp_core::bytes::to_hex(&key, false);
					return Err(malformed(format!("not a stream key: {key}")));
				}
				let id = StreamId::from_slice(&key[key.len() - 32..]);
				// Decoded with this client's runtime types: a runtime upgrade that changes the
				// entry's layout breaks this list until the client is rebuilt.
				let info = StreamInfo::<Runtime>::decode_all(&mut &value[..])
					.map_err(|e| malformed(e.to_string()))?;
				let (role, counterparty) = if info.initiator == *account {
					(HolderRole::Initiator, info.provider)
				} else if info.provider == *account {
					(HolderRole::Provider, info.initiator)
				} else {
					continue;
				};
				found.push(PartyStream {
					id,
					role,
					status: info.status,
					counterparty,
					requested_at: info.requested_at,
					expires_at: info.expires_at,
					current_epoch: info.current_epoch,
				});
			}
			if keys.len() < STREAMS_PER_PAGE as usize {
				break;
			}
			start = Some(last);
		}
		Ok(found)
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn status_names_are_lowercase_words() {
		let all = [
			(StreamStatus::Requested, "requested"),
			(StreamStatus::Live, "live"),
			(StreamStatus::Closed, "closed"),
			(StreamStatus::Revoked, "revoked"),
			(StreamStatus::Expired, "expired"),
		];
		for (status, name) in all {
			assert_eq!(stream_status_name(status), name);
		}
		assert_eq!(ended_by_name(EndedBy::Governance), "governance");
	}
}
