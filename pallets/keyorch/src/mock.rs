//! A mock runtime for the pallet's unit tests and benchmark tests: `frame_system`,
//! `pallet_balances` and this pallet, with `AccountId32` accounts so that orchestrator keys are
//! accounts as in the real runtime.

use crate as pallet_keyorch;
use crate::{OrchestratorId, VerifyCommitments};
use frame_support::{
	derive_impl, parameter_types,
	traits::{ConstU32, ConstU64, Hooks},
	weights::Weight,
};
use frame_system::EnsureRoot;
use sp_core::sr25519;
use sp_runtime::{traits::IdentityLookup, AccountId32, BuildStorage};

type Block = frame_system::mocking::MockBlock<Test>;
/// Accounts are 32-byte ids, as in the runtime.
pub type AccountId = AccountId32;
/// Balances are `u64` (pallet-balances' test default).
pub type Balance = u64;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		Keyorch: pallet_keyorch,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountId = AccountId;
	type Lookup = IdentityLookup<AccountId>;
	type AccountData = pallet_balances::AccountData<Balance>;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type AccountStore = System;
}

impl frame_system::offchain::SigningTypes for Test {
	type Public = sp_runtime::MultiSigner;
	type Signature = sp_runtime::MultiSignature;
}

impl<LocalCall> frame_system::offchain::CreateTransactionBase<LocalCall> for Test
where
	RuntimeCall: From<LocalCall>,
{
	type Extrinsic = sp_runtime::generic::UncheckedExtrinsic<AccountId, RuntimeCall, (), ()>;
	type RuntimeCall = RuntimeCall;
}

impl<LocalCall> frame_system::offchain::CreateSignedTransaction<LocalCall> for Test
where
	RuntimeCall: From<LocalCall>,
{
	fn create_signed_transaction<
		C: frame_system::offchain::AppCrypto<Self::Public, Self::Signature>,
	>(
		call: RuntimeCall,
		_public: Self::Public,
		account: AccountId,
		_nonce: <Test as frame_system::Config>::Nonce,
	) -> Option<Self::Extrinsic> {
		Some(sp_runtime::generic::UncheckedExtrinsic::new_signed(call, account, (), ()))
	}
}

/// Accepts every commitment but the all-`0xFF` one, which stands for "not a group element".
pub struct MockVerifier;

impl VerifyCommitments for MockVerifier {
	fn well_formed(commitments: &[[u8; 32]]) -> bool {
		!commitments.contains(&[0xFF; 32])
	}

	#[cfg(feature = "runtime-benchmarks")]
	fn valid_commitments(count: u32) -> alloc::vec::Vec<[u8; 32]> {
		(0..count).map(commitment).collect()
	}
}

/// A well-formed mock commitment.
pub fn commitment(i: u32) -> [u8; 32] {
	let mut c = [7u8; 32];
	c[..4].copy_from_slice(&i.to_le_bytes());
	c
}

/// The deposit of a witness.
pub const WITNESS_DEPOSIT: Balance = 100;
/// The deposit of a stream.
pub const STREAM_DEPOSIT: Balance = 50;
/// Blocks until the next orchestrator may take over.
pub const TAKEOVER_DELAY: u64 = 10;
/// The shortest rotation interval.
pub const MIN_ROTATION: u32 = 5;
/// The longest stream.
pub const MAX_DURATION: u32 = 1000;
/// Starting balance of the funded accounts.
pub const FUNDS: Balance = 1_000_000;
/// The most dealings in one batch.
pub const MAX_BATCH: u32 = 8;
/// Held per prepaid epoch.
pub const EPOCH_DEPOSIT: Balance = 2;
/// Usage or explicit rotations prepaid per stream.
pub const ROTATION_ALLOWANCE: u32 = 10;

parameter_types! {
	pub const WitnessDeposit: Balance = WITNESS_DEPOSIT;
	pub const StreamDeposit: Balance = STREAM_DEPOSIT;
	pub const TakeoverDelay: u64 = TAKEOVER_DELAY;
	/// Tests lower it to show expiry spreading over blocks.
	pub static ServiceWeight: Weight = Weight::from_parts(1_000_000_000_000, u64::MAX);
}

impl pallet_keyorch::Config for Test {
	type AuthorityId = pallet_keyorch::crypto::OrchestratorAuthId;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Currency = Balances;
	type Randomness = pallet_keyorch::ParentHashRandomness<Test>;
	type CommitmentVerifier = MockVerifier;
	type ForceOrigin = EnsureRoot<AccountId>;
	type WeightInfo = ();
	type MaxOrchestrators = ConstU32<4>;
	type MaxWitnesses = ConstU32<10>;
	type MaxWitnessesPerStream = ConstU32<5>;
	type MaxDataTypeLen = ConstU32<16>;
	type MaxReasonLen = ConstU32<32>;
	type MaxStreamDuration = ConstU32<MAX_DURATION>;
	type MinRotationInterval = ConstU32<MIN_ROTATION>;
	type TakeoverDelay = TakeoverDelay;
	type WitnessDeposit = WitnessDeposit;
	type StreamDeposit = StreamDeposit;
	type MaxScheduledPerBlock = ConstU32<12>;
	type MaxScheduleLookahead = ConstU32<1>;
	type ServiceWeight = ServiceWeight;
	type MaxDealingsPerBatch = ConstU32<MAX_BATCH>;
	type EpochDeposit = ConstU64<EPOCH_DEPOSIT>;
	type RotationAllowance = ConstU32<ROTATION_ALLOWANCE>;
}

/// Test account `n`.
pub fn acc(n: u8) -> AccountId {
	AccountId32::new([n; 32])
}

/// Orchestrator key `i` of the genesis set (and beyond).
pub fn orch(i: u8) -> OrchestratorId {
	sr25519::Public::from_raw([200u8.saturating_add(i); 32]).into()
}

/// The account orchestrator key `i` signs as.
pub fn orch_acc(i: u8) -> AccountId {
	AccountId::from(orch(i))
}

/// An account with only a little money.
pub const POOR: u8 = 99;

/// Accounts 1..=60 funded, `POOR` with 20; orchestrators 0, 1, 2; block 1.
pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut t = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	let mut balances: alloc::vec::Vec<(AccountId, Balance)> =
		(1..=60u8).map(|n| (acc(n), FUNDS)).collect();
	balances.push((acc(POOR), 20));
	pallet_balances::GenesisConfig::<Test> { balances, ..Default::default() }
		.assimilate_storage(&mut t)
		.unwrap();
	pallet_keyorch::GenesisConfig::<Test> {
		orchestrators: alloc::vec![orch(0), orch(1), orch(2)],
		_config: Default::default(),
	}
	.assimilate_storage(&mut t)
	.unwrap();
	let mut ext = sp_io::TestExternalities::new(t);
	ext.execute_with(|| System::set_block_number(1));
	ext
}

/// Advance to block `n`, running the pallet's `on_initialize` in each block.
pub fn run_to_block(n: u64) {
	while System::block_number() < n {
		let next = System::block_number() + 1;
		System::set_block_number(next);
		Keyorch::on_initialize(next);
	}
}
