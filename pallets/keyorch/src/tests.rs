//! Unit tests of `pallet-keyorch` on the mock runtime.

use crate::{mock::*, selection::select_witnesses, *};
use frame_support::dispatch::DispatchResultWithPostInfo;
use frame_support::{
	assert_noop, assert_ok,
	dispatch::{Pays, PostDispatchInfo},
	traits::{fungible::InspectHold, Hooks, Randomness as _},
	weights::Weight,
	BoundedVec,
};
use sp_runtime::{traits::BadOrigin, DispatchError};

type E = Event<Test>;

// ----- helpers -----

const INITIATOR: u8 = 1;
const PROVIDER: u8 = 2;
const STRANGER: u8 = 3;
/// Accounts registered as witnesses by `setup`.
const WITNESSES: [u8; 6] = [10, 11, 12, 13, 14, 15];

fn key(n: u8) -> [u8; 32] {
	[n.wrapping_add(100); 32]
}

fn origin(n: u8) -> RuntimeOrigin {
	RuntimeOrigin::signed(acc(n))
}

fn register(n: u8) {
	assert_ok!(Keyorch::register_participant(origin(n), key(n)));
}

fn register_witness(n: u8) {
	register(n);
	assert_ok!(Keyorch::register_witness(origin(n)));
}

/// Initiator, provider and six witnesses.
fn setup() {
	register(INITIATOR);
	register(PROVIDER);
	for w in WITNESSES {
		register_witness(w);
	}
}

fn metadata(duration: u32) -> StreamMetadata<<Test as Config>::MaxDataTypeLen> {
	StreamMetadata {
		data_type: BoundedVec::truncate_from(b"video/h264".to_vec()),
		permissions: Permissions(Permissions::READ),
		duration,
	}
}

fn policy(witness_count: u32, threshold: u32) -> StreamPolicy {
	StreamPolicy { witness_count, threshold, rotation: RotationPolicy::default() }
}

fn last_stream_requested() -> StreamId {
	System::events()
		.into_iter()
		.rev()
		.find_map(|r| match r.event {
			RuntimeEvent::Keyorch(E::StreamRequested { stream, .. }) => Some(stream),
			_ => None,
		})
		.expect("a stream was requested")
}

fn request_with(duration: u32, pol: StreamPolicy) -> StreamId {
	assert_ok!(Keyorch::request_stream(origin(INITIATOR), acc(PROVIDER), metadata(duration), pol));
	last_stream_requested()
}

/// A stream with 3 witnesses, threshold 3, 100 blocks.
fn request() -> StreamId {
	request_with(100, policy(3, 3))
}

fn stream(id: StreamId) -> StreamInfo<Test> {
	Streams::<Test>::get(id).expect("stream is open")
}

fn commitments(n: u32) -> CommitmentsOf<Test> {
	BoundedVec::truncate_from((0..n).map(commitment).collect())
}

fn record_hashes(n: u32) -> RecordHashesOf<Test> {
	BoundedVec::truncate_from((0..n).map(|i| [i as u8 + 1; 32]).collect())
}

/// The index (in the mock's orchestrator set 0, 1, 2) of orchestrator rank `rank` for an epoch.
fn orch_with_rank(id: StreamId, epoch: EpochIndex, rank: usize) -> u8 {
	let primary = Keyorch::primary_index(&id, epoch, 3).unwrap();
	((primary + rank) % 3) as u8
}

/// One dealing of `epoch` of `id`.
fn dealing(
	id: StreamId,
	epoch: EpochIndex,
	commitments: CommitmentsOf<Test>,
	record_hashes: RecordHashesOf<Test>,
) -> DealingOf<Test> {
	Dealing { stream: id, epoch, commitments, record_hashes }
}

/// A batch of one dealing from `origin`: the batch's result.
fn submit_as(
	origin: RuntimeOrigin,
	id: StreamId,
	epoch: EpochIndex,
	commitments: CommitmentsOf<Test>,
	record_hashes: RecordHashesOf<Test>,
) -> DispatchResultWithPostInfo {
	let batch = vec![dealing(id, epoch, commitments, record_hashes)];
	Keyorch::submit_key_epochs(origin, BoundedVec::truncate_from(batch))
}

/// A batch of one dealing from `who`: `Ok` if the epoch was dealt, otherwise the error the
/// batch failed with or the dealing was refused with.
fn submit_one(
	who: AccountId,
	id: StreamId,
	epoch: EpochIndex,
	commitments: CommitmentsOf<Test>,
	record_hashes: RecordHashesOf<Test>,
) -> Result<(), DispatchError> {
	submit_as(RuntimeOrigin::signed(who), id, epoch, commitments, record_hashes)
		.map_err(|e| e.error)?;
	match System::events().last().map(|record| record.event.clone()) {
		Some(RuntimeEvent::Keyorch(E::DealingRefused { stream, epoch: e, error, .. }))
			if stream == id && e == epoch =>
		{
			Err(error)
		},
		_ => Ok(()),
	}
}

/// A dealing refused with `error`: the epoch stays as it was.
macro_rules! assert_refused {
	($submit:expr, $error:expr $(,)?) => {{
		let before = (PendingEpochs::<Test>::iter().count(), Epochs::<Test>::iter().count());
		assert_eq!($submit, Err($error.into()));
		let after = (PendingEpochs::<Test>::iter().count(), Epochs::<Test>::iter().count());
		assert_eq!(before, after, "a refused dealing changed the epochs");
	}};
}

/// Deal the pending epoch through its designated orchestrator.
fn deal(id: StreamId) -> EpochIndex {
	let info = stream(id);
	let epoch = info.pending_epoch.expect("an epoch is pending");
	let o = orch_with_rank(id, epoch, 0);
	assert_ok!(submit_one(
		orch_acc(o),
		id,
		epoch,
		commitments(info.policy.threshold),
		record_hashes(info.policy.holders())
	));
	epoch
}

fn held(n: u8, reason: HoldReason) -> Balance {
	Balances::balance_on_hold(&RuntimeHoldReason::Keyorch(reason), &acc(n))
}

fn has_event(event: E) -> bool {
	System::events().iter().any(|r| r.event == RuntimeEvent::Keyorch(event.clone()))
}

fn scheduled(id: StreamId) -> usize {
	Schedule::<Test>::iter_values().flatten().filter(|t| t.stream == id).count()
}

// ----- orchestrator set -----

#[test]
fn genesis_sets_orchestrators() {
	new_test_ext().execute_with(|| {
		assert_eq!(Orchestrators::<Test>::get().into_inner(), vec![orch(0), orch(1), orch(2)]);
	});
}

#[test]
fn set_orchestrators_works_and_checks() {
	new_test_ext().execute_with(|| {
		assert_noop!(Keyorch::set_orchestrators(origin(1), vec![orch(5)]), BadOrigin);
		assert_noop!(
			Keyorch::set_orchestrators(RuntimeOrigin::root(), vec![orch(5), orch(5)]),
			Error::<Test>::DuplicateOrchestrator
		);
		assert_noop!(
			Keyorch::set_orchestrators(
				RuntimeOrigin::root(),
				vec![orch(5), orch(6), orch(7), orch(8), orch(9)]
			),
			Error::<Test>::TooManyOrchestrators
		);
		assert_ok!(Keyorch::set_orchestrators(RuntimeOrigin::root(), vec![orch(5), orch(6)]));
		assert_eq!(Orchestrators::<Test>::get().into_inner(), vec![orch(5), orch(6)]);
		System::assert_last_event(
			E::OrchestratorsChanged { orchestrators: vec![orch(5), orch(6)] }.into(),
		);
	});
}

#[test]
fn orchestrator_key_is_its_account() {
	let raw = [42u8; 32];
	let id: OrchestratorId = sp_core::sr25519::Public::from_raw(raw).into();
	assert_eq!(sp_runtime::AccountId32::from(id), sp_runtime::AccountId32::new(raw));
}

