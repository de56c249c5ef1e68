//! keyorch-node: a Substrate node for the keyorch chain.

mod chain_spec;
mod cli;
mod command;
mod dev_seal;
mod rpc;
mod service;

fn main() {
	if let Err(error) = command::run() {
		// One readable line instead of a Debug dump: this is what a person starting a node sees.
		eprintln!("error: {}", command::describe(&error));
		std::process::exit(1);
	}
}
