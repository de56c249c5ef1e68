//! Off-chain dealing: an orchestrator's off-chain worker deals the epochs the chain waits for.
//!
//! Every block, on a node whose keystore holds an orchestrator key (`kord`):
//!
//! 1. it settles the dealings it made before: marks those the chain no longer waits for, and
//!    [`SETTLED_KEEP`] blocks later forgets them, deleting their records if the chain took
//!    another orchestrator's dealing of the epoch — not sooner, as a reorg may yet bring back
//!    the block that took this node's (the dealing is then offered again);
//! 2. it reads the [`DealingQueue`] from its head — the oldest requests first, a bounded number
//!    of entries, never all of [`PendingEpochs`] — keeps the epochs it may deal now
//!    (designated, or taking over a silent orchestrator) of streams still open, and picks a
//!    batch of at most [`Config::MaxDealingsPerBatch`] round-robin across initiators
//!    ([`fair_order`]), so one initiator's burst cannot starve another's single request;
//! 3. for each, it reuses the dealing it already made for that epoch — only if the stream's
//!    threshold and holders' keys, in this block's state, are the ones it was sealed for: on a
//!    fork that chose other witnesses it deals nothing and leaves the epoch to the take-over,
//!    until [`SETTLED_KEEP`] blocks have shown the dealing's fork gone — or, under a persistent
//!    per-epoch lock, makes one: a seed from the node's `random_seed`, Feldman shares for
//!    initiator, provider and witnesses sealed to their X25519 keys (`keyorch-primitives`), the
//!    sealed records written to the node's persistent off-chain storage under their DHT keys
//!    (served by `keyorch_getRecord`), and only then the dealing itself, under its own key;
//! 4. it submits them all — new ones and those still pending from earlier blocks — in one
//!    `submit_key_epochs` signed with its orchestrator key: one transaction, so one account
//!    nonce, per block. Each batch carries everything this node still has outstanding, so a
//!    batch that the pool dropped or replaced (another run's batch with the same nonce) loses
//!    nothing: the next one carries its dealings again.
//!
//! Concurrent runs (the worker of the next block may start before this one ends) and restarts
//! are safe: each dealing lives under its own off-chain key, written once under the lock and
//! re-read under it, so an epoch is dealt at most once per node and the records of a submitted
//! dealing are never overwritten; the index of open dealings is only changed by
//! compare-and-set; a settled dealing is kept for [`SETTLED_KEEP`] blocks so that a run
//! working from an older block, or on a fork where the epoch is still pending, submits the same
//! dealing rather than a new one; and records are stored before the dealing that names them,
//! so a node killed mid-dealing never submits an epoch whose records it lacks.
//!
//! The stream secret exists only inside `keyorch_primitives::deal`, which zeroizes it.

use crate::{
	pallet::{
		Call, Config, DealingQueue, DealingQueueBounds, Epochs, Orchestrators, Pallet,
		Participants, PendingEpochs, Streams,
	},
	types::{Dealing, EpochIndex, StreamId},
	OrchestratorId,
};
use alloc::{collections::BTreeMap, vec::Vec};
use codec::{Decode, Encode};
use frame_support::{traits::Get, BoundedVec};
use frame_system::{
	offchain::{AppCrypto, SendSignedTransaction, Signer},
	pallet_prelude::BlockNumberFor,
};
use keyorch_primitives::{
	deal, offchain_record_key, record_dht_key, DealContext, EncryptionPublicKey, HolderIndex,
};
use sp_runtime::{
	offchain::{
		storage::{MutateStorageError, StorageRetrievalError, StorageValueRef},
		storage_lock::{BlockAndTime, StorageLock},
		Duration,
	},
	RuntimeAppPublic, Saturating,
};

/// Log target of the off-chain worker.
const LOG_TARGET: &str = "keyorch::ocw";

/// Persistent off-chain key of the index of this node's dealings: `(stream, epoch)` pairs.
const OPEN_DEALINGS: &[u8] = b"keyorch/v2/ocw/open-dealings";

/// Queue entries a worker reads per block, per dealing a batch can carry: with `n`
/// orchestrators about `1/n` of the entries are this node's.
const PROBES_PER_SLOT: usize = 8;

/// Candidates gathered per dealing a batch can carry before [`fair_order`] picks the batch.
const CANDIDATES_PER_SLOT: usize = 2;

/// How often a compare-and-set of the index is retried against concurrent runs.
const INDEX_RETRIES: usize = 16;

/// Blocks a settled dealing is kept: longer than any worker run lasts and than the reorgs a
/// healthy network sees.
pub(crate) const SETTLED_KEEP: u32 = 64;

/// How long the per-epoch lock holds if a worker dies while dealing.
const LOCK_BLOCKS: u32 = 10;
const LOCK_MILLIS: u64 = 30_000;

/// A dealing this node made, kept until the chain has settled its epoch (and
/// [`SETTLED_KEEP`] blocks after).
#[derive(Encode, Decode, Clone, PartialEq, Debug)]
struct OpenDealing<BlockNumber> {
	stream: StreamId,
	epoch: EpochIndex,
	commitments: Vec<[u8; 32]>,
	record_hashes: Vec<[u8; 32]>,
	/// [`sealing_fingerprint`] of the holders and threshold it was made for. On another fork
	/// the same stream may have other holders, or the same in another order: there, this
	/// dealing's records would be sealed to the wrong holders.
	sealed_for: [u8; 32],
	/// Since when the stream's holders, in the state the worker runs on, are not the ones it
	/// was made for.
	unfit_since: Option<BlockNumber>,
	/// The DHT keys of its records, to delete them if another orchestrator's dealing wins.
	record_keys: Vec<[u8; 32]>,
	/// When this node saw the chain settle the epoch (dealt, or no longer pending).
	settled_at: Option<BlockNumber>,
}

