//! Record admission, off the swarm task: every record offered by a peer, a client or this
//! node's own off-chain worker is checked against the chain on a thread of its own, so that
//! the swarm task never reads the chain for anyone.
//!
//! - Offers wait in a fair queue: one bounded queue per source, served round-robin. A flooding
//!   peer fills only its own queue; further offers from it are refused at once, unread.
//! - A record the chain commits to (its best block, else its finalized block), for a live
//!   stream, is stored. One whose epoch is not dealt here yet waits in [`PendingRecords`] only if
//!   its stream is already in the node's best chain; it is checked again at each new best or
//!   finalized block. Any other is refused.
//!
//! Verdicts go back to the swarm task, which stores or publishes what was accepted.

use std::{
	collections::{HashMap, VecDeque},
	hash::Hash,
	sync::{Arc, Condvar, Mutex},
};

use keyorch_primitives::{SealedShareRecord, WireFormat};
use keyorch_runtime::BlockNumber;
use libp2p::{kad::Record, PeerId};
use tokio::sync::{mpsc, oneshot};

use super::{
	pending::{Added, Pending, PendingRecords},
	store::key_bytes,
	LOG_TARGET,
};
use crate::keyorch::{
	ledger::{Ledger, LedgerError, RecordRejection, Rejection, ValidRecord},
	metrics::Metrics,
};

/// Offers one peer may have waiting for admission; beyond, its offers are refused unread.
const PEER_QUEUE: usize = 256;

/// Offers this node itself (its clients and its own records) may have waiting.
const LOCAL_QUEUE: usize = 65_536;

/// Finalized blocks a record not yet dealt here waits for.
const PENDING_BLOCKS: BlockNumber = 20;

/// Most records waiting for their epoch at once, and most of one source.
const MAX_PENDING: usize = 1024;
const MAX_PENDING_PER_SOURCE: usize = 128;

/// Who offered a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
	/// A peer of the overlay (a put or a replication).
	Peer(PeerId),
	/// This node: `keyorch_putRecord` or its own off-chain worker's records.
	Local,
}

/// The chain reads of admission, behind a trait so that it is tested without a node.
pub trait RecordChain: Send + Sync + 'static {
	/// Checks `value`, offered under DHT `key`, against the chain.
	fn validate(&self, key: &[u8; 32], value: &[u8]) -> Result<ValidRecord, Rejection>;
	/// Whether `stream` exists in the node's best chain.
	fn in_best_chain(&self, stream: [u8; 32]) -> Result<bool, LedgerError>;
	/// The finalized block's number.
	fn finalized_number(&self) -> BlockNumber;
}

impl RecordChain for Ledger {
	fn validate(&self, key: &[u8; 32], value: &[u8]) -> Result<ValidRecord, Rejection> {
		self.validate_record(key, value)
	}

	fn in_best_chain(&self, stream: [u8; 32]) -> Result<bool, LedgerError> {
		Ok(self.best_stream_status(stream)?.is_some())
	}

	fn finalized_number(&self) -> BlockNumber {
		self.finalized().0
	}
}

/// What to do with an accepted record.
#[derive(Debug)]
pub enum Purpose {
	/// Store it (a peer's put or replication, or a client's put).
	Store,
	/// Store it and publish it to the closest peers (this node's own record).
	Publish,
}

/// One record to admit.
pub struct Offer {
	/// Who offered it.
	pub source: Source,
	/// The record.
	pub record: Record,
	/// What to do with it once accepted.
	pub purpose: Purpose,
	/// Who waits for the verdict (`keyorch_putRecord`).
	pub reply: Option<oneshot::Sender<Result<(), String>>>,
}

/// An accepted record, for the swarm task.
pub struct Accepted {
	/// The record.
	pub record: Record,
	/// Finalized blocks its stream has left to live.
	pub blocks_left: BlockNumber,
	/// What to do with it.
	pub purpose: Purpose,
}

/// Bounded per-source queues served round-robin.
struct FairQueue<K, T> {
	queues: HashMap<K, VecDeque<T>>,
	/// Sources with something queued, in turn.
	turns: VecDeque<K>,
}

