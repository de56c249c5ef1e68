//! Off-chain dealing: an orchestrator's off-chain worker deals the epochs the chain waits for.
//!
//! Every block, on a node whose keystore holds an orchestrator key (`kord`):
//!
//! 1. it reads the [`PendingEpochs`] queue — only streams that wait for an epoch, never all
//!    streams — and keeps those it may deal now (designated, or taking over a silent one);
//! 2. for each, under a persistent off-chain lock so that a re-run never deals twice, it reuses
//!    a dealing it already made for that epoch, or makes one: a seed from the node's
//!    `random_seed`, Feldman shares for initiator, provider and witnesses sealed to their X25519
//!    keys (`keyorch-primitives`), the sealed records written to the node's persistent off-chain
//!    storage under their DHT keys (served by `keyorch_getRecord`);
//! 3. it submits `submit_key_epoch` signed with its orchestrator key, and resubmits the same
//!    dealing if it has not landed after [`Config::ResubmitAfter`] blocks;
//! 4. it forgets dealings that are on chain, and deletes the records of those the chain took
//!    from another orchestrator.
//!
//! The stream secret exists only inside `keyorch_primitives::deal`, which zeroizes it.

use crate::{
	pallet::{Call, Config, Epochs, Orchestrators, Pallet, Participants, PendingEpochs, Streams},
	types::{EpochIndex, StreamId},
	OrchestratorId,
};
use alloc::vec::Vec;
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
		storage::StorageValueRef,
		storage_lock::{BlockAndTime, StorageLock},
		Duration,
	},
	RuntimeAppPublic, Saturating,
};

/// Log target of the off-chain worker.
const LOG_TARGET: &str = "keyorch::ocw";

/// Persistent off-chain key of the dealings this node made and has not seen on chain yet.
const OPEN_DEALINGS: &[u8] = b"keyorch/v1/ocw/open-dealings";

/// Most dealings a node keeps track of at once; more pending epochs wait for the next block.
const MAX_OPEN_DEALINGS: usize = 64;

/// How long the per-epoch lock holds if a worker dies while dealing.
const LOCK_BLOCKS: u32 = 10;
const LOCK_MILLIS: u64 = 30_000;

/// A dealing this node made, kept until the chain has an epoch for it.
#[derive(Encode, Decode, Clone, PartialEq, Debug)]
struct OpenDealing<BlockNumber> {
	stream: StreamId,
	epoch: EpochIndex,
	commitments: Vec<[u8; 32]>,
	record_hashes: Vec<[u8; 32]>,
	/// The DHT keys of its records, to delete them if another orchestrator's dealing wins.
	record_keys: Vec<[u8; 32]>,
	/// When it was last submitted, if it was.
	submitted_at: Option<BlockNumber>,
}

/// Why an epoch could not be dealt this time (logged; the next block tries again).
enum DealError {
	/// A holder has no (valid) X25519 key on chain.
	HolderKey,
	/// The crypto layer refused the dealing.
	Crypto(keyorch_primitives::Error),
	/// No local orchestrator key signed the transaction.
	NotSigned,
	/// The transaction pool refused it.
	Rejected,
}

impl core::fmt::Display for DealError {
	fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
		match self {
			Self::HolderKey => f.write_str("a holder has no valid X25519 key on chain"),
			Self::Crypto(error) => write!(f, "dealing refused: {error}"),
			Self::NotSigned => f.write_str("no local orchestrator key signed the transaction"),
			Self::Rejected => f.write_str("the transaction pool refused the transaction"),
		}
	}
}

impl<T: Config> Pallet<T> {
	/// The off-chain worker's work for block `now`.
	pub(crate) fn deal_pending_epochs(now: BlockNumberFor<T>) {
		let Some(key) = Self::local_orchestrator_key() else { return };
		let mut open = Self::open_dealings();
		Self::settle_open_dealings(&mut open);

		for (stream, pending) in PendingEpochs::<T>::iter() {
			if !Self::is_authorized_orchestrator(stream, pending.epoch, &key, now) {
				continue;
			}
			let lock_key = (b"keyorch/v1/ocw/lock", stream, pending.epoch).encode();
			let mut lock =
				StorageLock::<BlockAndTime<frame_system::Pallet<T>>>::with_block_and_time_deadline(
					&lock_key,
					LOCK_BLOCKS,
					Duration::from_millis(LOCK_MILLIS),
				);
			let Ok(_guard) = lock.try_lock() else { continue };

			let position = open.iter().position(|d| d.stream == stream && d.epoch == pending.epoch);
			let index = match position {
				Some(index) => index,
				None if open.len() >= MAX_OPEN_DEALINGS => continue,
				None => match Self::make_dealing(stream, pending.epoch) {
					Ok(dealing) => {
						open.push(dealing);
						open.len() - 1
					},
					Err(error) => {
						log::warn!(target: LOG_TARGET, "cannot deal epoch {} of {stream:?}: {error}", pending.epoch);
						continue;
					},
				},
			};
			let dealing = &mut open[index];
			let due = dealing
				.submitted_at
				.is_none_or(|at| now >= at.saturating_add(T::ResubmitAfter::get()));
			if !due {
				continue;
			}
			match Self::submit(&key, dealing) {
				Ok(()) => {
					dealing.submitted_at = Some(now);
					log::info!(target: LOG_TARGET, "submitted epoch {} of {stream:?}", dealing.epoch);
				},
				Err(error) => log::warn!(
					target: LOG_TARGET,
					"submitting epoch {} of {stream:?} failed: {error}",
					dealing.epoch
				),
			}
			// One signed transaction per block and key: a second would reuse the account nonce.
			break;
		}
		StorageValueRef::persistent(OPEN_DEALINGS).set(&open);
	}

