//! Integration tests of keyorch-primitives, in one test binary.

mod dealing;
mod decoders;
mod frames;
mod interop;
mod kat;
mod metadata;
mod release;

use keyorch_primitives::{
	deal, DealContext, Dealing, EncryptionPublicKey, EncryptionSecret, HolderShare,
};

/// The X25519 secret of holder `i` (0-based) in the tests.
fn holder_secret(i: usize) -> EncryptionSecret {
	let mut bytes = [0x5au8; 32];
	bytes[1..9].copy_from_slice(&(i as u64).to_le_bytes());
	EncryptionSecret::from_bytes(bytes)
}

/// A dealing of `n` holders with threshold `t`, and the holders' secrets.
struct Fixture {
	context: DealContext,
	secrets: Vec<EncryptionSecret>,
	dealing: Dealing,
}

impl Fixture {
	fn new(seed: [u8; 32], context: DealContext, n: usize, t: u8) -> Self {
		let secrets: Vec<_> = (0..n).map(holder_secret).collect();
		let keys: Vec<EncryptionPublicKey> = secrets.iter().map(|s| s.public_key()).collect();
		let dealing = deal(&seed, &context, t, &keys).expect("valid dealing");
		Self { context, secrets, dealing }
	}

	fn simple(n: usize, t: u8) -> Self {
		Self::new([7; 32], context(1, 0), n, t)
	}

	/// Opens and verifies the share of holder `i` (0-based).
	fn share(&self, i: usize) -> HolderShare {
		let share = self.dealing.records[i]
			.open(&self.secrets[i], &self.context, index(i))
			.expect("own record opens");
		share.verify(&self.dealing.commitments).expect("dealt share verifies");
		share
	}

	fn shares(&self) -> Vec<HolderShare> {
		(0..self.secrets.len()).map(|i| self.share(i)).collect()
	}
}

/// Holder index of holder `i` (0-based).
fn index(i: usize) -> u8 {
	u8::try_from(i + 1).expect("at most 255 holders")
}

fn context(stream: u8, epoch: u32) -> DealContext {
	DealContext { stream_id: [stream; 32], epoch }
}
