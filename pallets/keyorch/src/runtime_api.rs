//! The runtime API of `pallet-keyorch`: what nodes, off-chain workers, witnesses and clients
//! read from the ledger.
//!
//! The runtime implements it by forwarding to the `Pallet::<Runtime>::…` functions named on
//! each method:
//!
//! ```ignore
//! impl pallet_keyorch::runtime_api::KeyorchApi<Block, AccountId, BlockNumber> for Runtime {
//!     fn stream(stream: StreamId) -> Option<StreamView<AccountId, BlockNumber>> {
//!         Keyorch::stream_view(stream)
//!     }
//!     // …
//! }
//! ```

use crate::types::{
	EpochIndex, EpochView, PendingEpochsPage, QueuePosition, StreamId, StreamStatus, StreamView,
	Tombstone, X25519PublicKey,
};
use crate::OrchestratorId;
use codec::Codec;

sp_api::decl_runtime_apis! {
	/// Read access to keyorch's ledger.
	pub trait KeyorchApi<AccountId, BlockNumber>
	where
		AccountId: Codec,
		BlockNumber: Codec,
	{
		/// An open stream with its holders (initiator, provider, witnesses) and their X25519
		/// keys, its policy and epochs. `Pallet::stream_view`.
		fn stream(stream: StreamId) -> Option<StreamView<AccountId, BlockNumber>>;

		/// The status of an open or ended stream. `Pallet::stream_status`.
		fn stream_status(stream: StreamId) -> Option<StreamStatus>;

		/// The tombstone of an ended stream. `Pallet::tombstone`.
		fn tombstone(stream: StreamId) -> Option<Tombstone<AccountId, BlockNumber>>;

		/// The current epoch's commitments and record hashes. `Pallet::current_epoch_view`.
		fn current_epoch(stream: StreamId) -> Option<EpochView<BlockNumber>>;

		/// A stored epoch (the current or the previous one). `Pallet::epoch_view`.
		fn epoch(stream: StreamId, epoch: EpochIndex) -> Option<EpochView<BlockNumber>>;

		/// Whether `witness` may release its share of `stream` to `requester`.
		/// `Pallet::may_request_share`.
		fn may_request_share(stream: StreamId, requester: AccountId, witness: AccountId) -> bool;

		/// A page of the dealing queue from position `from` on, oldest first, with the
		/// orchestrators accepted now: at most `max` epochs. `Pallet::pending_epochs`.
		fn pending_epochs(from: QueuePosition, max: u32) -> PendingEpochsPage<BlockNumber>;

		/// The orchestrator whose turn it is now to deal the pending `epoch`.
		/// `Pallet::designated_orchestrator` at the current block.
		fn designated_orchestrator(stream: StreamId, epoch: EpochIndex) -> Option<OrchestratorId>;

		/// A participant's X25519 public key. `Pallet::participant_key`.
		fn participant_key(who: AccountId) -> Option<X25519PublicKey>;
	}
}