	/// This node's orchestrator key, if its keystore holds one of the set.
	fn local_orchestrator_key() -> Option<OrchestratorId> {
		let set = Orchestrators::<T>::get();
		OrchestratorId::all().into_iter().find(|key| set.contains(key))
	}

	fn open_dealings() -> Vec<OpenDealing<BlockNumberFor<T>>> {
		StorageValueRef::persistent(OPEN_DEALINGS).get().ok().flatten().unwrap_or_default()
	}

	/// Drops the dealings the chain has settled: kept records if ours won, deleted records if
	/// another orchestrator's did or the stream is gone.
	fn settle_open_dealings(open: &mut Vec<OpenDealing<BlockNumberFor<T>>>) {
		open.retain(|dealing| {
			let on_chain = Epochs::<T>::get(dealing.stream, dealing.epoch);
			let still_pending = PendingEpochs::<T>::get(dealing.stream)
				.is_some_and(|pending| pending.epoch == dealing.epoch);
			match on_chain {
				Some(epoch)
					if epoch.record_hashes.as_slice() == dealing.record_hashes.as_slice() =>
				{
					false
				},
				Some(_) => {
					Self::delete_records(dealing);
					false
				},
				None if still_pending => true,
				None => {
					Self::delete_records(dealing);
					false
				},
			}
		});
	}

	fn delete_records(dealing: &OpenDealing<BlockNumberFor<T>>) {
		for key in &dealing.record_keys {
			StorageValueRef::persistent(&offchain_record_key(key)).clear();
		}
	}

