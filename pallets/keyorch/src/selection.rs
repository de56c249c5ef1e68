//! Deterministic witness selection.
//!
//! At request time the pallet draws a seed from the runtime's `Randomness` (subject
//! `("keyorch/witnesses", stream id)`), stores it with the stream, and selects the witnesses
//! with [`select_witnesses`] from the registered witness set in registration order, with the
//! initiator and provider left out. Anyone can re-run [`select_witnesses`] on the seed and the
//! candidate list of the request's block (the `WitnessSet` storage value at that block, minus
//! initiator and provider) and check the recorded witnesses.

use alloc::vec::Vec;
use sp_io::hashing::blake2_256;

/// Domain separator of the per-draw hash.
const DRAW_DOMAIN: &[u8] = b"keyorch/witness-draw";

/// Pick `count` distinct candidates, deterministically from `seed`.
///
/// A partial Fisher–Yates shuffle: draw `i` swaps position `i` with position
/// `i + r_i mod (n - i)`, where `r_i` is the first 8 bytes (little endian) of
/// `blake2_256("keyorch/witness-draw" ‖ seed ‖ i as u32 LE)`. The first `count` positions are the
/// selection, in draw order. Returns `None` if there are fewer than `count` candidates.
///
/// Pure and read-only: no storage access, no panics, `O(n + count)`.
pub fn select_witnesses<A: Clone>(seed: &[u8], candidates: &[A], count: u32) -> Option<Vec<A>> {
	let count = usize::try_from(count).ok()?;
	if count > candidates.len() {
		return None;
	}
	let mut pool = candidates.to_vec();
	let mut input =
		Vec::with_capacity(DRAW_DOMAIN.len().saturating_add(seed.len()).saturating_add(4));
	for i in 0..count {
		let remaining = pool.len().saturating_sub(i);
		if remaining == 0 {
			return None;
		}
		input.clear();
		input.extend_from_slice(DRAW_DOMAIN);
		input.extend_from_slice(seed);
		input.extend_from_slice(&(i as u32).to_le_bytes());
		let hash = blake2_256(&input);
		let mut word = [0u8; 8];
		word.copy_from_slice(&hash[..8]);
		let r = u64::from_le_bytes(word);
		let offset = (r % remaining as u64) as usize;
		pool.swap(i, i.saturating_add(offset));
	}
	pool.truncate(count);
	Some(pool)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn deterministic_distinct_and_bounded() {
		let candidates: Vec<u32> = (0..20).collect();
		let a = select_witnesses(b"seed", &candidates, 7).unwrap();
		let b = select_witnesses(b"seed", &candidates, 7).unwrap();
		assert_eq!(a, b);
		assert_eq!(a.len(), 7);
		let mut sorted = a.clone();
		sorted.sort();
		sorted.dedup();
		assert_eq!(sorted.len(), 7);
		assert!(a.iter().all(|x| candidates.contains(x)));
		let c = select_witnesses(b"other seed", &candidates, 7).unwrap();
		assert_ne!(a, c);
	}

	#[test]
	fn edge_cases() {
		let candidates: Vec<u32> = (0..3).collect();
		assert_eq!(select_witnesses(b"s", &candidates, 4), None);
		assert_eq!(select_witnesses(b"s", &candidates, 0), Some(Vec::new()));
		let all = select_witnesses(b"s", &candidates, 3).unwrap();
		let mut sorted = all.clone();
		sorted.sort();
		assert_eq!(sorted, candidates);
		assert_eq!(select_witnesses::<u32>(b"s", &[], 0), Some(Vec::new()));
		assert_eq!(select_witnesses::<u32>(b"", &[], 1), None);
	}
}
