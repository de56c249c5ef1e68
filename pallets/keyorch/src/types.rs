//! The on-chain types of `pallet-keyorch`.
//!
//! Everything here is a public fact: account ids, X25519 *public* keys, metadata, commitments
//! and hashes of sealed records. No type in this module can hold key material.

use crate::{BalanceOf, Config, OrchestratorId};
use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use core::marker::PhantomData;
use frame_support::{
	traits::Get, BoundedVec, CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound,
};
use frame_system::pallet_prelude::BlockNumberFor;
use scale_info::TypeInfo;
use sp_core::H256;

/// A stream id: `blake2_256(SCALE((initiator, nonce)))`, where `nonce` is the pallet-wide
/// [`StreamNonce`](crate::StreamNonce) counter at request time.
///
/// A 32-byte id (rather than a `u64` counter) is what the crypto layer binds into the associated
/// data of every sealed record and stream frame; it is unique because the nonce never repeats,
/// and it cannot be guessed before the request is in a block.
pub type StreamId = H256;

/// The index of a key epoch of a stream. The first epoch is `0`; each rotation adds one.
pub type EpochIndex = u32;

/// An X25519 public encryption key (Montgomery u-coordinate, little endian).
pub type X25519PublicKey = [u8; 32];

/// A Feldman commitment: a compressed group element (Ristretto255 in the runtime).
pub type Commitment = [u8; 32];

/// The hash of one sealed share record as stored in the DHT.
pub type RecordHash = [u8; 32];

/// The number of holders a stream can have at most: initiator, provider and
/// `MaxWitnessesPerStream` witnesses. Also the largest threshold, hence the bound of the
/// commitment list.
pub struct MaxHoldersOf<T>(PhantomData<T>);

impl<T: Config> Get<u32> for MaxHoldersOf<T> {
	fn get() -> u32 {
		T::MaxWitnessesPerStream::get().saturating_add(2)
	}
}

/// The Feldman commitments of one epoch, one per coefficient (`threshold` of them).
pub type CommitmentsOf<T> = BoundedVec<Commitment, MaxHoldersOf<T>>;

/// The hashes of the sealed records of one epoch, one per holder in holder order.
pub type RecordHashesOf<T> = BoundedVec<RecordHash, MaxHoldersOf<T>>;

/// What the stream's parties may do with the data (bit flags).
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
	Default,
)]
pub struct Permissions(pub u8);

impl Permissions {
	/// The initiator may read the provider's data.
	pub const READ: u8 = 0b0000_0001;
	/// The initiator may write to the provider.
	pub const WRITE: u8 = 0b0000_0010;
	/// Every flag defined so far.
	pub const ALL: u8 = Self::READ | Self::WRITE;

	/// At least one permission is set and no undefined bit is.
	pub fn is_valid(&self) -> bool {
		self.0 != 0 && self.0 & !Self::ALL == 0
	}

	/// Whether `flag` is set.
	pub fn contains(&self, flag: u8) -> bool {
		self.0 & flag == flag
	}
}

/// The public description of a stream, as given in the request.
#[derive(
	CloneNoBound,
	PartialEqNoBound,
	EqNoBound,
	DebugNoBound,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
#[scale_info(skip_type_params(MaxDataTypeLen))]
#[codec(mel_bound())]
pub struct StreamMetadata<MaxDataTypeLen: Get<u32>> {
	/// The kind of data exchanged, e.g. `b"video/h264"`; opaque to the chain, never empty.
	pub data_type: BoundedVec<u8, MaxDataTypeLen>,
	/// What the initiator may do.
	pub permissions: Permissions,
	/// How many blocks the stream lives, counted from the request's block.
	pub duration: u32,
}

/// When a stream gets a new key epoch by itself. Both limits may be set; either triggers.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
	Default,
)]
pub struct RotationPolicy {
	/// Rotate every this many blocks (at least `MinRotationInterval`).
	pub every_blocks: Option<u32>,
	/// Rotate once this many bytes were reported with `report_usage` since the last rotation
	/// (at least 1).
	pub every_bytes: Option<u64>,
}