/// What [`Pallet::judge_kept`] makes of a kept dealing.
enum Kept<D> {
	/// It fits: submit it (again).
	Submit(D),
	/// It was made for other holders, on a fork that may yet win: deal nothing.
	Wait,
	/// It was made for other holders, on a fork long gone: deal the epoch anew.
	Replace(D),
}

/// Why an epoch could not be dealt this time (logged; the next block tries again).
enum DealError {
	/// The stream is gone or a holder has no (valid) X25519 key on chain.
	HolderKey,
	/// The crypto layer refused the dealing.
	Crypto(keyorch_primitives::Error),
	/// No local orchestrator key signed the transaction.
	NotSigned,
	/// The transaction pool refused it.
	Rejected,
	/// The off-chain storage could not be read or updated.
	Storage,
}

impl core::fmt::Display for DealError {
	fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
		match self {
			Self::HolderKey => f.write_str("the stream or a holder's X25519 key is not on chain"),
			Self::Crypto(error) => write!(f, "dealing refused: {error}"),
			Self::NotSigned => f.write_str("no local orchestrator key signed the transaction"),
			Self::Rejected => f.write_str("the transaction pool refused the transaction"),
			Self::Storage => f.write_str("the off-chain storage is undecodable or contended"),
		}
	}
}

/// The persistent off-chain key of this node's dealing of `epoch` of `stream` (v3: with
/// `sealed_for`).
fn dealing_key(stream: StreamId, epoch: EpochIndex) -> Vec<u8> {
	(b"keyorch/v3/ocw/dealing", stream, epoch).encode()
}

/// What a dealing is bound to: the threshold and every holder's X25519 key, in holder order.
fn sealing_fingerprint(threshold: u8, holder_keys: &[EncryptionPublicKey]) -> [u8; 32] {
	let keys: Vec<[u8; 32]> = holder_keys.iter().map(|key| key.0).collect();
	(b"keyorch/v1/sealed-for", threshold, keys).using_encoded(sp_io::hashing::blake2_256)
}

/// Picks at most `take` items from `candidates` (oldest first, each with its initiator),
/// round-robin across initiators in the order their oldest item appears: every initiator's
/// oldest item before anyone's second, and so on. Order within an initiator is kept.
pub fn fair_order<A: Ord, X>(candidates: Vec<(A, X)>, take: usize) -> Vec<X> {
	let mut rank: BTreeMap<A, usize> = BTreeMap::new();
	let mut queues: Vec<alloc::collections::VecDeque<X>> = Vec::new();
	for (initiator, item) in candidates {
		let next = queues.len();
		let index = *rank.entry(initiator).or_insert(next);
		if index == next {
			queues.push(Default::default());
		}
		queues[index].push_back(item);
	}
	let mut picked = Vec::with_capacity(take);
	while picked.len() < take {
		let before = picked.len();
		for queue in queues.iter_mut() {
			if picked.len() == take {
				break;
			}
			if let Some(item) = queue.pop_front() {
				picked.push(item);
			}
		}
		if picked.len() == before {
			break;
		}
	}
	picked
}

impl<T: Config> Pallet<T> {
	/// The off-chain worker's work for block `now`.
	pub(crate) fn deal_pending_epochs(now: BlockNumberFor<T>) {
		let Some(key) = Self::local_orchestrator_key() else { return };
		Self::settle_open_dealings(now);

		let batch = T::MaxDealingsPerBatch::get() as usize;
		let started = sp_io::offchain::timestamp();
		let mut outgoing = Vec::new();
		for (stream, epoch) in Self::dealing_candidates(&key, now) {
			if outgoing.len() >= batch {
				break;
			}
			match Self::dealing_for(stream, epoch) {
				Ok(Some(dealing)) => outgoing.push(dealing),
				// Settled, or another run holds the epoch's lock.
				Ok(None) => {},
				Err(error) => {
					log::warn!(target: LOG_TARGET, "cannot deal epoch {epoch} of {stream:?}: {error}")
				},
			}
		}
		if outgoing.is_empty() {
			return;
		}
		// A concurrent run may have written the index back without some of them.
		let indexed = Self::change_index(|index| {
			for dealing in &outgoing {
				if !index.contains(&(dealing.stream, dealing.epoch)) {
					index.push((dealing.stream, dealing.epoch));
				}
			}
		});
		if let Err(error) = indexed {
			log::warn!(target: LOG_TARGET, "cannot update the open dealings: {error}");
		}
		match Self::submit(&key, &outgoing) {
			Ok(()) => {
				let millis = sp_io::offchain::timestamp().diff(&started).millis();
				log::info!(target: LOG_TARGET, "submitted {} dealings in {millis} ms", outgoing.len());
			},
			Err(error) => log::warn!(
				target: LOG_TARGET,
				"submitting {} dealings failed: {error}",
				outgoing.len()
			),
		}
	}

