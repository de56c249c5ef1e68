//! The pallets `keyorch-node benchmark pallet` can measure (only with the `runtime-benchmarks`
//! feature). `define_benchmarks!` defines the `list_benchmarks!` and `add_benchmarks!` macros
//! that the `frame_benchmarking::Benchmark` runtime API in `apis.rs` expands; the names on the
//! right are resolved there.

frame_benchmarking::define_benchmarks!(
	[frame_system, SystemBench::<Runtime>]
	[pallet_balances, Balances]
	[pallet_timestamp, Timestamp]
	[pallet_sudo, Sudo]
	[pallet_keyorch, Keyorch]
);

// `frame_system`'s benchmarks with their defaults (`set_code` with the sample runtime they ship).
impl frame_system_benchmarking::Config for crate::Runtime {}
