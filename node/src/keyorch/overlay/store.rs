//! The overlay's Kademlia record store: rust-libp2p's memory store with keyorch's rule applied
//! at the protocol level. Kademlia answers peers' GET requests and replicates records straight
//! from its store, so the rule is applied here, on every put, get and listing — not only in
//! `keyorch_getRecord`:
//!
//! - a record is served only while its stream has not ended and its epoch is one the chain
//!   keeps (the current or the previous one), as far as the [`RecordIndex`] knows;
//! - a record of an ended stream, or of an epoch older than that, is never stored.
//!
//! Records reach [`RecordStore::put`] only after the admission checked them against the chain
//! (see `admission`); this store's own check needs no chain read, so it is cheap enough for
//! every GET a peer sends.

use std::borrow::Cow;

use keyorch_primitives::{SealedShareRecord, WireFormat};
use libp2p::{
	kad::{
		store::{self, MemoryStore, MemoryStoreConfig, RecordStore},
		ProviderRecord, Record, RecordKey,
	},
	PeerId,
};
use sp_core::offchain::OffchainStorage;

use crate::keyorch::index::RecordIndex;

/// Kademlia's store of sealed records, with the index of which records keyorch serves.
pub struct ValidatedStore<S> {
	records: MemoryStore,
	index: RecordIndex<S>,
}

/// The 32-byte DHT key of a Kademlia key, if it is one.
pub fn key_bytes(key: &RecordKey) -> Option<[u8; 32]> {
	key.as_ref().try_into().ok()
}

impl<S: OffchainStorage> ValidatedStore<S> {
	/// A store for `local_id` with `config`'s bounds, serving by `index`.
	pub fn new(local_id: PeerId, config: MemoryStoreConfig, index: RecordIndex<S>) -> Self {
		Self { records: MemoryStore::with_config(local_id, config), index }
	}

	/// The index the rule reads.
	pub fn index(&self) -> &RecordIndex<S> {
		&self.index
	}

	/// The index, to record what finalized blocks say.
	pub fn index_mut(&mut self) -> &mut RecordIndex<S> {
		&mut self.index
	}

	/// Removes the record under `key`, served or not; whether one was held.
	pub fn remove_held(&mut self, key: &[u8; 32]) -> bool {
		let key = RecordKey::new(key);
		let held = self.records.get(&key).is_some();
		self.records.remove(&key);
		held
	}

	/// Whether this very record (same key, same value) is held and served already. Peers
	/// re-send what they hold at every replication interval; such a copy changes nothing here
	/// and needs no chain read.
	pub fn holds(&self, record: &Record) -> bool {
		self.records.get(&record.key).is_some_and(|held| held.value == record.value)
			&& self.serves(record)
	}

	/// Whether keyorch serves `record` now: it is a well-formed sealed record under its own
	/// DHT key, of a stream the index does not know as ended, and of an epoch it keeps.
	fn serves(&self, record: &Record) -> bool {
		let Ok(sealed) = SealedShareRecord::decode_exact(&record.value) else { return false };
		let context = sealed.context();
		key_bytes(&record.key).is_some_and(|key| {
			key == keyorch_primitives::record_dht_key(&context, sealed.holder_index)
		}) && self.index.serves(&context.stream_id, context.epoch)
	}
}

impl<S: OffchainStorage> RecordStore for ValidatedStore<S> {
	type RecordsIter<'a>
		= Box<dyn Iterator<Item = Cow<'a, Record>> + 'a>
	where
		Self: 'a;
	type ProvidedIter<'a>
		= <MemoryStore as RecordStore>::ProvidedIter<'a>
	where
		Self: 'a;

	fn get(&self, key: &RecordKey) -> Option<Cow<'_, Record>> {
		self.records.get(key).filter(|record| self.serves(record))
	}

	fn put(&mut self, record: Record) -> store::Result<()> {
		if !self.serves(&record) {
			// The memory store's errors are all there is; a record keyorch does not serve
			// has no room here.
			return Err(store::Error::MaxRecords);
		}
		self.records.put(record)
	}

	fn remove(&mut self, key: &RecordKey) {
		self.records.remove(key)
	}

	fn records(&self) -> Self::RecordsIter<'_> {
		Box::new(self.records.records().filter(|record| self.serves(record)))
	}

	fn add_provider(&mut self, record: ProviderRecord) -> store::Result<()> {
		self.records.add_provider(record)
	}

	fn providers(&self, key: &RecordKey) -> Vec<ProviderRecord> {
		self.records.providers(key)
	}

	fn provided(&self) -> Self::ProvidedIter<'_> {
		self.records.provided()
	}

	fn remove_provider(&mut self, key: &RecordKey, provider: &PeerId) {
		self.records.remove_provider(key, provider)
	}
}

#[cfg(test)]
mod tests {
	use keyorch_runtime::pallet_keyorch::types::StreamStatus;
	use sp_core::offchain::storage::InMemOffchainStorage;

	use super::*;
	use crate::keyorch::overlay::sample_record;

	fn store() -> ValidatedStore<InMemOffchainStorage> {
		let index = RecordIndex::load(Some(InMemOffchainStorage::default()));
		ValidatedStore::new(PeerId::random(), MemoryStoreConfig::default(), index)
	}

	#[test]
	fn records_of_ended_streams_and_old_epochs_are_neither_served_nor_stored() {
		let mut store = store();
		let (live, old) = (sample_record([1; 32], 0), sample_record([2; 32], 0));
		store.put(live.clone()).expect("a live stream's record");
		store.put(old.clone()).expect("an epoch the index does not know yet");
		assert!(store.get(&live.key).is_some());
		// Stream 2 rotated twice: epoch 0 is no longer kept on chain.
		store.index_mut().add_epoch([2; 32], 0, 3);
		store.index_mut().add_epoch([2; 32], 1, 3);
		store.index_mut().add_epoch([2; 32], 2, 3);
		assert!(store.get(&old.key).is_none());
		assert!(store.put(old.clone()).is_err());
		store.index_mut().end_stream([1; 32], StreamStatus::Revoked);
		assert!(store.get(&live.key).is_none());
		assert!(store.put(live).is_err());
		assert_eq!(store.records().count(), 0, "nothing to replicate");
	}

	#[test]
	fn only_the_very_record_held_and_served_is_held() {
		let mut store = store();
		let record = sample_record([1; 32], 0);
		assert!(!store.holds(&record));
		store.put(record.clone()).expect("a live stream's record");
		assert!(store.holds(&record));
		let mut other_dealing = record.clone();
		other_dealing.value[40] ^= 1;
		assert!(!store.holds(&other_dealing), "another value goes through admission");
		store.index_mut().end_stream([1; 32], StreamStatus::Revoked);
		assert!(!store.holds(&record), "a record no longer served is not held");
	}

	#[test]
	fn a_record_under_another_key_is_not_served() {
		let mut store = store();
		let mut moved = sample_record([1; 32], 0);
		moved.key = RecordKey::new(&[9u8; 32]);
		assert!(store.put(moved.clone()).is_err());
		let garbage = Record::new(RecordKey::new(&[8u8; 32]), vec![1, 2, 3]);
		assert!(store.put(garbage).is_err());
	}
}