	/// This node's orchestrator key, if its keystore holds one of the set.
	fn local_orchestrator_key() -> Option<OrchestratorId> {
		let set = Orchestrators::<T>::get();
		OrchestratorId::all().into_iter().find(|key| set.contains(key))
	}

	/// The epochs `key` may deal at `now`, of open streams, in the order of [`fair_order`]:
	/// read from the queue's head, at most twice what a batch carries (some may be settled or
	/// locked by another run)
	/// and at most a batch per initiator, so that the other initiators' oldest epochs behind
	/// one initiator's burst are still seen.
	fn dealing_candidates(
		key: &OrchestratorId,
		now: BlockNumberFor<T>,
	) -> Vec<(StreamId, EpochIndex)> {
		let batch = T::MaxDealingsPerBatch::get() as usize;
		let bounds = DealingQueueBounds::<T>::get();
		let probes = bounds
			.tail
			.saturating_sub(bounds.head)
			.min(batch.saturating_mul(PROBES_PER_SLOT) as u64);
		let wanted = batch.saturating_mul(CANDIDATES_PER_SLOT);
		let mut found = Vec::new();
		let mut per_initiator: BTreeMap<T::AccountId, usize> = BTreeMap::new();
		for position in bounds.head..bounds.head.saturating_add(probes) {
			if found.len() >= wanted {
				break;
			}
			let Some(entry) = DealingQueue::<T>::get(position) else { continue };
			let Some(info) = Streams::<T>::get(entry.stream) else { continue };
			if now >= info.expires_at
				|| !Self::is_authorized_orchestrator(entry.stream, entry.epoch, key, now)
			{
				continue;
			}
			let taken = per_initiator.entry(info.initiator.clone()).or_default();
			if *taken >= batch {
				continue;
			}
			*taken = taken.saturating_add(1);
			found.push((info.initiator, (entry.stream, entry.epoch)));
		}
		fair_order(found, wanted)
	}

	/// This node's dealing of `epoch` of `stream`: the one it made before (settled or not), or a
	/// new one made under the epoch's lock. `None` if another run holds the lock.
	fn dealing_for(
		stream: StreamId,
		epoch: EpochIndex,
	) -> Result<Option<OpenDealing<BlockNumberFor<T>>>, DealError> {
		let key = dealing_key(stream, epoch);
		let slot = StorageValueRef::persistent(&key);
		let stored = || {
			slot.get::<OpenDealing<BlockNumberFor<T>>>()
				.map_err(|StorageRetrievalError::Undecodable| DealError::Storage)
		};
		let (threshold, holder_keys) = Self::sealing_terms(stream)?;
		let sealed_for = sealing_fingerprint(threshold, &holder_keys);
		let now = frame_system::Pallet::<T>::block_number();
		if let Some(known) = stored()? {
			match Self::judge_kept(&slot, known, sealed_for, now) {
				Kept::Submit(dealing) => return Ok(Some(dealing)),
				Kept::Wait => return Ok(None),
				// Under the lock, below.
				Kept::Replace(_) => {},
			}
		}
		let lock_key = (b"keyorch/v2/ocw/lock", stream, epoch).encode();
		let mut lock =
			StorageLock::<BlockAndTime<frame_system::Pallet<T>>>::with_block_and_time_deadline(
				&lock_key,
				LOCK_BLOCKS,
				Duration::from_millis(LOCK_MILLIS),
			);
		let Ok(_guard) = lock.try_lock() else { return Ok(None) };
		// A concurrent run may have made it between the first look and the lock.
		if let Some(known) = stored()? {
			match Self::judge_kept(&slot, known, sealed_for, now) {
				Kept::Submit(dealing) => return Ok(Some(dealing)),
				Kept::Wait => return Ok(None),
				Kept::Replace(stale) => Self::delete_records(&stale),
			}
		}
		let dealing = Self::make_dealing(stream, epoch, threshold, &holder_keys, sealed_for)?;
		Self::change_index(|index| {
			if !index.contains(&(stream, epoch)) {
				index.push((stream, epoch));
			}
		})?;
		// Last: a dealing is known only once its records are stored and it is in the index.
		slot.set(&dealing);
		Ok(Some(dealing))
	}

	/// What to do with this node's kept dealing of an epoch, at block `now`, where the
	/// stream's holders are `sealed_for`. A dealing made on another fork for other holders is
	/// never submitted here, and its records, which that fork may yet take, are not
	/// overwritten: another orchestrator takes the epoch over. Once it has not fitted for
	/// [`SETTLED_KEEP`] blocks, its fork is taken to be gone for good and it is replaced.
	fn judge_kept(
		slot: &StorageValueRef,
		mut known: OpenDealing<BlockNumberFor<T>>,
		sealed_for: [u8; 32],
		now: BlockNumberFor<T>,
	) -> Kept<OpenDealing<BlockNumberFor<T>>> {
		if known.sealed_for == sealed_for {
			if known.unfit_since.take().is_some() {
				slot.set(&known);
			}
			return Kept::Submit(known);
		}
		let since = match known.unfit_since {
			Some(since) => since,
			None => {
				known.unfit_since = Some(now);
				slot.set(&known);
				now
			},
		};
		if now >= since.saturating_add(SETTLED_KEEP.into()) {
			return Kept::Replace(known);
		}
		log::warn!(
			target: LOG_TARGET,
			"epoch {} of {:?}: this node's dealing was made for other holders (on another \
			 fork); left to another orchestrator",
			known.epoch,
			known.stream
		);
		Kept::Wait
	}

