//! Every decoder on arbitrary and on mutated bytes: an error, never a panic.

use std::sync::OnceLock;

use codec::{Decode, Encode};
use keyorch_primitives::{
	Commitments, EncryptionPublicKey, FrameHeader, ReleaseTerms, SealedShareAnswer,
	SealedShareRecord, ShareReleaseRequest, StreamMetadata, WireFormat,
};
use proptest::prelude::*;

use super::Fixture;

/// Feeds `bytes` to both SCALE entry points of `T`.
fn decode_both<T: WireFormat + PartialEq + core::fmt::Debug>(bytes: &[u8]) {
	let exact = T::decode_exact(bytes);
	let prefix = T::decode(&mut &bytes[..]);
	if let Ok(value) = exact {
		// Whatever decodes exactly re-encodes to the same bytes.
		assert_eq!(value.encode(), bytes);
		assert_eq!(prefix.ok(), Some(value));
	}
}

fn decode_all_types(bytes: &[u8]) {
	decode_both::<Commitments>(bytes);
	decode_both::<SealedShareRecord>(bytes);
	decode_both::<StreamMetadata>(bytes);
	decode_both::<ShareReleaseRequest>(bytes);
	decode_both::<SealedShareAnswer>(bytes);
	let _ = ReleaseTerms::decode(&mut &bytes[..]);
	let _ = EncryptionPublicKey::decode(&mut &bytes[..]);
	let _ = FrameHeader::parse(bytes);
	if let Ok(commitments) = Commitments::decode_exact(bytes) {
		let _ = commitments.validate();
	}
}

/// Valid encodings of wire types.
fn samples() -> &'static [Vec<u8>] {
	static SAMPLES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
	SAMPLES.get_or_init(|| {
		let fixture = Fixture::simple(4, 3);
		let request = ReleaseTerms {
			stream_id: [1; 32],
			epoch: 0,
			witness: [2; 32],
			requester: [3; 32],
			nonce: [4; 32],
			expires_at: 9,
		}
		.with_signature([5; 64]);
		vec![
			fixture.dealing.commitments.encode(),
			fixture.dealing.records[0].encode(),
			request.encode(),
		]
	})
}

proptest! {
	#![proptest_config(ProptestConfig::with_cases(512))]

	#[test]
	fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
		decode_all_types(&bytes);
	}

	#[test]
	fn mutated_encodings(
		sample in any::<prop::sample::Index>(),
		edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
		cut in any::<prop::sample::Index>(),
	) {
		let samples = samples();
		let mut bytes = samples[sample.index(samples.len())].clone();
		for (position, value) in edits {
			let position = position.index(bytes.len());
			bytes[position] = value;
		}
		decode_all_types(&bytes);
		let cut = cut.index(bytes.len());
		decode_all_types(&bytes[..cut]);
	}
}