// ----- participants -----

#[test]
fn register_participant_works() {
	new_test_ext().execute_with(|| {
		assert_ok!(Keyorch::register_participant(origin(1), key(1)));
		assert_eq!(
			Participants::<Test>::get(acc(1)),
			Some(ParticipantInfo { x25519_public_key: key(1), live_streams: 0 })
		);
		System::assert_last_event(
			E::ParticipantRegistered { who: acc(1), x25519_public_key: key(1) }.into(),
		);
		assert_eq!(Keyorch::participant_key(&acc(1)), Some(key(1)));
	});
}

#[test]
fn register_participant_errors() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			Keyorch::register_participant(origin(1), [0u8; 32]),
			Error::<Test>::InvalidEncryptionKey
		);
		let mut one = [0u8; 32];
		one[0] = 1;
		assert_noop!(
			Keyorch::register_participant(origin(1), one),
			Error::<Test>::InvalidEncryptionKey
		);
		register(1);
		assert_noop!(
			Keyorch::register_participant(origin(1), key(2)),
			Error::<Test>::AlreadyRegistered
		);
		assert_noop!(Keyorch::register_participant(RuntimeOrigin::root(), key(1)), BadOrigin);
	});
}

#[test]
fn update_participant_key_works_and_checks() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			Keyorch::update_participant_key(origin(1), key(9)),
			Error::<Test>::NotParticipant
		);
		register(1);
		assert_noop!(
			Keyorch::update_participant_key(origin(1), [0u8; 32]),
			Error::<Test>::InvalidEncryptionKey
		);
		assert_ok!(Keyorch::update_participant_key(origin(1), key(9)));
		assert_eq!(Keyorch::participant_key(&acc(1)), Some(key(9)));
		System::assert_last_event(
			E::ParticipantKeyUpdated { who: acc(1), x25519_public_key: key(9) }.into(),
		);
	});
}

#[test]
fn deregister_participant_works_and_checks() {
	new_test_ext().execute_with(|| {
		assert_noop!(Keyorch::deregister_participant(origin(1)), Error::<Test>::NotParticipant);
		register(1);
		assert_ok!(Keyorch::deregister_participant(origin(1)));
		assert!(Participants::<Test>::get(acc(1)).is_none());
		System::assert_last_event(E::ParticipantDeregistered { who: acc(1) }.into());

		register_witness(10);
		assert_noop!(
			Keyorch::deregister_participant(origin(10)),
			Error::<Test>::ParticipantIsWitness
		);
	});
}

#[test]
fn participant_in_live_stream_cannot_deregister() {
	new_test_ext().execute_with(|| {
		setup();
		let id = request();
		for party in [INITIATOR, PROVIDER] {
			assert_noop!(
				Keyorch::deregister_participant(origin(party)),
				Error::<Test>::ParticipantInLiveStream
			);
		}
		assert_ok!(Keyorch::close(origin(INITIATOR), id));
		assert_ok!(Keyorch::deregister_participant(origin(INITIATOR)));
		assert_ok!(Keyorch::deregister_participant(origin(PROVIDER)));
	});
}

// ----- witnesses -----

#[test]
fn register_witness_holds_deposit() {
	new_test_ext().execute_with(|| {
		register(10);
		assert_ok!(Keyorch::register_witness(origin(10)));
		assert_eq!(held(10, HoldReason::WitnessDeposit), WITNESS_DEPOSIT);
		assert_eq!(WitnessSet::<Test>::get().into_inner(), vec![acc(10)]);
		assert_eq!(
			Witnesses::<Test>::get(acc(10)),
			Some(WitnessInfo { deposit: WITNESS_DEPOSIT, live_streams: 0 })
		);
		System::assert_last_event(
			E::WitnessRegistered { who: acc(10), deposit: WITNESS_DEPOSIT }.into(),
		);
	});
}

#[test]
fn register_witness_errors() {
	new_test_ext().execute_with(|| {
		assert_noop!(Keyorch::register_witness(origin(10)), Error::<Test>::NotParticipant);
		register_witness(10);
		assert_noop!(Keyorch::register_witness(origin(10)), Error::<Test>::AlreadyWitness);
		register(POOR);
		assert_noop!(Keyorch::register_witness(origin(POOR)), Error::<Test>::InsufficientBalance);
		for n in 11..20 {
			register_witness(n);
		}
		assert_eq!(WitnessSet::<Test>::get().len(), 10);
		register(20);
		assert_noop!(Keyorch::register_witness(origin(20)), Error::<Test>::TooManyWitnesses);
	});
}

#[test]
fn unregister_witness_releases_deposit() {
	new_test_ext().execute_with(|| {
		assert_noop!(Keyorch::unregister_witness(origin(10)), Error::<Test>::NotWitness);
		register_witness(10);
		register_witness(11);
		assert_ok!(Keyorch::unregister_witness(origin(10)));
		assert_eq!(held(10, HoldReason::WitnessDeposit), 0);
		assert_eq!(Balances::free_balance(acc(10)), FUNDS);
		assert_eq!(WitnessSet::<Test>::get().into_inner(), vec![acc(11)]);
		assert!(Witnesses::<Test>::get(acc(10)).is_none());
		System::assert_last_event(
			E::WitnessUnregistered { who: acc(10), deposit: WITNESS_DEPOSIT }.into(),
		);
		// Once no longer a witness, it may deregister.
		assert_ok!(Keyorch::deregister_participant(origin(10)));
	});
}

#[test]
fn selected_witness_cannot_unregister() {
	new_test_ext().execute_with(|| {
		setup();
		let id = request_with(100, policy(5, 3));
		let selected = stream(id).witnesses;
		for w in WITNESSES {
			if selected.contains(&acc(w)) {
				assert_noop!(
					Keyorch::unregister_witness(origin(w)),
					Error::<Test>::WitnessInLiveStream
				);
			} else {
				assert_ok!(Keyorch::unregister_witness(origin(w)));
			}
		}
		assert_ok!(Keyorch::revoke(origin(PROVIDER), id, BoundedVec::default()));
		for w in selected {
			assert_ok!(Keyorch::unregister_witness(RuntimeOrigin::signed(w)));
		}
	});
}

// ----- stream requests -----

