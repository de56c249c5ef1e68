//! # pallet-keyorch
//!
//! The on-chain ledger of keyorch. It records public facts only — every step a user may need to
//! audit — and never key material:
//!
//! - **Participants** register an X25519 public encryption key (separate from their account
//!   key); shares are sealed to it. Participants may also register as **witnesses**, holding a
//!   [`Config::WitnessDeposit`] so the witness set cannot be flooded.
//! - **Streams** are requested by an initiator with metadata only (data type, permissions,
//!   duration) and a policy (witness count, threshold, rotation). A [`Config::StreamDeposit`] is
//!   held from the initiator until the stream ends. The stream id is
//!   `blake2_256(SCALE((initiator, nonce)))` (see [`StreamId`]).
//! - **Witnesses** are selected at request time, deterministically from
//!   [`Config::Randomness`] over the registered witness set (see [`selection`]); the seed is
//!   stored so anyone can recompute the choice.
//! - **Key epochs** are dealt off chain by an orchestrator, which submits the Feldman
//!   commitments and the hashes of the sealed share records with [`Pallet::submit_key_epoch`].
//!   Each pending epoch has a designated orchestrator, with take-over by the next one in order
//!   every [`Config::TakeoverDelay`] blocks (see [`Pallet::designated_orchestrator`]).
//! - **Rotation** requests a new epoch at the policy's block interval, when the reported traffic
//!   passes the policy's byte budget ([`Pallet::report_usage`]), or on [`Pallet::rotate`].
//! - **Revocation, closing and expiry** end a stream. All per-stream storage is then removed
//!   except a compact [`Tombstone`], and the deposit is released.
//!
//! ## Orchestrators
//!
//! An orchestrator is a node whose off-chain worker deals stream keys and submits the public
//! part (commitments and record hashes) in a transaction signed with its orchestrator key, of
//! key type [`KEY_TYPE`] in the node's keystore. The set is configured in genesis and changed
//! by root with [`Pallet::set_orchestrators`]. That sr25519 key doubles as the transaction's
//! account: the runtime's `AccountId` must implement `From<OrchestratorId>` (provided here for
//! `AccountId32`), and a signed origin is an orchestrator if its account is the conversion of a
//! key in the set.
//!
//! ## Scheduling
//!
//! Expiries and interval rotations are tasks in a schedule keyed by block ([`Schedule`]), at most
//! [`Config::MaxScheduledPerBlock`] per block. A task whose block is full is carried over to the
//! next block with room (at most [`Config::MaxScheduleLookahead`] blocks later). The tasks are
//! run by `on_initialize` within [`Config::ServiceWeight`] and by `on_idle` with what is left of
//! the block; what does not fit stays in its slot and the [`ScheduleCursor`] carries it over to
//! the following blocks. A stream whose expiry task runs late is nonetheless treated as expired
//! from its `expires_at` block on by every call and read function.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

use sp_core::crypto::KeyTypeId;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
mod offchain;
pub mod runtime_api;
pub mod selection;
#[cfg(test)]
mod tests;
pub mod types;
pub mod weights;

pub use types::*;
pub use weights::WeightInfo;

/// Key type of the orchestrator key the off-chain worker signs with (`kord`).
pub const KEY_TYPE: KeyTypeId = KeyTypeId(*b"kord");

/// How many queue positions [`Pallet::pending_epochs`] reads per epoch it may return: the
/// queue has holes where epochs were dealt out of order or their streams ended.
pub const PENDING_PAGE_PROBES: u64 = 8;

/// The orchestrator key: an sr25519 application key of type [`KEY_TYPE`].
pub mod crypto {
	use super::KEY_TYPE;
	use sp_application_crypto::{app_crypto, sr25519};
	use sp_runtime::{MultiSignature, MultiSigner};
	app_crypto!(sr25519, KEY_TYPE);

	/// Signs the off-chain worker's transactions with the orchestrator key
	/// (`frame_system::offchain::Signer<Runtime, OrchestratorAuthId>`).
	pub struct OrchestratorAuthId;

	impl frame_system::offchain::AppCrypto<MultiSigner, MultiSignature> for OrchestratorAuthId {
		type RuntimeAppPublic = Public;
		type GenericSignature = sp_core::sr25519::Signature;
		type GenericPublic = sp_core::sr25519::Public;
	}
}

/// The public orchestrator key as stored on chain.
pub type OrchestratorId = crypto::Public;

/// An orchestrator key is an sr25519 public key, and so is the `AccountId32` it signs
/// transactions as.
impl From<crypto::Public> for sp_runtime::AccountId32 {
	fn from(key: crypto::Public) -> Self {
		sp_core::sr25519::Public::from(key).into()
	}
}

/// Checks that Feldman commitments are well-formed group elements.
///
/// The pallet stays crypto-agnostic; the runtime wires the group's decoding (Ristretto255 point
/// decompression from `keyorch-primitives`). There is deliberately no permissive default.
pub trait VerifyCommitments {
	/// Whether every commitment decodes to a valid group element.
	fn well_formed(commitments: &[[u8; 32]]) -> bool;

	/// `count` commitments that [`Self::well_formed`] accepts, for benchmarks.
	#[cfg(feature = "runtime-benchmarks")]
	fn valid_commitments(count: u32) -> alloc::vec::Vec<[u8; 32]>;
}

/// The real [`VerifyCommitments`]: every commitment a canonical Ristretto255 point other than the
/// identity, their count a valid threshold (`keyorch_primitives::Commitments::validate`).
pub struct RistrettoCommitments;

impl VerifyCommitments for RistrettoCommitments {
	fn well_formed(commitments: &[[u8; 32]]) -> bool {
		frame_support::BoundedVec::try_from(commitments.to_vec())
			.map(|points| keyorch_primitives::Commitments {
				version: keyorch_primitives::WireVersion::V1,
				points,
			})
			.is_ok_and(|commitments| commitments.validate().is_ok())
	}

	#[cfg(feature = "runtime-benchmarks")]
	fn valid_commitments(count: u32) -> alloc::vec::Vec<[u8; 32]> {
		use keyorch_primitives::{deal, DealContext, EncryptionSecret};
		let holders: alloc::vec::Vec<_> = (1..=count.max(2) as u8)
			.map(|i| EncryptionSecret::from_bytes([i; 32]).public_key())
			.collect();
		let context = DealContext { stream_id: [0; 32], epoch: 0 };
		deal(&[7; 32], &context, count as u8, &holders)
			.map(|dealing| dealing.commitments.points.into_inner())
			.unwrap_or_default()
	}
}

/// The balance type of [`Config::Currency`].
pub type BalanceOf<T> = <<T as Config>::Currency as frame_support::traits::fungible::Inspect<
	<T as frame_system::Config>::AccountId,
>>::Balance;

/// Randomness from the parent block hash: `hash(subject ‖ parent_hash)`.
///
/// For runtimes without BABE or another VRF (keyorch runs Aura). **The block author can
/// influence it**: it chooses the parent it builds on and may withhold a block whose hash it
/// dislikes, so it can bias witness selection for requests it includes. Use a VRF-based source
/// where that matters. The returned block number is the parent's: the value was known from then.
pub struct ParentHashRandomness<T>(core::marker::PhantomData<T>);

