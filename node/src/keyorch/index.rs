//! Which DHT keys belong to which stream, learnt from finalized `KeyEpochDealt` events and kept
//! in the node's persistent off-chain storage.
//!
//! Every node keeps it, whether or not it holds the records, so that any node can answer
//! "revoked" for a record of an ended stream, drop an ended stream's records at once, and, after
//! a restart, republish the records its own off-chain worker dealt.
//!
//! A stream that has ended in the best chain but not yet in a finalized block is *refused*: its
//! records are kept but not served. The refusal is lifted only once finality has passed the
//! block that ended the stream — by then the stream is ended here for good, or that block was
//! retracted by a reorg. So a finality stall never extends access, and a reorg can undo only a
//! refusal, never bring back a dropped record.

use std::collections::{BTreeMap, HashMap};

use codec::{Decode, Encode};
use keyorch_primitives::{record_dht_key, DealContext, HolderIndex};
use keyorch_runtime::{
	pallet_keyorch::types::{EpochIndex, StreamStatus},
	BlockNumber,
};
use sp_core::offchain::{OffchainStorage, STORAGE_PREFIX};

/// Persistent off-chain key of the index.
const INDEX_KEY: &[u8] = b"keyorch/v1/overlay/index";

/// Epochs of a stream the index keeps: the chain keeps the current and the previous one.
const EPOCHS_KEPT: usize = 2;

/// Ended streams remembered for "revoked" answers; the oldest are forgotten first.
const ENDED_KEPT: usize = 4096;

/// The DHT keys [`RecordIndex::add_epoch`] added and dropped.
pub struct AddedEpoch {
	/// The new epoch's keys, in holder order.
	pub keys: Vec<[u8; 32]>,
	/// The keys of the epoch no longer kept, whose records are to be dropped.
	pub dropped: Vec<[u8; 32]>,
}

/// The DHT keys of the records of `epoch` of `stream`, dealt to `holders` holders, in holder
/// order.
pub fn epoch_record_keys(stream: [u8; 32], epoch: EpochIndex, holders: usize) -> Vec<[u8; 32]> {
	let context = DealContext { stream_id: stream, epoch };
	(1..=holders)
		.filter_map(|holder| HolderIndex::try_from(holder).ok())
		.map(|holder| record_dht_key(&context, holder))
		.collect()
}

/// What the index knows of one stream.
#[derive(Clone, Debug, Default, Encode, Decode, PartialEq, Eq)]
pub struct StreamEntry {
	/// How it ended, once final.
	pub ended: Option<StreamStatus>,
	/// DHT keys of its dealt epochs' records, in holder order.
	pub epochs: BTreeMap<EpochIndex, Vec<[u8; 32]>>,
}

#[derive(Default, Encode, Decode)]
struct Persisted {
	streams: BTreeMap<[u8; 32], StreamEntry>,
	/// Ended streams, oldest first.
	ended_order: Vec<[u8; 32]>,
}

/// The index, in memory and in the off-chain store.
///
/// Changes are made in memory, key by key, and written to the store by [`Self::flush`] —
/// once per finalized block, not once per epoch: a block may deal hundreds of epochs.
pub struct RecordIndex<S> {
	store: Option<S>,
	state: Persisted,
	by_key: HashMap<[u8; 32], [u8; 32]>,
	/// Streams ended in the best chain, not yet finally: how, and the newest block that said so.
	refused: HashMap<[u8; 32], (StreamStatus, BlockNumber)>,
	/// Whether memory holds changes the store has not.
	dirty: bool,
}

impl<S: OffchainStorage> RecordIndex<S> {
	/// Loads the index from `store` (empty if there is none or it does not decode).
	pub fn load(store: Option<S>) -> Self {
		let state = store
			.as_ref()
			.and_then(|store| store.get(STORAGE_PREFIX, INDEX_KEY))
			.and_then(|raw| Persisted::decode(&mut &raw[..]).ok())
			.unwrap_or_default();
		let mut index =
			Self { store, state, by_key: HashMap::new(), refused: HashMap::new(), dirty: false };
		index.rebuild_key_map();
		index
	}

