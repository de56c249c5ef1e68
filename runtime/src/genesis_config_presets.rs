//! Genesis presets: `development` (one validator, Alice) and `local_testnet` (Alice, Bob,
//! Charlie and Ferdie). In both, every validator is also an orchestrator, so its off-chain worker can deal
//! keys with the `kord` key that `--dev`/`--alice`… put into its keystore.

use crate::*;
use alloc::{vec, vec::Vec};
use frame_support::build_struct_json_patch;
use serde_json::Value;
use sp_consensus_aura::sr25519::AuthorityId as AuraId;
use sp_consensus_grandpa::AuthorityId as GrandpaId;
use sp_genesis_builder::{self, PresetId};
use sp_keyring::{Ed25519Keyring, Sr25519Keyring};

/// What every endowed account starts with.
const ENDOWMENT: Balance = 1_000_000 * UNIT;

/// One validator's keys: Aura, GRANDPA and the orchestrator key.
struct Validator {
	aura: AuraId,
	grandpa: GrandpaId,
	orchestrator: pallet_keyorch::OrchestratorId,
}

impl Validator {
	/// The keys that `--alice`, `--bob`… derive from one well-known dev seed: `sr` and `ed` are
	/// that seed's sr25519 and ed25519 keys.
	fn dev(sr: Sr25519Keyring, ed: Ed25519Keyring) -> Self {
		Self {
			aura: sr.public().into(),
			grandpa: ed.public().into(),
			orchestrator: sr.public().into(),
		}
	}
}

fn genesis(validators: Vec<Validator>, endowed: Vec<AccountId>, root: AccountId) -> Value {
	build_struct_json_patch!(RuntimeGenesisConfig {
		balances: BalancesConfig {
			balances: endowed.into_iter().map(|account| (account, ENDOWMENT)).collect::<Vec<_>>(),
		},
		aura: pallet_aura::GenesisConfig {
			authorities: validators.iter().map(|v| v.aura.clone()).collect::<Vec<_>>(),
		},
		grandpa: pallet_grandpa::GenesisConfig {
			authorities: validators.iter().map(|v| (v.grandpa.clone(), 1)).collect::<Vec<_>>(),
		},
		sudo: SudoConfig { key: Some(root) },
		keyorch: KeyorchConfig {
			orchestrators: validators.iter().map(|v| v.orchestrator.clone()).collect::<Vec<_>>(),
		},
	})
}

/// The well-known dev accounts, all endowed.
fn dev_accounts() -> Vec<AccountId> {
	Sr25519Keyring::well_known().map(|k| k.to_account_id()).collect()
}

/// Single-validator development chain: Alice validates, deals and is root.
pub fn development_config_genesis() -> Value {
	genesis(
		vec![Validator::dev(Sr25519Keyring::Alice, Ed25519Keyring::Alice)],
		dev_accounts(),
		Sr25519Keyring::Alice.to_account_id(),
	)
}

/// Four-validator local network: Alice, Bob, Charlie and Ferdie validate and deal; Alice is
/// root. Four, because GRANDPA finalizes with more than two thirds of the votes: three of four
/// keep finality when any one validator is down, where two of three would not. Ferdie rather
/// than Dave, so that the well-known Dave and Eve stay free to be the witnesses.
pub fn local_config_genesis() -> Value {
	genesis(
		vec![
			Validator::dev(Sr25519Keyring::Alice, Ed25519Keyring::Alice),
			Validator::dev(Sr25519Keyring::Bob, Ed25519Keyring::Bob),
			Validator::dev(Sr25519Keyring::Charlie, Ed25519Keyring::Charlie),
			Validator::dev(Sr25519Keyring::Ferdie, Ed25519Keyring::Ferdie),
		],
		dev_accounts(),
		Sr25519Keyring::Alice.to_account_id(),
	)
}

/// The preset of the given name, as JSON.
pub fn get_preset(id: &PresetId) -> Option<Vec<u8>> {
	let patch = match id.as_ref() {
		sp_genesis_builder::DEV_RUNTIME_PRESET => development_config_genesis(),
		sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET => local_config_genesis(),
		_ => return None,
	};
	Some(
		serde_json::to_string(&patch)
			.expect("serialization to json is expected to work. qed.")
			.into_bytes(),
	)
}

/// The names of the presets this runtime has.
pub fn preset_names() -> Vec<PresetId> {
	vec![
		PresetId::from(sp_genesis_builder::DEV_RUNTIME_PRESET),
		PresetId::from(sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET),
	]
}