#[test]
fn request_stream_works() {
	new_test_ext().execute_with(|| {
		setup();
		let pol = StreamPolicy {
			witness_count: 3,
			threshold: 4,
			rotation: RotationPolicy { every_blocks: Some(20), every_bytes: Some(1_000) },
		};
		assert_ok!(Keyorch::request_stream(origin(INITIATOR), acc(PROVIDER), metadata(100), pol));
		let id = last_stream_requested();
		let expected_id =
			sp_core::H256(sp_io::hashing::blake2_256(&codec::Encode::encode(&(acc(1), 0u64))));
		assert_eq!(id, expected_id);
		assert_eq!(StreamNonce::<Test>::get(), 1);

		let info = stream(id);
		assert_eq!(info.status, StreamStatus::Requested);
		assert_eq!(info.initiator, acc(INITIATOR));
		assert_eq!(info.provider, acc(PROVIDER));
		assert_eq!(info.witnesses.len(), 3);
		assert_eq!(info.expires_at, 101);
		assert_eq!(info.pending_epoch, Some(0));
		assert_eq!(info.current_epoch, None);
		assert_eq!(info.next_rotation_at, Some(21));
		assert_eq!(info.rotation_slot, Some(21));
		assert_eq!(info.expiry_slot, 101);
		// Epoch 0, four interval rotations (blocks 21, 41, 61, 81) and the allowance.
		assert_eq!(Keyorch::prepaid_epochs(&metadata(100), &pol), 1 + 4 + ROTATION_ALLOWANCE);
		assert_eq!(
			held(INITIATOR, HoldReason::StreamDeposit),
			STREAM_DEPOSIT + EPOCH_DEPOSIT * Balance::from(5 + ROTATION_ALLOWANCE)
		);
		assert_eq!(info.deposit, held(INITIATOR, HoldReason::StreamDeposit));

		// The selection is recomputable from the recorded seed.
		let candidates = Keyorch::witness_candidates(&acc(INITIATOR), &acc(PROVIDER));
		let again = select_witnesses(info.selection_seed.as_ref(), &candidates, 3).unwrap();
		assert_eq!(again, info.witnesses.to_vec());
		// ...and the seed is the runtime randomness for the stream id.
		let (seed, _) = <Test as Config>::Randomness::random(&codec::Encode::encode(&(
			b"keyorch/witnesses",
			id,
		)));
		assert_eq!(seed, info.selection_seed);

		// Counters, queue, schedule.
		assert_eq!(Participants::<Test>::get(acc(INITIATOR)).unwrap().live_streams, 1);
		assert_eq!(Participants::<Test>::get(acc(PROVIDER)).unwrap().live_streams, 1);
		for w in info.witnesses.iter() {
			assert_eq!(Witnesses::<Test>::get(w).unwrap().live_streams, 1);
		}
		assert_eq!(
			PendingEpochs::<Test>::get(id),
			Some(PendingEpoch {
				epoch: 0,
				requested_at: 1,
				reason: RotationReason::Initial,
				position: 0
			})
		);
		assert_eq!(PendingEpochs::<Test>::count(), 1);
		assert_eq!(
			Schedule::<Test>::get(101).into_inner(),
			vec![ScheduledTask { stream: id, kind: TaskKind::Expire }]
		);
		assert_eq!(
			Schedule::<Test>::get(21).into_inner(),
			vec![ScheduledTask { stream: id, kind: TaskKind::Rotate }]
		);

		assert!(has_event(E::StreamRequested {
			stream: id,
			initiator: acc(INITIATOR),
			provider: acc(PROVIDER),
			witnesses: info.witnesses.to_vec(),
			threshold: 4,
			expires_at: 101,
			selection_seed: info.selection_seed,
		}));
		System::assert_last_event(
			E::EpochRequested {
				stream: id,
				epoch: 0,
				reason: RotationReason::Initial,
				designated: Keyorch::primary_orchestrator(&id, 0),
			}
			.into(),
		);
	});
}

#[test]
fn witnesses_exclude_initiator_and_provider() {
	new_test_ext().execute_with(|| {
		setup();
		// The initiator and provider are witnesses too; they are never selected for their own
		// stream.
		assert_ok!(Keyorch::register_witness(origin(INITIATOR)));
		assert_ok!(Keyorch::register_witness(origin(PROVIDER)));
		for _ in 0..10 {
			let id = request_with(100, policy(5, 2));
			let info = stream(id);
			assert!(!info.witnesses.contains(&acc(INITIATOR)));
			assert!(!info.witnesses.contains(&acc(PROVIDER)));
			let mut sorted = info.witnesses.to_vec();
			sorted.sort();
			sorted.dedup();
			assert_eq!(sorted.len(), 5);
		}
	});
}

#[test]
fn request_stream_party_errors() {
	new_test_ext().execute_with(|| {
		setup();
		assert_noop!(
			Keyorch::request_stream(origin(STRANGER), acc(PROVIDER), metadata(100), policy(3, 3)),
			Error::<Test>::NotParticipant
		);
		assert_noop!(
			Keyorch::request_stream(origin(INITIATOR), acc(STRANGER), metadata(100), policy(3, 3)),
			Error::<Test>::ProviderNotRegistered
		);
		assert_noop!(
			Keyorch::request_stream(origin(INITIATOR), acc(INITIATOR), metadata(100), policy(3, 3)),
			Error::<Test>::ProviderIsInitiator
		);
		assert_noop!(
			Keyorch::request_stream(
				RuntimeOrigin::root(),
				acc(PROVIDER),
				metadata(100),
				policy(3, 3)
			),
			BadOrigin
		);
	});
}

#[test]
fn request_stream_validation_errors() {
	new_test_ext().execute_with(|| {
		setup();
		let req = |m: StreamMetadata<_>, p: StreamPolicy| {
			Keyorch::request_stream(origin(INITIATOR), acc(PROVIDER), m, p)
		};
		let mut m = metadata(100);
		m.data_type = BoundedVec::default();
		assert_noop!(req(m, policy(3, 3)), Error::<Test>::EmptyDataType);
		for bits in [0u8, 0b100, 0b1000_0001] {
			let mut m = metadata(100);
			m.permissions = Permissions(bits);
			assert_noop!(req(m, policy(3, 3)), Error::<Test>::InvalidPermissions);
		}
		assert_noop!(req(metadata(0), policy(3, 3)), Error::<Test>::InvalidDuration);
		assert_noop!(req(metadata(MAX_DURATION + 1), policy(3, 3)), Error::<Test>::InvalidDuration);
		assert_noop!(req(metadata(100), policy(0, 2)), Error::<Test>::InvalidWitnessCount);
		assert_noop!(req(metadata(100), policy(6, 2)), Error::<Test>::InvalidWitnessCount);
		// Threshold 0, 1 and above the holder count (2 + 3).
		assert_noop!(req(metadata(100), policy(3, 0)), Error::<Test>::InvalidThreshold);
		assert_noop!(req(metadata(100), policy(3, 1)), Error::<Test>::InvalidThreshold);
		assert_noop!(req(metadata(100), policy(3, 6)), Error::<Test>::InvalidThreshold);
		let mut p = policy(3, 3);
		p.rotation.every_blocks = Some(MIN_ROTATION - 1);
		assert_noop!(req(metadata(100), p), Error::<Test>::RotationIntervalTooShort);
		let mut p = policy(3, 3);
		p.rotation.every_bytes = Some(0);
		assert_noop!(req(metadata(100), p), Error::<Test>::InvalidRotationPolicy);
		// Valid at the limits.
		assert_ok!(req(metadata(MAX_DURATION), policy(5, 7)));
		let mut p = policy(1, 2);
		p.rotation = RotationPolicy { every_blocks: Some(MIN_ROTATION), every_bytes: Some(1) };
		assert_ok!(req(metadata(1), p));
	});
}

#[test]
fn request_stream_needs_enough_witnesses() {
	new_test_ext().execute_with(|| {
		register(INITIATOR);
		register(PROVIDER);
		register_witness(10);
		register_witness(11);
		assert_noop!(
			Keyorch::request_stream(origin(INITIATOR), acc(PROVIDER), metadata(100), policy(3, 3)),
			Error::<Test>::NotEnoughWitnesses
		);
		// The provider being a witness does not help: it cannot witness its own stream.
		assert_ok!(Keyorch::register_witness(origin(PROVIDER)));
		assert_noop!(
			Keyorch::request_stream(origin(INITIATOR), acc(PROVIDER), metadata(100), policy(3, 3)),
			Error::<Test>::NotEnoughWitnesses
		);
		register_witness(12);
		assert_ok!(Keyorch::request_stream(
			origin(INITIATOR),
			acc(PROVIDER),
			metadata(100),
			policy(3, 3)
		));
	});
}

#[test]
fn request_stream_needs_orchestrators_and_deposit() {
	new_test_ext().execute_with(|| {
		setup();
		register(POOR);
		assert_noop!(
			Keyorch::request_stream(origin(POOR), acc(PROVIDER), metadata(100), policy(3, 3)),
			Error::<Test>::InsufficientBalance
		);
		assert_ok!(Keyorch::set_orchestrators(RuntimeOrigin::root(), vec![]));
		assert_noop!(
			Keyorch::request_stream(origin(INITIATOR), acc(PROVIDER), metadata(100), policy(3, 3)),
			Error::<Test>::NoOrchestrators
		);
	});
}