impl<K: Clone + Eq + Hash, T> FairQueue<K, T> {
	fn new() -> Self {
		Self { queues: HashMap::new(), turns: VecDeque::new() }
	}

	/// Queues `item` for `source` unless its queue holds `limit` items already (then the
	/// item comes back).
	fn push(&mut self, source: K, item: T, limit: usize) -> Result<(), T> {
		let queue = self.queues.entry(source.clone()).or_default();
		if queue.len() >= limit {
			return Err(item);
		}
		if queue.is_empty() {
			self.turns.push_back(source);
		}
		queue.push_back(item);
		Ok(())
	}

	/// The next item, from the source whose turn it is.
	fn pop(&mut self) -> Option<T> {
		let source = self.turns.pop_front()?;
		let queue = self.queues.get_mut(&source)?;
		let item = queue.pop_front();
		if queue.is_empty() {
			self.queues.remove(&source);
		} else {
			self.turns.push_back(source);
		}
		item
	}

	fn is_empty(&self) -> bool {
		self.turns.is_empty()
	}
}

struct State {
	offers: FairQueue<Source, Offer>,
	/// A new best or finalized block not yet acted on.
	moved: bool,
	closed: bool,
}

/// The swarm task's end of the admission.
pub struct Admission {
	shared: Arc<(Mutex<State>, Condvar)>,
}

impl Admission {
	/// Starts the admission thread, which reads `chain` and sends accepted records to
	/// `accepted`.
	pub fn start(
		chain: impl RecordChain,
		metrics: Metrics,
		accepted: mpsc::UnboundedSender<Accepted>,
	) -> std::io::Result<Self> {
		let state = State { offers: FairQueue::new(), moved: false, closed: false };
		let shared = Arc::new((Mutex::new(state), Condvar::new()));
		let admitter = Admitter {
			chain,
			metrics,
			accepted,
			pending: PendingRecords::new(MAX_PENDING, MAX_PENDING_PER_SOURCE),
		};
		let theirs = shared.clone();
		std::thread::Builder::new()
			.name("keyorch-dht-admission".into())
			.spawn(move || admitter.run(&theirs))?;
		Ok(Self { shared })
	}

	fn state(&self) -> std::sync::MutexGuard<'_, State> {
		self.shared.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
	}

	/// Queues `offer`; `false` if its source's queue is full (the offer is dropped and its
	/// waiter told).
	pub fn offer(&self, offer: Offer) -> bool {
		let limit = match offer.source {
			Source::Peer(_) => PEER_QUEUE,
			Source::Local => LOCAL_QUEUE,
		};
		let queued = self.state().offers.push(offer.source, offer, limit);
		match queued {
			Ok(()) => {
				self.shared.1.notify_one();
				true
			},
			Err(refused) => {
				if let Some(reply) = refused.reply {
					let _ = reply.send(Err("the node is busy: too many records waiting".into()));
				}
				false
			},
		}
	}

	/// A block was imported as the new best or finalized: waiting records are checked again.
	pub fn chain_moved(&self) {
		self.state().moved = true;
		self.shared.1.notify_one();
	}
}

impl Drop for Admission {
	fn drop(&mut self) {
		self.state().closed = true;
		self.shared.1.notify_one();
	}
}

/// The admission thread.
struct Admitter<C> {
	chain: C,
	metrics: Metrics,
	accepted: mpsc::UnboundedSender<Accepted>,
	pending: PendingRecords<Source>,
}

/// What admitting one record came to.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
	Accepted(BlockNumber),
	Waiting,
	Refused(String),
}