	fn rebuild_key_map(&mut self) {
		self.by_key = self
			.state
			.streams
			.iter()
			.flat_map(|(stream, entry)| {
				entry.epochs.values().flatten().map(move |key| (*key, *stream))
			})
			.collect();
	}

	/// Writes the changes since the last flush to the store.
	pub fn flush(&mut self) {
		if !std::mem::take(&mut self.dirty) {
			return;
		}
		let encoded = self.state.encode();
		if let Some(store) = self.store.as_mut() {
			store.set(STORAGE_PREFIX, INDEX_KEY, &encoded);
		}
	}

	/// Records a dealt epoch with `holders` holders; returns its DHT keys in holder order, and
	/// those of the epoch the chain no longer keeps since, if any.
	pub fn add_epoch(&mut self, stream: [u8; 32], epoch: EpochIndex, holders: usize) -> AddedEpoch {
		let keys = epoch_record_keys(stream, epoch, holders);
		let entry = self.state.streams.entry(stream).or_default();
		entry.epochs.insert(epoch, keys.clone());
		self.by_key.extend(keys.iter().map(|key| (*key, stream)));
		let mut dropped = Vec::new();
		while entry.epochs.len() > EPOCHS_KEPT {
			for key in entry.epochs.pop_first().map(|(_, keys)| keys).unwrap_or_default() {
				self.by_key.remove(&key);
				dropped.push(key);
			}
		}
		self.dirty = true;
		AddedEpoch { keys, dropped }
	}

	/// Whether records of `epoch` of `stream` are served: the stream has not ended and the
	/// epoch is one the chain keeps, as far as the index knows. A stream or epoch it has not
	/// seen yet is served: records are checked against the chain before they are stored.
	pub fn serves(&self, stream: &[u8; 32], epoch: EpochIndex) -> bool {
		if self.refused.contains_key(stream) {
			return false;
		}
		let Some(entry) = self.state.streams.get(stream) else { return true };
		entry.ended.is_none()
			&& entry
				.epochs
				.last_key_value()
				.is_none_or(|(newest, _)| epoch.saturating_add(EPOCHS_KEPT as u32) > *newest)
	}

	/// Marks `stream` ended; returns the DHT keys of its records, to drop.
	pub fn end_stream(&mut self, stream: [u8; 32], status: StreamStatus) -> Vec<[u8; 32]> {
		let entry = self.state.streams.entry(stream).or_default();
		if entry.ended.is_none() {
			self.state.ended_order.push(stream);
		}
		entry.ended = Some(status);
		let keys = entry.epochs.values().flatten().copied().collect();
		if self.state.ended_order.len() > ENDED_KEPT {
			let forgotten = self.state.ended_order.remove(0);
			if let Some(entry) = self.state.streams.remove(&forgotten) {
				for key in entry.epochs.values().flatten() {
					self.by_key.remove(key);
				}
			}
		}
		self.dirty = true;
		keys
	}

	/// Refuses `stream`'s records: block `at` of the best chain says it ended as `status`.
	pub fn refuse(&mut self, stream: [u8; 32], status: StreamStatus, at: BlockNumber) {
		let refusal = self.refused.entry(stream).or_insert((status, at));
		if at >= refusal.1 {
			*refusal = (status, at);
		}
	}

	/// Lifts the refusals of blocks up to `finalized`: what they said is final now, or was
	/// retracted.
	pub fn lift_refusals(&mut self, finalized: BlockNumber) {
		self.refused.retain(|_, (_, at)| *at > finalized);
	}

	/// How `stream` ended, finally or in the best chain, if it has.
	pub fn ended(&self, stream: &[u8; 32]) -> Option<StreamStatus> {
		let final_end = self.state.streams.get(stream).and_then(|entry| entry.ended);
		final_end.or_else(|| self.refused.get(stream).map(|(status, _)| *status))
	}