#[test]
fn full_schedule_carries_over_then_refuses() {
	new_test_ext().execute_with(|| {
		setup();
		// 12 tasks per slot, one slot of look-ahead: 24 expiries fit around block 101.
		let ids: Vec<StreamId> = (0..24).map(|_| request_with(100, policy(1, 2))).collect();
		assert_eq!(Schedule::<Test>::get(101).len(), 12);
		assert_eq!(Schedule::<Test>::get(102).len(), 12);
		assert_eq!(stream(ids[0]).expiry_slot, 101);
		assert_eq!(stream(ids[23]).expiry_slot, 102);
		// The carried-over stream still expires at 101 for every reader.
		assert_eq!(stream(ids[23]).expires_at, 101);
		assert_noop!(
			Keyorch::request_stream(origin(INITIATOR), acc(PROVIDER), metadata(100), policy(1, 2)),
			Error::<Test>::ScheduleFull
		);
		// A different expiry block still has room.
		assert_ok!(Keyorch::request_stream(
			origin(INITIATOR),
			acc(PROVIDER),
			metadata(200),
			policy(1, 2)
		));
		// Both slots are serviced in their blocks.
		run_to_block(101);
		assert_eq!(Keyorch::stream_status(ids[23]), Some(StreamStatus::Expired));
		assert!(Streams::<Test>::contains_key(ids[23]));
		run_to_block(102);
		assert!(ids.iter().all(|id| !Streams::<Test>::contains_key(id)));
	});
}

// ----- key epochs -----

#[test]
fn submit_key_epochs_works() {
	new_test_ext().execute_with(|| {
		setup();
		let id = request();
		let o = orch_with_rank(id, 0, 0);
		assert_eq!(Keyorch::designated_orchestrator(id, 0, 1), Some(orch(o)));
		let result =
			submit_as(RuntimeOrigin::signed(orch_acc(o)), id, 0, commitments(3), record_hashes(5));
		assert_eq!(result, Ok(PostDispatchInfo { actual_weight: None, pays_fee: Pays::No }));
		let info = stream(id);
		assert_eq!(info.status, StreamStatus::Live);
		assert_eq!(info.current_epoch, Some(0));
		assert_eq!(info.pending_epoch, None);
		assert!(PendingEpochs::<Test>::get(id).is_none());
		assert_eq!(PendingEpochs::<Test>::count(), 0);
		let epoch = Epochs::<Test>::get(id, 0).unwrap();
		assert_eq!(epoch.commitments, commitments(3));
		assert_eq!(epoch.record_hashes, record_hashes(5));
		assert_eq!(epoch.dealt_by, orch(o));
		assert_eq!(epoch.dealt_at, 1);
		System::assert_last_event(
			E::KeyEpochDealt {
				stream: id,
				epoch: 0,
				orchestrator: orch(o),
				holders: info.holders(),
				commitments: commitments(3).into_inner(),
				record_hashes: record_hashes(5).into_inner(),
			}
			.into(),
		);
		assert_eq!(
			Keyorch::current_epoch_view(id).unwrap().record_hashes,
			record_hashes(5).to_vec()
		);
		assert_eq!(Keyorch::designated_orchestrator(id, 0, 1), None);
	});
}

#[test]
fn submit_by_non_orchestrator_fails() {
	new_test_ext().execute_with(|| {
		setup();
		let id = request();
		for who in [acc(INITIATOR), acc(STRANGER), orch_acc(3)] {
			assert_noop!(
				submit_one(who, id, 0, commitments(3), record_hashes(5)),
				Error::<Test>::NotOrchestrator
			);
		}
		assert_noop!(
			submit_as(RuntimeOrigin::root(), id, 0, commitments(3), record_hashes(5)),
			BadOrigin
		);
	});
}

#[test]
fn only_designated_or_takeover_orchestrator_may_submit() {
	new_test_ext().execute_with(|| {
		setup();
		let id = request();
		let second = orch_with_rank(id, 0, 1);
		let third = orch_with_rank(id, 0, 2);
		let submit = |o: u8| submit_one(orch_acc(o), id, 0, commitments(3), record_hashes(5));
		assert_refused!(submit(second), Error::<Test>::NotDesignatedOrchestrator);
		assert_refused!(submit(third), Error::<Test>::NotDesignatedOrchestrator);
		assert_eq!(Keyorch::authorized_orchestrators(id, 0, 1).len(), 1);
		// After one delay the second in order is accepted too, the third not yet.
		run_to_block(1 + TAKEOVER_DELAY);
		assert_eq!(Keyorch::designated_orchestrator(id, 0, 1 + TAKEOVER_DELAY), Some(orch(second)));
		assert!(Keyorch::is_authorized_orchestrator(
			id,
			0,
			&orch(orch_with_rank(id, 0, 0)),
			1 + TAKEOVER_DELAY
		));
		assert_refused!(submit(third), Error::<Test>::NotDesignatedOrchestrator);
		run_to_block(1 + 2 * TAKEOVER_DELAY);
		assert_eq!(Keyorch::authorized_orchestrators(id, 0, 1 + 2 * TAKEOVER_DELAY).len(), 3);
		assert_ok!(submit(third));
		assert_eq!(Epochs::<Test>::get(id, 0).unwrap().dealt_by, orch(third));
	});
}

#[test]
fn second_submit_for_same_epoch_fails() {
	new_test_ext().execute_with(|| {
		setup();
		let id = request();
		deal(id);
		let o = orch_with_rank(id, 0, 0);
		assert_refused!(
			submit_one(orch_acc(o), id, 0, commitments(3), record_hashes(5)),
			Error::<Test>::EpochAlreadyDealt
		);
		// An epoch nobody asked for.
		assert_refused!(
			submit_one(orch_acc(o), id, 1, commitments(3), record_hashes(5)),
			Error::<Test>::EpochNotPending
		);
	});
}

#[test]
fn submit_checks_counts_and_group_elements() {
	new_test_ext().execute_with(|| {
		setup();
		let id = request();
		let o = orch_acc(orch_with_rank(id, 0, 0));
		let submit =
			|c: CommitmentsOf<Test>, r: RecordHashesOf<Test>| submit_one(o.clone(), id, 0, c, r);
		assert_refused!(
			submit(commitments(2), record_hashes(5)),
			Error::<Test>::WrongCommitmentCount
		);
		assert_refused!(
			submit(commitments(4), record_hashes(5)),
			Error::<Test>::WrongCommitmentCount
		);
		assert_refused!(
			submit(commitments(3), record_hashes(4)),
			Error::<Test>::WrongRecordHashCount
		);
		assert_refused!(
			submit(commitments(3), record_hashes(6)),
			Error::<Test>::WrongRecordHashCount
		);
		let mut bad = commitments(3);
		bad[1] = [0xFF; 32];
		assert_refused!(submit(bad, record_hashes(5)), Error::<Test>::MalformedCommitments);
		assert_ok!(submit(commitments(3), record_hashes(5)));
	});
}

#[test]
fn submit_for_unknown_stream_fails() {
	new_test_ext().execute_with(|| {
		assert_refused!(
			submit_one(
				orch_acc(0),
				sp_core::H256::repeat_byte(9),
				0,
				commitments(3),
				record_hashes(5)
			),
			Error::<Test>::UnknownStream
		);
	});
}

// ----- rotation -----

