//! Benchmarks of `pallet-keyorch` (frame-benchmarking v2), each in its worst case: full
//! witness set, maximal metadata, epochs to prune, rotation schedules to update.

#![cfg(feature = "runtime-benchmarks")]

use super::*;
use crate::Pallet as Keyorch;
use alloc::{vec, vec::Vec};
use frame_benchmarking::v2::*;
use frame_support::{
	traits::{
		fungible::{Inspect, Mutate},
		Get,
	},
	weights::Weight,
	BoundedVec,
};
use frame_system::{pallet_prelude::BlockNumberFor, RawOrigin};
use sp_runtime::traits::Saturating;

const SEED: u32 = 0;

fn funds<T: Config>() -> BalanceOf<T> {
	// Enough for the longest stream rotating at the shortest interval, many times over.
	let epochs = T::MaxStreamDuration::get().saturating_add(T::RotationAllowance::get());
	T::Currency::minimum_balance()
		.saturating_add(T::StreamDeposit::get())
		.saturating_add(T::WitnessDeposit::get())
		.saturating_add(T::EpochDeposit::get().saturating_mul(epochs.into()))
		.saturating_mul(1_000u32.into())
}

fn x25519(i: u32) -> X25519PublicKey {
	let mut key = [9u8; 32];
	key[..4].copy_from_slice(&i.to_le_bytes());
	key
}

fn orchestrator_key(i: u32) -> OrchestratorId {
	let mut raw = [1u8; 32];
	raw[..4].copy_from_slice(&i.to_le_bytes());
	sp_core::sr25519::Public::from_raw(raw).into()
}

/// A funded, registered participant.
fn participant<T: Config>(name: &'static str, i: u32) -> T::AccountId {
	let who: T::AccountId = account(name, i, SEED);
	T::Currency::set_balance(&who, funds::<T>());
	Participants::<T>::insert(
		&who,
		ParticipantInfo { x25519_public_key: x25519(i), live_streams: 0 },
	);
	who
}

/// Register witnesses until the set holds `n`.
fn fill_witnesses<T: Config>(n: u32) {
	let mut i = WitnessSet::<T>::get().len() as u32;
	while (WitnessSet::<T>::get().len() as u32) < n {
		let who = participant::<T>("witness", i);
		Keyorch::<T>::register_witness(RawOrigin::Signed(who).into()).expect("room in the set");
		i = i.saturating_add(1);
	}
}

/// A single orchestrator, so that it is always the designated one. Returns its account.
fn orchestrator<T: Config>() -> T::AccountId {
	let key = orchestrator_key(0);
	Orchestrators::<T>::put(BoundedVec::truncate_from(vec![key.clone()]));
	T::AccountId::from(key)
}

fn metadata<T: Config>() -> StreamMetadata<T::MaxDataTypeLen> {
	StreamMetadata {
		data_type: BoundedVec::truncate_from(vec![b'x'; T::MaxDataTypeLen::get() as usize]),
		permissions: Permissions(Permissions::ALL),
		duration: T::MaxStreamDuration::get(),
	}
}

fn policy<T: Config>(w: u32) -> StreamPolicy {
	StreamPolicy {
		witness_count: w,
		threshold: w.saturating_add(2),
		rotation: RotationPolicy {
			every_blocks: Some(T::MinRotationInterval::get().max(1)),
			every_bytes: Some(1),
		},
	}
}

/// A requested stream with `w` witnesses, chosen from a full witness set.
fn stream<T: Config>(w: u32) -> (StreamId, T::AccountId, T::AccountId) {
	stream_from::<T>(0, w)
}

/// A requested stream of initiator `i` with `w` witnesses.
fn stream_from<T: Config>(i: u32, w: u32) -> (StreamId, T::AccountId, T::AccountId) {
	fill_witnesses::<T>(T::MaxWitnesses::get());
	let initiator = participant::<T>("initiator", i);
	let provider = participant::<T>("provider", 0);
	let nonce = StreamNonce::<T>::get();
	Keyorch::<T>::request_stream(
		RawOrigin::Signed(initiator.clone()).into(),
		provider.clone(),
		metadata::<T>(),
		policy::<T>(w),
	)
	.expect("valid request");
	(Keyorch::<T>::stream_id(&initiator, nonce), initiator, provider)
}

fn commitments<T: Config>(n: u32) -> CommitmentsOf<T> {
	BoundedVec::truncate_from(T::CommitmentVerifier::valid_commitments(n))
}

fn record_hashes<T: Config>(n: u32) -> RecordHashesOf<T> {
	BoundedVec::truncate_from((0..n).map(|i| [i as u8; 32]).collect())
}

/// A dealing of the stream's pending epoch.
fn dealing<T: Config>(id: StreamId) -> DealingOf<T> {
	let info = Streams::<T>::get(id).expect("open stream");
	Dealing {
		stream: id,
		epoch: info.pending_epoch.expect("pending epoch"),
		commitments: commitments::<T>(info.policy.threshold),
		record_hashes: record_hashes::<T>(info.policy.holders()),
	}
}

