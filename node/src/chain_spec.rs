//! The chains keyorch-node knows by name: `dev` and `local`.

use keyorch_runtime::WASM_BINARY;
use sc_service::ChainType;

/// A chain specification of the keyorch runtime.
pub type ChainSpec = sc_service::GenericChainSpec;

/// The names `--chain` accepts besides a path to a chain-spec JSON file.
pub const KNOWN_CHAINS: &str = "'dev' or 'local'";

fn runtime_wasm() -> Result<&'static [u8], String> {
	WASM_BINARY.ok_or_else(|| {
		"this keyorch-node was built without its wasm runtime (SKIP_WASM_BUILD was set); \
		 rebuild it with scripts/build.sh"
			.to_string()
	})
}

fn properties() -> sc_service::Properties {
	let mut properties = sc_service::Properties::new();
	properties.insert("tokenSymbol".into(), "KEYO".into());
	properties.insert("tokenDecimals".into(), 12.into());
	properties.insert("ss58Format".into(), 42.into());
	properties
}

/// Single-node development chain: Alice authors, finalizes and deals.
pub fn development() -> Result<ChainSpec, String> {
	Ok(ChainSpec::builder(runtime_wasm()?, None)
		.with_name("keyorch development")
		.with_id("dev")
		.with_chain_type(ChainType::Development)
		.with_genesis_config_preset_name(sp_genesis_builder::DEV_RUNTIME_PRESET)
		.with_properties(properties())
		.build())
}

/// Four-validator local network: Alice, Bob, Charlie and Ferdie (Aura + GRANDPA).
pub fn local_testnet() -> Result<ChainSpec, String> {
	Ok(ChainSpec::builder(runtime_wasm()?, None)
		.with_name("keyorch local testnet")
		.with_id("keyorch_local")
		.with_chain_type(ChainType::Local)
		.with_genesis_config_preset_name(sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET)
		.with_properties(properties())
		.build())
}