	/// Applies `change` to the index of open dealings by compare-and-set, retried against
	/// concurrent runs.
	fn change_index(change: impl Fn(&mut Vec<(StreamId, EpochIndex)>)) -> Result<(), DealError> {
		let slot = StorageValueRef::persistent(OPEN_DEALINGS);
		for _ in 0..INDEX_RETRIES {
			let result = slot.mutate::<Vec<(StreamId, EpochIndex)>, DealError, _>(|stored| {
				let mut index = stored.map_err(|_| DealError::Storage)?.unwrap_or_default();
				change(&mut index);
				Ok(index)
			});
			match result {
				Ok(_) => return Ok(()),
				Err(MutateStorageError::ConcurrentModification(_)) => continue,
				Err(MutateStorageError::ValueFunctionFailed(error)) => return Err(error),
			}
		}
		Err(DealError::Storage)
	}

	/// Settles this node's dealings: marks those the chain no longer waits for (and unmarks
	/// them if a reorg made it wait again), and forgets those marked [`SETTLED_KEEP`] blocks
	/// ago, deleting their records if the chain took another orchestrator's dealing.
	fn settle_open_dealings(now: BlockNumberFor<T>) {
		let index: Vec<(StreamId, EpochIndex)> =
			StorageValueRef::persistent(OPEN_DEALINGS).get().ok().flatten().unwrap_or_default();
		let mut forgotten = Vec::new();
		for (stream, epoch) in index {
			let key = dealing_key(stream, epoch);
			let mut slot = StorageValueRef::persistent(&key);
			let Ok(Some(mut dealing)) = slot.get::<OpenDealing<BlockNumberFor<T>>>() else {
				forgotten.push((stream, epoch));
				continue;
			};
			let pending =
				PendingEpochs::<T>::get(stream).is_some_and(|pending| pending.epoch == epoch);
			match dealing.settled_at {
				None if pending => {},
				None => {
					dealing.settled_at = Some(now);
					slot.set(&dealing);
				},
				Some(_) if pending => {
					dealing.settled_at = None;
					slot.set(&dealing);
				},
				Some(at) if now >= at.saturating_add(SETTLED_KEEP.into()) => {
					// Records whose epoch is gone from storage stay until the stream's end is
					// final: the overlay then drops every record of the stream.
					let lost = Epochs::<T>::get(stream, epoch).is_some_and(|on_chain| {
						on_chain.record_hashes.as_slice() != dealing.record_hashes.as_slice()
					});
					if lost {
						Self::delete_records(&dealing);
					}
					slot.clear();
					forgotten.push((stream, epoch));
				},
				Some(_) => {},
			}
		}
		if !forgotten.is_empty() {
			if let Err(error) = Self::change_index(|index| index.retain(|e| !forgotten.contains(e)))
			{
				log::warn!(target: LOG_TARGET, "cannot update the open dealings: {error}");
			}
		}
	}

	fn delete_records(dealing: &OpenDealing<BlockNumberFor<T>>) {
		for key in &dealing.record_keys {
			StorageValueRef::persistent(&offchain_record_key(key)).clear();
		}
	}

	/// The threshold of `stream` and its holders' X25519 keys, in holder order, as this
	/// block's state has them.
	fn sealing_terms(stream: StreamId) -> Result<(u8, Vec<EncryptionPublicKey>), DealError> {
		let info = Streams::<T>::get(stream).ok_or(DealError::HolderKey)?;
		let holder_keys = info
			.holders()
			.iter()
			.map(|account| {
				Participants::<T>::get(account)
					.map(|p| EncryptionPublicKey(p.x25519_public_key))
					.ok_or(DealError::HolderKey)
			})
			.collect::<Result<Vec<_>, _>>()?;
		let threshold = u8::try_from(info.policy.threshold).map_err(|_| DealError::HolderKey)?;
		Ok((threshold, holder_keys))
	}

	/// Deals `epoch` of `stream` to `holder_keys` and stores its sealed records.
	fn make_dealing(
		stream: StreamId,
		epoch: EpochIndex,
		threshold: u8,
		holder_keys: &[EncryptionPublicKey],
		sealed_for: [u8; 32],
	) -> Result<OpenDealing<BlockNumberFor<T>>, DealError> {
		let context = DealContext { stream_id: stream.to_fixed_bytes(), epoch };
		let seed = zeroize::Zeroizing::new(sp_io::offchain::random_seed());
		let dealing = deal(&seed, &context, threshold, holder_keys).map_err(DealError::Crypto)?;

		let mut record_keys = Vec::with_capacity(dealing.records.len());
		for (position, record) in dealing.records.iter().enumerate() {
			let holder = HolderIndex::try_from(position + 1).map_err(|_| DealError::HolderKey)?;
			let key = record_dht_key(&context, holder);
			StorageValueRef::persistent(&offchain_record_key(&key)).set(record);
			record_keys.push(key);
		}
		Ok(OpenDealing {
			stream,
			epoch,
			commitments: dealing.commitments.points.to_vec(),
			record_hashes: dealing.record_hashes(),
			sealed_for,
			unfit_since: None,
			record_keys,
			settled_at: None,
		})
	}

