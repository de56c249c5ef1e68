//! Weights for `pallet_keyorch`.
//!
//! HAND-ESTIMATED, NOT MEASURED. The node's `benchmark pallet` command does not exist yet, so
//! every number below is a conservative estimate (execution time rounded up generously, storage
//! reads and writes counted from the code, proof sizes from the `MaxEncodedLen` of the items
//! touched at their configured maxima). The file keeps the layout the benchmark CLI generates so
//! that a later step can overwrite it with measured numbers:
//!
//! ```text
//! keyorch-node benchmark pallet --runtime <keyorch_runtime.wasm> --pallet pallet_keyorch \
//!     --extrinsic '*' --steps 50 --repeat 20 --output pallets/keyorch/src/weights.rs \
//!     --template <frame-weight-template.hbs>
//! ```
//!
//! Components: `o` is the number of orchestrators, `w` the number of witnesses of the stream.
//! `submit_key_epoch` assumes a commitment check of up to 60 µs per holder (Ristretto point
//! decompression in wasm, rounded up).

#![cfg_attr(rustfmt, rustfmt_skip)]
#![allow(unused_parens)]
#![allow(unused_imports)]
#![allow(missing_docs)]
#![allow(dead_code)]

use frame_support::{traits::Get, weights::{Weight, constants::RocksDbWeight}};
use core::marker::PhantomData;

/// Weight functions needed for `pallet_keyorch`.
pub trait WeightInfo {
	fn set_orchestrators(o: u32, ) -> Weight;
	fn register_participant() -> Weight;
	fn update_participant_key() -> Weight;
	fn deregister_participant() -> Weight;
	fn register_witness() -> Weight;
	fn unregister_witness() -> Weight;
	fn request_stream(w: u32, ) -> Weight;
	fn submit_key_epoch(w: u32, ) -> Weight;
	fn report_usage() -> Weight;
	fn rotate() -> Weight;
	fn revoke(w: u32, ) -> Weight;
	fn close(w: u32, ) -> Weight;
	fn service_base() -> Weight;
	fn service_slot() -> Weight;
	fn expire_stream(w: u32, ) -> Weight;
	fn rotate_scheduled() -> Weight;
}