/// How a stream's key is shared and rotated.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct StreamPolicy {
	/// How many witnesses keep a share (at least 1, at most `MaxWitnessesPerStream`).
	pub witness_count: u32,
	/// How many shares rebuild the key: `2 <= threshold <= 2 + witness_count`.
	///
	/// `1` is refused: with threshold one every single share *is* the secret, so every
	/// witness would know the key.
	pub threshold: u32,
	/// When the key rotates by itself.
	pub rotation: RotationPolicy,
}

impl StreamPolicy {
	/// The number of share holders: initiator, provider and the witnesses.
	pub fn holders(&self) -> u32 {
		self.witness_count.saturating_add(2)
	}
}

/// Where a stream is in its life.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum StreamStatus {
	/// Requested; the first epoch is not dealt yet.
	Requested,
	/// At least one epoch is dealt; shares may be requested.
	Live,
	/// Closed by its initiator or provider.
	Closed,
	/// Revoked by its initiator, provider or governance.
	Revoked,
	/// Its duration passed.
	Expired,
}

impl StreamStatus {
	/// Whether the stream has ended (closed, revoked or expired).
	pub fn has_ended(&self) -> bool {
		matches!(self, Self::Closed | Self::Revoked | Self::Expired)
	}
}

/// Who ended a stream.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum EndedBy {
	/// Its initiator.
	Initiator,
	/// Its provider.
	Provider,
	/// The `ForceOrigin` (root or governance).
	Governance,
	/// Nobody: its duration passed.
	Expiry,
}

/// Why a new epoch was requested.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum RotationReason {
	/// The stream's first epoch, requested with the stream.
	Initial,
	/// The policy's block interval passed.
	Interval,
	/// The policy's byte budget was used up (see `report_usage`).
	Usage,
	/// The initiator or provider called `rotate`.
	Explicit,
}

/// The role of a share holder in a stream.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum HolderRole {
	/// The party that requested the stream.
	Initiator,
	/// The party that serves the data.
	Provider,
	/// A selected witness.
	Witness,
}

/// A registered participant.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct ParticipantInfo {
	/// The X25519 public key shares are sealed to.
	pub x25519_public_key: X25519PublicKey,
	/// In how many open streams the participant is initiator or provider.
	pub live_streams: u32,
}

/// A registered witness.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct WitnessInfo<Balance> {
	/// The deposit held while registered.
	pub deposit: Balance,
	/// For how many open streams the witness is selected.
	pub live_streams: u32,
}

/// An open (not yet ended) stream.
#[derive(
	CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, Encode, Decode, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound())]
pub struct StreamInfo<T: Config> {
	/// The account that requested the stream and holds its deposit.
	pub initiator: T::AccountId,
	/// The account serving the data.
	pub provider: T::AccountId,
	/// The selected witnesses, in selection order (holder indexes 2, 3, ...).
	pub witnesses: BoundedVec<T::AccountId, T::MaxWitnessesPerStream>,
	/// The request's metadata.
	pub metadata: StreamMetadata<T::MaxDataTypeLen>,
	/// The request's sharing and rotation policy.
	pub policy: StreamPolicy,
	/// `Requested` or `Live`; ended streams only exist as a [`Tombstone`].
	pub status: StreamStatus,
	/// The block of the request.
	pub requested_at: BlockNumberFor<T>,
	/// The first block at which the stream is no longer live.
	pub expires_at: BlockNumberFor<T>,
	/// The seed the witnesses were selected with (see [`crate::selection`]).
	pub selection_seed: T::Hash,
	/// The latest dealt epoch, if any.
	pub current_epoch: Option<EpochIndex>,
	/// The epoch waiting to be dealt, if any (mirrors [`crate::PendingEpochs`]).
	pub pending_epoch: Option<EpochIndex>,
	/// Bytes reported since the last rotation was requested.
	pub bytes_since_rotation: u64,
	/// Bytes reported over the stream's life.
	pub total_bytes: u64,
	/// The deposit held from the initiator.
	pub deposit: BalanceOf<T>,
	/// The schedule slot holding the stream's expiry task.
	pub expiry_slot: BlockNumberFor<T>,
	/// The nominal block of the next interval rotation, if one is scheduled.
	pub next_rotation_at: Option<BlockNumberFor<T>>,
	/// The schedule slot holding the stream's next rotation task, if any.
	pub rotation_slot: Option<BlockNumberFor<T>>,
	/// How many usage or explicit rotations the deposit still covers (interval rotations are
	/// covered in full at request time).
	pub rotations_left: u32,
}

