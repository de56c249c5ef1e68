//! keyorch-node: a Substrate node for the keyorch chain.

// `sc_service::Error` and `sc_cli::Error` are Substrate's, large, and returned once per run.
#![allow(clippy::result_large_err)]

mod chain_spec;
mod cli;
mod command;
mod dev_seal;
mod keyorch;
mod rpc;
mod service;

fn main() {
	if let Err(error) = command::run() {
		// One readable line instead of a Debug dump: this is what a person starting a node sees.
		eprintln!("error: {}", command::describe(&error));
		std::process::exit(1);
	}
}
