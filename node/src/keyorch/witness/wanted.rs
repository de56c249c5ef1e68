//! The shares a witness still looks for, and when to look for each again: no I/O here.
//!
//! Under load the records of hundreds of epochs reach the DHT some time after the epochs land
//! on chain. Each share is looked for on its own schedule: at once, then after a delay that
//! doubles with every miss up to [`MAX_RETRY`], so that a record not published yet costs a few
//! lookups instead of one per block and tick, and a record found is kept without waiting for
//! the lookups of the others. A miss never drops a share: only its stream's end or its
//! deadline does (a record whose hash is not the one wanted, say from a dealing a reorg
//! replaced, counts as a miss).

use std::{
	collections::HashMap,
	time::{Duration, Instant},
};

use keyorch_runtime::BlockNumber;

/// The delay after the first miss.
pub const FIRST_RETRY: Duration = Duration::from_millis(250);

/// The longest delay between two lookups of one share.
pub const MAX_RETRY: Duration = Duration::from_secs(8);

struct Entry<S> {
	share: S,
	stream: [u8; 32],
	/// The last finalized block during which the share is looked for.
	until: BlockNumber,
	next_try: Instant,
	misses: u32,
	in_flight: bool,
}

/// Wanted shares by DHT key, with the data `S` needed to check what is found.
pub struct Wanted<S> {
	entries: HashMap<[u8; 32], Entry<S>>,
}

impl<S> Default for Wanted<S> {
	fn default() -> Self {
		Self { entries: HashMap::new() }
	}
}

impl<S> Wanted<S> {
	/// Wants `share` under DHT `key`, to be looked for at once. Wanting a key again (a reorg
	/// dealt the epoch anew) replaces what is checked, and keeps a lookup under way.
	pub fn want(
		&mut self,
		key: [u8; 32],
		stream: [u8; 32],
		until: BlockNumber,
		share: S,
		now: Instant,
	) {
		let in_flight = self.entries.get(&key).is_some_and(|entry| entry.in_flight);
		self.entries
			.insert(key, Entry { share, stream, until, next_try: now, misses: 0, in_flight });
	}

	/// Up to `limit` keys due for a lookup at `now`, the longest waiting first; each is under
	/// way until [`Self::done`] or [`Self::missed`].
	pub fn take_due(&mut self, now: Instant, limit: usize) -> Vec<[u8; 32]> {
		let mut due: Vec<(Instant, [u8; 32])> = self
			.entries
			.iter()
			.filter(|(_, entry)| !entry.in_flight && entry.next_try <= now)
			.map(|(key, entry)| (entry.next_try, *key))
			.collect();
		due.sort_unstable();
		due.truncate(limit);
		due.into_iter()
			.map(|(_, key)| {
				if let Some(entry) = self.entries.get_mut(&key) {
					entry.in_flight = true;
				}
				key
			})
			.collect()
	}

	/// What is checked for `key`, while it is wanted.
	pub fn get(&self, key: &[u8; 32]) -> Option<&S> {
		self.entries.get(key).map(|entry| &entry.share)
	}

	/// The share under `key` is no longer wanted: it is kept, or its record is known bad.
	pub fn done(&mut self, key: &[u8; 32]) {
		self.entries.remove(key);
	}

	/// The lookup of `key` found nothing usable: it is looked for again after a delay that
	/// doubles with each miss.
	pub fn missed(&mut self, key: &[u8; 32], now: Instant) {
		if let Some(entry) = self.entries.get_mut(key) {
			entry.in_flight = false;
			entry.next_try = now + retry_delay(entry.misses);
			entry.misses = entry.misses.saturating_add(1);
		}
	}

	/// Stops looking for the shares of `stream` (it ended).
	pub fn forget_stream(&mut self, stream: &[u8; 32]) {
		self.entries.retain(|_, entry| entry.stream != *stream);
	}

	/// Stops looking for shares whose deadline is before finalized block `now`; returns them.
	pub fn expire(&mut self, now: BlockNumber) -> Vec<S> {
		let expired: Vec<_> = self
			.entries
			.iter()
			.filter(|(_, entry)| entry.until < now)
			.map(|(key, _)| *key)
			.collect();
		expired.iter().filter_map(|key| self.entries.remove(key)).map(|entry| entry.share).collect()
	}