impl<T: Config> StreamInfo<T> {
	/// The holders in share order: initiator, provider, then the witnesses.
	pub fn holders(&self) -> Vec<T::AccountId> {
		let mut holders = Vec::with_capacity(self.witnesses.len().saturating_add(2));
		holders.push(self.initiator.clone());
		holders.push(self.provider.clone());
		holders.extend(self.witnesses.iter().cloned());
		holders
	}

	/// `who`'s role as a party (initiator or provider), if any.
	pub fn party_role(&self, who: &T::AccountId) -> Option<EndedBy> {
		if *who == self.initiator {
			Some(EndedBy::Initiator)
		} else if *who == self.provider {
			Some(EndedBy::Provider)
		} else {
			None
		}
	}
}

/// The public part of one dealt key epoch.
#[derive(
	CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, Encode, Decode, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound())]
pub struct EpochInfo<T: Config> {
	/// Feldman commitments; the first commits to the secret.
	pub commitments: CommitmentsOf<T>,
	/// Hashes of the sealed records, in holder order.
	pub record_hashes: RecordHashesOf<T>,
	/// The block the epoch was dealt in.
	pub dealt_at: BlockNumberFor<T>,
	/// The orchestrator that dealt it.
	pub dealt_by: OrchestratorId,
}

/// An epoch waiting for its orchestrator.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct PendingEpoch<BlockNumber> {
	/// The epoch to deal.
	pub epoch: EpochIndex,
	/// When it was requested; take-over counts from here.
	pub requested_at: BlockNumber,
	/// Why it was requested.
	pub reason: RotationReason,
	/// Its place in the [`DealingQueue`](crate::DealingQueue).
	pub position: QueuePosition,
}

/// A place in the [`DealingQueue`](crate::DealingQueue); positions only grow.
pub type QueuePosition = u64;

/// One entry of the [`DealingQueue`](crate::DealingQueue): an epoch waiting to be dealt.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct QueuedEpoch {
	/// The stream.
	pub stream: StreamId,
	/// The epoch.
	pub epoch: EpochIndex,
}

/// The live part of the [`DealingQueue`](crate::DealingQueue): positions `head..tail`.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Default,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct QueueBounds {
	/// The oldest position that may still hold an entry.
	pub head: QueuePosition,
	/// The position the next entry gets.
	pub tail: QueuePosition,
}

/// The public part of one dealing, as an orchestrator submits it in a batch: the Feldman
/// commitments (`threshold` of them) and the sealed records' hashes (one per holder, in holder
/// order). `S` bounds both lists (the most holders a stream can have).
#[derive(
	CloneNoBound,
	PartialEqNoBound,
	EqNoBound,
	DebugNoBound,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
#[scale_info(skip_type_params(S))]
#[codec(mel_bound())]
pub struct Dealing<S: Get<u32>> {
	/// The stream.
	pub stream: StreamId,
	/// The epoch dealt.
	pub epoch: EpochIndex,
	/// The Feldman commitments; the first commits to the secret.
	pub commitments: BoundedVec<Commitment, S>,
	/// The sealed records' hashes, in holder order.
	pub record_hashes: BoundedVec<RecordHash, S>,
}

/// A [`Dealing`] bounded by the runtime's largest stream.
pub type DealingOf<T> = Dealing<MaxHoldersOf<T>>;