/// Deal the stream's pending epoch.
fn deal<T: Config>(id: StreamId, orchestrator: &T::AccountId) {
	let epoch = Streams::<T>::get(id).and_then(|info| info.pending_epoch);
	Keyorch::<T>::submit_key_epochs(
		RawOrigin::Signed(orchestrator.clone()).into(),
		BoundedVec::truncate_from(vec![dealing::<T>(id)]),
	)
	.expect("an orchestrator's batch");
	let dealt = Streams::<T>::get(id).and_then(|info| info.current_epoch);
	assert_eq!(dealt, epoch, "the dealing was accepted");
}

/// A stream of initiator 0 with epochs 0 and 1 dealt and epoch 2 pending.
fn busy_stream<T: Config>(w: u32) -> (StreamId, T::AccountId, T::AccountId, T::AccountId) {
	busy_stream_from::<T>(0, w)
}

/// A stream of initiator `i` with epochs 0 and 1 dealt and epoch 2 pending.
fn busy_stream_from<T: Config>(
	i: u32,
	w: u32,
) -> (StreamId, T::AccountId, T::AccountId, T::AccountId) {
	let orch = orchestrator::<T>();
	let (id, initiator, provider) = stream_from::<T>(i, w);
	deal::<T>(id, &orch);
	Keyorch::<T>::rotate(RawOrigin::Signed(initiator.clone()).into(), id).expect("rotates");
	deal::<T>(id, &orch);
	Keyorch::<T>::rotate(RawOrigin::Signed(initiator.clone()).into(), id).expect("rotates");
	(id, initiator, provider, orch)
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn set_orchestrators(o: Linear<0, { T::MaxOrchestrators::get() }>) {
		let keys: Vec<OrchestratorId> = (0..o).map(orchestrator_key).collect();

		#[extrinsic_call]
		_(RawOrigin::Root, keys);

		assert_eq!(Orchestrators::<T>::get().len() as u32, o);
	}

	#[benchmark]
	fn register_participant() {
		let caller: T::AccountId = whitelisted_caller();

		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()), x25519(1));

		assert!(Participants::<T>::contains_key(&caller));
	}

	#[benchmark]
	fn update_participant_key() {
		let caller = participant::<T>("caller", 0);

		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()), x25519(2));

		assert_eq!(Keyorch::<T>::participant_key(&caller), Some(x25519(2)));
	}

	#[benchmark]
	fn deregister_participant() {
		let caller = participant::<T>("caller", 0);

		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()));

		assert!(!Participants::<T>::contains_key(&caller));
	}

	#[benchmark]
	fn register_witness() {
		fill_witnesses::<T>(T::MaxWitnesses::get().saturating_sub(1));
		let caller = participant::<T>("caller", 0);

		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()));

		assert!(Witnesses::<T>::contains_key(&caller));
	}

	#[benchmark]
	fn unregister_witness() {
		fill_witnesses::<T>(T::MaxWitnesses::get().saturating_sub(1));
		let caller = participant::<T>("caller", 0);
		Keyorch::<T>::register_witness(RawOrigin::Signed(caller.clone()).into())
			.expect("room in the set");

		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()));

		assert!(!Witnesses::<T>::contains_key(&caller));
	}

	#[benchmark]
	fn request_stream(w: Linear<1, { T::MaxWitnessesPerStream::get() }>) {
		orchestrator::<T>();
		fill_witnesses::<T>(T::MaxWitnesses::get());
		let initiator = participant::<T>("initiator", 0);
		let provider = participant::<T>("provider", 0);

		#[extrinsic_call]
		_(RawOrigin::Signed(initiator.clone()), provider, metadata::<T>(), policy::<T>(w));

		assert_eq!(PendingEpochs::<T>::count(), 1);
	}

	/// `n` dealings, each of a stream with the most witnesses and an epoch to prune.
	#[benchmark]
	fn submit_key_epochs(n: Linear<1, { T::MaxDealingsPerBatch::get() }>) {
		let w = T::MaxWitnessesPerStream::get();
		let mut orch = orchestrator::<T>();
		let mut ids = Vec::new();
		for i in 0..n {
			let (id, _, _, o) = busy_stream_from::<T>(i, w);
			ids.push(id);
			orch = o;
		}
		let dealings: Vec<DealingOf<T>> = ids.iter().map(|id| dealing::<T>(*id)).collect();

		#[extrinsic_call]
		_(RawOrigin::Signed(orch), BoundedVec::truncate_from(dealings));

		for id in ids {
			assert_eq!(Streams::<T>::get(id).and_then(|s| s.current_epoch), Some(2));
			assert!(!Epochs::<T>::contains_key(id, 0));
		}
	}

	#[benchmark]
	fn report_usage() {
		let orch = orchestrator::<T>();
		let (id, initiator, _) = stream::<T>(1);
		deal::<T>(id, &orch);

		#[extrinsic_call]
		_(RawOrigin::Signed(initiator), id, 10);

		assert_eq!(Streams::<T>::get(id).and_then(|s| s.pending_epoch), Some(1));
	}

	#[benchmark]
	fn rotate() {
		let orch = orchestrator::<T>();
		let (id, initiator, _) = stream::<T>(1);
		deal::<T>(id, &orch);

		#[extrinsic_call]
		_(RawOrigin::Signed(initiator), id);

		assert_eq!(Streams::<T>::get(id).and_then(|s| s.pending_epoch), Some(1));
	}

	#[benchmark]
	fn revoke(w: Linear<1, { T::MaxWitnessesPerStream::get() }>) {
		let (id, initiator, _, _) = busy_stream::<T>(w);
		let reason = BoundedVec::truncate_from(vec![b'r'; T::MaxReasonLen::get() as usize]);

		#[extrinsic_call]
		_(RawOrigin::Signed(initiator), id, reason);

		assert!(Tombstones::<T>::contains_key(id));
	}

	#[benchmark]
	fn close(w: Linear<1, { T::MaxWitnessesPerStream::get() }>) {
		let (id, _, provider, _) = busy_stream::<T>(w);

		#[extrinsic_call]
		_(RawOrigin::Signed(provider), id);

		assert!(Tombstones::<T>::contains_key(id));
	}

	#[benchmark]
	fn service_base() {
		let now = frame_system::Pallet::<T>::block_number();
		ScheduleCursor::<T>::put(now);

		#[block]
		{
			Keyorch::<T>::service_schedule(now, Weight::MAX);
		}

		assert_eq!(ScheduleCursor::<T>::get(), Some(now.saturating_add(1u32.into())));
	}

	#[benchmark]
	fn service_slot() {
		let slot: BlockNumberFor<T> = 1u32.into();
		let tasks: Vec<ScheduledTask> = (0..T::MaxScheduledPerBlock::get())
			.map(|i| ScheduledTask {
				stream: Keyorch::<T>::stream_id(&account("ghost", i, SEED), 0),
				kind: TaskKind::Expire,
			})
			.collect();
		Schedule::<T>::insert(slot, BoundedVec::truncate_from(tasks));

		#[block]
		{
			// What servicing a slot costs besides its tasks: read it, write back the rest.
			let tasks = Schedule::<T>::get(slot);
			let rest: Vec<ScheduledTask> = tasks.into_iter().skip(1).collect();
			Schedule::<T>::insert(slot, BoundedVec::truncate_from(rest));
		}

		assert_eq!(
			Schedule::<T>::get(slot).len() as u32,
			T::MaxScheduledPerBlock::get().saturating_sub(1)
		);
	}

	#[benchmark]
	fn service_queue_base() {
		let now = frame_system::Pallet::<T>::block_number();

		#[block]
		{
			Keyorch::<T>::service_queue(now, Weight::MAX);
		}

		assert_eq!(DealingQueueBounds::<T>::get(), QueueBounds::default());
	}

	/// The worst step: an entry that waited too long moves from the head to the tail.
	#[benchmark]
	fn service_queue_step() {
		orchestrator::<T>();
		let (id, _, _) = stream::<T>(1);
		let before = PendingEpochs::<T>::get(id).expect("pending").position;
		let now = frame_system::Pallet::<T>::block_number().saturating_add(T::TakeoverDelay::get());

		#[block]
		{
			Keyorch::<T>::service_queue(now, Weight::MAX);
		}

		assert!(PendingEpochs::<T>::get(id).expect("pending").position > before);
	}

	#[benchmark]
	fn expire_stream(w: Linear<1, { T::MaxWitnessesPerStream::get() }>) {
		let (id, _, _, _) = busy_stream::<T>(w);
		let info = Streams::<T>::get(id).expect("open stream");
		frame_system::Pallet::<T>::set_block_number(info.expires_at);
		let task = ScheduledTask { stream: id, kind: TaskKind::Expire };

		#[block]
		{
			Keyorch::<T>::service_task(task, info.expiry_slot, info.expires_at);
		}

		assert!(Tombstones::<T>::contains_key(id));
		assert!(!Streams::<T>::contains_key(id));
	}

	#[benchmark]
	fn rotate_scheduled() {
		let orch = orchestrator::<T>();
		let (id, _, _) = stream::<T>(T::MaxWitnessesPerStream::get());
		deal::<T>(id, &orch);
		let info = Streams::<T>::get(id).expect("open stream");
		let slot = info.rotation_slot.expect("rotation scheduled");
		frame_system::Pallet::<T>::set_block_number(slot);
		let task = ScheduledTask { stream: id, kind: TaskKind::Rotate };

		#[block]
		{
			Keyorch::<T>::service_task(task, slot, slot);
		}

		assert_eq!(Streams::<T>::get(id).and_then(|s| s.pending_epoch), Some(1));
	}

	impl_benchmark_test_suite!(Keyorch, crate::mock::new_test_ext(), crate::mock::Test);
}