	/// Deals `epoch` of `stream` and stores its sealed records.
	fn make_dealing(
		stream: StreamId,
		epoch: EpochIndex,
	) -> Result<OpenDealing<BlockNumberFor<T>>, DealError> {
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
		let context = DealContext { stream_id: stream.to_fixed_bytes(), epoch };
		let seed = zeroize::Zeroizing::new(sp_io::offchain::random_seed());
		let dealing = deal(&seed, &context, threshold, &holder_keys).map_err(DealError::Crypto)?;

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
			record_keys,
			submitted_at: None,
		})
	}

	/// Sends `submit_key_epoch` for `dealing`, signed with `key`.
	fn submit(
		key: &OrchestratorId,
		dealing: &OpenDealing<BlockNumberFor<T>>,
	) -> Result<(), DealError> {
		let commitments = BoundedVec::truncate_from(dealing.commitments.clone());
		let record_hashes = BoundedVec::truncate_from(dealing.record_hashes.clone());
		let generic: <T::AuthorityId as AppCrypto<T::Public, T::Signature>>::GenericPublic =
			key.clone().into();
		let signer =
			Signer::<T, T::AuthorityId>::all_accounts().with_filter(alloc::vec![generic.into()]);
		let results = signer.send_signed_transaction(|_| Call::submit_key_epoch {
			stream: dealing.stream,
			epoch: dealing.epoch,
			commitments: commitments.clone(),
			record_hashes: record_hashes.clone(),
		});
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
		KEY_TYPE,
	};
	use frame_support::{assert_ok, traits::Hooks};
	use keyorch_primitives::{EncryptionSecret, SealedShareRecord};
	use sp_core::offchain::{
		testing::{OffchainState, PoolState, TestOffchainExt, TestTransactionPoolExt},
		OffchainDbExt, OffchainWorkerExt, TransactionPoolExt,
	};
	use sp_keystore::{testing::MemoryKeystore, Keystore, KeystoreExt};
	use std::sync::Arc;

	type Shared<S> = Arc<parking_lot::RwLock<S>>;
	type Extrinsic = sp_runtime::generic::UncheckedExtrinsic<AccountId, RuntimeCall, (), ()>;

	const INITIATOR: u8 = 1;
	const PROVIDER: u8 = 2;
	const WITNESS: u8 = 10;

	/// The mock chain with off-chain, pool and keystore extensions, and one orchestrator key in
	/// the keystore that is also first in the orchestrator set.
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

	/// Registers initiator, provider and one witness with real X25519 keys, makes `set` the
	/// orchestrators and requests a stream (t = 2 of 3).
	fn stream_with(set: alloc::vec::Vec<OrchestratorId>) -> StreamId {
		assert_ok!(Keyorch::set_orchestrators(RuntimeOrigin::root(), set));
		for n in [INITIATOR, PROVIDER, WITNESS] {
			let key = EncryptionSecret::from_bytes([n; 32]).public_key().0;
			assert_ok!(Keyorch::register_participant(RuntimeOrigin::signed(acc(n)), key));
		}
		assert_ok!(Keyorch::register_witness(RuntimeOrigin::signed(acc(WITNESS))));
		let stream = Keyorch::stream_id(&acc(INITIATOR), crate::StreamNonce::<Test>::get());
		assert_ok!(Keyorch::request_stream(
			RuntimeOrigin::signed(acc(INITIATOR)),
			acc(PROVIDER),
			StreamMetadata {
				data_type: BoundedVec::truncate_from(b"blob".to_vec()),
				permissions: Permissions(Permissions::READ),
				duration: 500,
			},
			StreamPolicy { witness_count: 1, threshold: 2, rotation: RotationPolicy::default() },
		));
		stream
	}

	/// The `submit_key_epoch` calls in the pool, oldest first.
	fn submitted(pool: &Shared<PoolState>) -> alloc::vec::Vec<Call<Test>> {
		pool.read()
			.transactions
			.iter()
			.map(|tx| match Extrinsic::decode(&mut &tx[..]).expect("our extrinsic").function {
				RuntimeCall::Keyorch(call @ Call::submit_key_epoch { .. }) => call,
				other => panic!("unexpected call {other:?}"),
			})
			.collect()
	}

	fn record_keys(stream: StreamId) -> alloc::vec::Vec<alloc::vec::Vec<u8>> {
		let context = DealContext { stream_id: stream.to_fixed_bytes(), epoch: 0 };
		(1..=3).map(|holder| offchain_record_key(&record_dht_key(&context, holder))).collect()
	}

	fn run_worker_at(block: u64) {
		System::set_block_number(block);
		Keyorch::offchain_worker(block);
	}

	#[test]
	fn deals_once_stores_records_and_resubmits_the_same_dealing() {
		let (mut ext, offchain, pool, key) = offchain_ext();
		ext.execute_with(|| {
			let stream = stream_with(alloc::vec![key.clone()]);
			run_worker_at(2);
			let calls = submitted(&pool);
			assert_eq!(calls.len(), 1, "one submission");
			let Call::submit_key_epoch { commitments, record_hashes, epoch, .. } = &calls[0] else {
				unreachable!()
			};
			assert_eq!((*epoch, commitments.len(), record_hashes.len()), (0, 2, 3));
			for (key, hash) in record_keys(stream).iter().zip(record_hashes.iter()) {
				let bytes = offchain.read().persistent_storage.get(key).expect("record stored");
				let record = SealedShareRecord::decode(&mut &bytes[..]).expect("a record");
				assert_eq!(&keyorch_primitives::record_hash(&record), hash);
			}

			// Not due again before `ResubmitAfter` (5 blocks in the mock)…
			run_worker_at(4);
			assert_eq!(submitted(&pool).len(), 1);
			// …then the very same dealing, not a new secret.
			run_worker_at(7);
			let calls = submitted(&pool);
			assert_eq!(calls.len(), 2);
			assert_eq!(calls[0], calls[1]);

			// Once it is on chain the worker forgets it and keeps the records.
			let Call::submit_key_epoch { commitments, record_hashes, .. } = calls[1].clone() else {
				unreachable!()
			};
			assert_ok!(Keyorch::submit_key_epoch(
				RuntimeOrigin::signed(AccountId::from(key.clone())),
				stream,
				0,
				commitments,
				record_hashes,
			));
			run_worker_at(8);
			assert!(Pallet::<Test>::open_dealings().is_empty());
			for key in record_keys(stream) {
				assert!(offchain.read().persistent_storage.get(&key).is_some());
			}
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
			assert_ok!(Keyorch::submit_key_epoch(
				RuntimeOrigin::signed(orch_acc(1)),
				stream,
				0,
				BoundedVec::truncate_from(alloc::vec![commitment(0), commitment(1)]),
				BoundedVec::truncate_from(alloc::vec![[1; 32], [2; 32], [3; 32]]),
			));
			run_worker_at(late + 1);
			assert!(Pallet::<Test>::open_dealings().is_empty());
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
}