/// Weights for `pallet_keyorch` using the Substrate node and recommended hardware.
/// HAND-ESTIMATED (see the module documentation).
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
	/// Storage: `Keyorch::Orchestrators` (r:0 w:1)
	/// The range of component `o` is `[0, MaxOrchestrators]`.
	fn set_orchestrators(o: u32, ) -> Weight {
		// Proof Size summary in bytes:
		//  Estimated: `1500`
		Weight::from_parts(12_000_000, 1500)
			// Standard Error: estimated
			.saturating_add(Weight::from_parts(150_000, 0).saturating_mul(o.into()))
			.saturating_add(T::DbWeight::get().writes(1_u64))
	}
	/// Storage: `Keyorch::Participants` (r:1 w:1)
	fn register_participant() -> Weight {
		// Proof Size summary in bytes:
		//  Estimated: `3600`
		Weight::from_parts(22_000_000, 3600)
			.saturating_add(T::DbWeight::get().reads(1_u64))
			.saturating_add(T::DbWeight::get().writes(1_u64))
	}
	/// Storage: `Keyorch::Participants` (r:1 w:1)
	fn update_participant_key() -> Weight {
		// Proof Size summary in bytes:
		//  Estimated: `3600`
		Weight::from_parts(22_000_000, 3600)
			.saturating_add(T::DbWeight::get().reads(1_u64))
			.saturating_add(T::DbWeight::get().writes(1_u64))
	}
	/// Storage: `Keyorch::Participants` (r:1 w:1)
	/// Storage: `Keyorch::Witnesses` (r:1 w:0)
	fn deregister_participant() -> Weight {
		// Proof Size summary in bytes:
		//  Estimated: `3600`
		Weight::from_parts(25_000_000, 3600)
			.saturating_add(T::DbWeight::get().reads(2_u64))
			.saturating_add(T::DbWeight::get().writes(1_u64))
	}
	/// Storage: `Keyorch::Participants` (r:1 w:0)
	/// Storage: `Keyorch::Witnesses` (r:1 w:1)
	/// Storage: `Keyorch::WitnessSet` (r:1 w:1)
	/// Storage: `Balances::Holds` (r:1 w:1)
	/// Storage: `System::Account` (r:1 w:1)
	fn register_witness() -> Weight {
		// Proof Size summary in bytes:
		//  Estimated: `12000`
		Weight::from_parts(70_000_000, 12000)
			.saturating_add(T::DbWeight::get().reads(5_u64))
			.saturating_add(T::DbWeight::get().writes(4_u64))
	}
	/// Storage: `Keyorch::Witnesses` (r:1 w:1)
	/// Storage: `Keyorch::WitnessSet` (r:1 w:1)
	/// Storage: `Balances::Holds` (r:1 w:1)
	/// Storage: `System::Account` (r:1 w:1)
	fn unregister_witness() -> Weight {
		// Proof Size summary in bytes:
		//  Estimated: `12000`
		Weight::from_parts(70_000_000, 12000)
			.saturating_add(T::DbWeight::get().reads(4_u64))
			.saturating_add(T::DbWeight::get().writes(4_u64))
	}
	/// Storage: `Keyorch::Participants` (r:2 w:2)
	/// Storage: `Keyorch::Orchestrators` (r:1 w:0)
	/// Storage: `Keyorch::StreamNonce` (r:1 w:1)
	/// Storage: `System::ParentHash` (r:1 w:0)
	/// Storage: `Keyorch::WitnessSet` (r:1 w:0)
	/// Storage: `Keyorch::Witnesses` (r:w w:w)
	/// Storage: `Keyorch::Schedule` (r:2 w:2)
	/// Storage: `Balances::Holds` (r:1 w:1)
	/// Storage: `System::Account` (r:1 w:1)
	/// Storage: `Keyorch::Streams` (r:0 w:1)
	/// Storage: `Keyorch::PendingEpochs` (r:1 w:1)
	/// Storage: `Keyorch::CounterForPendingEpochs` (r:1 w:1)
	/// The range of component `w` is `[1, MaxWitnessesPerStream]`.
	fn request_stream(w: u32, ) -> Weight {
		// Proof Size summary in bytes:
		//  Estimated: `40000`
		Weight::from_parts(180_000_000, 40000)
			// Standard Error: estimated
			.saturating_add(Weight::from_parts(12_000_000, 0).saturating_mul(w.into()))
			.saturating_add(T::DbWeight::get().reads(12_u64))
			.saturating_add(T::DbWeight::get().reads((1_u64).saturating_mul(w.into())))
			.saturating_add(T::DbWeight::get().writes(12_u64))
			.saturating_add(T::DbWeight::get().writes((1_u64).saturating_mul(w.into())))
	}
	/// Storage: `Keyorch::Orchestrators` (r:1 w:0)
	/// Storage: `Keyorch::Streams` (r:1 w:1)
	/// Storage: `Keyorch::PendingEpochs` (r:1 w:1)
	/// Storage: `Keyorch::CounterForPendingEpochs` (r:1 w:1)
	/// Storage: `Keyorch::Epochs` (r:0 w:2)
	/// The range of component `w` is `[1, MaxWitnessesPerStream]`.
	fn submit_key_epoch(w: u32, ) -> Weight {
		// Proof Size summary in bytes:
		//  Estimated: `8000`
		Weight::from_parts(110_000_000, 8000)
			// Standard Error: estimated
			.saturating_add(Weight::from_parts(60_000_000, 0).saturating_mul(w.into()))
			.saturating_add(T::DbWeight::get().reads(4_u64))
			.saturating_add(T::DbWeight::get().writes(6_u64))
	}
	/// Storage: `Keyorch::Streams` (r:1 w:1)
	/// Storage: `Keyorch::PendingEpochs` (r:1 w:1)
	/// Storage: `Keyorch::CounterForPendingEpochs` (r:1 w:1)
	/// Storage: `Keyorch::Orchestrators` (r:1 w:0)
	fn report_usage() -> Weight {
		// Proof Size summary in bytes:
		//  Estimated: `6000`
		Weight::from_parts(60_000_000, 6000)
			.saturating_add(T::DbWeight::get().reads(4_u64))
			.saturating_add(T::DbWeight::get().writes(3_u64))
	}
	/// Storage: `Keyorch::Streams` (r:1 w:1)
	/// Storage: `Keyorch::PendingEpochs` (r:1 w:1)
	/// Storage: `Keyorch::CounterForPendingEpochs` (r:1 w:1)
	/// Storage: `Keyorch::Orchestrators` (r:1 w:0)
	fn rotate() -> Weight {
		// Proof Size summary in bytes:
		//  Estimated: `6000`
		Weight::from_parts(60_000_000, 6000)
			.saturating_add(T::DbWeight::get().reads(4_u64))
			.saturating_add(T::DbWeight::get().writes(3_u64))
	}
	/// Storage: `Keyorch::Streams` (r:1 w:1)
	/// Storage: `Keyorch::Participants` (r:2 w:2)
	/// Storage: `Keyorch::Witnesses` (r:w w:w)
	/// Storage: `Balances::Holds` (r:1 w:1)
	/// Storage: `System::Account` (r:1 w:1)
	/// Storage: `Keyorch::Epochs` (r:0 w:2)
	/// Storage: `Keyorch::PendingEpochs` (r:1 w:1)
	/// Storage: `Keyorch::CounterForPendingEpochs` (r:1 w:1)
	/// Storage: `Keyorch::Schedule` (r:2 w:2)
	/// Storage: `Keyorch::Tombstones` (r:0 w:1)
	/// The range of component `w` is `[1, MaxWitnessesPerStream]`.
	fn revoke(w: u32, ) -> Weight {
		// Proof Size summary in bytes:
		//  Estimated: `40000`
		Weight::from_parts(140_000_000, 40000)
			// Standard Error: estimated
			.saturating_add(Weight::from_parts(12_000_000, 0).saturating_mul(w.into()))
			.saturating_add(T::DbWeight::get().reads(9_u64))
			.saturating_add(T::DbWeight::get().reads((1_u64).saturating_mul(w.into())))
			.saturating_add(T::DbWeight::get().writes(12_u64))
			.saturating_add(T::DbWeight::get().writes((1_u64).saturating_mul(w.into())))
	}
	/// Storage: `Keyorch::Streams` (r:1 w:1)
	/// Storage: `Keyorch::Participants` (r:2 w:2)
	/// Storage: `Keyorch::Witnesses` (r:w w:w)
	/// Storage: `Balances::Holds` (r:1 w:1)
	/// Storage: `System::Account` (r:1 w:1)
	/// Storage: `Keyorch::Epochs` (r:0 w:2)
	/// Storage: `Keyorch::PendingEpochs` (r:1 w:1)
	/// Storage: `Keyorch::CounterForPendingEpochs` (r:1 w:1)
	/// Storage: `Keyorch::Schedule` (r:2 w:2)
	/// Storage: `Keyorch::Tombstones` (r:0 w:1)
	/// The range of component `w` is `[1, MaxWitnessesPerStream]`.
	fn close(w: u32, ) -> Weight {
		// Proof Size summary in bytes:
		//  Estimated: `40000`
		Weight::from_parts(140_000_000, 40000)
			// Standard Error: estimated
			.saturating_add(Weight::from_parts(12_000_000, 0).saturating_mul(w.into()))
			.saturating_add(T::DbWeight::get().reads(9_u64))
			.saturating_add(T::DbWeight::get().reads((1_u64).saturating_mul(w.into())))
			.saturating_add(T::DbWeight::get().writes(12_u64))
			.saturating_add(T::DbWeight::get().writes((1_u64).saturating_mul(w.into())))
	}
	/// Storage: `Keyorch::ScheduleCursor` (r:1 w:1)
	fn service_base() -> Weight {
		// Proof Size summary in bytes:
		//  Estimated: `1500`
		Weight::from_parts(8_000_000, 1500)
			.saturating_add(T::DbWeight::get().reads(1_u64))
			.saturating_add(T::DbWeight::get().writes(1_u64))
	}
	/// Storage: `Keyorch::Schedule` (r:1 w:1)
	fn service_slot() -> Weight {
		// Proof Size summary in bytes:
		//  Estimated: `40000`
		Weight::from_parts(30_000_000, 40000)
			.saturating_add(T::DbWeight::get().reads(1_u64))
			.saturating_add(T::DbWeight::get().writes(1_u64))
	}
	/// Storage: `Keyorch::Streams` (r:1 w:1)
	/// Storage: `Keyorch::Participants` (r:2 w:2)
	/// Storage: `Keyorch::Witnesses` (r:w w:w)
	/// Storage: `Balances::Holds` (r:1 w:1)
	/// Storage: `System::Account` (r:1 w:1)
	/// Storage: `Keyorch::Epochs` (r:0 w:2)
	/// Storage: `Keyorch::PendingEpochs` (r:1 w:1)
	/// Storage: `Keyorch::CounterForPendingEpochs` (r:1 w:1)
	/// Storage: `Keyorch::Schedule` (r:1 w:1)
	/// Storage: `Keyorch::Tombstones` (r:0 w:1)
	/// The range of component `w` is `[1, MaxWitnessesPerStream]`.
	fn expire_stream(w: u32, ) -> Weight {
		// Proof Size summary in bytes:
		//  Estimated: `40000`
		Weight::from_parts(140_000_000, 40000)
			// Standard Error: estimated
			.saturating_add(Weight::from_parts(12_000_000, 0).saturating_mul(w.into()))
			.saturating_add(T::DbWeight::get().reads(8_u64))
			.saturating_add(T::DbWeight::get().reads((1_u64).saturating_mul(w.into())))
			.saturating_add(T::DbWeight::get().writes(11_u64))
			.saturating_add(T::DbWeight::get().writes((1_u64).saturating_mul(w.into())))
	}
	/// Storage: `Keyorch::Streams` (r:1 w:1)
	/// Storage: `Keyorch::PendingEpochs` (r:1 w:1)
	/// Storage: `Keyorch::CounterForPendingEpochs` (r:1 w:1)
	/// Storage: `Keyorch::Orchestrators` (r:1 w:0)
	/// Storage: `Keyorch::Schedule` (r:1 w:1)
	fn rotate_scheduled() -> Weight {
		// Proof Size summary in bytes:
		//  Estimated: `40000`
		Weight::from_parts(70_000_000, 40000)
			.saturating_add(T::DbWeight::get().reads(5_u64))
			.saturating_add(T::DbWeight::get().writes(4_u64))
	}
}