	/// Whether no share is wanted.
	pub fn is_empty(&self) -> bool {
		self.entries.is_empty()
	}
}

/// The delay after `misses` earlier misses and this one.
fn retry_delay(misses: u32) -> Duration {
	FIRST_RETRY.saturating_mul(1u32.checked_shl(misses).unwrap_or(u32::MAX)).min(MAX_RETRY)
}

#[cfg(test)]
mod tests {
	use super::*;

	fn key(n: u8) -> [u8; 32] {
		[n; 32]
	}

	#[test]
	fn a_share_is_looked_for_at_once_then_less_and_less_often() {
		let start = Instant::now();
		let mut wanted = Wanted::default();
		wanted.want(key(1), key(9), 100, "hash 1", start);
		assert_eq!(wanted.take_due(start, 8), vec![key(1)]);
		assert!(wanted.take_due(start, 8).is_empty(), "one lookup of a key at a time");
		let mut now = start;
		for expected in [250, 500, 1000, 2000, 4000, 8000, 8000, 8000] {
			wanted.missed(&key(1), now);
			let delay = Duration::from_millis(expected);
			assert!(wanted.take_due(now + delay - Duration::from_millis(1), 8).is_empty());
			now += delay;
			assert_eq!(wanted.take_due(now, 8), vec![key(1)], "due after {delay:?}");
		}
		assert!(wanted.get(&key(1)).is_some(), "misses never drop a share");
	}

	#[test]
	fn the_longest_waiting_go_first_and_at_most_the_limit() {
		let start = Instant::now();
		let mut wanted = Wanted::default();
		for n in 1..=5u8 {
			wanted.want(key(n), key(9), 100, (), start + Duration::from_millis(u64::from(n)));
		}
		let later = start + Duration::from_secs(1);
		assert_eq!(wanted.take_due(later, 2), vec![key(1), key(2)]);
		assert_eq!(wanted.take_due(later, 8), vec![key(3), key(4), key(5)]);
	}

	#[test]
	fn settled_shares_leave_and_wanting_again_restarts_the_schedule() {
		let start = Instant::now();
		let mut wanted = Wanted::default();
		wanted.want(key(1), key(9), 100, "old dealing", start);
		wanted.want(key(2), key(9), 100, "other", start);
		assert_eq!(wanted.take_due(start, 1), vec![key(1)]);
		for _ in 0..4 {
			wanted.missed(&key(1), start);
		}
		// A reorg dealt the epoch anew while a lookup is under way.
		assert_eq!(wanted.take_due(start + MAX_RETRY, 8), vec![key(2), key(1)]);
		wanted.want(key(1), key(9), 100, "new dealing", start + MAX_RETRY);
		assert_eq!(wanted.get(&key(1)), Some(&"new dealing"));
		assert!(
			wanted.take_due(start + MAX_RETRY, 8).is_empty(),
			"the lookup under way is not doubled"
		);
		wanted.missed(&key(1), start + MAX_RETRY);
		assert_eq!(wanted.take_due(start + MAX_RETRY + FIRST_RETRY, 8), vec![key(1)]);
		wanted.done(&key(1));
		assert_eq!(wanted.get(&key(1)), None);
		assert!(wanted.get(&key(2)).is_some());
	}

	#[test]
	fn an_ended_stream_or_a_deadline_drops_shares() {
		let start = Instant::now();
		let mut wanted = Wanted::default();
		wanted.want(key(1), key(8), 100, 1, start);
		wanted.want(key(2), key(9), 100, 2, start);
		wanted.want(key(3), key(9), 50, 3, start);
		assert_eq!(wanted.expire(51), vec![3]);
		assert!(wanted.get(&key(3)).is_none() && wanted.get(&key(2)).is_some());
		wanted.forget_stream(&key(9));
		assert_eq!(wanted.take_due(start, 8), vec![key(1)]);
		wanted.missed(&key(7), start);
		assert!(!wanted.is_empty());
	}
}