	/// Sends one `submit_key_epochs` carrying `dealings`, signed with `key`.
	fn submit(
		key: &OrchestratorId,
		dealings: &[OpenDealing<BlockNumberFor<T>>],
	) -> Result<(), DealError> {
		let batch: Vec<_> = dealings
			.iter()
			.map(|dealing| Dealing {
				stream: dealing.stream,
				epoch: dealing.epoch,
				commitments: BoundedVec::truncate_from(dealing.commitments.clone()),
				record_hashes: BoundedVec::truncate_from(dealing.record_hashes.clone()),
			})
			.collect();
		let batch = BoundedVec::truncate_from(batch);
		let generic: <T::AuthorityId as AppCrypto<T::Public, T::Signature>>::GenericPublic =
			key.clone().into();
		let signer =
			Signer::<T, T::AuthorityId>::all_accounts().with_filter(alloc::vec![generic.into()]);
		let results =
			signer.send_signed_transaction(|_| Call::submit_key_epochs { dealings: batch.clone() });
		match results.first() {
			None => Err(DealError::NotSigned),
			Some((_, Ok(()))) => Ok(()),
			Some((_, Err(()))) => Err(DealError::Rejected),
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::{
		mock::*,
		types::{Permissions, RotationPolicy, StreamMetadata, StreamPolicy},
		Event, KEY_TYPE,
	};
	use frame_support::{assert_ok, traits::Hooks};
	use keyorch_primitives::{Commitments, EncryptionSecret, SealedShareRecord, WireVersion};
	use sp_core::offchain::{
		testing::{OffchainState, PoolState, TestOffchainExt, TestTransactionPoolExt},
		OffchainDbExt, OffchainWorkerExt, TransactionPoolExt,
	};
	use sp_keystore::{testing::MemoryKeystore, Keystore, KeystoreExt};
	use sp_runtime::DispatchError;
	use std::sync::Arc;

	type Shared<S> = Arc<parking_lot::RwLock<S>>;
	type Extrinsic = sp_runtime::generic::UncheckedExtrinsic<AccountId, RuntimeCall, (), ()>;
	type Batch = alloc::vec::Vec<crate::types::DealingOf<Test>>;

	const INITIATOR: u8 = 1;
	const PROVIDER: u8 = 2;
	const WITNESS: u8 = 10;

	/// The mock chain with off-chain, pool and keystore extensions, and one orchestrator key in
	/// the keystore.
	fn offchain_ext(
	) -> (sp_io::TestExternalities, Shared<OffchainState>, Shared<PoolState>, OrchestratorId) {
		let mut ext = new_test_ext();
		let (offchain, offchain_state) = TestOffchainExt::new();
		let (pool, pool_state) = TestTransactionPoolExt::new();
		let keystore = MemoryKeystore::new();
		let key = keystore.sr25519_generate_new(KEY_TYPE, None).expect("a key");
		ext.register_extension(OffchainDbExt::new(offchain.clone()));
		ext.register_extension(OffchainWorkerExt::new(offchain));
		ext.register_extension(TransactionPoolExt::new(pool));
		ext.register_extension(KeystoreExt::new(keystore));
		(ext, offchain_state, pool_state, key.into())
	}

	fn secret(n: u8) -> EncryptionSecret {
		EncryptionSecret::from_bytes([n; 32])
	}

	/// Makes `set` the orchestrators and registers provider and one witness with real X25519
	/// keys.
	fn setup(set: alloc::vec::Vec<OrchestratorId>) {
		assert_ok!(Keyorch::set_orchestrators(RuntimeOrigin::root(), set));
		for n in [PROVIDER, WITNESS] {
			assert_ok!(Keyorch::register_participant(
				RuntimeOrigin::signed(acc(n)),
				secret(n).public_key().0
			));
		}
		assert_ok!(Keyorch::register_witness(RuntimeOrigin::signed(acc(WITNESS))));
	}

	/// A stream from `initiator` (registered on first use) to the provider, t = 2 of 3,
	/// rotating every `every_blocks` if set.
	fn request_from(initiator: u8, every_blocks: Option<u32>) -> StreamId {
		if !crate::Participants::<Test>::contains_key(acc(initiator)) {
			assert_ok!(Keyorch::register_participant(
				RuntimeOrigin::signed(acc(initiator)),
				secret(initiator).public_key().0
			));
		}
		let stream = Keyorch::stream_id(&acc(initiator), crate::StreamNonce::<Test>::get());
		assert_ok!(Keyorch::request_stream(
			RuntimeOrigin::signed(acc(initiator)),
			acc(PROVIDER),
			StreamMetadata {
				data_type: BoundedVec::truncate_from(b"blob".to_vec()),
				permissions: Permissions(Permissions::READ),
				duration: 500,
			},
			StreamPolicy {
				witness_count: 1,
				threshold: 2,
				rotation: RotationPolicy { every_blocks, every_bytes: None },
			},
		));
		stream
	}

	fn stream_with(set: alloc::vec::Vec<OrchestratorId>) -> StreamId {
		setup(set);
		request_from(INITIATOR, None)
	}

	/// The batches in the pool, oldest first.
	fn submitted(pool: &Shared<PoolState>) -> alloc::vec::Vec<Batch> {
		pool.read()
			.transactions
			.iter()
			.map(|tx| match Extrinsic::decode(&mut &tx[..]).expect("our extrinsic").function {
				RuntimeCall::Keyorch(Call::submit_key_epochs { dealings }) => dealings.into_inner(),
				other => panic!("unexpected call {other:?}"),
			})
			.collect()
	}

	/// Puts `batch` on chain from `key`'s account.
	fn land(key: &OrchestratorId, batch: Batch) {
		assert_ok!(Keyorch::submit_key_epochs(
			RuntimeOrigin::signed(AccountId::from(key.clone())),
			BoundedVec::truncate_from(batch),
		));
	}

	fn record_keys(stream: StreamId) -> alloc::vec::Vec<alloc::vec::Vec<u8>> {
		let context = DealContext { stream_id: stream.to_fixed_bytes(), epoch: 0 };
		(1..=3).map(|holder| offchain_record_key(&record_dht_key(&context, holder))).collect()
	}

	/// Every holder of epoch 0 of `stream` opens its stored record, which matches the chain's
	/// hash and verifies against the chain's commitments.
	fn assert_records_open(offchain: &Shared<OffchainState>, stream: StreamId, holders: [u8; 3]) {
		let on_chain = crate::Epochs::<Test>::get(stream, 0).expect("epoch 0 on chain");
		let commitments = Commitments {
			version: WireVersion::V1,
			points: BoundedVec::truncate_from(on_chain.commitments.to_vec()),
		};
		let context = DealContext { stream_id: stream.to_fixed_bytes(), epoch: 0 };
		for (position, key) in record_keys(stream).iter().enumerate() {
			let bytes = offchain.read().persistent_storage.get(key).expect("record stored");
			let record = SealedShareRecord::decode(&mut &bytes[..]).expect("a record");
			assert_eq!(keyorch_primitives::record_hash(&record), on_chain.record_hashes[position]);
			let share = record
				.open(&secret(holders[position]), &context, position as u8 + 1)
				.expect("the holder opens its record");
			share.verify(&commitments).expect("the share matches the chain's commitments");
		}
	}

	fn run_worker_at(block: u64) {
		System::set_block_number(block);
		Keyorch::offchain_worker(block);
	}

	fn index() -> alloc::vec::Vec<(StreamId, EpochIndex)> {
		StorageValueRef::persistent(OPEN_DEALINGS).get().ok().flatten().unwrap_or_default()
	}

	#[test]
	fn deals_once_stores_records_and_resubmits_the_same_dealing() {
		let (mut ext, offchain, pool, key) = offchain_ext();
		ext.execute_with(|| {
			let stream = stream_with(alloc::vec![key.clone()]);
			run_worker_at(2);
			let batches = submitted(&pool);
			assert_eq!(batches.len(), 1, "one submission");
			let Dealing { commitments, record_hashes, epoch, .. } = &batches[0][0];
			assert_eq!((*epoch, commitments.len(), record_hashes.len()), (0, 2, 3));

			// Until it lands, every block's batch carries the very same dealing, not a new
			// secret.
			run_worker_at(3);
			let batches = submitted(&pool);
			assert_eq!(batches.len(), 2);
			assert_eq!(batches[0], batches[1]);

			// Once it is on chain the worker settles it and keeps the records.
			land(&key, batches[1].clone());
			assert_records_open(&offchain, stream, [INITIATOR, PROVIDER, WITNESS]);
			run_worker_at(4);
			assert_eq!(submitted(&pool).len(), 2, "nothing more to submit");
			assert_records_open(&offchain, stream, [INITIATOR, PROVIDER, WITNESS]);
			// The settled marker is forgotten after `SETTLED_KEEP` blocks.
			assert_eq!(index().len(), 1);
			run_worker_at(4 + u64::from(SETTLED_KEEP));
			assert!(index().is_empty());
			assert!(StorageValueRef::persistent(&dealing_key(stream, 0))
				.get::<OpenDealing<u64>>()
				.unwrap()
				.is_none());
		});
	}

	#[test]
	fn many_epochs_go_in_one_batch_round_robin_across_initiators() {
		let (mut ext, offchain, pool, key) = offchain_ext();
		ext.execute_with(|| {
			setup(alloc::vec![key.clone()]);
			// Initiator 1 bursts 2 × MAX_BATCH requests, then 3 and 4 request one each.
			let burst: alloc::vec::Vec<_> =
				(0..2 * MAX_BATCH).map(|_| request_from(INITIATOR, None)).collect();
			let late = [request_from(3, None), request_from(4, None)];
			run_worker_at(2);
			let batches = submitted(&pool);
			assert_eq!(batches.len(), 1, "one transaction for all of them");
			let order: alloc::vec::Vec<StreamId> = batches[0].iter().map(|d| d.stream).collect();
			assert_eq!(order.len(), MAX_BATCH as usize, "a full batch");
			// Round one: each initiator's oldest; then the burst in request order.
			assert_eq!(&order[..3], &[burst[0], late[0], late[1]]);
			assert_eq!(&order[3..], &burst[1..MAX_BATCH as usize - 2]);

			land(&key, batches[0].clone());
			for stream in &order {
				assert!(crate::Epochs::<Test>::contains_key(stream, 0));
			}
			assert_records_open(&offchain, late[1], [4, PROVIDER, WITNESS]);
			// The next block's batch carries the rest of the burst.
			run_worker_at(3);
			let batches = submitted(&pool);
			assert_eq!(batches.len(), 2);
			let next: alloc::vec::Vec<StreamId> = batches[1].iter().map(|d| d.stream).collect();
			assert_eq!(&next[..], &burst[MAX_BATCH as usize - 2..2 * MAX_BATCH as usize - 2]);
		});
	}

	/// Block `block` of a chain where each orchestrator's batch lands in the block after its
	/// worker ran: the schedule, the batches of the last block, then `between`, then the worker.
	fn produce_block(
		block: u64,
		pool: &Shared<PoolState>,
		key: &OrchestratorId,
		between: impl FnOnce(),
	) {
		run_to_block(block);
		for batch in submitted(pool) {
			// A dealing a worker submitted twice is refused the second time: harmless here.
			land(key, batch);
		}
		pool.write().transactions.clear();
		between();
		Keyorch::offchain_worker(block);
	}

	fn dealt_at(stream: StreamId) -> Option<u64> {
		crate::Epochs::<Test>::get(stream, 0).map(|epoch| epoch.dealt_at)
	}

	#[test]
	fn an_attackers_rotating_streams_do_not_delay_a_victims_first_epoch() {
		let (mut ext, _, pool, key) = offchain_ext();
		ext.execute_with(|| {
			setup(alloc::vec![key.clone()]);
			const ATTACKER: u8 = 5;
			const VICTIM: u8 = 6;
			let attacker: alloc::vec::Vec<_> =
				(0..20).map(|_| request_from(ATTACKER, Some(MIN_ROTATION))).collect();
			Keyorch::offchain_worker(1);
			for block in 2..=5 {
				produce_block(block, &pool, &key, || {});
			}
			assert!(attacker.iter().all(|stream| dealt_at(*stream).is_some()));
			// They rotate from block 1 + MIN_ROTATION on (as many per block as the schedule's
			// slots hold), more than a batch carries; the victim asks in that very block.
			let mut victim = None;
			let rotation_block = 1 + u64::from(MIN_ROTATION);
			produce_block(rotation_block, &pool, &key, || {
				victim = Some(request_from(VICTIM, None))
			});
			let victim = victim.expect("requested");
			assert!(crate::PendingEpochs::<Test>::count() > MAX_BATCH + 1);
			produce_block(rotation_block + 1, &pool, &key, || {});
			assert_eq!(dealt_at(victim), Some(rotation_block + 1), "dealt in the next block");
		});
	}

	#[test]
	fn skips_streams_past_their_duration() {
		let (mut ext, _, pool, key) = offchain_ext();
		ext.execute_with(|| {
			stream_with(alloc::vec![key.clone()]);
			// Past expiry, before the expiry task has run.
			run_worker_at(1 + 500);
			assert!(submitted(&pool).is_empty());
		});
	}

	#[test]
	fn concurrent_runs_of_one_epoch_give_one_accepted_dealing_whose_records_open() {
		let (mut ext, offchain, pool, key) = offchain_ext();
		ext.execute_with(|| {
			let stream = stream_with(alloc::vec![key.clone()]);
			run_worker_at(2);
			// A second run started on the same block while the first was still running wrote
			// back the index as it saw it, without the first run's dealing. (Before per-epoch
			// entries this lost the dealing, and the next run dealt the epoch again over the
			// records of the one on its way to the chain.)
			StorageValueRef::persistent(OPEN_DEALINGS)
				.set(&alloc::vec::Vec::<(StreamId, EpochIndex)>::new());
			run_worker_at(3);
			let batches = submitted(&pool);
			assert_eq!(batches.len(), 2);
			assert_eq!(batches[0], batches[1], "the same dealing, not a second one");

			// Both transactions land: the first is taken, the second refused; nothing else.
			land(&key, batches[0].clone());
			land(&key, batches[1].clone());
			assert!(System::events().iter().any(|record| matches!(
				record.event,
				RuntimeEvent::Keyorch(Event::DealingRefused { stream: s, epoch: 0, .. }) if s == stream
			)));
			assert_records_open(&offchain, stream, [INITIATOR, PROVIDER, WITNESS]);

			// A run that still sees the epoch pending (it started from an older block, or runs
			// on a fork) after this node settled it offers the same dealing, not a new one.
			run_worker_at(4);
			let again = Pallet::<Test>::dealing_for(stream, 0).ok().flatten().expect("kept");
			assert!(again.settled_at.is_some());
			assert_eq!(again.record_hashes, batches[0][0].record_hashes.to_vec());
			assert_records_open(&offchain, stream, [INITIATOR, PROVIDER, WITNESS]);
		});
	}

	#[test]
	fn a_dealing_made_for_other_holders_waits_for_them_and_is_replaced_once_its_fork_is_gone() {
		let (mut ext, offchain, pool, key) = offchain_ext();
		ext.execute_with(|| {
			let stream = stream_with(alloc::vec![key.clone()]);
			run_worker_at(2);
			let first = submitted(&pool);
			let stored = |offchain: &Shared<OffchainState>| -> alloc::vec::Vec<_> {
				let state = offchain.read();
				record_keys(stream).iter().map(|key| state.persistent_storage.get(key)).collect()
			};
			let records = stored(&offchain);
			// On another fork the stream's witness holds another key (or another witness, or
			// the same ones in another order, was selected): the records made here would be
			// sealed to the wrong holder there. (Seen under load: witnesses fetched records
			// whose hashes the chain committed to, and could not open them.)
			let on_this_fork = |key: [u8; 32]| {
				crate::Participants::<Test>::mutate(acc(WITNESS), |participant| {
					participant.as_mut().expect("registered").x25519_public_key = key;
				})
			};
			on_this_fork(secret(WITNESS + 1).public_key().0);
			run_worker_at(3);
			assert_eq!(submitted(&pool).len(), 1, "nothing submitted for the other holders");
			assert_eq!(stored(&offchain), records, "the first dealing's records are kept");
			// Back on the fork it was made for, the same dealing goes again.
			on_this_fork(secret(WITNESS).public_key().0);
			run_worker_at(4);
			let batches = submitted(&pool);
			assert_eq!(batches.len(), 2);
			assert_eq!(batches[1], first[0]);

			// Made for other holders for as long as reorgs go, it is dealt anew for these.
			on_this_fork(secret(WITNESS + 1).public_key().0);
			let since = 5;
			run_worker_at(since);
			run_worker_at(since + u64::from(SETTLED_KEEP) - 1);
			assert_eq!(submitted(&pool).len(), 2);
			run_worker_at(since + u64::from(SETTLED_KEEP));
			let batches = submitted(&pool);
			assert_eq!(batches.len(), 3);
			assert_ne!(batches[2][0].record_hashes, first[0][0].record_hashes);
			land(&key, batches[2].clone());
			assert_records_open(&offchain, stream, [INITIATOR, PROVIDER, WITNESS + 1]);
		});
	}

	#[test]
	fn a_reorg_that_undoes_the_dealing_brings_the_same_dealing_back() {
		use frame_support::storage::{with_transaction, TransactionOutcome};
		let (mut ext, offchain, pool, key) = offchain_ext();
		ext.execute_with(|| {
			let stream = stream_with(alloc::vec![key.clone()]);
			run_worker_at(2);
			let first = submitted(&pool)[0].clone();
			// A fork takes the dealing and this node settles it there; then the fork is
			// abandoned (its state rolled back, the off-chain storage kept).
			let _ = with_transaction(|| -> TransactionOutcome<Result<(), DispatchError>> {
				land(&key, first.clone());
				run_worker_at(3);
				TransactionOutcome::Rollback(Ok(()))
			});
			assert!(crate::Epochs::<Test>::get(stream, 0).is_none());
			run_worker_at(4);
			let batches = submitted(&pool);
			assert_eq!(batches.last(), Some(&first), "the same dealing, offered again");
			land(&key, first);
			assert_records_open(&offchain, stream, [INITIATOR, PROVIDER, WITNESS]);
		});
	}

	#[test]
	fn deletes_its_records_when_another_orchestrator_dealt_the_epoch() {
		let (mut ext, offchain, pool, key) = offchain_ext();
		ext.execute_with(|| {
			let stream = stream_with(alloc::vec![key.clone(), orch(1)]);
			// Past the take-over delay both orchestrators are accepted, whoever is primary.
			let late = 1 + TAKEOVER_DELAY;
			run_worker_at(late);
			assert_eq!(submitted(&pool).len(), 1);
			assert!(record_keys(stream).iter().all(|k| offchain
				.read()
				.persistent_storage
				.get(k)
				.is_some()));

			// The other orchestrator's dealing lands first.
			land(
				&orch(1),
				alloc::vec![Dealing {
					stream,
					epoch: 0,
					commitments: BoundedVec::truncate_from(alloc::vec![
						commitment(0),
						commitment(1)
					]),
					record_hashes: BoundedVec::truncate_from(alloc::vec![
						[1; 32], [2; 32], [3; 32]
					]),
				}],
			);
			// Kept while a reorg could still bring back a block that took this node's dealing…
			run_worker_at(late + 1);
			assert!(record_keys(stream).iter().all(|k| offchain
				.read()
				.persistent_storage
				.get(k)
				.is_some()));
			// …then deleted.
			run_worker_at(late + 1 + u64::from(SETTLED_KEEP));
			assert!(index().is_empty());
			assert!(record_keys(stream).iter().all(|k| offchain
				.read()
				.persistent_storage
				.get(k)
				.is_none()));
		});
	}

	#[test]
	fn a_node_without_an_orchestrator_key_deals_nothing() {
		let (mut ext, _, pool, _) = offchain_ext();
		ext.execute_with(|| {
			stream_with(alloc::vec![orch(0)]);
			run_worker_at(2);
			assert!(pool.read().transactions.is_empty());
		});
	}

	#[test]
	fn fair_order_serves_every_initiator_before_anyone_twice() {
		let candidates = alloc::vec![(1, 'a'), (1, 'b'), (1, 'c'), (2, 'x'), (1, 'd'), (3, 'y')];
		assert_eq!(fair_order(candidates.clone(), 10), alloc::vec!['a', 'x', 'y', 'b', 'c', 'd']);
		assert_eq!(fair_order(candidates, 4), alloc::vec!['a', 'x', 'y', 'b']);
		assert!(fair_order(alloc::vec::Vec::<(u8, u8)>::new(), 3).is_empty());
	}
}