impl<C: RecordChain> Admitter<C> {
	fn run(mut self, shared: &(Mutex<State>, Condvar)) {
		let (lock, wake) = shared;
		loop {
			let (offer, moved) = {
				let mut state = lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
				while !state.closed && !state.moved && state.offers.is_empty() {
					state = wake.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
				}
				if state.closed {
					return;
				}
				(state.offers.pop(), std::mem::take(&mut state.moved))
			};
			if moved {
				self.recheck_pending();
			}
			if let Some(offer) = offer {
				let until = self.chain.finalized_number().saturating_add(PENDING_BLOCKS);
				let Offer { source, record, purpose, reply } = offer;
				let verdict = self.admit(source, record, purpose, until);
				if let Some(reply) = reply {
					let _ = reply.send(match verdict {
						Verdict::Accepted(_) => Ok(()),
						Verdict::Waiting => Err(format!("{:?}", RecordRejection::NotYetOnChain)),
						Verdict::Refused(reason) => Err(reason),
					});
				}
			}
			self.metrics.records_pending.set(self.pending.len() as u64);
		}
	}

	/// Checks one record; sends it to the swarm task if accepted, lets it wait if its epoch
	/// may only not be dealt here yet.
	fn admit(
		&mut self,
		source: Source,
		record: Record,
		purpose: Purpose,
		until: BlockNumber,
	) -> Verdict {
		let verdict = self.verdict(&record);
		match &verdict {
			Verdict::Accepted(blocks_left) => {
				if matches!(purpose, Purpose::Store) {
					self.metrics.records_accepted.inc();
				}
				let accepted = Accepted { record, blocks_left: *blocks_left, purpose };
				let _ = self.accepted.send(accepted);
			},
			Verdict::Waiting => {
				let key = key_bytes(&record.key).expect("checked by the verdict");
				let (added, evicted) = self.pending.add(Pending { source, key, record, until });
				if evicted.is_some() || added == Added::SourceFull {
					self.metrics.records_refused.inc();
				}
			},
			Verdict::Refused(reason) => {
				log::debug!(target: LOG_TARGET, "refused a record from {source:?}: {reason}");
				self.metrics.records_refused.inc();
			},
		}
		verdict
	}

	fn verdict(&self, record: &Record) -> Verdict {
		let Some(key) = key_bytes(&record.key) else {
			return Verdict::Refused(format!("{:?}", RecordRejection::Malformed));
		};
		match self.chain.validate(&key, &record.value) {
			Ok(valid) => Verdict::Accepted(valid.blocks_left),
			Err(Rejection::Record(RecordRejection::NotYetOnChain)) | Err(Rejection::Ledger(_)) => {
				// The record decoded and sits under its own key (else it would be malformed).
				let stream = SealedShareRecord::decode_exact(&record.value)
					.map(|sealed| sealed.stream_id)
					.ok();
				match stream.map(|stream| self.chain.in_best_chain(stream)) {
					Some(Ok(true)) => Verdict::Waiting,
					Some(Ok(false)) | None => {
						Verdict::Refused("no such stream in this node's best chain".into())
					},
					Some(Err(error)) => Verdict::Refused(error.to_string()),
				}
			},
			Err(rejection) => Verdict::Refused(rejection.to_string()),
		}
	}

	/// Checks every waiting record again, after a new best or finalized block.
	fn recheck_pending(&mut self) {
		let (due, expired) = self.pending.take_due(self.chain.finalized_number());
		self.metrics.records_refused.inc_by(expired as u64);
		for Pending { source, record, until, .. } in due {
			self.admit(source, record, Purpose::Store, until);
		}
	}
}

#[cfg(test)]
mod tests {
	use std::{
		collections::HashSet,
		sync::atomic::{AtomicU32, Ordering},
	};

	use keyorch_primitives::record_dht_key;

	use super::*;
	use crate::keyorch::overlay::sample_record;

	/// A chain that commits to the epochs in `dealt_epochs` and has the streams of
	/// `best_streams` in its best chain.
	struct Chain {
		dealt_epochs: Mutex<HashSet<([u8; 32], u32)>>,
		best_streams: HashSet<[u8; 32]>,
		finalized: AtomicU32,
	}