impl<T: frame_system::Config>
	frame_support::traits::Randomness<T::Hash, frame_system::pallet_prelude::BlockNumberFor<T>>
	for ParentHashRandomness<T>
{
	fn random(subject: &[u8]) -> (T::Hash, frame_system::pallet_prelude::BlockNumberFor<T>) {
		use sp_runtime::traits::{Hash, One, Saturating};
		let parent = frame_system::Pallet::<T>::parent_hash();
		let mut input = alloc::vec::Vec::with_capacity(subject.len().saturating_add(64));
		input.extend_from_slice(subject);
		input.extend_from_slice(parent.as_ref());
		let now = frame_system::Pallet::<T>::block_number();
		(T::Hashing::hash(&input), now.saturating_sub(One::one()))
	}
}

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use crate::selection::select_witnesses;
	use alloc::vec::Vec;
	use codec::Encode;
	use frame_support::{
		pallet_prelude::*,
		traits::{
			fungible::{Inspect, Mutate, MutateHold},
			tokens::Precision,
			Randomness,
		},
		weights::WeightMeter,
	};
	use frame_system::pallet_prelude::*;
	use sp_core::H256;
	use sp_io::hashing::blake2_256;
	use sp_runtime::traits::{One, Saturating, Zero};

	/// The in-code storage version.
	///
	/// v2 added queue positions to pending epochs and prepaid rotations to streams. There is no
	/// migration from v1: no chain with v1 state is kept (dev and local networks start from
	/// genesis).
	const STORAGE_VERSION: StorageVersion = StorageVersion::new(2);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	/// Configuration of the pallet.
	#[pallet::config]
	pub trait Config:
		frame_system::Config<RuntimeEvent: From<Event<Self>>, AccountId: From<OrchestratorId>>
		+ frame_system::offchain::CreateSignedTransaction<Call<Self>>
	{
		/// How the off-chain worker signs `submit_key_epoch` with this node's orchestrator key:
		/// [`crypto::OrchestratorAuthId`] in a runtime with `MultiSigner` accounts.
		type AuthorityId: frame_system::offchain::AppCrypto<
			Self::Public,
			Self::Signature,
			RuntimeAppPublic = OrchestratorId,
		>;

		/// The overarching hold reason.
		type RuntimeHoldReason: From<HoldReason>;

		/// The currency witness and stream deposits are held in.
		type Currency: Inspect<Self::AccountId>
			+ Mutate<Self::AccountId>
			+ MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

		/// The source of witness-selection seeds. [`ParentHashRandomness`] for runtimes without
		/// a VRF.
		type Randomness: Randomness<Self::Hash, BlockNumberFor<Self>>;

		/// Checks that submitted commitments are group elements.
		type CommitmentVerifier: VerifyCommitments;

		/// The origin that may revoke any stream (root or governance).
		type ForceOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// Weights of the calls and the scheduled work.
		type WeightInfo: WeightInfo;

		/// The most orchestrators the set may hold.
		#[pallet::constant]
		type MaxOrchestrators: Get<u32>;

		/// The most registered witnesses.
		#[pallet::constant]
		type MaxWitnesses: Get<u32>;

		/// The most witnesses one stream may ask for.
		#[pallet::constant]
		type MaxWitnessesPerStream: Get<u32>;

		/// The longest data type of a stream request, in bytes.
		#[pallet::constant]
		type MaxDataTypeLen: Get<u32>;

		/// The longest revocation reason, in bytes.
		#[pallet::constant]
		type MaxReasonLen: Get<u32>;

		/// The longest stream duration, in blocks.
		#[pallet::constant]
		type MaxStreamDuration: Get<u32>;

		/// The shortest rotation interval a policy may set, in blocks (at least 1).
		#[pallet::constant]
		type MinRotationInterval: Get<u32>;

		/// Blocks after an epoch's request after which the next orchestrator in order may also
		/// deal it (and so on, one more every `TakeoverDelay` blocks).
		#[pallet::constant]
		type TakeoverDelay: Get<BlockNumberFor<Self>>;

		/// The deposit held from a witness while it is registered.
		#[pallet::constant]
		type WitnessDeposit: Get<BalanceOf<Self>>;

		/// The deposit held from an initiator while its stream is open.
		#[pallet::constant]
		type StreamDeposit: Get<BalanceOf<Self>>;

		/// The most tasks (expiries and interval rotations) one schedule slot holds.
		#[pallet::constant]
		type MaxScheduledPerBlock: Get<u32>;

		/// How many blocks past a full slot a task may be carried over when it is scheduled.
		#[pallet::constant]
		type MaxScheduleLookahead: Get<u32>;

		/// The weight `on_initialize` may spend on scheduled tasks each block. It must fit at
		/// least one expiry of a stream with `MaxWitnessesPerStream` witnesses (checked by the
		/// integrity test). `on_idle` adds whatever the block leaves.
		#[pallet::constant]
		type ServiceWeight: Get<Weight>;

		/// The most dealings one [`Pallet::submit_key_epochs`] batch carries: what one
		/// orchestrator can put on chain per block.
		#[pallet::constant]
		type MaxDealingsPerBatch: Get<u32>;

		/// Held from the initiator for every epoch its stream is prepaid for (see
		/// [`Pallet::request_stream`]), so the dealing capacity an account can take is
		/// proportional to what it holds.
		#[pallet::constant]
		type EpochDeposit: Get<BalanceOf<Self>>;

		/// How many usage or explicit rotations a stream's deposit prepays, beyond the interval
		/// rotations its duration implies; more are refused with `RotationAllowanceExhausted`.
		#[pallet::constant]
		type RotationAllowance: Get<u32>;
	}

	/// Reasons the pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// A witness's registration deposit.
		#[codec(index = 0)]
		WitnessDeposit,
		/// An initiator's deposit for an open stream.
		#[codec(index = 1)]
		StreamDeposit,
	}

	/// The authorized orchestrator keys, in the order that designates who deals an epoch.
	#[pallet::storage]
	pub type Orchestrators<T: Config> =
		StorageValue<_, BoundedVec<OrchestratorId, T::MaxOrchestrators>, ValueQuery>;

	/// Registered participants and their X25519 public keys.
	#[pallet::storage]
	pub type Participants<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, ParticipantInfo, OptionQuery>;

	/// Registered witnesses: their deposit and how many open streams selected them.
	#[pallet::storage]
	pub type Witnesses<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, WitnessInfo<BalanceOf<T>>, OptionQuery>;

	/// The registered witnesses in registration order: the candidate list of witness selection.
	#[pallet::storage]
	pub type WitnessSet<T: Config> =
		StorageValue<_, BoundedVec<T::AccountId, T::MaxWitnesses>, ValueQuery>;

	/// The nonce of the next stream id (pallet-wide, never repeats).
	#[pallet::storage]
	pub type StreamNonce<T: Config> = StorageValue<_, u64, ValueQuery>;

	/// Open streams (requested or live), by id.
	#[pallet::storage]
	pub type Streams<T: Config> = StorageMap<_, Blake2_128Concat, StreamId, StreamInfo<T>>;

	/// The public part of dealt epochs: the current and the previous epoch of each open stream
	/// (the previous one serves the switch-over grace window; older ones are pruned — every
	/// epoch stays in the `KeyEpochDealt` events).
	#[pallet::storage]
	pub type Epochs<T: Config> =
		StorageDoubleMap<_, Blake2_128Concat, StreamId, Twox64Concat, EpochIndex, EpochInfo<T>>;

	/// Epochs waiting to be dealt, by stream: the off-chain workers' work queue.
	///
	/// At most one entry per open stream (a rotation while one is pending queues nothing), so it
	/// is bounded by the open streams, and it holds only streams with work to do: an off-chain
	/// worker iterates it instead of all streams. The counter tells it the queue's length.
	#[pallet::storage]
	pub type PendingEpochs<T: Config> = CountedStorageMap<
		_,
		Blake2_128Concat,
		StreamId,
		PendingEpoch<BlockNumberFor<T>>,
		OptionQuery,
	>;

	/// Epochs waiting to be dealt, in the order they were requested: the off-chain workers read
	/// it from the head, so the oldest requests are dealt first and no worker scans all of
	/// [`PendingEpochs`]. Dealt or ended epochs leave holes that the head skips (see
	/// [`Pallet::service_queue`]).
	#[pallet::storage]
	pub type DealingQueue<T: Config> =
		StorageMap<_, Twox64Concat, QueuePosition, QueuedEpoch, OptionQuery>;

	/// The positions of the [`DealingQueue`] that may hold entries.
	#[pallet::storage]
	pub type DealingQueueBounds<T: Config> = StorageValue<_, QueueBounds, ValueQuery>;

	/// What remains of ended streams, for audit.
	#[pallet::storage]
	pub type Tombstones<T: Config> = StorageMap<
		_,
		Blake2_128Concat,
		StreamId,
		Tombstone<T::AccountId, BlockNumberFor<T>>,
		OptionQuery,
	>;

	/// Expiries and interval rotations, by the block they are due in.
	#[pallet::storage]
	pub type Schedule<T: Config> = StorageMap<
		_,
		Twox64Concat,
		BlockNumberFor<T>,
		BoundedVec<ScheduledTask, T::MaxScheduledPerBlock>,
		ValueQuery,
	>;

	/// The first block whose scheduled tasks are not all done yet (`None` before the first
	/// block is serviced).
	#[pallet::storage]
	pub type ScheduleCursor<T: Config> = StorageValue<_, BlockNumberFor<T>, OptionQuery>;

	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		/// The initial orchestrator set.
		pub orchestrators: Vec<OrchestratorId>,
		#[serde(skip)]
		pub _config: core::marker::PhantomData<T>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			let set = Pallet::<T>::checked_orchestrator_set(self.orchestrators.clone())
				.expect("genesis orchestrator set must be unique and within MaxOrchestrators");
			Orchestrators::<T>::put(set);
		}
	}

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// The orchestrator set was replaced.
		OrchestratorsChanged {
			/// The new set, in designation order.
			orchestrators: Vec<OrchestratorId>,
		},
		/// A participant registered its encryption key.
		ParticipantRegistered {
			/// The participant.
			who: T::AccountId,
			/// Its X25519 public key.
			x25519_public_key: X25519PublicKey,
		},
		/// A participant replaced its encryption key; epochs dealt from now on use it.
		ParticipantKeyUpdated {
			/// The participant.
			who: T::AccountId,
			/// Its new X25519 public key.
			x25519_public_key: X25519PublicKey,
		},
		/// A participant deregistered.
		ParticipantDeregistered {
			/// The former participant.
			who: T::AccountId,
		},
		/// A participant became a witness.
		WitnessRegistered {
			/// The witness.
			who: T::AccountId,
			/// The deposit held.
			deposit: BalanceOf<T>,
		},
		/// A witness left the witness set.
		WitnessUnregistered {
			/// The former witness.
			who: T::AccountId,
			/// The deposit released.
			deposit: BalanceOf<T>,
		},
		/// A stream was requested and its witnesses selected.
		StreamRequested {
			/// The new stream's id.
			stream: StreamId,
			/// Its initiator.
			initiator: T::AccountId,
			/// Its provider.
			provider: T::AccountId,
			/// The selected witnesses, in holder order.
			witnesses: Vec<T::AccountId>,
			/// The threshold.
			threshold: u32,
			/// The first block at which it is no longer live.
			expires_at: BlockNumberFor<T>,
			/// The witness selection seed.
			selection_seed: T::Hash,
		},
		/// A new epoch waits to be dealt.
		EpochRequested {
			/// The stream.
			stream: StreamId,
			/// The epoch.
			epoch: EpochIndex,
			/// Why.
			reason: RotationReason,
			/// The orchestrator designated to deal it (others take over after delays).
			designated: Option<OrchestratorId>,
		},
		/// An interval rotation came due while an epoch was still pending; nothing was queued.
		RotationSkipped {
			/// The stream.
			stream: StreamId,
			/// The epoch still pending.
			pending_epoch: EpochIndex,
		},
		/// The next interval rotation could not be scheduled (the schedule is full); the stream
		/// keeps rotating by usage and on `rotate` only.
		RotationNotScheduled {
			/// The stream.
			stream: StreamId,
		},
		/// An epoch was dealt: each holder's sealed record is ready.
		KeyEpochDealt {
			/// The stream.
			stream: StreamId,
			/// The epoch.
			epoch: EpochIndex,
			/// The orchestrator that dealt it.
			orchestrator: OrchestratorId,
			/// The holders in share order: initiator, provider, witnesses.
			holders: Vec<T::AccountId>,
			/// The Feldman commitments.
			commitments: Vec<Commitment>,
			/// The sealed record hashes, in holder order.
			record_hashes: Vec<RecordHash>,
		},
		/// A dealing of a batch was refused; the batch's other dealings stand.
		DealingRefused {
			/// The stream.
			stream: StreamId,
			/// The epoch the dealing was for.
			epoch: EpochIndex,
			/// The orchestrator that submitted it.
			orchestrator: OrchestratorId,
			/// Why (a `pallet_keyorch` error).
			error: DispatchError,
		},
		/// A party reported traffic.
		UsageReported {
			/// The stream.
			stream: StreamId,
			/// The reporting party.
			who: T::AccountId,
			/// The bytes reported now.
			bytes: u64,
			/// Bytes since the last rotation was requested (after this report; `0` if this
			/// report requested one).
			bytes_since_rotation: u64,
		},
		/// A stream was revoked.
		StreamRevoked {
			/// The stream.
			stream: StreamId,
			/// Who revoked it.
			by: EndedBy,
			/// The reason given.
			reason: Vec<u8>,
			/// The last dealt epoch.
			final_epoch: Option<EpochIndex>,
		},
		/// A stream was closed by one of its parties.
		StreamClosed {
			/// The stream.
			stream: StreamId,
			/// Who closed it.
			by: EndedBy,
			/// The last dealt epoch.
			final_epoch: Option<EpochIndex>,
		},
		/// A stream's duration passed.
		StreamExpired {
			/// The stream.
			stream: StreamId,
			/// The last dealt epoch.
			final_epoch: Option<EpochIndex>,
		},
	}

	#[pallet::error]
	pub enum Error<T> {
		/// More orchestrators than `MaxOrchestrators`.
		TooManyOrchestrators,
		/// The same orchestrator key appears twice.
		DuplicateOrchestrator,
		/// The account is already a registered participant.
		AlreadyRegistered,
		/// The account is not a registered participant.
		NotParticipant,
		/// The X25519 key is a low-order point (all zero or one).
		InvalidEncryptionKey,
		/// The participant is initiator or provider of an open stream.
		ParticipantInLiveStream,
		/// The participant is a witness; unregister as witness first.
		ParticipantIsWitness,
		/// The account is already a witness.
		AlreadyWitness,
		/// The account is not a witness.
		NotWitness,
		/// The witness set is full (`MaxWitnesses`).
		TooManyWitnesses,
		/// The witness is selected for an open stream.
		WitnessInLiveStream,
		/// Not enough free balance for the deposit.
		InsufficientBalance,
		/// The provider is not a registered participant.
		ProviderNotRegistered,
		/// Initiator and provider are the same account.
		ProviderIsInitiator,
		/// The data type is empty.
		EmptyDataType,
		/// No permission or an undefined permission bit is set.
		InvalidPermissions,
		/// The duration is zero or above `MaxStreamDuration`.
		InvalidDuration,
		/// The witness count is zero or above `MaxWitnessesPerStream`.
		InvalidWitnessCount,
		/// The threshold is below 2 or above the holder count.
		InvalidThreshold,
		/// The rotation interval is below `MinRotationInterval`.
		RotationIntervalTooShort,
		/// The rotation byte budget is zero.
		InvalidRotationPolicy,
		/// Fewer registered witnesses (other than initiator and provider) than asked for.
		NotEnoughWitnesses,
		/// There is no orchestrator to deal the stream's keys.
		NoOrchestrators,
		/// The schedule slots around the stream's expiry or rotation are full.
		ScheduleFull,
		/// No stream with this id was ever requested.
		UnknownStream,
		/// The stream's duration has passed.
		StreamExpired,
		/// The stream was revoked.
		StreamRevoked,
		/// The stream was closed.
		StreamClosed,
		/// The caller is neither the stream's initiator nor its provider.
		NotStreamParty,
		/// The caller's account is not an orchestrator key.
		NotOrchestrator,
		/// The caller is an orchestrator but not (yet) designated for this epoch.
		NotDesignatedOrchestrator,
		/// The stream is not waiting for this epoch.
		EpochNotPending,
		/// This epoch was already dealt.
		EpochAlreadyDealt,
		/// An epoch is already pending; a rotation queues no second one.
		EpochAlreadyPending,
		/// The commitment count is not the stream's threshold.
		WrongCommitmentCount,
		/// The record hash count is not the stream's holder count.
		WrongRecordHashCount,
		/// A commitment is not a valid group element.
		MalformedCommitments,
		/// The epoch counter would overflow.
		EpochOverflow,
		/// The stream's deposit covers no more usage or explicit rotations: close it and
		/// request a new one.
		RotationAllowanceExhausted,
		/// A batch of dealings was empty.
		EmptyBatch,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_initialize(now: BlockNumberFor<T>) -> Weight {
			Self::service(now, T::ServiceWeight::get())
		}

		fn on_idle(now: BlockNumberFor<T>, remaining_weight: Weight) -> Weight {
			Self::service(now, remaining_weight)
		}

		/// Deals the epochs waiting for this node's orchestrator key (see the `offchain` module).
		fn offchain_worker(now: BlockNumberFor<T>) {
			Self::deal_pending_epochs(now);
		}

		fn integrity_test() {
			assert!(T::MinRotationInterval::get() >= 1, "MinRotationInterval must be at least 1");
			assert!(!T::TakeoverDelay::get().is_zero(), "TakeoverDelay must be at least one block");
			assert!(T::MaxScheduledPerBlock::get() >= 1, "MaxScheduledPerBlock must be positive");
			assert!(
				T::MaxWitnessesPerStream::get() >= 1
					&& T::MaxWitnessesPerStream::get() <= T::MaxWitnesses::get(),
				"MaxWitnessesPerStream must be in 1..=MaxWitnesses"
			);
			let one_expiry = T::WeightInfo::service_base()
				.saturating_add(T::WeightInfo::service_slot())
				.saturating_add(Self::worst_task_weight());
			assert!(
				one_expiry.all_lte(T::ServiceWeight::get()),
				"ServiceWeight must fit at least one scheduled task"
			);
			assert!(T::MaxDealingsPerBatch::get() >= 1, "MaxDealingsPerBatch must be positive");
			let batch = T::WeightInfo::submit_key_epochs(T::MaxDealingsPerBatch::get());
			let operational = T::BlockWeights::get().get(DispatchClass::Operational).max_extrinsic;
			assert!(
				operational.is_none_or(|max| batch.all_lte(max)),
				"the largest batch of dealings must fit an operational extrinsic"
			);
			let batch_length = (T::MaxDealingsPerBatch::get() as usize)
				.saturating_mul(DealingOf::<T>::max_encoded_len())
				.saturating_add(1024);
			assert!(
				batch_length <= *T::BlockLength::get().max.get(DispatchClass::Operational) as usize,
				"the largest batch of dealings must fit the block length"
			);
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Replace the orchestrator set. Root only.
		///
		/// The order matters: it decides which orchestrator is designated to deal an epoch
		/// and who takes over when it does not.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::set_orchestrators(
			(orchestrators.len() as u32).min(T::MaxOrchestrators::get())
		))]
		pub fn set_orchestrators(
			origin: OriginFor<T>,
			orchestrators: Vec<OrchestratorId>,
		) -> DispatchResult {
			ensure_root(origin)?;
			let set = Self::checked_orchestrator_set(orchestrators)?;
			Orchestrators::<T>::put(&set);
			Self::deposit_event(Event::OrchestratorsChanged { orchestrators: set.into_inner() });
			Ok(())
		}

		/// Register the caller as a participant with its X25519 public encryption key.
		///
		/// Shares of the streams it takes part in are sealed to this key. Errors:
		/// `AlreadyRegistered`, `InvalidEncryptionKey`. Emits `ParticipantRegistered`.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::register_participant())]
		pub fn register_participant(
			origin: OriginFor<T>,
			x25519_public_key: X25519PublicKey,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			ensure!(!Participants::<T>::contains_key(&who), Error::<T>::AlreadyRegistered);
			ensure!(Self::valid_x25519(&x25519_public_key), Error::<T>::InvalidEncryptionKey);
			Participants::<T>::insert(&who, ParticipantInfo { x25519_public_key, live_streams: 0 });
			Self::deposit_event(Event::ParticipantRegistered { who, x25519_public_key });
			Ok(())
		}

		/// Replace the caller's X25519 public key. Epochs dealt afterwards are sealed to the new
		/// key; records already dealt stay sealed to the old one.
		///
		/// Errors: `NotParticipant`, `InvalidEncryptionKey`. Emits `ParticipantKeyUpdated`.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::update_participant_key())]
		pub fn update_participant_key(
			origin: OriginFor<T>,
			x25519_public_key: X25519PublicKey,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			ensure!(Self::valid_x25519(&x25519_public_key), Error::<T>::InvalidEncryptionKey);
			Participants::<T>::try_mutate(&who, |p| -> DispatchResult {
				let p = p.as_mut().ok_or(Error::<T>::NotParticipant)?;
				p.x25519_public_key = x25519_public_key;
				Ok(())
			})?;
			Self::deposit_event(Event::ParticipantKeyUpdated { who, x25519_public_key });
			Ok(())
		}

		/// Deregister the caller.
		///
		/// Errors: `NotParticipant`, `ParticipantIsWitness` (unregister as witness first),
		/// `ParticipantInLiveStream` (initiator or provider of an open stream). Emits
		/// `ParticipantDeregistered`.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::deregister_participant())]
		pub fn deregister_participant(origin: OriginFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let info = Participants::<T>::get(&who).ok_or(Error::<T>::NotParticipant)?;
			ensure!(!Witnesses::<T>::contains_key(&who), Error::<T>::ParticipantIsWitness);
			ensure!(info.live_streams == 0, Error::<T>::ParticipantInLiveStream);
			Participants::<T>::remove(&who);
			Self::deposit_event(Event::ParticipantDeregistered { who });
			Ok(())
		}

		/// Join the witness set, holding `WitnessDeposit` from the caller.
		///
		/// Errors: `NotParticipant`, `AlreadyWitness`, `TooManyWitnesses`,
		/// `InsufficientBalance`. Emits `WitnessRegistered`.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::register_witness())]
		pub fn register_witness(origin: OriginFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			ensure!(Participants::<T>::contains_key(&who), Error::<T>::NotParticipant);
			ensure!(!Witnesses::<T>::contains_key(&who), Error::<T>::AlreadyWitness);
			WitnessSet::<T>::try_mutate(|set| set.try_push(who.clone()))
				.map_err(|_| Error::<T>::TooManyWitnesses)?;
			let deposit = T::WitnessDeposit::get();
			T::Currency::hold(&HoldReason::WitnessDeposit.into(), &who, deposit)
				.map_err(|_| Error::<T>::InsufficientBalance)?;
			Witnesses::<T>::insert(&who, WitnessInfo { deposit, live_streams: 0 });
			Self::deposit_event(Event::WitnessRegistered { who, deposit });
			Ok(())
		}

		/// Leave the witness set and get the deposit back.
		///
		/// Errors: `NotWitness`, `WitnessInLiveStream` (selected for an open stream). Emits
		/// `WitnessUnregistered`.
		#[pallet::call_index(5)]
		#[pallet::weight(T::WeightInfo::unregister_witness())]
		pub fn unregister_witness(origin: OriginFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let info = Witnesses::<T>::get(&who).ok_or(Error::<T>::NotWitness)?;
			ensure!(info.live_streams == 0, Error::<T>::WitnessInLiveStream);
			Witnesses::<T>::remove(&who);
			WitnessSet::<T>::mutate(|set| set.retain(|w| *w != who));
			let released = T::Currency::release(
				&HoldReason::WitnessDeposit.into(),
				&who,
				info.deposit,
				Precision::BestEffort,
			)
			.unwrap_or_else(|_| Zero::zero());
			Self::deposit_event(Event::WitnessUnregistered { who, deposit: released });
			Ok(())
		}

		/// Request a stream with `provider`: metadata and policy only, no key material.
		///
		/// Checks that initiator and provider are distinct registered participants, that the
		/// metadata and policy are within the configured limits (`2 <= threshold <= holders`,
		/// holders = 2 + witness count), and that enough witnesses other than the two parties
		/// are registered. Selects the witnesses from `Randomness`, holds the deposit from the
		/// caller, schedules expiry (and interval rotation) and queues epoch 0.
		///
		/// The deposit is `StreamDeposit` plus `EpochDeposit` for every epoch the stream may make
		/// the orchestrators deal: epoch 0, the interval rotations its duration implies and
		/// `RotationAllowance` usage or explicit rotations (see [`Pallet::prepaid_epochs`]).
		///
		/// Emits `StreamRequested` and `EpochRequested`.
		#[pallet::call_index(6)]
		#[pallet::weight(T::WeightInfo::request_stream(
			policy.witness_count.min(T::MaxWitnessesPerStream::get())
		))]
		pub fn request_stream(
			origin: OriginFor<T>,
			provider: T::AccountId,
			metadata: StreamMetadata<T::MaxDataTypeLen>,
			policy: StreamPolicy,
		) -> DispatchResult {
			let initiator = ensure_signed(origin)?;
			ensure!(Participants::<T>::contains_key(&initiator), Error::<T>::NotParticipant);
			ensure!(Participants::<T>::contains_key(&provider), Error::<T>::ProviderNotRegistered);
			ensure!(initiator != provider, Error::<T>::ProviderIsInitiator);
			Self::validate_request(&metadata, &policy)?;
			ensure!(!Orchestrators::<T>::get().is_empty(), Error::<T>::NoOrchestrators);

			let now = frame_system::Pallet::<T>::block_number();
			let nonce = StreamNonce::<T>::get();
			StreamNonce::<T>::put(nonce.wrapping_add(1));
			let stream = Self::stream_id(&initiator, nonce);

			let (selection_seed, _) =
				T::Randomness::random(&(b"keyorch/witnesses", stream).encode());
			let candidates = Self::witness_candidates(&initiator, &provider);
			let selected =
				select_witnesses(selection_seed.as_ref(), &candidates, policy.witness_count)
					.ok_or(Error::<T>::NotEnoughWitnesses)?;
			let witnesses: BoundedVec<T::AccountId, T::MaxWitnessesPerStream> =
				selected.try_into().map_err(|_| Error::<T>::InvalidWitnessCount)?;

			let expires_at = now.saturating_add(metadata.duration.into());
			let expiry_slot = Self::schedule(expires_at, stream, TaskKind::Expire)?;
			let (next_rotation_at, rotation_slot) = match policy.rotation.every_blocks {
				Some(every) => {
					let at = now.saturating_add(every.into());
					if at < expires_at {
						(Some(at), Some(Self::schedule(at, stream, TaskKind::Rotate)?))
					} else {
						(None, None)
					}
				},
				None => (None, None),
			};

			let deposit = T::StreamDeposit::get().saturating_add(
				T::EpochDeposit::get()
					.saturating_mul(Self::prepaid_epochs(&metadata, &policy).into()),
			);
			T::Currency::hold(&HoldReason::StreamDeposit.into(), &initiator, deposit)
				.map_err(|_| Error::<T>::InsufficientBalance)?;

			for party in [&initiator, &provider] {
				Participants::<T>::mutate(party, |p| {
					if let Some(p) = p {
						p.live_streams = p.live_streams.saturating_add(1);
					}
				});
			}
			for witness in witnesses.iter() {
				Witnesses::<T>::mutate(witness, |w| {
					if let Some(w) = w {
						w.live_streams = w.live_streams.saturating_add(1);
					}
				});
			}

			let mut info = StreamInfo::<T> {
				initiator: initiator.clone(),
				provider: provider.clone(),
				witnesses,
				metadata,
				policy,
				status: StreamStatus::Requested,
				requested_at: now,
				expires_at,
				selection_seed,
				current_epoch: None,
				pending_epoch: None,
				bytes_since_rotation: 0,
				total_bytes: 0,
				deposit,
				expiry_slot,
				next_rotation_at,
				rotation_slot,
				rotations_left: T::RotationAllowance::get(),
			};
			Self::deposit_event(Event::StreamRequested {
				stream,
				initiator,
				provider,
				witnesses: info.witnesses.to_vec(),
				threshold: policy.threshold,
				expires_at,
				selection_seed,
			});
			Self::request_epoch(stream, &mut info, RotationReason::Initial, now)?;
			Streams::<T>::insert(stream, info);
			Ok(())
		}

		/// Submit a batch of dealings, each the public part of one dealt epoch: the Feldman
		/// commitments (`threshold` of them, each a well-formed group element) and the hashes of
		/// the sealed records (one per holder, in holder order: initiator, provider, witnesses).
		///
		/// Only from an orchestrator's account. One batch per block carries every epoch the
		/// orchestrator dealt, so dealing throughput is bounded by block weight and length,
		/// never by the account's nonce; the call is `Operational`, so dealing never competes
		/// with user transactions for the normal share of the block.
		///
		/// Each dealing is checked on its own: only the designated orchestrator or one that may
		/// take over by now, only for the epoch the stream waits for, and only once. A dealing
		/// that fails a check is refused with `DealingRefused` (carrying the typed error) and
		/// the batch's other dealings are kept. Free for an orchestrator; a batch from any other
		/// account fails whole with `NotOrchestrator` and pays its fee. Emits `KeyEpochDealt`
		/// for every accepted dealing.
		#[pallet::call_index(12)]
		#[pallet::weight((
			T::WeightInfo::submit_key_epochs(dealings.len() as u32),
			DispatchClass::Operational,
		))]
		pub fn submit_key_epochs(
			origin: OriginFor<T>,
			dealings: BoundedVec<DealingOf<T>, T::MaxDealingsPerBatch>,
		) -> DispatchResultWithPostInfo {
			let who = ensure_signed(origin)?;
			let set = Orchestrators::<T>::get();
			let index = set
				.iter()
				.position(|o| T::AccountId::from(o.clone()) == who)
				.ok_or(Error::<T>::NotOrchestrator)?;
			ensure!(!dealings.is_empty(), Error::<T>::EmptyBatch);
			let orchestrator = set.get(index).cloned().ok_or(Error::<T>::NotOrchestrator)?;
			let now = frame_system::Pallet::<T>::block_number();
			for dealing in dealings {
				let (stream, epoch) = (dealing.stream, dealing.epoch);
				if let Err(error) =
					Self::accept_dealing(dealing, index, set.len(), &orchestrator, now)
				{
					Self::deposit_event(Event::DealingRefused {
						stream,
						epoch,
						orchestrator: orchestrator.clone(),
						error: error.into(),
					});
				}
			}
			Ok(Pays::No.into())
		}

		/// Report `bytes` of traffic on a stream. Initiator or provider only.
		///
		/// Reports of both parties add up. When the bytes since the last rotation reach the
		/// policy's `every_bytes`, a new epoch is requested — unless one is still pending, in
		/// which case nothing is queued and the next report after it is dealt triggers the
		/// rotation. A report that would rotate a stream whose deposit covers no more rotations
		/// fails with `RotationAllowanceExhausted`. Emits `UsageReported` (and
		/// `EpochRequested`).
		#[pallet::call_index(8)]
		#[pallet::weight(T::WeightInfo::report_usage())]
		pub fn report_usage(origin: OriginFor<T>, stream: StreamId, bytes: u64) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let now = frame_system::Pallet::<T>::block_number();
			let mut info = Self::open_stream(&stream, now)?;
			ensure!(info.party_role(&who).is_some(), Error::<T>::NotStreamParty);
			info.total_bytes = info.total_bytes.saturating_add(bytes);
			info.bytes_since_rotation = info.bytes_since_rotation.saturating_add(bytes);
			let due = info
				.policy
				.rotation
				.every_bytes
				.is_some_and(|budget| info.bytes_since_rotation >= budget);
			let rotate = due && info.pending_epoch.is_none();
			if rotate {
				Self::use_rotation(&mut info)?;
				info.bytes_since_rotation = 0;
			}
			Self::deposit_event(Event::UsageReported {
				stream,
				who,
				bytes,
				bytes_since_rotation: info.bytes_since_rotation,
			});
			if rotate {
				Self::request_epoch(stream, &mut info, RotationReason::Usage, now)?;
			}
			Streams::<T>::insert(stream, info);
			Ok(())
		}

		/// Request a new epoch now. Initiator or provider only.
		///
		/// Errors with `EpochAlreadyPending` while an epoch waits to be dealt (a rotation never
		/// queues a second one) and `RotationAllowanceExhausted` once the deposit covers no more
		/// rotations. Emits `EpochRequested`.
		#[pallet::call_index(9)]
		#[pallet::weight(T::WeightInfo::rotate())]
		pub fn rotate(origin: OriginFor<T>, stream: StreamId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let now = frame_system::Pallet::<T>::block_number();
			let mut info = Self::open_stream(&stream, now)?;
			ensure!(info.party_role(&who).is_some(), Error::<T>::NotStreamParty);
			ensure!(info.pending_epoch.is_none(), Error::<T>::EpochAlreadyPending);
			Self::use_rotation(&mut info)?;
			info.bytes_since_rotation = 0;
			Self::request_epoch(stream, &mut info, RotationReason::Explicit, now)?;
			Streams::<T>::insert(stream, info);
			Ok(())
		}

		/// Revoke a stream: by its initiator or provider (signed), or by `ForceOrigin`.
		///
		/// Witnesses stop serving shares and DHT nodes drop the records once this block is
		/// final. The stream's storage is replaced by a tombstone and the deposit released.
		/// Emits `StreamRevoked` with the reason.
		#[pallet::call_index(10)]
		#[pallet::weight(T::WeightInfo::revoke(T::MaxWitnessesPerStream::get()))]
		pub fn revoke(
			origin: OriginFor<T>,
			stream: StreamId,
			reason: BoundedVec<u8, T::MaxReasonLen>,
		) -> DispatchResultWithPostInfo {
			let signer = match T::ForceOrigin::try_origin(origin) {
				Ok(_) => None,
				Err(origin) => Some(ensure_signed(origin)?),
			};
			let now = frame_system::Pallet::<T>::block_number();
			let info = Self::open_stream(&stream, now)?;
			let by = match signer {
				None => EndedBy::Governance,
				Some(who) => info.party_role(&who).ok_or(Error::<T>::NotStreamParty)?,
			};
			let witnesses = info.witnesses.len() as u32;
			let final_epoch = info.current_epoch;
			Self::end_stream(stream, info, StreamStatus::Revoked, by, now, None);
			Self::deposit_event(Event::StreamRevoked {
				stream,
				by,
				reason: reason.into_inner(),
				final_epoch,
			});
			Ok(Some(T::WeightInfo::revoke(witnesses)).into())
		}

		/// Close a stream in order. Initiator or provider only.
		///
		/// Like `revoke` without a reason. Emits `StreamClosed`.
		#[pallet::call_index(11)]
		#[pallet::weight(T::WeightInfo::close(T::MaxWitnessesPerStream::get()))]
		pub fn close(origin: OriginFor<T>, stream: StreamId) -> DispatchResultWithPostInfo {
			let who = ensure_signed(origin)?;
			let now = frame_system::Pallet::<T>::block_number();
			let info = Self::open_stream(&stream, now)?;
			let by = info.party_role(&who).ok_or(Error::<T>::NotStreamParty)?;
			let witnesses = info.witnesses.len() as u32;
			let final_epoch = info.current_epoch;
			Self::end_stream(stream, info, StreamStatus::Closed, by, now, None);
			Self::deposit_event(Event::StreamClosed { stream, by, final_epoch });
			Ok(Some(T::WeightInfo::close(witnesses)).into())
		}
	}

	#[pallet::view_functions]
	impl<T: Config> Pallet<T> {
		/// The status of a stream, open or ended (`None` if unknown).
		pub fn status_of(stream: StreamId) -> Option<StreamStatus> {
			Self::stream_status(stream)
		}

		/// Whether `witness` may release its share of `stream` to `requester`.
		pub fn share_allowed(
			stream: StreamId,
			requester: T::AccountId,
			witness: T::AccountId,
		) -> bool {
			Self::may_request_share(stream, &requester, &witness)
		}
	}

	// Internal logic.
	impl<T: Config> Pallet<T> {
		/// Bounds and de-duplication check shared by genesis and `set_orchestrators`.
		fn checked_orchestrator_set(
			orchestrators: Vec<OrchestratorId>,
		) -> Result<BoundedVec<OrchestratorId, T::MaxOrchestrators>, Error<T>> {
			for (i, key) in orchestrators.iter().enumerate() {
				if orchestrators[..i].contains(key) {
					return Err(Error::<T>::DuplicateOrchestrator);
				}
			}
			BoundedVec::try_from(orchestrators).map_err(|_| Error::<T>::TooManyOrchestrators)
		}

		/// X25519 keys whose u-coordinate is 0 or 1 are low-order points: a share sealed to
		/// them would be readable by anyone.
		fn valid_x25519(key: &X25519PublicKey) -> bool {
			let mut one = [0u8; 32];
			one[0] = 1;
			*key != [0u8; 32] && *key != one
		}

		/// Check a request's metadata and policy against the configured limits.
		fn validate_request(
			metadata: &StreamMetadata<T::MaxDataTypeLen>,
			policy: &StreamPolicy,
		) -> DispatchResult {
			ensure!(!metadata.data_type.is_empty(), Error::<T>::EmptyDataType);
			ensure!(metadata.permissions.is_valid(), Error::<T>::InvalidPermissions);
			ensure!(
				metadata.duration >= 1 && metadata.duration <= T::MaxStreamDuration::get(),
				Error::<T>::InvalidDuration
			);
			ensure!(
				policy.witness_count >= 1
					&& policy.witness_count <= T::MaxWitnessesPerStream::get(),
				Error::<T>::InvalidWitnessCount
			);
			ensure!(
				policy.threshold >= 2 && policy.threshold <= policy.holders(),
				Error::<T>::InvalidThreshold
			);
			if let Some(every) = policy.rotation.every_blocks {
				ensure!(
					every >= T::MinRotationInterval::get().max(1),
					Error::<T>::RotationIntervalTooShort
				);
			}
			ensure!(policy.rotation.every_bytes != Some(0), Error::<T>::InvalidRotationPolicy);
			Ok(())
		}

		/// The id of the stream `initiator` requests with pallet nonce `nonce`:
		/// `blake2_256(SCALE((initiator, nonce)))`.
		pub fn stream_id(initiator: &T::AccountId, nonce: u64) -> StreamId {
			H256(blake2_256(&(initiator, nonce).encode()))
		}

		/// The witness candidates of a request: the witness set in registration order, without
		/// the initiator and the provider.
		pub fn witness_candidates(
			initiator: &T::AccountId,
			provider: &T::AccountId,
		) -> Vec<T::AccountId> {
			WitnessSet::<T>::get().into_iter().filter(|w| w != initiator && w != provider).collect()
		}

		/// The stream if it is open and live at `now`, otherwise the typed error saying why
		/// not.
		pub(crate) fn open_stream(
			stream: &StreamId,
			now: BlockNumberFor<T>,
		) -> Result<StreamInfo<T>, Error<T>> {
			match Streams::<T>::get(stream) {
				Some(info) if now >= info.expires_at => Err(Error::<T>::StreamExpired),
				Some(info) => Ok(info),
				None => Err(match Tombstones::<T>::get(stream).map(|t| t.status) {
					Some(StreamStatus::Revoked) => Error::<T>::StreamRevoked,
					Some(StreamStatus::Closed) => Error::<T>::StreamClosed,
					Some(_) => Error::<T>::StreamExpired,
					None => Error::<T>::UnknownStream,
				}),
			}
		}

		/// Queue the next epoch of `info` (the caller writes `info` back).
		fn request_epoch(
			stream: StreamId,
			info: &mut StreamInfo<T>,
			reason: RotationReason,
			now: BlockNumberFor<T>,
		) -> Result<EpochIndex, Error<T>> {
			let epoch = match info.current_epoch {
				Some(current) => current.checked_add(1).ok_or(Error::<T>::EpochOverflow)?,
				None => 0,
			};
			info.pending_epoch = Some(epoch);
			let position = DealingQueueBounds::<T>::mutate(|bounds| {
				let position = bounds.tail;
				bounds.tail = bounds.tail.saturating_add(1);
				position
			});
			DealingQueue::<T>::insert(position, QueuedEpoch { stream, epoch });
			PendingEpochs::<T>::insert(
				stream,
				PendingEpoch { epoch, requested_at: now, reason, position },
			);
			Self::deposit_event(Event::EpochRequested {
				stream,
				epoch,
				reason,
				designated: Self::primary_orchestrator(&stream, epoch),
			});
			Ok(epoch)
		}

		/// Take the stream's pending epoch off [`PendingEpochs`] and the [`DealingQueue`].
		fn remove_pending(stream: StreamId) {
			if let Some(pending) = PendingEpochs::<T>::take(stream) {
				DealingQueue::<T>::remove(pending.position);
			}
		}

		/// How many epochs a request prepays: epoch 0, one per interval rotation before expiry
		/// (rotations fall at `every`, `2 * every`, … blocks after the request, while before
		/// `duration`), and `RotationAllowance` usage or explicit rotations.
		pub fn prepaid_epochs(
			metadata: &StreamMetadata<T::MaxDataTypeLen>,
			policy: &StreamPolicy,
		) -> u32 {
			let interval = match policy.rotation.every_blocks {
				Some(every) if every > 0 => metadata.duration.saturating_sub(1) / every,
				_ => 0,
			};
			1u32.saturating_add(interval).saturating_add(T::RotationAllowance::get())
		}

		/// Spend one of the stream's prepaid usage or explicit rotations.
		fn use_rotation(info: &mut StreamInfo<T>) -> Result<(), Error<T>> {
			info.rotations_left =
				info.rotations_left.checked_sub(1).ok_or(Error::<T>::RotationAllowanceExhausted)?;
			Ok(())
		}

		/// Check one dealing of a batch and, if it holds, record the epoch. `index` is the
		/// submitting orchestrator's place in a set of `len`.
		fn accept_dealing(
			dealing: DealingOf<T>,
			index: usize,
			len: usize,
			orchestrator: &OrchestratorId,
			now: BlockNumberFor<T>,
		) -> Result<(), Error<T>> {
			let Dealing { stream, epoch, commitments, record_hashes } = dealing;
			let mut info = Self::open_stream(&stream, now)?;
			let pending = match PendingEpochs::<T>::get(stream) {
				Some(p) if p.epoch == epoch => p,
				_ => {
					let dealt = info.current_epoch.is_some_and(|current| epoch <= current);
					return Err(if dealt {
						Error::<T>::EpochAlreadyDealt
					} else {
						Error::<T>::EpochNotPending
					});
				},
			};
			ensure!(
				Self::takeover_rank(&stream, epoch, pending.requested_at, index, len, now)
					.is_some(),
				Error::<T>::NotDesignatedOrchestrator
			);
			ensure!(
				commitments.len() as u32 == info.policy.threshold,
				Error::<T>::WrongCommitmentCount
			);
			ensure!(
				record_hashes.len() as u32 == info.policy.holders(),
				Error::<T>::WrongRecordHashCount
			);
			ensure!(
				T::CommitmentVerifier::well_formed(&commitments),
				Error::<T>::MalformedCommitments
			);

			Epochs::<T>::insert(
				stream,
				epoch,
				EpochInfo::<T> {
					commitments: commitments.clone(),
					record_hashes: record_hashes.clone(),
					dealt_at: now,
					dealt_by: orchestrator.clone(),
				},
			);
			if let Some(old) = epoch.checked_sub(2) {
				Epochs::<T>::remove(stream, old);
			}
			Self::remove_pending(stream);
			info.current_epoch = Some(epoch);
			info.pending_epoch = None;
			info.status = StreamStatus::Live;
			let holders = info.holders();
			Streams::<T>::insert(stream, info);
			Self::deposit_event(Event::KeyEpochDealt {
				stream,
				epoch,
				orchestrator: orchestrator.clone(),
				holders,
				commitments: commitments.into_inner(),
				record_hashes: record_hashes.into_inner(),
			});
			Ok(())
		}

		/// Put a task into the first slot from `at` on with room, at most
		/// `MaxScheduleLookahead` blocks later. Returns the slot.
		fn schedule(
			at: BlockNumberFor<T>,
			stream: StreamId,
			kind: TaskKind,
		) -> Result<BlockNumberFor<T>, Error<T>> {
			let task = ScheduledTask { stream, kind };
			let mut slot = at;
			for _ in 0..=T::MaxScheduleLookahead::get() {
				if Schedule::<T>::try_mutate(slot, |tasks| tasks.try_push(task)).is_ok() {
					return Ok(slot);
				}
				slot = slot.saturating_add(One::one());
			}
			Err(Error::<T>::ScheduleFull)
		}

		/// Remove a task from its slot.
		fn unschedule(slot: BlockNumberFor<T>, stream: StreamId, kind: TaskKind) {
			Schedule::<T>::mutate_exists(slot, |tasks| {
				if let Some(list) = tasks {
					list.retain(|t| !(t.stream == stream && t.kind == kind));
					if list.is_empty() {
						*tasks = None;
					}
				}
			});
		}

		/// End a stream: release counters and the deposit, remove all its storage but a
		/// tombstone. `servicing` is the slot being serviced, whose tasks the caller drops.
		pub(crate) fn end_stream(
			stream: StreamId,
			info: StreamInfo<T>,
			status: StreamStatus,
			ended_by: EndedBy,
			now: BlockNumberFor<T>,
			servicing: Option<BlockNumberFor<T>>,
		) {
			for party in [&info.initiator, &info.provider] {
				Participants::<T>::mutate(party, |p| {
					if let Some(p) = p {
						p.live_streams = p.live_streams.saturating_sub(1);
					}
				});
			}
			for witness in info.witnesses.iter() {
				Witnesses::<T>::mutate(witness, |w| {
					if let Some(w) = w {
						w.live_streams = w.live_streams.saturating_sub(1);
					}
				});
			}
			if let Err(e) = T::Currency::release(
				&HoldReason::StreamDeposit.into(),
				&info.initiator,
				info.deposit,
				Precision::BestEffort,
			) {
				log::warn!(target: "runtime::keyorch", "stream deposit not released: {e:?}");
			}
			if let Some(current) = info.current_epoch {
				Epochs::<T>::remove(stream, current);
				if let Some(previous) = current.checked_sub(1) {
					Epochs::<T>::remove(stream, previous);
				}
			}
			Self::remove_pending(stream);
			if servicing != Some(info.expiry_slot) {
				Self::unschedule(info.expiry_slot, stream, TaskKind::Expire);
			}
			if let Some(slot) = info.rotation_slot {
				if servicing != Some(slot) {
					Self::unschedule(slot, stream, TaskKind::Rotate);
				}
			}
			Streams::<T>::remove(stream);
			Tombstones::<T>::insert(
				stream,
				Tombstone {
					initiator: info.initiator,
					provider: info.provider,
					status,
					final_epoch: info.current_epoch,
					ended_by,
					ended_at: now,
				},
			);
		}

		/// The most a single scheduled task may cost.
		fn worst_task_weight() -> Weight {
			T::WeightInfo::expire_stream(T::MaxWitnessesPerStream::get())
				.max(T::WeightInfo::rotate_scheduled())
		}

		/// The most a task of `kind` may cost.
		fn task_weight(kind: TaskKind) -> Weight {
			match kind {
				TaskKind::Expire => T::WeightInfo::expire_stream(T::MaxWitnessesPerStream::get()),
				TaskKind::Rotate => T::WeightInfo::rotate_scheduled(),
			}
		}

		/// The per-block service within `limit`: due scheduled tasks first, then the dealing
		/// queue's head. Returns the weight used.
		pub(crate) fn service(now: BlockNumberFor<T>, limit: Weight) -> Weight {
			let used = Self::service_schedule(now, limit);
			used.saturating_add(Self::service_queue(now, limit.saturating_sub(used)))
		}

		/// Move the [`DealingQueue`]'s head past holes (epochs dealt or ended) and past entries
		/// that waited `TakeoverDelay` blocks or more, which go to the tail, so that an epoch
		/// nobody manages to deal never holds the head and the off-chain workers' reads from the
		/// head stay short. Visits each position at most once per call, within `limit`.
		/// Returns the weight used.
		pub(crate) fn service_queue(now: BlockNumberFor<T>, limit: Weight) -> Weight {
			let mut meter = WeightMeter::with_limit(limit);
			if meter.try_consume(T::WeightInfo::service_queue_base()).is_err() {
				return Weight::zero();
			}
			let mut bounds = DealingQueueBounds::<T>::get();
			let end = bounds.tail;
			while bounds.head < end
				&& meter.try_consume(T::WeightInfo::service_queue_step()).is_ok()
			{
				if let Some(entry) = DealingQueue::<T>::get(bounds.head) {
					let Some(mut pending) = PendingEpochs::<T>::get(entry.stream) else {
						// Cannot happen (entries leave with their pending epoch); drop it.
						DealingQueue::<T>::remove(bounds.head);
						bounds.head = bounds.head.saturating_add(1);
						continue;
					};
					if now.saturating_sub(pending.requested_at) < T::TakeoverDelay::get() {
						break;
					}
					DealingQueue::<T>::remove(bounds.head);
					DealingQueue::<T>::insert(bounds.tail, entry);
					pending.position = bounds.tail;
					PendingEpochs::<T>::insert(entry.stream, pending);
					bounds.tail = bounds.tail.saturating_add(1);
				}
				bounds.head = bounds.head.saturating_add(1);
			}
			DealingQueueBounds::<T>::put(bounds);
			meter.consumed()
		}

		/// Run due scheduled tasks, oldest slot first, within `limit`. Returns the weight used.
		///
		/// Each visited slot costs `service_slot`, each task at most its worst case. Tasks that
		/// do not fit stay in their slot and the cursor stays there: they run first in the next
		/// block.
		pub(crate) fn service_schedule(now: BlockNumberFor<T>, limit: Weight) -> Weight {
			let mut meter = WeightMeter::with_limit(limit);
			if meter.try_consume(T::WeightInfo::service_base()).is_err() {
				return Weight::zero();
			}
			let start = ScheduleCursor::<T>::get().unwrap_or(now);
			let mut cursor = start;
			while cursor <= now {
				if meter.try_consume(T::WeightInfo::service_slot()).is_err() {
					break;
				}
				let tasks = Schedule::<T>::get(cursor);
				let mut done = 0usize;
				for task in tasks.iter() {
					let worst = Self::task_weight(task.kind);
					if !meter.can_consume(worst) {
						break;
					}
					let used = Self::service_task(*task, cursor, now);
					meter.consume(used.min(worst));
					done = done.saturating_add(1);
				}
				if done >= tasks.len() {
					Schedule::<T>::remove(cursor);
					cursor = cursor.saturating_add(One::one());
				} else {
					if done > 0 {
						let rest: Vec<ScheduledTask> = tasks.into_iter().skip(done).collect();
						// `rest` is shorter than a bounded vector, so this cannot fail.
						let rest = BoundedVec::truncate_from(rest);
						Schedule::<T>::insert(cursor, rest);
					}
					break;
				}
			}
			if cursor != start || ScheduleCursor::<T>::get().is_none() {
				ScheduleCursor::<T>::put(cursor);
			}
			meter.consumed()
		}

		/// Run one scheduled task from slot `slot` at block `now`. Returns its weight.
		pub(crate) fn service_task(
			task: ScheduledTask,
			slot: BlockNumberFor<T>,
			now: BlockNumberFor<T>,
		) -> Weight {
			let Some(mut info) = Streams::<T>::get(task.stream) else {
				// Ended early; its tasks were unscheduled or are stale copies.
				return T::DbWeight::get().reads(1);
			};
			match task.kind {
				TaskKind::Expire => {
					let witnesses = info.witnesses.len() as u32;
					let final_epoch = info.current_epoch;
					Self::end_stream(
						task.stream,
						info,
						StreamStatus::Expired,
						EndedBy::Expiry,
						now,
						Some(slot),
					);
					Self::deposit_event(Event::StreamExpired { stream: task.stream, final_epoch });
					T::WeightInfo::expire_stream(witnesses)
				},
				TaskKind::Rotate => {
					if info.rotation_slot != Some(slot) {
						// A stale copy: the stream's rotation lives in another slot.
						return T::DbWeight::get().reads(1);
					}
					info.rotation_slot = None;
					if now >= info.expires_at {
						// The expiry task ends it.
						info.next_rotation_at = None;
						Streams::<T>::insert(task.stream, info);
						return T::WeightInfo::rotate_scheduled();
					}
					match info.pending_epoch {
						Some(pending_epoch) => Self::deposit_event(Event::RotationSkipped {
							stream: task.stream,
							pending_epoch,
						}),
						None => {
							info.bytes_since_rotation = 0;
							let _ = Self::request_epoch(
								task.stream,
								&mut info,
								RotationReason::Interval,
								now,
							);
						},
					}
					let every: BlockNumberFor<T> =
						info.policy.rotation.every_blocks.unwrap_or(0).into();
					let nominal = info.next_rotation_at.unwrap_or(now).saturating_add(every);
					let next = nominal.max(now.saturating_add(One::one()));
					info.next_rotation_at = None;
					if !every.is_zero() && next < info.expires_at {
						match Self::schedule(next, task.stream, TaskKind::Rotate) {
							Ok(slot) => {
								info.next_rotation_at = Some(next);
								info.rotation_slot = Some(slot);
							},
							Err(_) => Self::deposit_event(Event::RotationNotScheduled {
								stream: task.stream,
							}),
						}
					}
					Streams::<T>::insert(task.stream, info);
					T::WeightInfo::rotate_scheduled()
				},
			}
		}

		/// The deterministic primary index of `(stream, epoch)` in a set of `len` orchestrators:
		/// the first 8 bytes (LE) of `blake2_256(SCALE(("keyorch/designate", stream, epoch)))`
		/// modulo `len`.
		pub fn primary_index(stream: &StreamId, epoch: EpochIndex, len: usize) -> Option<usize> {
			if len == 0 {
				return None;
			}
			let hash = blake2_256(&(b"keyorch/designate", stream, epoch).encode());
			let mut word = [0u8; 8];
			word.copy_from_slice(&hash[..8]);
			Some((u64::from_le_bytes(word) % len as u64) as usize)
		}

		/// How many orchestrators past the primary are accepted at `now` for an epoch requested
		/// at `requested_at`: one more per elapsed `TakeoverDelay`, all of them eventually.
		fn takeover_depth(
			requested_at: BlockNumberFor<T>,
			now: BlockNumberFor<T>,
			len: usize,
		) -> usize {
			let delay = T::TakeoverDelay::get().max(One::one());
			let elapsed = now.saturating_sub(requested_at);
			let steps: u64 = (elapsed / delay).try_into().unwrap_or(u64::MAX);
			let max = len.saturating_sub(1) as u64;
			steps.min(max) as usize
		}

		/// The take-over rank of orchestrator `index` for the epoch at `now` (`0` = designated),
		/// or `None` if it is not accepted (yet).
		fn takeover_rank(
			stream: &StreamId,
			epoch: EpochIndex,
			requested_at: BlockNumberFor<T>,
			index: usize,
			len: usize,
			now: BlockNumberFor<T>,
		) -> Option<usize> {
			let primary = Self::primary_index(stream, epoch, len)?;
			if index >= len {
				return None;
			}
			let rank = (index.saturating_add(len).saturating_sub(primary)) % len;
			(rank <= Self::takeover_depth(requested_at, now, len)).then_some(rank)
		}

		/// The orchestrator designated first for `(stream, epoch)` in the current set.
		pub fn primary_orchestrator(
			stream: &StreamId,
			epoch: EpochIndex,
		) -> Option<OrchestratorId> {
			let set = Orchestrators::<T>::get();
			let index = Self::primary_index(stream, epoch, set.len())?;
			set.get(index).cloned()
		}

		/// The orchestrator whose turn it is at `now` to deal the pending `epoch` of `stream`:
		/// the primary until `TakeoverDelay` blocks after the request, then the next one in set
		/// order, and so on (earlier ones stay accepted, see
		/// [`Self::authorized_orchestrators`]). `None` if the stream is not waiting for `epoch`
		/// or there is no orchestrator.
		pub fn designated_orchestrator(
			stream: StreamId,
			epoch: EpochIndex,
			now: BlockNumberFor<T>,
		) -> Option<OrchestratorId> {
			Self::authorized_orchestrators(stream, epoch, now).pop()
		}

		/// Every orchestrator whose submission of the pending `epoch` of `stream` is accepted at
		/// `now`, the primary first. Empty if the stream is not waiting for `epoch`.
		pub fn authorized_orchestrators(
			stream: StreamId,
			epoch: EpochIndex,
			now: BlockNumberFor<T>,
		) -> Vec<OrchestratorId> {
			let Some(pending) = PendingEpochs::<T>::get(stream).filter(|p| p.epoch == epoch) else {
				return Vec::new();
			};
			let set = Orchestrators::<T>::get();
			let Some(primary) = Self::primary_index(&stream, epoch, set.len()) else {
				return Vec::new();
			};
			let depth = Self::takeover_depth(pending.requested_at, now, set.len());
			(0..=depth)
				.filter_map(|rank| set.get(primary.saturating_add(rank) % set.len()).cloned())
				.collect()
		}

		/// Whether `orchestrator` may submit the pending `epoch` of `stream` at `now`.
		pub fn is_authorized_orchestrator(
			stream: StreamId,
			epoch: EpochIndex,
			orchestrator: &OrchestratorId,
			now: BlockNumberFor<T>,
		) -> bool {
			Self::authorized_orchestrators(stream, epoch, now).contains(orchestrator)
		}

		/// The status of a stream, open or ended. An open stream past its duration reads as
		/// `Expired` even before its clean-up has run.
		pub fn stream_status(stream: StreamId) -> Option<StreamStatus> {
			let now = frame_system::Pallet::<T>::block_number();
			match Streams::<T>::get(stream) {
				Some(info) if now >= info.expires_at => Some(StreamStatus::Expired),
				Some(info) => Some(info.status),
				None => Tombstones::<T>::get(stream).map(|t| t.status),
			}
		}

		/// Whether `witness` may hand its share of `stream` to `requester`: the stream is live
		/// (an epoch is dealt, not ended, not past its duration), `requester` is its initiator
		/// or provider and `witness` is one of its witnesses.
		pub fn may_request_share(
			stream: StreamId,
			requester: &T::AccountId,
			witness: &T::AccountId,
		) -> bool {
			let now = frame_system::Pallet::<T>::block_number();
			match Streams::<T>::get(stream) {
				Some(info) => {
					info.status == StreamStatus::Live
						&& now < info.expires_at
						&& info.party_role(requester).is_some()
						&& info.witnesses.contains(witness)
				},
				None => false,
			}
		}

		/// An open stream with its holders and their X25519 keys.
		pub fn stream_view(
			stream: StreamId,
		) -> Option<StreamView<T::AccountId, BlockNumberFor<T>>> {
			let info = Streams::<T>::get(stream)?;
			let status = Self::stream_status(stream).unwrap_or(info.status);
			let holder = |account: &T::AccountId, role| HolderView {
				account: account.clone(),
				role,
				x25519_public_key: Participants::<T>::get(account).map(|p| p.x25519_public_key),
			};
			let mut holders = Vec::with_capacity(info.witnesses.len().saturating_add(2));
			holders.push(holder(&info.initiator, HolderRole::Initiator));
			holders.push(holder(&info.provider, HolderRole::Provider));
			holders.extend(info.witnesses.iter().map(|w| holder(w, HolderRole::Witness)));
			Some(StreamView {
				id: stream,
				status,
				holders,
				data_type: info.metadata.data_type.to_vec(),
				permissions: info.metadata.permissions,
				policy: info.policy,
				requested_at: info.requested_at,
				expires_at: info.expires_at,
				selection_seed: info.selection_seed.as_ref().to_vec(),
				current_epoch: info.current_epoch,
				pending_epoch: info.pending_epoch,
				total_bytes: info.total_bytes,
				bytes_since_rotation: info.bytes_since_rotation,
			})
		}

		/// A dealt epoch still in storage (the current or previous one of an open stream).
		pub fn epoch_view(
			stream: StreamId,
			epoch: EpochIndex,
		) -> Option<EpochView<BlockNumberFor<T>>> {
			Epochs::<T>::get(stream, epoch).map(|e| EpochView {
				epoch,
				commitments: e.commitments.into_inner(),
				record_hashes: e.record_hashes.into_inner(),
				dealt_at: e.dealt_at,
				dealt_by: e.dealt_by,
			})
		}

		/// The current epoch of an open stream, with commitments and record hashes.
		pub fn current_epoch_view(stream: StreamId) -> Option<EpochView<BlockNumberFor<T>>> {
			let epoch = Streams::<T>::get(stream)?.current_epoch?;
			Self::epoch_view(stream, epoch)
		}

		/// The tombstone of an ended stream.
		pub fn tombstone(stream: StreamId) -> Option<Tombstone<T::AccountId, BlockNumberFor<T>>> {
			Tombstones::<T>::get(stream)
		}

		/// The pending epochs in the dealing queue from position `from` on (the queue's head if
		/// earlier), oldest first, with the orchestrators accepted now: at most `max` of them
		/// (and at most `MaxDealingsPerBatch`), read from at most [`PENDING_PAGE_PROBES`] times
		/// as many positions, so that a call's work is bounded however long the queue is.
		/// `next` continues the walk.
		pub fn pending_epochs(
			from: QueuePosition,
			max: u32,
		) -> PendingEpochsPage<BlockNumberFor<T>> {
			let now = frame_system::Pallet::<T>::block_number();
			let max = max.min(T::MaxDealingsPerBatch::get()) as usize;
			let bounds = DealingQueueBounds::<T>::get();
			let start = from.max(bounds.head);
			let end = bounds
				.tail
				.min(start.saturating_add((max as u64).saturating_mul(PENDING_PAGE_PROBES)));
			let mut epochs = Vec::new();
			let mut position = start;
			while position < end && epochs.len() < max {
				let pending = DealingQueue::<T>::get(position)
					.and_then(|entry| Some((entry.stream, PendingEpochs::<T>::get(entry.stream)?)))
					.filter(|(_, pending)| pending.position == position);
				if let Some((stream, p)) = pending {
					epochs.push(PendingEpochView {
						stream,
						epoch: p.epoch,
						requested_at: p.requested_at,
						reason: p.reason,
						authorized: Self::authorized_orchestrators(stream, p.epoch, now),
						position,
					});
				}
				position = position.saturating_add(1);
			}
			PendingEpochsPage { epochs, next: (position < bounds.tail).then_some(position) }
		}

		/// A participant's X25519 public key.
		pub fn participant_key(who: &T::AccountId) -> Option<X25519PublicKey> {
			Participants::<T>::get(who).map(|p| p.x25519_public_key)
		}
	}
}