// For backwards compatibility and tests.
impl WeightInfo for () {
	/// Storage: `Keyorch::Orchestrators` (r:0 w:1)
	fn set_orchestrators(o: u32, ) -> Weight {
		// Proof Size summary in bytes:
		//  Estimated: `1500`
		Weight::from_parts(12_000_000, 1500)
			// Standard Error: estimated
			.saturating_add(Weight::from_parts(150_000, 0).saturating_mul(o.into()))
			.saturating_add(RocksDbWeight::get().writes(1_u64))
	}
	/// Storage: `Keyorch::Participants` (r:1 w:1)
	fn register_participant() -> Weight {
		// Proof Size summary in bytes:
		//  Estimated: `3600`
		Weight::from_parts(22_000_000, 3600)
			.saturating_add(RocksDbWeight::get().reads(1_u64))
			.saturating_add(RocksDbWeight::get().writes(1_u64))
	}
	/// Storage: `Keyorch::Participants` (r:1 w:1)
	fn update_participant_key() -> Weight {
		// Proof Size summary in bytes:
		//  Estimated: `3600`
		Weight::from_parts(22_000_000, 3600)
			.saturating_add(RocksDbWeight::get().reads(1_u64))
			.saturating_add(RocksDbWeight::get().writes(1_u64))
	}
	/// Storage: `Keyorch::Participants` (r:1 w:1)
	/// Storage: `Keyorch::Witnesses` (r:1 w:0)
	fn deregister_participant() -> Weight {
		// Proof Size summary in bytes:
		//  Estimated: `3600`
		Weight::from_parts(25_000_000, 3600)
			.saturating_add(RocksDbWeight::get().reads(2_u64))
			.saturating_add(RocksDbWeight::get().writes(1_u64))
	}
	/// Storage: `Keyorch::Participants` (r:1 w:0)
	/// Storage: `Keyorch::Witnesses` (r:1 w:1)
	/// Storage: `Keyorch::WitnessSet` (r:1 w:1)
	/// Storage: `Balances::Holds` (r:1 w:1)
	/// Storage: `System::Account` (r:1 w:1)
	fn register_witness() -> Weight {
		// Proof Size summary in bytes:
		//  Estimated: `12000`
		Weight::from_parts(70_000_000, 12000)
			.saturating_add(RocksDbWeight::get().reads(5_u64))
			.saturating_add(RocksDbWeight::get().writes(4_u64))
	}
	/// Storage: `Keyorch::Witnesses` (r:1 w:1)
	/// Storage: `Keyorch::WitnessSet` (r:1 w:1)
	/// Storage: `Balances::Holds` (r:1 w:1)
	/// Storage: `System::Account` (r:1 w:1)
	fn unregister_witness() -> Weight {
		// Proof Size summary in bytes:
		//  Estimated: `12000`
		Weight::from_parts(70_000_000, 12000)
			.saturating_add(RocksDbWeight::get().reads(4_u64))
			.saturating_add(RocksDbWeight::get().writes(4_u64))
	}
	/// Storage: `Keyorch::Participants` (r:2 w:2)
	/// Storage: `Keyorch::Orchestrators` (r:1 w:0)
	/// Storage: `Keyorch::StreamNonce` (r:1 w:1)
	/// Storage: `System::ParentHash` (r:1 w:0)
	/// Storage: `Keyorch::WitnessSet` (r:1 w:0)
	/// Storage: `Keyorch::Witnesses` (r:w w:w)
	/// Storage: `Keyorch::Schedule` (r:2 w:2)
	/// Storage: `Balances::Holds` (r:1 w:1)
	/// Storage: `System::Account` (r:1 w:1)
	/// Storage: `Keyorch::Streams` (r:0 w:1)
	/// Storage: `Keyorch::PendingEpochs` (r:1 w:1)
	/// Storage: `Keyorch::CounterForPendingEpochs` (r:1 w:1)
	fn request_stream(w: u32, ) -> Weight {
		// Proof Size summary in bytes:
		//  Estimated: `40000`
		Weight::from_parts(180_000_000, 40000)
			// Standard Error: estimated
			.saturating_add(Weight::from_parts(12_000_000, 0).saturating_mul(w.into()))
			.saturating_add(RocksDbWeight::get().reads(12_u64))
			.saturating_add(RocksDbWeight::get().reads((1_u64).saturating_mul(w.into())))
			.saturating_add(RocksDbWeight::get().writes(12_u64))
			.saturating_add(RocksDbWeight::get().writes((1_u64).saturating_mul(w.into())))
	}
	/// Storage: `Keyorch::Orchestrators` (r:1 w:0)
	/// Storage: `Keyorch::Streams` (r:1 w:1)
	/// Storage: `Keyorch::PendingEpochs` (r:1 w:1)
	/// Storage: `Keyorch::CounterForPendingEpochs` (r:1 w:1)
	/// Storage: `Keyorch::Epochs` (r:0 w:2)
	fn submit_key_epoch(w: u32, ) -> Weight {
		// Proof Size summary in bytes:
		//  Estimated: `8000`
		Weight::from_parts(110_000_000, 8000)
			// Standard Error: estimated
			.saturating_add(Weight::from_parts(60_000_000, 0).saturating_mul(w.into()))
			.saturating_add(RocksDbWeight::get().reads(4_u64))
			.saturating_add(RocksDbWeight::get().writes(6_u64))
	}
	/// Storage: `Keyorch::Streams` (r:1 w:1)
	/// Storage: `Keyorch::PendingEpochs` (r:1 w:1)
	/// Storage: `Keyorch::CounterForPendingEpochs` (r:1 w:1)
	/// Storage: `Keyorch::Orchestrators` (r:1 w:0)
	fn report_usage() -> Weight {
		// Proof Size summary in bytes:
		//  Estimated: `6000`
		Weight::from_parts(60_000_000, 6000)
			.saturating_add(RocksDbWeight::get().reads(4_u64))
			.saturating_add(RocksDbWeight::get().writes(3_u64))
	}
	/// Storage: `Keyorch::Streams` (r:1 w:1)
	/// Storage: `Keyorch::PendingEpochs` (r:1 w:1)
	/// Storage: `Keyorch::CounterForPendingEpochs` (r:1 w:1)
	/// Storage: `Keyorch::Orchestrators` (r:1 w:0)
	fn rotate() -> Weight {
		// Proof Size summary in bytes:
		//  Estimated: `6000`
		Weight::from_parts(60_000_000, 6000)
			.saturating_add(RocksDbWeight::get().reads(4_u64))
			.saturating_add(RocksDbWeight::get().writes(3_u64))
	}
	/// Storage: `Keyorch::Streams` (r:1 w:1)
	/// Storage: `Keyorch::Participants` (r:2 w:2)
	/// Storage: `Keyorch::Witnesses` (r:w w:w)
	/// Storage: `Balances::Holds` (r:1 w:1)
	/// Storage: `System::Account` (r:1 w:1)
	/// Storage: `Keyorch::Epochs` (r:0 w:2)
	/// Storage: `Keyorch::PendingEpochs` (r:1 w:1)
	/// Storage: `Keyorch::CounterForPendingEpochs` (r:1 w:1)
	/// Storage: `Keyorch::Schedule` (r:2 w:2)
	/// Storage: `Keyorch::Tombstones` (r:0 w:1)
	fn revoke(w: u32, ) -> Weight {
		// Proof Size summary in bytes:
		//  Estimated: `40000`
		Weight::from_parts(140_000_000, 40000)
			// Standard Error: estimated
			.saturating_add(Weight::from_parts(12_000_000, 0).saturating_mul(w.into()))
			.saturating_add(RocksDbWeight::get().reads(9_u64))
			.saturating_add(RocksDbWeight::get().reads((1_u64).saturating_mul(w.into())))
			.saturating_add(RocksDbWeight::get().writes(12_u64))
			.saturating_add(RocksDbWeight::get().writes((1_u64).saturating_mul(w.into())))
	}
	/// Storage: `Keyorch::Streams` (r:1 w:1)
	/// Storage: `Keyorch::Participants` (r:2 w:2)
	/// Storage: `Keyorch::Witnesses` (r:w w:w)
	/// Storage: `Balances::Holds` (r:1 w:1)
	/// Storage: `System::Account` (r:1 w:1)
	/// Storage: `Keyorch::Epochs` (r:0 w:2)
	/// Storage: `Keyorch::PendingEpochs` (r:1 w:1)
	/// Storage: `Keyorch::CounterForPendingEpochs` (r:1 w:1)
	/// Storage: `Keyorch::Schedule` (r:2 w:2)
	/// Storage: `Keyorch::Tombstones` (r:0 w:1)
	fn close(w: u32, ) -> Weight {
		// Proof Size summary in bytes:
		//  Estimated: `40000`
		Weight::from_parts(140_000_000, 40000)
			// Standard Error: estimated
			.saturating_add(Weight::from_parts(12_000_000, 0).saturating_mul(w.into()))
			.saturating_add(RocksDbWeight::get().reads(9_u64))
			.saturating_add(RocksDbWeight::get().reads((1_u64).saturating_mul(w.into())))
			.saturating_add(RocksDbWeight::get().writes(12_u64))
			.saturating_add(RocksDbWeight::get().writes((1_u64).saturating_mul(w.into())))
	}
	/// Storage: `Keyorch::ScheduleCursor` (r:1 w:1)
	fn service_base() -> Weight {
		// Proof Size summary in bytes:
		//  Estimated: `1500`
		Weight::from_parts(8_000_000, 1500)
			.saturating_add(RocksDbWeight::get().reads(1_u64))
			.saturating_add(RocksDbWeight::get().writes(1_u64))
	}
	/// Storage: `Keyorch::Schedule` (r:1 w:1)
	fn service_slot() -> Weight {
		// Proof Size summary in bytes:
		//  Estimated: `40000`
		Weight::from_parts(30_000_000, 40000)
			.saturating_add(RocksDbWeight::get().reads(1_u64))
			.saturating_add(RocksDbWeight::get().writes(1_u64))
	}
	/// Storage: `Keyorch::Streams` (r:1 w:1)
	/// Storage: `Keyorch::Participants` (r:2 w:2)
	/// Storage: `Keyorch::Witnesses` (r:w w:w)
	/// Storage: `Balances::Holds` (r:1 w:1)
	/// Storage: `System::Account` (r:1 w:1)
	/// Storage: `Keyorch::Epochs` (r:0 w:2)
	/// Storage: `Keyorch::PendingEpochs` (r:1 w:1)
	/// Storage: `Keyorch::CounterForPendingEpochs` (r:1 w:1)
	/// Storage: `Keyorch::Schedule` (r:1 w:1)
	/// Storage: `Keyorch::Tombstones` (r:0 w:1)
	fn expire_stream(w: u32, ) -> Weight {
		// Proof Size summary in bytes:
		//  Estimated: `40000`
		Weight::from_parts(140_000_000, 40000)
			// Standard Error: estimated
			.saturating_add(Weight::from_parts(12_000_000, 0).saturating_mul(w.into()))
			.saturating_add(RocksDbWeight::get().reads(8_u64))
			.saturating_add(RocksDbWeight::get().reads((1_u64).saturating_mul(w.into())))
			.saturating_add(RocksDbWeight::get().writes(11_u64))
			.saturating_add(RocksDbWeight::get().writes((1_u64).saturating_mul(w.into())))
	}
	/// Storage: `Keyorch::Streams` (r:1 w:1)
	/// Storage: `Keyorch::PendingEpochs` (r:1 w:1)
	/// Storage: `Keyorch::CounterForPendingEpochs` (r:1 w:1)
	/// Storage: `Keyorch::Orchestrators` (r:1 w:0)
	/// Storage: `Keyorch::Schedule` (r:1 w:1)
	fn rotate_scheduled() -> Weight {
		// Proof Size summary in bytes:
		//  Estimated: `40000`
		Weight::from_parts(70_000_000, 40000)
			.saturating_add(RocksDbWeight::get().reads(5_u64))
			.saturating_add(RocksDbWeight::get().writes(4_u64))
	}
}