	impl RecordChain for Arc<Chain> {
		fn validate(&self, key: &[u8; 32], value: &[u8]) -> Result<ValidRecord, Rejection> {
			let sealed =
				SealedShareRecord::decode_exact(value).map_err(|_| RecordRejection::Malformed)?;
			if record_dht_key(&sealed.context(), sealed.holder_index) != *key {
				return Err(RecordRejection::Malformed.into());
			}
			let epoch = (sealed.stream_id, sealed.epoch);
			if !self.dealt_epochs.lock().unwrap().contains(&epoch) {
				return Err(RecordRejection::NotYetOnChain.into());
			}
			Ok(ValidRecord {
				stream: sealed.stream_id,
				epoch: sealed.epoch,
				holder: 1,
				blocks_left: 9,
			})
		}

		fn in_best_chain(&self, stream: [u8; 32]) -> Result<bool, LedgerError> {
			Ok(self.best_streams.contains(&stream))
		}

		fn finalized_number(&self) -> BlockNumber {
			self.finalized.load(Ordering::SeqCst)
		}
	}

	fn admitter(chain: &Arc<Chain>) -> (Admitter<Arc<Chain>>, mpsc::UnboundedReceiver<Accepted>) {
		let (accepted, receiver) = mpsc::unbounded_channel();
		let admitter = Admitter {
			chain: chain.clone(),
			metrics: Metrics::new(None).expect("metrics"),
			accepted,
			pending: PendingRecords::new(MAX_PENDING, MAX_PENDING_PER_SOURCE),
		};
		(admitter, receiver)
	}

	#[test]
	fn forged_records_of_unknown_streams_never_wait() {
		let chain = Arc::new(Chain {
			dealt_epochs: Mutex::new(HashSet::from([([1; 32], 0)])),
			best_streams: HashSet::from([[1; 32], [2; 32]]),
			finalized: AtomicU32::new(1),
		});
		let (mut admitter, mut accepted) = admitter(&chain);
		let rogue = Source::Peer(PeerId::random());
		for n in 0..100u8 {
			let verdict =
				admitter.admit(rogue, sample_record([100 + n; 32], 0), Purpose::Store, 10);
			assert!(matches!(verdict, Verdict::Refused(_)), "{verdict:?}");
		}
		assert_eq!(admitter.pending.len(), 0);
		// A dealt epoch is stored; one not dealt yet only waits, and is stored once dealt.
		let honest = Source::Peer(PeerId::random());
		assert_eq!(
			admitter.admit(honest, sample_record([1; 32], 0), Purpose::Store, 10),
			Verdict::Accepted(9)
		);
		assert_eq!(
			admitter.admit(honest, sample_record([2; 32], 0), Purpose::Store, 10),
			Verdict::Waiting
		);
		assert_eq!(admitter.pending.len(), 1);
		chain.dealt_epochs.lock().unwrap().insert(([2; 32], 0));
		admitter.recheck_pending();
		assert_eq!(admitter.pending.len(), 0);
		let stored: Vec<_> = std::iter::from_fn(|| accepted.try_recv().ok()).collect();
		assert_eq!(stored.len(), 2);
	}

	#[test]
	fn waiting_records_are_dropped_after_their_blocks() {
		let chain = Arc::new(Chain {
			dealt_epochs: Mutex::new(HashSet::new()),
			best_streams: HashSet::from([[2; 32]]),
			finalized: AtomicU32::new(1),
		});
		let (mut admitter, _accepted) = admitter(&chain);
		let until = 1 + PENDING_BLOCKS;
		admitter.admit(Source::Local, sample_record([2; 32], 0), Purpose::Store, until);
		chain.finalized.store(until + 1, Ordering::SeqCst);
		admitter.recheck_pending();
		assert_eq!(admitter.pending.len(), 0);
	}

	#[test]
	fn the_fair_queue_serves_sources_in_turn_within_their_bounds() {
		let mut queue = FairQueue::new();
		for n in 0..5 {
			assert_eq!(queue.push('a', n, 3).is_ok(), n < 3);
		}
		assert!(queue.push('b', 10, 3).is_ok() && queue.push('b', 11, 3).is_ok());
		let order: Vec<_> = std::iter::from_fn(|| queue.pop()).collect();
		assert_eq!(order, vec![0, 10, 1, 11, 2]);
		assert!(queue.is_empty());
	}
}