#[test]
fn rotate_works_and_prunes_old_epochs() {
	new_test_ext().execute_with(|| {
		setup();
		let id = request();
		assert_noop!(Keyorch::rotate(origin(INITIATOR), id), Error::<Test>::EpochAlreadyPending);
		deal(id);
		assert_noop!(Keyorch::rotate(origin(STRANGER), id), Error::<Test>::NotStreamParty);
		assert_ok!(Keyorch::rotate(origin(PROVIDER), id));
		System::assert_last_event(
			E::EpochRequested {
				stream: id,
				epoch: 1,
				reason: RotationReason::Explicit,
				designated: Keyorch::primary_orchestrator(&id, 1),
			}
			.into(),
		);
		// A second rotation while epoch 1 is pending queues nothing.
		assert_noop!(Keyorch::rotate(origin(INITIATOR), id), Error::<Test>::EpochAlreadyPending);
		assert_eq!(deal(id), 1);
		assert_ok!(Keyorch::rotate(origin(INITIATOR), id));
		assert_eq!(deal(id), 2);
		// Only the current and the previous epoch stay in storage.
		assert!(Epochs::<Test>::get(id, 0).is_none());
		assert!(Epochs::<Test>::get(id, 1).is_some());
		assert!(Epochs::<Test>::get(id, 2).is_some());
		assert_eq!(stream(id).current_epoch, Some(2));
		assert_eq!(Keyorch::epoch_view(id, 1).unwrap().epoch, 1);
	});
}

#[test]
fn epoch_counter_overflow_is_an_error() {
	new_test_ext().execute_with(|| {
		setup();
		let id = request();
		deal(id);
		Streams::<Test>::mutate(id, |s| s.as_mut().unwrap().current_epoch = Some(u32::MAX));
		assert_noop!(Keyorch::rotate(origin(INITIATOR), id), Error::<Test>::EpochOverflow);
	});
}

#[test]
fn usage_triggers_rotation() {
	new_test_ext().execute_with(|| {
		setup();
		let mut p = policy(3, 3);
		p.rotation.every_bytes = Some(1_000);
		let id = request_with(100, p);
		// Epoch 0 pending: usage accumulates, nothing queued.
		assert_ok!(Keyorch::report_usage(origin(INITIATOR), id, 1_500));
		assert_eq!(stream(id).pending_epoch, Some(0));
		assert_eq!(stream(id).bytes_since_rotation, 1_500);
		deal(id);
		assert_ok!(Keyorch::report_usage(origin(PROVIDER), id, 10));
		let info = stream(id);
		assert_eq!(info.pending_epoch, Some(1));
		assert_eq!(info.bytes_since_rotation, 0);
		assert_eq!(info.total_bytes, 1_510);
		assert!(has_event(E::UsageReported {
			stream: id,
			who: acc(PROVIDER),
			bytes: 10,
			bytes_since_rotation: 0
		}));
		System::assert_last_event(
			E::EpochRequested {
				stream: id,
				epoch: 1,
				reason: RotationReason::Usage,
				designated: Keyorch::primary_orchestrator(&id, 1),
			}
			.into(),
		);
		deal(id);
		assert_ok!(Keyorch::report_usage(origin(INITIATOR), id, 999));
		assert_eq!(stream(id).pending_epoch, None);
		System::assert_last_event(
			E::UsageReported {
				stream: id,
				who: acc(INITIATOR),
				bytes: 999,
				bytes_since_rotation: 999,
			}
			.into(),
		);
		assert_noop!(Keyorch::report_usage(origin(STRANGER), id, 5), Error::<Test>::NotStreamParty);
		// Saturating, never panicking.
		assert_ok!(Keyorch::report_usage(origin(INITIATOR), id, u64::MAX));
		assert_ok!(Keyorch::report_usage(origin(INITIATOR), id, u64::MAX));
		assert_eq!(stream(id).total_bytes, u64::MAX);
	});
}

#[test]
fn interval_rotation_is_block_driven() {
	new_test_ext().execute_with(|| {
		setup();
		let mut p = policy(3, 3);
		p.rotation.every_blocks = Some(10);
		let id = request_with(45, p);
		assert_eq!(stream(id).next_rotation_at, Some(11));
		// Epoch 0 still pending at block 11: skipped, not queued twice.
		run_to_block(11);
		assert!(has_event(E::RotationSkipped { stream: id, pending_epoch: 0 }));
		assert_eq!(stream(id).next_rotation_at, Some(21));
		assert_eq!(stream(id).rotation_slot, Some(21));
		deal(id);
		run_to_block(21);
		assert!(has_event(E::EpochRequested {
			stream: id,
			epoch: 1,
			reason: RotationReason::Interval,
			designated: Keyorch::primary_orchestrator(&id, 1),
		}));
		assert_eq!(stream(id).pending_epoch, Some(1));
		deal(id);
		run_to_block(31);
		assert_eq!(stream(id).pending_epoch, Some(2));
		deal(id);
		run_to_block(41);
		assert_eq!(stream(id).pending_epoch, Some(3));
		// 51 is past the expiry (46): no further rotation scheduled.
		assert_eq!(stream(id).next_rotation_at, None);
		assert_eq!(scheduled(id), 1);
		run_to_block(46);
		assert!(!Streams::<Test>::contains_key(id));
		assert_eq!(scheduled(id), 0);
		assert_eq!(Tombstones::<Test>::get(id).unwrap().final_epoch, Some(2));
	});
}

// ----- revocation, closing, expiry -----

fn assert_cleaned(id: StreamId) {
	assert!(!Streams::<Test>::contains_key(id));
	assert_eq!(Epochs::<Test>::iter_prefix(id).count(), 0);
	assert!(!PendingEpochs::<Test>::contains_key(id));
	assert_eq!(scheduled(id), 0);
	assert_eq!(held(INITIATOR, HoldReason::StreamDeposit), 0);
	assert_eq!(Participants::<Test>::get(acc(INITIATOR)).unwrap().live_streams, 0);
	assert_eq!(Participants::<Test>::get(acc(PROVIDER)).unwrap().live_streams, 0);
	for w in WITNESSES {
		assert_eq!(Witnesses::<Test>::get(acc(w)).unwrap().live_streams, 0);
	}
}

fn assert_all_actions_fail(id: StreamId, error: DispatchError) {
	assert_noop!(Keyorch::rotate(origin(INITIATOR), id), error);
	assert_noop!(Keyorch::report_usage(origin(INITIATOR), id, 1), error);
	assert_noop!(Keyorch::close(origin(PROVIDER), id), error);
	assert_noop!(Keyorch::revoke(origin(INITIATOR), id, BoundedVec::default()), error);
	assert_noop!(Keyorch::revoke(RuntimeOrigin::root(), id, BoundedVec::default()), error);
	assert_refused!(submit_one(orch_acc(0), id, 1, commitments(3), record_hashes(5)), error);
}

#[test]
fn revoke_by_initiator_works() {
	new_test_ext().execute_with(|| {
		setup();
		let mut p = policy(3, 3);
		p.rotation.every_blocks = Some(10);
		let id = request_with(100, p);
		deal(id);
		assert_ok!(Keyorch::rotate(origin(INITIATOR), id));
		deal(id);
		assert_ok!(Keyorch::rotate(origin(INITIATOR), id));
		run_to_block(5);
		let reason: BoundedVec<u8, _> = BoundedVec::truncate_from(b"key compromised".to_vec());
		assert_ok!(Keyorch::revoke(origin(INITIATOR), id, reason.clone()));
		System::assert_last_event(
			E::StreamRevoked {
				stream: id,
				by: EndedBy::Initiator,
				reason: reason.into_inner(),
				final_epoch: Some(1),
			}
			.into(),
		);
		assert_eq!(
			Tombstones::<Test>::get(id),
			Some(Tombstone {
				initiator: acc(INITIATOR),
				provider: acc(PROVIDER),
				status: StreamStatus::Revoked,
				final_epoch: Some(1),
				ended_by: EndedBy::Initiator,
				ended_at: 5,
			})
		);
		assert_cleaned(id);
		assert_eq!(Balances::free_balance(acc(INITIATOR)), FUNDS);
		assert_eq!(Keyorch::stream_status(id), Some(StreamStatus::Revoked));
		assert_all_actions_fail(id, Error::<Test>::StreamRevoked.into());
		// The expiry and rotation blocks pass without effect.
		run_to_block(120);
		assert_eq!(Tombstones::<Test>::get(id).unwrap().status, StreamStatus::Revoked);
	});
}