	/// The stream a DHT key belongs to and how it ended, if it has.
	pub fn lookup(&self, key: &[u8; 32]) -> Option<([u8; 32], Option<StreamStatus>)> {
		let stream = self.by_key.get(key)?;
		Some((*stream, self.ended(stream)))
	}

	/// DHT keys of every live stream's indexed records.
	pub fn live_keys(&self) -> Vec<[u8; 32]> {
		self.state
			.streams
			.values()
			.filter(|entry| entry.ended.is_none())
			.flat_map(|entry| entry.epochs.values().flatten().copied())
			.collect()
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use sp_core::offchain::storage::InMemOffchainStorage;

	#[test]
	fn keys_map_to_their_stream_and_survive_a_reload() {
		let mut index = RecordIndex::load(Some(InMemOffchainStorage::default()));
		let keys = index.add_epoch([1; 32], 0, 4).keys;
		assert_eq!(keys.len(), 4);
		assert_eq!(index.lookup(&keys[2]), Some(([1; 32], None)));
		assert_eq!(index.live_keys(), keys);

		// Nothing reaches the store before a flush.
		assert_eq!(RecordIndex::load(index.store.clone()).lookup(&keys[0]), None);
		index.flush();
		let reloaded = RecordIndex::load(index.store.clone());
		assert_eq!(reloaded.lookup(&keys[0]), Some(([1; 32], None)));
	}

	#[test]
	fn an_ended_stream_keeps_its_keys_for_answers_but_not_as_live() {
		let mut index = RecordIndex::load(Some(InMemOffchainStorage::default()));
		let first = index.add_epoch([2; 32], 0, 3).keys;
		let second = index.add_epoch([2; 32], 1, 3).keys;
		assert!(index.serves(&[2; 32], 0));
		let third = index.add_epoch([2; 32], 2, 3);
		// Only the current and previous epochs are kept, like on chain.
		assert_eq!(third.dropped, first);
		assert_eq!(index.lookup(&first[0]), None);
		assert!(!index.serves(&[2; 32], 0) && index.serves(&[2; 32], 1));
		let third = third.keys;

		let dropped = index.end_stream([2; 32], StreamStatus::Revoked);
		assert_eq!(dropped, [second.clone(), third].concat());
		assert_eq!(index.lookup(&second[1]), Some(([2; 32], Some(StreamStatus::Revoked))));
		assert!(index.live_keys().is_empty());
		assert!(!index.serves(&[2; 32], 2));
		assert!(index.serves(&[3; 32], 0), "an unknown stream is served");
	}

	#[test]
	fn an_end_in_the_best_chain_refuses_until_finality_passes_it() {
		let mut index = RecordIndex::load(Some(InMemOffchainStorage::default()));
		let keys = index.add_epoch([4; 32], 0, 3).keys;
		index.refuse([4; 32], StreamStatus::Revoked, 10);
		assert!(!index.serves(&[4; 32], 0));
		assert_eq!(index.lookup(&keys[0]), Some(([4; 32], Some(StreamStatus::Revoked))));
		// A stall: finality is behind the revocation, which keeps refusing.
		index.lift_refusals(9);
		assert!(!index.serves(&[4; 32], 0));
		// A later block of another fork says so too: finality must pass that one.
		index.refuse([4; 32], StreamStatus::Closed, 12);
		index.lift_refusals(11);
		assert_eq!(index.ended(&[4; 32]), Some(StreamStatus::Closed));
		// Finality passed both blocks without the stream ending: they were retracted.
		index.lift_refusals(12);
		assert!(index.serves(&[4; 32], 0));
		assert_eq!(index.lookup(&keys[0]), Some(([4; 32], None)));
		// Or it did end finally: the index says so for good.
		index.refuse([4; 32], StreamStatus::Revoked, 13);
		index.end_stream([4; 32], StreamStatus::Revoked);
		index.lift_refusals(13);
		assert!(!index.serves(&[4; 32], 0));
	}
}
