//! What the DHT overlay and the witness service read from the chain: keyorch's runtime API and
//! events.
//!
//! The node has two views of the chain, its finalized block and its best block. Refusals need
//! only one of them, and access is decided by the best chain, before it is final:
//!
//! - a stream that has ended in either view is ended ([`Ledger::stream_status`]): a
//!   revocation, close or expiry is honoured as soon as it is in the best chain, and a finality
//!   stall never extends anyone's access;
//! - a share may be released if the best block allows it ([`Ledger::may_request_share`]); the
//!   finalized block, its ancestor, could only refuse a request or dealing that is not final
//!   yet (this is the fast path: keys are released before their dealing is final);
//! - a dealt epoch and its records' hashes are read at the best block, else the finalized one
//!   ([`Ledger::epoch`]).
//!
//! A reorg can thus undo a dealing whose shares were released already. Those shares went only to
//! the parties the best chain named, and clients drop a key whose dealing does not become final
//! (`keyorch_client::Dealing`); a reorg can never undo an end that was final.

use std::sync::Arc;

use codec::Decode;
use keyorch_primitives::{
	record_dht_key, record_hash, DealContext, HolderIndex, SealedShareRecord,
};
use keyorch_runtime::{
	opaque::Block,
	pallet_keyorch::{
		self,
		runtime_api::KeyorchApi,
		types::{EpochIndex, EpochView, StreamStatus, StreamView},
	},
	AccountId, BlockNumber, Hash, RuntimeEvent,
};
use sc_client_api::StorageProvider;
use sp_api::ProvideRuntimeApi;
use sp_blockchain::HeaderBackend;

use crate::service::FullClient;

/// A stream-level fact from a block that the overlay and the witness act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LedgerEvent {
	/// An epoch was dealt: its holders' records are committed.
	EpochDealt {
		/// The stream.
		stream: [u8; 32],
		/// The epoch.
		epoch: EpochIndex,
		/// Holders in share order.
		holders: Vec<AccountId>,
		/// Commitments, for holders to verify their shares.
		commitments: Vec<[u8; 32]>,
		/// Sealed record hashes in holder order.
		record_hashes: Vec<[u8; 32]>,
	},
	/// The stream was revoked, closed or expired.
	StreamEnded {
		/// The stream.
		stream: [u8; 32],
		/// How it ended.
		status: StreamStatus,
	},
}

/// Why a record is not accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordRejection {
	/// Not a SCALE `SealedShareRecord`, or stored under a key that is not its DHT key.
	Malformed,
	/// The chain has a different hash for this holder's record of this epoch: a forgery.
	HashMismatch,
	/// The chain does not know the epoch yet; it may only be late here.
	NotYetOnChain,
	/// The stream has ended; its records are dropped everywhere.
	Ended(StreamStatus),
}

/// A record the chain commits to, for a live stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidRecord {
	/// Its stream.
	pub stream: [u8; 32],
	/// Its epoch.
	pub epoch: EpochIndex,
	/// Its holder index.
	pub holder: HolderIndex,
	/// Best-chain blocks the stream has left to live.
	pub blocks_left: BlockNumber,
}

/// Read access to the node's views of the chain.
#[derive(Clone)]
pub struct Ledger {
	client: Arc<FullClient>,
}

/// A runtime API call that failed (the node's state is pruned or the runtime is broken).
#[derive(Debug, thiserror::Error)]
#[error("reading the chain failed: {0}")]
pub struct LedgerError(String);

fn api_error(error: impl std::fmt::Display) -> LedgerError {
	LedgerError(error.to_string())
}

impl Ledger {
	/// Reads through `client`.
	pub fn new(client: Arc<FullClient>) -> Self {
		Self { client }
	}

	/// Number and hash of the finalized block.
	pub fn finalized(&self) -> (BlockNumber, Hash) {
		let info = self.client.info();
		(info.finalized_number, info.finalized_hash)
	}

	/// Number and hash of the best block.
	pub fn best(&self) -> (BlockNumber, Hash) {
		let info = self.client.info();
		(info.best_number, info.best_hash)
	}

	/// A stream's status as the node's views of the chain decide it: how it ended if it has
	/// ended at the finalized or at the best block, else its status at the finalized block, or
	/// at the best block if the finalized one does not know it yet (`None`: unknown to both).
	pub fn stream_status(&self, stream: [u8; 32]) -> Result<Option<StreamStatus>, LedgerError> {
		let (_, best) = self.best();
		let (_, finalized) = self.finalized();
		let at_best = self.stream_status_at(best, stream)?;
		if at_best.is_some_and(|status| status.has_ended()) || best == finalized {
			return Ok(at_best);
		}
		Ok(self.stream_status_at(finalized, stream)?.or(at_best))
	}