#[test]
fn revoke_by_provider_and_root() {
	new_test_ext().execute_with(|| {
		setup();
		let a = request();
		let b = request();
		assert_ok!(Keyorch::revoke(origin(PROVIDER), a, BoundedVec::default()));
		assert_eq!(Tombstones::<Test>::get(a).unwrap().ended_by, EndedBy::Provider);
		assert_ok!(Keyorch::revoke(RuntimeOrigin::root(), b, BoundedVec::default()));
		assert_eq!(Tombstones::<Test>::get(b).unwrap().ended_by, EndedBy::Governance);
		System::assert_last_event(
			E::StreamRevoked {
				stream: b,
				by: EndedBy::Governance,
				reason: vec![],
				final_epoch: None,
			}
			.into(),
		);
		assert_cleaned(b);
	});
}

#[test]
fn revoke_by_stranger_fails() {
	new_test_ext().execute_with(|| {
		setup();
		let id = request();
		assert_noop!(
			Keyorch::revoke(origin(STRANGER), id, BoundedVec::default()),
			Error::<Test>::NotStreamParty
		);
		// A witness of the stream is not a party either.
		let witness = stream(id).witnesses[0].clone();
		assert_noop!(
			Keyorch::revoke(RuntimeOrigin::signed(witness), id, BoundedVec::default()),
			Error::<Test>::NotStreamParty
		);
		assert_noop!(Keyorch::revoke(RuntimeOrigin::none(), id, BoundedVec::default()), BadOrigin);
		assert_noop!(
			Keyorch::revoke(origin(INITIATOR), sp_core::H256::zero(), BoundedVec::default()),
			Error::<Test>::UnknownStream
		);
	});
}

#[test]
fn close_works() {
	new_test_ext().execute_with(|| {
		setup();
		let id = request();
		deal(id);
		assert_noop!(Keyorch::close(origin(STRANGER), id), Error::<Test>::NotStreamParty);
		assert_ok!(Keyorch::close(origin(PROVIDER), id));
		System::assert_last_event(
			E::StreamClosed { stream: id, by: EndedBy::Provider, final_epoch: Some(0) }.into(),
		);
		assert_eq!(Tombstones::<Test>::get(id).unwrap().status, StreamStatus::Closed);
		assert_cleaned(id);
		assert_all_actions_fail(id, Error::<Test>::StreamClosed.into());
	});
}

#[test]
fn expiry_works() {
	new_test_ext().execute_with(|| {
		setup();
		let id = request_with(10, policy(3, 3));
		deal(id);
		assert_eq!(stream(id).expires_at, 11);
		run_to_block(10);
		assert!(Streams::<Test>::contains_key(id));
		run_to_block(11);
		System::assert_last_event(E::StreamExpired { stream: id, final_epoch: Some(0) }.into());
		assert_eq!(
			Tombstones::<Test>::get(id),
			Some(Tombstone {
				initiator: acc(INITIATOR),
				provider: acc(PROVIDER),
				status: StreamStatus::Expired,
				final_epoch: Some(0),
				ended_by: EndedBy::Expiry,
				ended_at: 11,
			})
		);
		assert_cleaned(id);
		assert_eq!(ScheduleCursor::<Test>::get(), Some(12));
		assert_all_actions_fail(id, Error::<Test>::StreamExpired.into());
	});
}

#[test]
fn expired_stream_is_dead_before_its_cleanup() {
	new_test_ext().execute_with(|| {
		setup();
		let id = request_with(10, policy(3, 3));
		deal(id);
		assert!(Keyorch::may_request_share(id, &acc(INITIATOR), &stream(id).witnesses[0]));
		// Block 11 without on_initialize: the clean-up has not run yet.
		System::set_block_number(11);
		assert!(Streams::<Test>::contains_key(id));
		assert_eq!(Keyorch::stream_status(id), Some(StreamStatus::Expired));
		assert!(!Keyorch::may_request_share(id, &acc(INITIATOR), &stream(id).witnesses[0]));
		assert_all_actions_fail(id, Error::<Test>::StreamExpired.into());
	});
}

#[test]
fn many_expiries_stay_within_the_weight_budget() {
	new_test_ext().execute_with(|| {
		setup();
		let ids: Vec<StreamId> = (0..10).map(|_| request_with(10, policy(5, 3))).collect();
		assert_eq!(Schedule::<Test>::get(11).len(), 10);
		let per_expiry = <() as WeightInfo>::expire_stream(5);
		let budget = <() as WeightInfo>::service_base()
			.saturating_add(<() as WeightInfo>::service_slot())
			.saturating_add(per_expiry.saturating_mul(3));
		ServiceWeight::set(budget);
		run_to_block(10);
		let ended = || ids.iter().filter(|id| Tombstones::<Test>::contains_key(id)).count();

		System::set_block_number(11);
		let used = Keyorch::on_initialize(11);
		assert!(used.all_lte(budget), "{used:?} > {budget:?}");
		assert_eq!(ended(), 3);
		assert_eq!(Schedule::<Test>::get(11).len(), 7);
		assert_eq!(ScheduleCursor::<Test>::get(), Some(11));
		// All streams read as expired already.
		assert!(ids.iter().all(|id| Keyorch::stream_status(*id) == Some(StreamStatus::Expired)));

		for (block, expected) in [(12, 6), (13, 9), (14, 10)] {
			System::set_block_number(block);
			let used = Keyorch::on_initialize(block);
			assert!(used.all_lte(budget));
			assert_eq!(ended(), expected, "block {block}");
		}
		assert!(!Schedule::<Test>::contains_key(11));
		// Past slot 11, the rest of the budget walks on over the empty slots; the cursor catches
		// up with the chain in the next block at the latest.
		assert!(ScheduleCursor::<Test>::get().unwrap() > 11);
		System::set_block_number(15);
		Keyorch::on_initialize(15);
		assert_eq!(ScheduleCursor::<Test>::get(), Some(16));
		assert!(ids.iter().all(|id| !Streams::<Test>::contains_key(id)));
		assert_eq!(held(INITIATOR, HoldReason::StreamDeposit), 0);
	});
}

#[test]
fn on_idle_uses_the_leftover_weight() {
	new_test_ext().execute_with(|| {
		setup();
		let ids: Vec<StreamId> = (0..5).map(|_| request_with(10, policy(5, 3))).collect();
		let one = <() as WeightInfo>::service_base()
			.saturating_add(<() as WeightInfo>::service_slot())
			.saturating_add(<() as WeightInfo>::expire_stream(5));
		ServiceWeight::set(one);
		run_to_block(11);
		let ended = || ids.iter().filter(|id| Tombstones::<Test>::contains_key(id)).count();
		assert_eq!(ended(), 1);
		// Too little idle weight: nothing happens.
		assert_eq!(Keyorch::on_idle(11, Weight::zero()), Weight::zero());
		assert_eq!(ended(), 1);
		let used = Keyorch::on_idle(11, Weight::from_parts(u64::MAX, u64::MAX));
		assert!(used.any_gt(Weight::zero()));
		assert_eq!(ended(), 5);
		assert_eq!(ScheduleCursor::<Test>::get(), Some(12));
		// Nothing left: the next block only reads the cursor and an empty slot.
		System::set_block_number(12);
		let used = Keyorch::on_initialize(12);
		assert!(used.all_lte(
			<() as WeightInfo>::service_base()
				.saturating_add(<() as WeightInfo>::service_slot())
				.saturating_add(<() as WeightInfo>::service_queue_base())
		));
	});
}

// ----- read side -----

