//! # pallet-keyorch
//!
//! The on-chain ledger of keyorch. It records public facts only: which accounts may deal
//! stream keys (the orchestrator set), and — as the pallet grows — participants' public
//! encryption keys, stream requests (metadata), witness selection, key epochs, rotations
//! and revocations. Key material never touches the chain.
//!
//! ## Orchestrators
//!
//! An orchestrator is a node whose off-chain worker deals stream keys and submits the public
//! part (commitments and record hashes) in a transaction signed with its orchestrator key, of
//! key type [`KEY_TYPE`] in the node's keystore. The set is configured in genesis and changed
//! by root with [`Pallet::set_orchestrators`].

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

use sp_core::crypto::KeyTypeId;

/// Key type of the orchestrator key the off-chain worker signs with (`kord`).
pub const KEY_TYPE: KeyTypeId = KeyTypeId(*b"kord");

/// The orchestrator key: an sr25519 application key of type [`KEY_TYPE`].
pub mod crypto {
	use super::KEY_TYPE;
	use sp_application_crypto::{app_crypto, sr25519};
	app_crypto!(sr25519, KEY_TYPE);
}

/// The public orchestrator key as stored on chain.
pub type OrchestratorId = crypto::Public;

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use alloc::vec::Vec;
	use frame_support::pallet_prelude::*;
	use frame_system::pallet_prelude::*;

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config<RuntimeEvent: From<Event<Self>>> {
		/// The most orchestrators the set may hold.
		#[pallet::constant]
		type MaxOrchestrators: Get<u32>;
	}

	/// The authorized orchestrator keys, in the order that designates who deals an epoch.
	#[pallet::storage]
	pub type Orchestrators<T: Config> =
		StorageValue<_, BoundedVec<OrchestratorId, T::MaxOrchestrators>, ValueQuery>;

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
	}

	#[pallet::error]
	pub enum Error<T> {
		/// More orchestrators than `MaxOrchestrators`.
		TooManyOrchestrators,
		/// The same orchestrator key appears twice.
		DuplicateOrchestrator,
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Replace the orchestrator set. Root only.
		///
		/// The order matters: it decides which orchestrator is designated to deal an epoch
		/// and who takes over when it does not.
		#[pallet::call_index(0)]
		#[pallet::weight(T::DbWeight::get().writes(1).saturating_add(Weight::from_parts(
			10_000_000,
			0
		)))]
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
	}

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
	}
}
