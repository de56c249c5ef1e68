//! Key expansion, and the seeded RNG every random value of the crate comes from.

use hkdf::Hkdf;
use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, RngCore, SeedableRng};
use sha2::Sha256;
use zeroize::Zeroizing;

/// HKDF-SHA256-Expand of `prk` to one 32-byte key.
pub(crate) fn expand_key(prk: &Hkdf<Sha256>, info: &[&[u8]]) -> Zeroizing<[u8; 32]> {
	let mut key = Zeroizing::new([0u8; 32]);
	prk.expand_multi_info(info, key.as_mut())
		.expect("32 bytes is a valid HKDF-SHA256 output length");
	key
}

/// ChaCha20 RNG keyed from a caller's seed, bound to a purpose and a context.
///
/// `rand_chacha` does not zeroize its state, so on drop the state (key, counter
/// and buffered output) is overwritten with that of an all-zero seed.
pub(crate) struct SeededRng(ChaCha20Rng);

impl SeededRng {
	/// HKDF-SHA256(salt = `label`, ikm = `seed`, info = `context`) keys the RNG,
	/// so one seed reused for two streams or epochs still gives unrelated output.
	pub(crate) fn new(seed: &[u8; 32], label: &[u8], context: &[&[u8]]) -> Self {
		let key = expand_key(&Hkdf::new(Some(label), seed), context);
		Self(ChaCha20Rng::from_seed(*key))
	}
}

impl Drop for SeededRng {
	fn drop(&mut self) {
		self.0 = ChaCha20Rng::from_seed([0u8; 32]);
		// Keep the overwrite from being removed as a dead store.
		core::hint::black_box(&self.0);
	}
}

impl RngCore for SeededRng {
	fn next_u32(&mut self) -> u32 {
		self.0.next_u32()
	}

	fn next_u64(&mut self) -> u64 {
		self.0.next_u64()
	}

	fn fill_bytes(&mut self, dest: &mut [u8]) {
		self.0.fill_bytes(dest)
	}

	fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
		self.0.try_fill_bytes(dest)
	}
}

impl CryptoRng for SeededRng {}