#[test]
fn may_request_share_rules() {
	new_test_ext().execute_with(|| {
		setup();
		let id = request();
		let witness = stream(id).witnesses[0].clone();
		let outsider =
			WITNESSES.iter().map(|w| acc(*w)).find(|w| !stream(id).witnesses.contains(w)).unwrap();
		// No epoch dealt yet: nothing to share.
		assert!(!Keyorch::may_request_share(id, &acc(INITIATOR), &witness));
		deal(id);
		assert!(Keyorch::may_request_share(id, &acc(INITIATOR), &witness));
		assert!(Keyorch::may_request_share(id, &acc(PROVIDER), &witness));
		assert!(Keyorch::share_allowed(id, acc(PROVIDER), witness.clone()));
		assert!(!Keyorch::may_request_share(id, &acc(STRANGER), &witness));
		assert!(!Keyorch::may_request_share(id, &witness, &witness));
		assert!(!Keyorch::may_request_share(id, &acc(INITIATOR), &outsider));
		assert!(!Keyorch::may_request_share(sp_core::H256::zero(), &acc(INITIATOR), &witness));
		assert_ok!(Keyorch::revoke(origin(INITIATOR), id, BoundedVec::default()));
		assert!(!Keyorch::may_request_share(id, &acc(INITIATOR), &witness));
	});
}

#[test]
fn stream_view_shows_holders_and_keys() {
	new_test_ext().execute_with(|| {
		setup();
		let id = request();
		deal(id);
		let view = Keyorch::stream_view(id).unwrap();
		assert_eq!(view.status, StreamStatus::Live);
		assert_eq!(Keyorch::status_of(id), Some(StreamStatus::Live));
		assert_eq!(view.holders.len(), 5);
		assert_eq!(view.holders[0].account, acc(INITIATOR));
		assert_eq!(view.holders[0].role, HolderRole::Initiator);
		assert_eq!(view.holders[0].x25519_public_key, Some(key(INITIATOR)));
		assert_eq!(view.holders[1].role, HolderRole::Provider);
		assert_eq!(view.holders[1].x25519_public_key, Some(key(PROVIDER)));
		for h in &view.holders[2..] {
			assert_eq!(h.role, HolderRole::Witness);
			let n = AsRef::<[u8]>::as_ref(&h.account)[0];
			assert_eq!(h.x25519_public_key, Some(key(n)));
		}
		assert_eq!(view.data_type, b"video/h264".to_vec());
		assert_eq!(view.current_epoch, Some(0));
		assert_eq!(view.pending_epoch, None);
		assert_eq!(view.selection_seed, stream(id).selection_seed.as_ref().to_vec());
		let epoch = Keyorch::current_epoch_view(id).unwrap();
		assert_eq!(epoch.commitments, commitments(3).into_inner());
		assert_eq!(epoch.record_hashes, record_hashes(5).into_inner());
		assert!(Keyorch::tombstone(id).is_none());
		assert_eq!(Keyorch::stream_status(sp_core::H256::zero()), None);
		assert!(Keyorch::stream_view(sp_core::H256::zero()).is_none());
	});
}

#[test]
fn pending_epochs_lists_work_for_orchestrators() {
	new_test_ext().execute_with(|| {
		setup();
		let a = request();
		let b = request();
		deal(b);
		let page = Keyorch::pending_epochs(0, 10);
		assert_eq!(page.next, None);
		assert_eq!(page.epochs.len(), 1);
		let pending = &page.epochs[0];
		assert_eq!((pending.stream, pending.epoch, pending.position), (a, 0, 0));
		assert_eq!(pending.reason, RotationReason::Initial);
		assert_eq!(pending.authorized, vec![orch(orch_with_rank(a, 0, 0))]);
	});
}

#[test]
fn pending_epochs_pages_the_queue_oldest_first_with_bounded_reads() {
	new_test_ext().execute_with(|| {
		setup();
		let streams: Vec<StreamId> = (0..6).map(|_| request()).collect();
		// Holes at positions 1 and 2.
		deal(streams[1]);
		deal(streams[2]);
		let first = Keyorch::pending_epochs(0, 2);
		let seen: Vec<_> = first.epochs.iter().map(|p| (p.stream, p.position)).collect();
		assert_eq!(seen, vec![(streams[0], 0), (streams[3], 3)]);
		assert_eq!(first.next, Some(4));
		let rest = Keyorch::pending_epochs(4, 10);
		let seen: Vec<_> = rest.epochs.iter().map(|p| p.stream).collect();
		assert_eq!(seen, vec![streams[4], streams[5]]);
		assert_eq!(rest.next, None);
		// One epoch asked for: at most PENDING_PAGE_PROBES positions are read, so a page of
		// holes only is empty and says where to go on.
		let probes = PENDING_PAGE_PROBES as usize;
		let many: Vec<StreamId> = (0..probes + 1).map(|_| request()).collect();
		for stream in &many[..probes] {
			deal(*stream);
		}
		let holes = Keyorch::pending_epochs(6, 1);
		assert!(holes.epochs.is_empty());
		assert_eq!(holes.next, Some(6 + PENDING_PAGE_PROBES));
		let after = Keyorch::pending_epochs(holes.next.unwrap(), 1);
		assert_eq!(after.epochs[0].stream, many[probes]);
		// `max` is capped at a batch (requested a block later: one block's schedule is full).
		System::set_block_number(2);
		for _ in 0..MAX_BATCH {
			request();
		}
		let capped = Keyorch::pending_epochs(0, u32::MAX);
		assert_eq!(capped.epochs.len(), MAX_BATCH as usize);
	});
}

#[test]
fn parent_hash_randomness_depends_on_subject_and_parent() {
	new_test_ext().execute_with(|| {
		System::set_block_number(5);
		let (a, known_since) = ParentHashRandomness::<Test>::random(b"one");
		let (b, _) = ParentHashRandomness::<Test>::random(b"two");
		assert_ne!(a, b);
		assert_eq!(known_since, 4);
		System::initialize(&6, &sp_core::H256::repeat_byte(3), &Default::default());
		let (c, known_since) = ParentHashRandomness::<Test>::random(b"one");
		assert_ne!(a, c);
		assert_eq!(known_since, 5);
	});
}

#[test]
fn integrity_test_passes() {
	new_test_ext().execute_with(|| {
		<Keyorch as Hooks<u64>>::integrity_test();
	});
}

/// Every `Error` variant is asserted by at least one test in this file.
#[test]
fn every_error_variant_is_tested() {
	use scale_info::{TypeDef, TypeInfo};
	let source = include_str!("tests.rs");
	let TypeDef::Variant(errors) = Error::<Test>::type_info().type_def else {
		panic!("Error is an enum");
	};
	let names: Vec<&str> = errors.variants.iter().map(|v| v.name).collect();
	assert_eq!(names.len(), 40, "{names:?}");
	let untested: Vec<&str> = names
		.into_iter()
		.filter(|name| {
			let pattern = format!("Error::<Test>::{name}");
			!source.match_indices(&pattern).any(|(at, _)| {
				source[at + pattern.len()..]
					.chars()
					.next()
					.is_some_and(|c| !c.is_alphanumeric() && c != '_')
			})
		})
		.collect();
	assert!(untested.is_empty(), "untested errors: {untested:?}");
}

// ----- batches of dealings -----

