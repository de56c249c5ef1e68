//! Command-line interface of keyorch-node.

/// Node subcommands. Without one, the node runs.
#[derive(Debug, clap::Subcommand)]
#[allow(clippy::large_enum_variant)]
pub enum Subcommand {
	/// Key management: generate, inspect and insert keys (for example the `kord`
	/// orchestrator key) into a node's keystore.
	#[command(subcommand)]
	Key(sc_cli::KeySubcommand),

	/// Export the chain specification (`dev`, `local` or a file) as JSON.
	ExportChainSpec(sc_cli::ExportChainSpecCmd),

	/// Remove the whole chain database.
	PurgeChain(sc_cli::PurgeChainCmd),

	/// Database metadata and chain information.
	ChainInfo(sc_cli::ChainInfoCmd),

	/// Benchmarks; only `benchmark pallet` is supported, which measures the weights of a
	/// pallet's calls (see `scripts/benchmark.sh`). Present only in a node built with the
	/// `runtime-benchmarks` feature.
	#[cfg(feature = "runtime-benchmarks")]
	#[command(subcommand)]
	Benchmark(Box<frame_benchmarking_cli::BenchmarkCmd>),
}

/// keyorch-node command line.
#[derive(Debug, clap::Parser)]
#[command(
	propagate_version = true,
	args_conflicts_with_subcommands = true,
	subcommand_negates_reqs = true
)]
pub struct Cli {
	#[command(subcommand)]
	pub subcommand: Option<Subcommand>,

	#[clap(flatten)]
	pub run: sc_cli::RunCmd,

	#[clap(flatten)]
	pub keyorch: crate::keyorch::KeyorchParams,
}
