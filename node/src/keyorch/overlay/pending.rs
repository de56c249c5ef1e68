//! Records offered before their epoch is final here: kept, bounded, and checked again at each
//! finalized block instead of being lost. Only records whose stream is already in the node's
//! best chain wait (the admission decides that); each source may hold at most a fixed share of
//! the places, and when all are taken the oldest record of the source holding the most goes,
//! so that a flooding peer only ever evicts its own records.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

use keyorch_runtime::BlockNumber;
use libp2p::kad::Record;

/// A record waiting for its epoch to be final here.
#[derive(Clone, Debug)]
pub struct Pending<K> {
	/// Who offered it.
	pub source: K,
	/// Its DHT key.
	pub key: [u8; 32],
	/// The record.
	pub record: Record,
	/// The last finalized block it waits for.
	pub until: BlockNumber,
}

/// What [`PendingRecords::add`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Added {
	/// It waits.
	Kept,
	/// The same record waits already.
	Duplicate,
	/// Its source holds all the places a source may hold.
	SourceFull,
}

/// The records waiting, oldest first.
pub struct PendingRecords<K> {
	entries: VecDeque<Pending<K>>,
	per_source: HashMap<K, usize>,
	max: usize,
	max_per_source: usize,
}

impl<K: Clone + Eq + Hash> PendingRecords<K> {
	/// At most `max` records, at most `max_per_source` of one source.
	pub fn new(max: usize, max_per_source: usize) -> Self {
		Self { entries: VecDeque::new(), per_source: HashMap::new(), max, max_per_source }
	}

	/// Records waiting.
	pub fn len(&self) -> usize {
		self.entries.len()
	}

	/// Lets `pending` wait. Returns whether it does, and the record evicted for it, if one was.
	pub fn add(&mut self, pending: Pending<K>) -> (Added, Option<Pending<K>>) {
		if self
			.entries
			.iter()
			.any(|p| p.key == pending.key && p.record.value == pending.record.value)
		{
			return (Added::Duplicate, None);
		}
		if self.held_by(&pending.source) >= self.max_per_source {
			return (Added::SourceFull, None);
		}
		let evicted = (self.entries.len() >= self.max).then(|| self.evict()).flatten();
		*self.per_source.entry(pending.source.clone()).or_default() += 1;
		self.entries.push_back(pending);
		(Added::Kept, evicted)
	}

	/// Takes every waiting record whose wait is not over at finalized block `now`, oldest
	/// first, to be checked again; returns them and the number whose wait was over.
	pub fn take_due(&mut self, now: BlockNumber) -> (Vec<Pending<K>>, usize) {
		self.per_source.clear();
		let (due, expired): (Vec<_>, Vec<_>) =
			std::mem::take(&mut self.entries).into_iter().partition(|p| now <= p.until);
		(due, expired.len())
	}

	fn held_by(&self, source: &K) -> usize {
		self.per_source.get(source).copied().unwrap_or(0)
	}

	/// Removes the oldest record of the source holding the most.
	fn evict(&mut self) -> Option<Pending<K>> {
		let (heaviest, _) = self.per_source.iter().max_by_key(|(_, held)| **held)?;
		let heaviest = heaviest.clone();
		let position = self.entries.iter().position(|p| p.source == heaviest)?;
		let evicted = self.entries.remove(position)?;
		if let Some(held) = self.per_source.get_mut(&heaviest) {
			*held -= 1;
			if *held == 0 {
				self.per_source.remove(&heaviest);
			}
		}
		Some(evicted)
	}
}

#[cfg(test)]
mod tests {
	use libp2p::kad::RecordKey;

	use super::*;

	fn pending(source: u8, n: u8, until: BlockNumber) -> Pending<u8> {
		let key = [n; 32];
		Pending { source, key, record: Record::new(RecordKey::new(&key), vec![source, n]), until }
	}

	#[test]
	fn a_flooding_source_evicts_only_its_own_records() {
		let mut records = PendingRecords::new(4, 3);
		assert_eq!(records.add(pending(1, 1, 10)).0, Added::Kept);
		for n in 10..13 {
			assert_eq!(records.add(pending(9, n, 10)).0, Added::Kept);
		}
		assert_eq!(records.add(pending(9, 13, 10)).0, Added::SourceFull);
		// Full: the flooder's oldest goes, not source 1's.
		let (added, evicted) = records.add(pending(2, 2, 10));
		assert_eq!(added, Added::Kept);
		assert_eq!(evicted.map(|p| (p.source, p.key[0])), Some((9, 10)));
		assert_eq!(records.len(), 4);
		assert_eq!(records.add(pending(1, 1, 10)).0, Added::Duplicate);
	}

	#[test]
	fn records_wait_until_their_block_and_are_then_dropped() {
		let mut records = PendingRecords::new(8, 8);
		records.add(pending(1, 1, 5));
		records.add(pending(1, 2, 7));
		let (due, expired) = records.take_due(6);
		assert_eq!((due.len(), expired), (1, 1));
		assert_eq!(due[0].key, [2; 32]);
		assert_eq!(records.len(), 0);
		// Taken records start afresh: their source's places are free again.
		for n in 0..8 {
			assert_eq!(records.add(pending(1, n, 7)).0, Added::Kept);
		}
	}
}