	/// A stream's status at the best block (`None`: unknown there).
	pub fn best_stream_status(
		&self,
		stream: [u8; 32],
	) -> Result<Option<StreamStatus>, LedgerError> {
		self.stream_status_at(self.best().1, stream)
	}

	fn stream_status_at(
		&self,
		at: Hash,
		stream: [u8; 32],
	) -> Result<Option<StreamStatus>, LedgerError> {
		self.client.runtime_api().stream_status(at, stream.into()).map_err(api_error)
	}

	/// What `read` finds at the best block, else at the finalized block: the best chain's
	/// facts before they are final, and the finalized chain's that the best one no longer keeps.
	fn newest<T>(
		&self,
		read: impl Fn(Hash) -> Result<Option<T>, sp_api::ApiError>,
	) -> Result<Option<T>, LedgerError> {
		let (best, finalized) = (self.best().1, self.finalized().1);
		match read(best).map_err(api_error)? {
			None if best != finalized => read(finalized).map_err(api_error),
			found => Ok(found),
		}
	}

	/// An open stream, at the best block or else the finalized one.
	pub fn stream(
		&self,
		stream: [u8; 32],
	) -> Result<Option<StreamView<AccountId, BlockNumber>>, LedgerError> {
		self.newest(|at| self.client.runtime_api().stream(at, stream.into()))
	}

	/// A dealt epoch, at the best block or else the finalized one.
	pub fn epoch(
		&self,
		stream: [u8; 32],
		epoch: EpochIndex,
	) -> Result<Option<EpochView<BlockNumber>>, LedgerError> {
		self.newest(|at| self.client.runtime_api().epoch(at, stream.into(), epoch))
	}

	/// Whether `witness` may release its share of `stream` to `requester` now, as the best
	/// block says. The finalized block is an ancestor of the best block: a stream that has
	/// ended there has ended in the best chain too, and parties and witnesses never change, so
	/// the finalized view could only refuse what the best chain adds — a request or a dealing
	/// that is not final yet, which is what the fast path acts on.
	pub fn may_request_share(
		&self,
		stream: [u8; 32],
		requester: AccountId,
		witness: AccountId,
	) -> Result<bool, LedgerError> {
		let (_, best) = self.best();
		self.client
			.runtime_api()
			.may_request_share(best, stream.into(), requester, witness)
			.map_err(api_error)
	}

	/// A participant's registered X25519 key, at the best block or else the finalized one.
	pub fn participant_key(&self, who: AccountId) -> Result<Option<[u8; 32]>, LedgerError> {
		self.newest(|at| self.client.runtime_api().participant_key(at, who.clone()))
	}

	/// Checks `value`, offered under DHT `key`, against the chain: the best block's (else the
	/// finalized block's) hash for its holder's record of its epoch, of a stream that has not
	/// ended in either view.
	pub fn validate_record(&self, key: &[u8; 32], value: &[u8]) -> Result<ValidRecord, Rejection> {
		use keyorch_primitives::WireFormat;
		let record =
			SealedShareRecord::decode_exact(value).map_err(|_| RecordRejection::Malformed)?;
		let context = record.context();
		if record_dht_key(&context, record.holder_index) != *key || record.holder_index == 0 {
			return Err(RecordRejection::Malformed.into());
		}
		let DealContext { stream_id, epoch } = context;
		let status = self.stream_status(stream_id)?;
		if let Some(status) = status.filter(StreamStatus::has_ended) {
			return Err(RecordRejection::Ended(status).into());
		}
		let Some(view) = self.epoch(stream_id, epoch)? else {
			return Err(RecordRejection::NotYetOnChain.into());
		};
		let committed = view.record_hashes.get(usize::from(record.holder_index) - 1);
		if committed != Some(&record_hash(&record)) {
			return Err(RecordRejection::HashMismatch.into());
		}
		let (now, _) = self.best();
		let expires_at = self.stream(stream_id)?.map(|s| s.expires_at).unwrap_or(now);
		Ok(ValidRecord {
			stream: stream_id,
			epoch,
			holder: record.holder_index,
			blocks_left: expires_at.saturating_sub(now),
		})
	}

