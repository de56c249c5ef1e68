//! Parses the command line and runs the node or a subcommand.

use crate::{
	chain_spec,
	cli::{Cli, Subcommand},
	service,
};
use sc_cli::SubstrateCli;

impl SubstrateCli for Cli {
	fn impl_name() -> String {
		"keyorch node".into()
	}

	fn impl_version() -> String {
		env!("SUBSTRATE_CLI_IMPL_VERSION").into()
	}

	fn description() -> String {
		env!("CARGO_PKG_DESCRIPTION").into()
	}

	fn author() -> String {
		env!("CARGO_PKG_AUTHORS").into()
	}

	fn support_url() -> String {
		"the keyorch issue tracker".into()
	}

	fn copyright_start_year() -> i32 {
		2026
	}

	fn load_spec(&self, id: &str) -> Result<Box<dyn sc_service::ChainSpec>, String> {
		Ok(match id {
			"dev" => Box::new(chain_spec::development()?),
			"" | "local" => Box::new(chain_spec::local_testnet()?),
			path => {
				let path = std::path::PathBuf::from(path);
				if !path.is_file() {
					return Err(format!(
						"unknown chain '{}': use {} or the path of a chain-spec JSON file",
						path.display(),
						chain_spec::KNOWN_CHAINS
					));
				}
				Box::new(chain_spec::ChainSpec::from_json_file(path)?)
			},
		})
	}
}

/// Parses the command line and runs what it asks for.
pub fn run() -> sc_cli::Result<()> {
	let mut cli = Cli::from_args();
	// `--dev` seals a block per transaction. The fork-aware pool can leave a transaction that
	// arrives while it switches views out of every view until the next block, which on a dev
	// chain may be a minute away; the single-state pool has no views. `--pool-type` still wins.
	let pool_type_given = std::env::args().any(|arg| arg.starts_with("--pool-type"));
	if cli.run.shared_params.is_dev() && !pool_type_given {
		cli.run.pool_config.pool_type = sc_cli::TransactionPoolType::SingleState;
	}

	match &cli.subcommand {
		Some(Subcommand::Key(cmd)) => cmd.run(&cli),
		Some(Subcommand::ExportChainSpec(cmd)) => {
			let chain_spec = cli.load_spec(&cmd.chain)?;
			cmd.run(chain_spec)
		},
		Some(Subcommand::PurgeChain(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| cmd.run(config.database))
		},
		Some(Subcommand::ChainInfo(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| cmd.run::<keyorch_runtime::Block>(&config))
		},
		#[cfg(feature = "runtime-benchmarks")]
		Some(Subcommand::Benchmark(cmd)) => {
			use frame_benchmarking_cli::BenchmarkCmd;
			match cmd.as_ref() {
				BenchmarkCmd::Pallet(cmd) => {
					let runner = cli.create_runner(cmd)?;
					// The runtime's own host functions are all Substrate's (`()`: no extra ones).
					runner.sync_run(|config| {
						cmd.run_with_spec::<sp_runtime::traits::HashingFor<keyorch_runtime::Block>, ()>(
							Some(config.chain_spec),
						)
					})
				},
				BenchmarkCmd::Storage(_) => Err(benchmark_not_supported("storage")),
				BenchmarkCmd::Overhead(_) => Err(benchmark_not_supported("overhead")),
				BenchmarkCmd::Block(_) => Err(benchmark_not_supported("block")),
				BenchmarkCmd::Machine(_) => Err(benchmark_not_supported("machine")),
				BenchmarkCmd::Extrinsic(_) => Err(benchmark_not_supported("extrinsic")),
			}
		},
		None => {
			let runner = cli.create_runner(&cli.run)?;
			let keyorch = cli.keyorch.clone();
			runner.run_node_until_exit(|mut config| async move {
				// Substrate would quietly move a busy RPC port to a random one; a client
				// would then reach whatever holds the port instead of this node.
				for endpoint in config.rpc.addr.iter_mut().flatten() {
					endpoint.retry_random_port = false;
				}
				service::new_full(config, &keyorch).map_err(sc_cli::Error::Service)
			})
		},
	}
}

#[cfg(feature = "runtime-benchmarks")]
fn benchmark_not_supported(what: &str) -> sc_cli::Error {
	sc_cli::Error::Input(format!(
		"`benchmark {what}` is not supported by keyorch-node; only `benchmark pallet` is"
	))
}

/// One line that says what went wrong, and what to do where that is known.
pub fn describe(error: &sc_cli::Error) -> String {
	let text = error.to_string();
	let lower = text.to_lowercase();
	if lower.contains("address already in use") || lower.contains("addrinuse") {
		format!(
			"{text} — another process holds one of the node's ports; pick free ones with \
			 --rpc-port, --port and --prometheus-port, or stop that process"
		)
	} else {
		text.replace('\n', " ")
	}
}