/// What survives of a stream once it has ended: enough for an audit, nothing more.
#[derive(
	Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
pub struct Tombstone<AccountId, BlockNumber> {
	/// The stream's initiator.
	pub initiator: AccountId,
	/// The stream's provider.
	pub provider: AccountId,
	/// `Closed`, `Revoked` or `Expired`.
	pub status: StreamStatus,
	/// The last epoch that was dealt, if any.
	pub final_epoch: Option<EpochIndex>,
	/// Who ended it.
	pub ended_by: EndedBy,
	/// The block it ended in.
	pub ended_at: BlockNumber,
}

/// What a schedule slot entry asks for.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum TaskKind {
	/// End the stream: its duration has passed.
	Expire,
	/// Request the policy's interval rotation.
	Rotate,
}

/// One entry of a schedule slot.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct ScheduledTask {
	/// The stream concerned.
	pub stream: StreamId,
	/// What to do.
	pub kind: TaskKind,
}

/// A share holder as the read API shows it.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub struct HolderView<AccountId> {
	/// The holder's account.
	pub account: AccountId,
	/// Its role in the stream.
	pub role: HolderRole,
	/// Its current X25519 public key (`None` if it has deregistered since).
	pub x25519_public_key: Option<X25519PublicKey>,
}

/// An open stream as the read API shows it.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub struct StreamView<AccountId, BlockNumber> {
	/// The stream id.
	pub id: StreamId,
	/// `Requested`, `Live`, or `Expired` if the duration passed and clean-up is pending.
	pub status: StreamStatus,
	/// Holders in share order: initiator, provider, witnesses.
	pub holders: Vec<HolderView<AccountId>>,
	/// The data type of the request.
	pub data_type: Vec<u8>,
	/// The permissions of the request.
	pub permissions: Permissions,
	/// The sharing and rotation policy.
	pub policy: StreamPolicy,
	/// The request's block.
	pub requested_at: BlockNumber,
	/// The first block at which the stream is no longer live.
	pub expires_at: BlockNumber,
	/// The witness selection seed (bytes of the runtime's hash type).
	pub selection_seed: Vec<u8>,
	/// The latest dealt epoch.
	pub current_epoch: Option<EpochIndex>,
	/// The epoch waiting to be dealt.
	pub pending_epoch: Option<EpochIndex>,
	/// Bytes reported over the stream's life.
	pub total_bytes: u64,
	/// Bytes reported since the last rotation was requested.
	pub bytes_since_rotation: u64,
}

/// A dealt epoch as the read API shows it.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub struct EpochView<BlockNumber> {
	/// The epoch index.
	pub epoch: EpochIndex,
	/// Feldman commitments; the first commits to the secret.
	pub commitments: Vec<Commitment>,
	/// Sealed record hashes in holder order.
	pub record_hashes: Vec<RecordHash>,
	/// The block it was dealt in.
	pub dealt_at: BlockNumber,
	/// The orchestrator that dealt it.
	pub dealt_by: OrchestratorId,
}

/// A pending epoch as the read API shows it, for off-chain workers and clients.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub struct PendingEpochView<BlockNumber> {
	/// The stream.
	pub stream: StreamId,
	/// The epoch to deal.
	pub epoch: EpochIndex,
	/// When it was requested.
	pub requested_at: BlockNumber,
	/// Why.
	pub reason: RotationReason,
	/// The orchestrators whose submission is accepted now, designated one first.
	pub authorized: Vec<OrchestratorId>,
	/// Its place in the dealing queue: the oldest requests have the lowest.
	pub position: QueuePosition,
}

/// One page of the dealing queue, oldest first, as the read API shows it.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub struct PendingEpochsPage<BlockNumber> {
	/// The pending epochs found on this page.
	pub epochs: Vec<PendingEpochView<BlockNumber>>,
	/// Where the next page starts, if the queue goes on.
	pub next: Option<QueuePosition>,
}