	/// The best chain's blocks above the finalized one, oldest first: at most the newest
	/// [`UNFINALIZED_READ`], which is far more than finality ever lags on a healthy chain.
	pub fn unfinalized_blocks(&self) -> Vec<(Hash, BlockNumber)> {
		let (finalized, _) = self.finalized();
		let mut blocks = Vec::new();
		let (mut number, mut hash) = self.best();
		while number > finalized && blocks.len() < UNFINALIZED_READ {
			let Ok(Some(header)) = self.client.header(hash) else { break };
			blocks.push((hash, number));
			(number, hash) = (number.saturating_sub(1), header.parent_hash);
		}
		blocks.reverse();
		blocks
	}

	/// keyorch's stream-level events in block `at`; none, with a warning, if they cannot be
	/// read (the block's state is pruned).
	pub fn events(&self, at: Hash) -> Vec<LedgerEvent> {
		self.read_events(at).unwrap_or_else(|error| {
			log::warn!(target: "keyorch::ledger", "events of {at:?}: {error}");
			Vec::new()
		})
	}

	fn read_events(&self, at: Hash) -> Result<Vec<LedgerEvent>, LedgerError> {
		let key =
			[sp_io::hashing::twox_128(b"System"), sp_io::hashing::twox_128(b"Events")].concat();
		let Some(raw) =
			self.client.storage(at, &sc_client_api::StorageKey(key)).map_err(api_error)?
		else {
			return Ok(Vec::new());
		};
		let records = Vec::<frame_system::EventRecord<RuntimeEvent, Hash>>::decode(&mut &raw.0[..])
			.map_err(api_error)?;
		Ok(records.into_iter().filter_map(|record| ledger_event(record.event)).collect())
	}

	/// The chain's slot duration in milliseconds, used to turn blocks into record lifetimes.
	pub fn slot_millis(&self) -> u64 {
		sc_consensus_aura::slot_duration::<sp_consensus_aura::sr25519::AuthorityId, _, _>(
			&*self.client,
		)
		.map(|slot| slot.as_millis())
		.unwrap_or(DEFAULT_SLOT_MILLIS)
	}

	/// The node's client, for subscriptions.
	pub fn client(&self) -> &Arc<FullClient> {
		&self.client
	}
}

/// Blocks above the finalized one [`Ledger::unfinalized_blocks`] reads at most.
const UNFINALIZED_READ: usize = 4096;

/// Slot duration assumed if the runtime cannot tell (it always can on a keyorch chain).
const DEFAULT_SLOT_MILLIS: u64 = 3_000;

/// A record rejection, or a chain read that failed before a verdict.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
	/// The record is not accepted.
	#[error("record rejected: {0:?}")]
	Record(RecordRejection),
	/// The chain could not be read.
	#[error(transparent)]
	Ledger(#[from] LedgerError),
}

impl From<RecordRejection> for Rejection {
	fn from(rejection: RecordRejection) -> Self {
		Self::Record(rejection)
	}
}

fn ledger_event(event: RuntimeEvent) -> Option<LedgerEvent> {
	use pallet_keyorch::Event;
	let RuntimeEvent::Keyorch(event) = event else { return None };
	Some(match event {
		Event::KeyEpochDealt { stream, epoch, holders, commitments, record_hashes, .. } => {
			LedgerEvent::EpochDealt {
				stream: stream.to_fixed_bytes(),
				epoch,
				holders,
				commitments,
				record_hashes,
			}
		},
		Event::StreamRevoked { stream, .. } => LedgerEvent::StreamEnded {
			stream: stream.to_fixed_bytes(),
			status: StreamStatus::Revoked,
		},
		Event::StreamClosed { stream, .. } => LedgerEvent::StreamEnded {
			stream: stream.to_fixed_bytes(),
			status: StreamStatus::Closed,
		},
		Event::StreamExpired { stream, .. } => LedgerEvent::StreamEnded {
			stream: stream.to_fixed_bytes(),
			status: StreamStatus::Expired,
		},
		_ => return None,
	})
}

/// The blocks an import made part of the best chain, oldest first, with their numbers: none
/// unless the imported block is the new best block.
pub fn new_best_blocks(
	notification: &sc_client_api::BlockImportNotification<Block>,
) -> Vec<(Hash, BlockNumber)> {
	use sp_runtime::traits::Header;
	if !notification.is_new_best {
		return Vec::new();
	}
	// The route ends at the new block's parent.
	let enacted = notification.tree_route.iter().flat_map(|route| route.enacted().to_vec());
	enacted
		.map(|block| (block.hash, block.number))
		.chain(std::iter::once((notification.hash, *notification.header.number())))
		.collect()
}

/// The blocks a finality notification finalized, oldest first.
pub fn finalized_blocks(notification: &sc_client_api::FinalityNotification<Block>) -> Vec<Hash> {
	notification.tree_route.iter().copied().chain(std::iter::once(notification.hash)).collect()
}
