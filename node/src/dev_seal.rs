//! Block sealing for `--dev`: a block as soon as a transaction arrives, an empty one when a
//! slot has passed without any, and every block finalized at once.
//!
//! A transaction that arrives while the pool is still switching to the block just imported
//! raises no new import notification when the pool moves it to that block's view, so it would
//! wait for the next empty block — which, after a burst, waits for the wall clock to catch up
//! with chain time. The heartbeat therefore also seals whenever the pool holds ready
//! transactions.
//!
//! The runtime is the same as on a multi-validator network, so blocks still carry an Aura slot
//! and a timestamp that advances by at least one slot per block. A burst of transactions thus
//! moves chain time ahead of the wall clock; empty blocks wait until the wall clock has caught
//! up again, so the drift never accumulates.

use std::{
	sync::{
		atomic::{AtomicU64, Ordering},
		Arc,
	},
	time::{Duration, SystemTime, UNIX_EPOCH},
};

use futures::{stream::BoxStream, Stream, StreamExt};
use sc_consensus_manual_seal::EngineCommand;

/// How often the heartbeat looks whether an empty block is due.
const HEARTBEAT_POLL: Duration = Duration::from_millis(250);

/// The timestamps of dev blocks: never behind the wall clock, always at least one slot after
/// the previous block's.
#[derive(Clone)]
pub struct DevClock {
	last_timestamp: Arc<AtomicU64>,
	slot_millis: u64,
}

fn wall_clock_millis() -> u64 {
	SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl DevClock {
	/// `best_timestamp` is the timestamp of the chain's best block (0 at genesis).
	pub fn new(best_timestamp: u64, slot_millis: u64) -> Self {
		Self { last_timestamp: Arc::new(AtomicU64::new(best_timestamp)), slot_millis }
	}

	/// The timestamp of the next block, which it also records as the latest.
	pub fn next_timestamp(&self) -> u64 {
		let now = wall_clock_millis();
		let slot = self.slot_millis;
		let previous = self
			.last_timestamp
			.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
				Some(now.max(last.saturating_add(slot)))
			})
			.unwrap_or_else(|last| last);
		now.max(previous.saturating_add(slot))
	}

	/// Whether a whole slot has passed since the latest block.
	fn empty_block_due(&self) -> bool {
		wall_clock_millis() >= self.last_timestamp.load(Ordering::SeqCst) + self.slot_millis
	}
}

fn seal<H>(create_empty: bool) -> EngineCommand<H> {
	EngineCommand::SealNewBlock { create_empty, finalize: true, parent_hash: None, sender: None }
}

/// The commands that drive manual sealing: one per imported transaction, a block whenever
/// `has_ready` says the pool holds ready transactions, and an empty block whenever a slot
/// passes without one.
pub fn seal_commands<H: Send + 'static>(
	transactions: impl Stream<Item = impl Send> + Send + 'static,
	clock: DevClock,
	has_ready: impl Fn() -> bool + Send + 'static,
) -> BoxStream<'static, EngineCommand<H>> {
	let on_transaction = transactions.map(|_| seal(false));
	let heartbeat = futures::stream::unfold((clock, has_ready), |(clock, has_ready)| async move {
		loop {
			futures_timer::Delay::new(HEARTBEAT_POLL).await;
			if clock.empty_block_due() {
				return Some((seal(true), (clock, has_ready)));
			}
			if has_ready() {
				return Some((seal(false), (clock, has_ready)));
			}
		}
	});
	futures::stream::select(on_transaction, heartbeat).boxed()
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn timestamps_advance_by_at_least_one_slot() {
		let clock = DevClock::new(0, 3000);
		let first = clock.next_timestamp();
		let second = clock.next_timestamp();
		assert!(first >= wall_clock_millis() - 1000);
		assert_eq!(second, first + 3000, "a second block in the same instant takes the next slot");
		assert!(!clock.empty_block_due(), "chain time is ahead of the wall clock");
	}

	#[test]
	fn a_restarted_chain_continues_after_its_best_block() {
		let future = wall_clock_millis() + 60_000;
		let clock = DevClock::new(future, 3000);
		assert_eq!(clock.next_timestamp(), future + 3000);
	}
}