#[test]
fn a_batch_refuses_its_bad_dealing_and_keeps_the_others() {
	new_test_ext().execute_with(|| {
		setup();
		let ids: Vec<StreamId> = (0..3).map(|_| request()).collect();
		// One orchestrator, so it is designated for every epoch.
		assert_ok!(Keyorch::set_orchestrators(RuntimeOrigin::root(), vec![orch(0)]));
		let good = |id| dealing(id, 0, commitments(3), record_hashes(5));
		let batch =
			vec![good(ids[0]), dealing(ids[1], 0, commitments(2), record_hashes(5)), good(ids[2])];
		let result = Keyorch::submit_key_epochs(
			RuntimeOrigin::signed(orch_acc(0)),
			BoundedVec::truncate_from(batch),
		);
		// Honest work is not charged: the batch is free although one dealing was refused.
		assert_eq!(result, Ok(PostDispatchInfo { actual_weight: None, pays_fee: Pays::No }));
		assert_eq!(stream(ids[0]).current_epoch, Some(0));
		assert_eq!(stream(ids[2]).current_epoch, Some(0));
		assert_eq!(stream(ids[1]).current_epoch, None);
		assert_eq!(PendingEpochs::<Test>::get(ids[1]).map(|p| p.epoch), Some(0));
		assert!(has_event(E::DealingRefused {
			stream: ids[1],
			epoch: 0,
			orchestrator: orch(0),
			error: Error::<Test>::WrongCommitmentCount.into(),
		}));
		// The same epoch twice in one batch: the second is refused.
		let twice = vec![good(ids[1]), good(ids[1])];
		assert_ok!(Keyorch::submit_key_epochs(
			RuntimeOrigin::signed(orch_acc(0)),
			BoundedVec::truncate_from(twice)
		));
		assert_eq!(Epochs::<Test>::get(ids[1], 0).unwrap().commitments, commitments(3));
		System::assert_last_event(
			E::DealingRefused {
				stream: ids[1],
				epoch: 0,
				orchestrator: orch(0),
				error: Error::<Test>::EpochAlreadyDealt.into(),
			}
			.into(),
		);
	});
}

#[test]
fn an_empty_batch_fails() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			Keyorch::submit_key_epochs(RuntimeOrigin::signed(orch_acc(0)), BoundedVec::new()),
			Error::<Test>::EmptyBatch
		);
	});
}

// ----- the dealing queue -----

/// The queue's entries from head to tail.
fn queued() -> Vec<QueuedEpoch> {
	let bounds = DealingQueueBounds::<Test>::get();
	(bounds.head..bounds.tail).filter_map(DealingQueue::<Test>::get).collect()
}

#[test]
fn epochs_queue_in_request_order_and_leave_when_dealt_or_ended() {
	new_test_ext().execute_with(|| {
		setup();
		let ids: Vec<StreamId> = (0..3).map(|_| request()).collect();
		let entry = |id, epoch| QueuedEpoch { stream: id, epoch };
		assert_eq!(queued(), vec![entry(ids[0], 0), entry(ids[1], 0), entry(ids[2], 0)]);
		deal(ids[1]);
		assert_eq!(queued(), vec![entry(ids[0], 0), entry(ids[2], 0)]);
		assert_ok!(Keyorch::close(origin(INITIATOR), ids[0]));
		assert_eq!(queued(), vec![entry(ids[2], 0)]);
		assert_ok!(Keyorch::rotate(origin(INITIATOR), ids[1]));
		assert_eq!(queued(), vec![entry(ids[2], 0), entry(ids[1], 1)]);
		assert_eq!(PendingEpochs::<Test>::get(ids[1]).unwrap().position, 3);

		// The head moves past the holes at the next block.
		run_to_block(2);
		assert_eq!(DealingQueueBounds::<Test>::get(), QueueBounds { head: 2, tail: 4 });
	});
}

#[test]
fn an_epoch_nobody_deals_moves_to_the_tail_and_frees_the_head() {
	new_test_ext().execute_with(|| {
		setup();
		let stuck = request();
		run_to_block(5);
		let fresh = request();
		// Before `TakeoverDelay` blocks the stuck epoch holds the head.
		run_to_block(TAKEOVER_DELAY);
		assert_eq!(DealingQueueBounds::<Test>::get().head, 0);
		run_to_block(1 + TAKEOVER_DELAY);
		let pending = PendingEpochs::<Test>::get(stuck).unwrap();
		assert_eq!(pending.position, 2, "moved to the tail");
		assert_eq!(pending.requested_at, 1, "take-over still counts from the request");
		assert_eq!(
			queued(),
			vec![QueuedEpoch { stream: fresh, epoch: 0 }, QueuedEpoch { stream: stuck, epoch: 0 }]
		);
		// It can still be dealt from its new place, and leaves the queue.
		assert_ok!(submit_one(
			orch_acc(orch_with_rank(stuck, 0, 0)),
			stuck,
			0,
			commitments(3),
			record_hashes(5)
		));
		assert_eq!(queued(), vec![QueuedEpoch { stream: fresh, epoch: 0 }]);
	});
}

#[test]
fn the_queue_service_stays_within_its_weight() {
	new_test_ext().execute_with(|| {
		setup();
		for _ in 0..4 {
			let id = request();
			deal(id);
		}
		let step = <() as WeightInfo>::service_queue_step();
		let base = <() as WeightInfo>::service_queue_base();
		// Room for the base and two steps: the head moves two holes on.
		let used = Keyorch::service_queue(2, base.saturating_add(step.saturating_mul(2)));
		assert!(used.all_lte(base.saturating_add(step.saturating_mul(2))));
		assert_eq!(DealingQueueBounds::<Test>::get(), QueueBounds { head: 2, tail: 4 });
		assert_eq!(Keyorch::service_queue(2, Weight::zero()), Weight::zero());
		Keyorch::service_queue(2, Weight::MAX);
		assert_eq!(DealingQueueBounds::<Test>::get(), QueueBounds { head: 4, tail: 4 });
	});
}

// ----- prepaid rotations -----

#[test]
fn rotations_beyond_the_prepaid_allowance_are_refused() {
	new_test_ext().execute_with(|| {
		setup();
		let mut pol = policy(3, 3);
		pol.rotation.every_bytes = Some(10);
		let id = request_with(100, pol);
		deal(id);
		for n in 0..ROTATION_ALLOWANCE {
			if n % 2 == 0 {
				assert_ok!(Keyorch::rotate(origin(INITIATOR), id));
			} else {
				assert_ok!(Keyorch::report_usage(origin(PROVIDER), id, 10));
			}
			deal(id);
		}
		assert_eq!(stream(id).rotations_left, 0);
		assert_noop!(
			Keyorch::rotate(origin(INITIATOR), id),
			Error::<Test>::RotationAllowanceExhausted
		);
		assert_noop!(
			Keyorch::report_usage(origin(PROVIDER), id, 10),
			Error::<Test>::RotationAllowanceExhausted
		);
		// Reports below the budget still count.
		assert_ok!(Keyorch::report_usage(origin(PROVIDER), id, 9));
	});
}

#[test]
fn the_deposit_grows_with_the_epochs_a_stream_may_ask_for() {
	new_test_ext().execute_with(|| {
		setup();
		let every = |blocks| StreamPolicy {
			rotation: RotationPolicy { every_blocks: Some(blocks), every_bytes: None },
			..policy(3, 3)
		};
		// No interval rotation: epoch 0 and the allowance.
		assert_eq!(Keyorch::prepaid_epochs(&metadata(100), &policy(3, 3)), 1 + ROTATION_ALLOWANCE);
		// Rotations at 5, 10, …, 95 before expiry at 100: 19.
		assert_eq!(
			Keyorch::prepaid_epochs(&metadata(100), &every(MIN_ROTATION)),
			20 + ROTATION_ALLOWANCE
		);
		assert_eq!(
			Keyorch::prepaid_epochs(&metadata(MAX_DURATION), &every(MIN_ROTATION)),
			200 + ROTATION_ALLOWANCE
		);
		let before = Balances::free_balance(acc(INITIATOR));
		let id = request_with(MAX_DURATION, every(MIN_ROTATION));
		let deposit = STREAM_DEPOSIT + EPOCH_DEPOSIT * Balance::from(200 + ROTATION_ALLOWANCE);
		assert_eq!(stream(id).deposit, deposit);
		assert_eq!(Balances::free_balance(acc(INITIATOR)), before - deposit);
		// All of it comes back when the stream ends.
		assert_ok!(Keyorch::close(origin(INITIATOR), id));
		assert_eq!(Balances::free_balance(acc(INITIATOR)), before);
	});
}
