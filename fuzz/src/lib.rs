//! The bodies of keyorch's fuzz targets: one function a target, fed arbitrary bytes, which
//! must never panic. `fuzz/libfuzzer/` runs them under libFuzzer (`scripts/fuzz.sh`); the
//! smoke test below runs each on random and mutated inputs in the ordinary test suite.
//!
//! | target | decoder | input arrives from |
//! |---|---|---|
//! | [`sealed_record`] | `SealedShareRecord`, then opening it | the DHT, `keyorch_getRecord`, `keyorch_putRecord` |
//! | [`share_request`] | `ShareReleaseRequest`, its checks and signature | `keyorch_requestShare` |
//! | [`share_answer`] | `SealedShareAnswer`, then opening it | a witness's answer |
//! | [`commitments`] | `Commitments`, then verifying a share against them | the chain |
//! | [`metadata`] | `StreamMetadata` | the chain, a stream request |
//! | [`frame`] | a secure-stream frame header, then opening the frame | a secure stream's peer |
//!
//! Each decoded value must encode back to bytes that decode to the same value.

use std::sync::OnceLock;

use codec::Encode;
use keyorch_primitives::{
	combine, deal,
	frame::{FrameHeader, HEADER_LEN, TAG_LEN},
	release::{ReleaseTerms, SealedShareAnswer, ShareReleaseRequest},
	vss::{Commitments, HolderShare},
	DealContext, Direction, EncryptionSecret, Permissions, RotationPolicy, SealedShareRecord,
	StreamKeys, StreamMetadata, WireFormat, WireVersion,
};

/// The stream every target's fixed keys are of.
const CONTEXT: DealContext = DealContext { stream_id: [0xab; 32], epoch: 3 };

/// The session every frame target's receiver is of.
const SESSION: [u8; 16] = [7; 16];

/// A valid dealing the targets open and verify arbitrary inputs against.
struct Fixture {
	/// The secret of holder 1 (the initiator).
	secret: EncryptionSecret,
	/// One verified share and the commitments it verifies against.
	share: HolderShare,
	commitments: Commitments,
	/// A valid record for holder 1, for mutation.
	record: SealedShareRecord,
	/// The stream keys of the dealing.
	keys: StreamKeys,
	/// The bytes of a valid frame from the initiator to the provider.
	frame: Vec<u8>,
	/// A correctly signed request for holder 3's share.
	request: ShareReleaseRequest,
}

fn fixture() -> &'static Fixture {
	static FIXTURE: OnceLock<Fixture> = OnceLock::new();
	FIXTURE.get_or_init(|| {
		let secrets: Vec<_> =
			[[1u8; 32], [2; 32], [3; 32]].into_iter().map(EncryptionSecret::from_bytes).collect();
		let keys: Vec<_> = secrets.iter().map(|secret| secret.public_key()).collect();
		let dealing = deal(&[0x42; 32], &CONTEXT, 2, &keys).expect("a valid dealing");
		let open = |i: usize| {
			dealing.records[i].open(&secrets[i], &CONTEXT, i as u8 + 1).expect("its own record")
		};
		let (first, second) = (open(0), open(1));
		let stream_keys = combine(&[first.clone(), second], &dealing.commitments)
			.expect("two shares of threshold 2")
			.derive_keys(None);
		let mut frame = vec![0u8; HEADER_LEN + 5 + TAG_LEN];
		frame[HEADER_LEN..HEADER_LEN + 5].copy_from_slice(b"hello");
		let len = stream_keys
			.sender(Direction::InitiatorToProvider, SESSION)
			.seal_in_place(&mut frame, 5)
			.expect("a frame");
		frame.truncate(len);
		let keypair = schnorrkel_keypair();
		let terms = ReleaseTerms {
			stream_id: CONTEXT.stream_id,
			epoch: CONTEXT.epoch,
			witness: [9; 32],
			requester: keypair.1,
			nonce: [5; 32],
			expires_at: 100,
		};
		let request = terms.sign(&keypair.0).expect("a signed request");
		Fixture {
			secret: secrets.into_iter().next().expect("three secrets"),
			share: first,
			commitments: dealing.commitments,
			record: dealing.records[0].clone(),
			keys: stream_keys,
			frame,
			request,
		}
	})
}

fn schnorrkel_keypair() -> (schnorrkel::Keypair, [u8; 32]) {
	let keypair = schnorrkel::MiniSecretKey::from_bytes(&[8; 32])
		.expect("32 bytes")
		.expand_to_keypair(schnorrkel::ExpansionMode::Ed25519);
	let public = keypair.public.to_bytes();
	(keypair, public)
}

/// Decodes `bytes` as a `T`; a value that decodes must survive an encoding round trip.
fn decoded<T: WireFormat + PartialEq + core::fmt::Debug>(bytes: &[u8]) -> Option<T> {
	let value = T::decode_exact(bytes).ok()?;
	let again = T::decode_exact(&value.encode()).expect("an encoded value decodes");
	assert_eq!(again, value, "the encoding round trip changed the value");
	Some(value)
}

/// A sealed share record from a peer: decoded, then opened as holder 1's.
pub fn sealed_record(bytes: &[u8]) {
	let Some(record) = decoded::<SealedShareRecord>(bytes) else { return };
	let fixture = fixture();
	if let Ok(share) = record.open(&fixture.secret, &CONTEXT, 1) {
		// Only the dealer's own record opens, and then it verifies.
		share.verify(&fixture.commitments).expect("a record that opens holds the dealt share");
	}
}

/// A share request from an RPC caller: decoded, checked and its signature verified.
pub fn share_request(bytes: &[u8]) {
	let Some(request) = decoded::<ShareReleaseRequest>(bytes) else { return };
	let _ = request.check(&request.terms.witness, request.terms.expires_at);
	let _ = request.verify_signature();
	let _ = request.hash();
}

/// A witness's answer: decoded, then opened by the fixture's requester.
pub fn share_answer(bytes: &[u8]) {
	let Some(answer) = decoded::<SealedShareAnswer>(bytes) else { return };
	let fixture = fixture();
	let _ = answer.open(&fixture.secret, &fixture.request);
}

/// Commitments from the chain: decoded, then the fixture's share verified against them.
pub fn commitments(bytes: &[u8]) {
	let Some(commitments) = decoded::<Commitments>(bytes) else { return };
	let _ = fixture().share.verify(&commitments);
}

/// Stream metadata from the chain.
pub fn metadata(bytes: &[u8]) {
	let _ = decoded::<StreamMetadata>(bytes);
}

/// A frame from a secure stream's peer: its header parsed, then the frame opened.
pub fn frame(bytes: &[u8]) {
	if let Ok(header) = FrameHeader::parse(bytes) {
		assert_eq!(header.to_bytes()[..], bytes[..HEADER_LEN], "the header round trip");
	}
	let mut frame = bytes.to_vec();
	let mut receiver = fixture().keys.receiver(Direction::InitiatorToProvider, SESSION);
	if let Ok(payload) = receiver.open_in_place(&mut frame) {
		// Only the fixture's own frame opens.
		assert_eq!(payload, b"hello");
	}
}

/// A fuzz body: takes any bytes, panics only on a bug.
pub type Target = fn(&[u8]);

/// Every target by name, for the smoke test and for `scripts/fuzz.sh`'s listing.
pub const TARGETS: [(&str, Target); 6] = [
	("sealed_record", sealed_record),
	("share_request", share_request),
	("share_answer", share_answer),
	("commitments", commitments),
	("metadata", metadata),
	("frame", frame),
];

fn sample_metadata() -> StreamMetadata {
	StreamMetadata {
		version: WireVersion::V1,
		data_type: b"video/h264".to_vec().try_into().expect("a short data type"),
		permissions: Permissions::ALL,
		duration_blocks: 600,
		provider: [2; 32],
		witness_count: 1,
		threshold: 2,
		rotation: RotationPolicy { every_blocks: Some(100), every_bytes: None },
	}
}

/// A valid input of each target, to mutate.
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
	let fixture = fixture();
	let answer = SealedShareAnswer {
		version: WireVersion::V1,
		stream_id: CONTEXT.stream_id,
		epoch: CONTEXT.epoch,
		holder_index: 3,
		request_nonce: fixture.request.terms.nonce,
		ephemeral_key: fixture.record.ephemeral_key,
		ciphertext: fixture.record.ciphertext,
	};
	vec![
		("sealed_record", fixture.record.encode()),
		("share_request", fixture.request.encode()),
		("share_answer", answer.encode()),
		("commitments", fixture.commitments.encode()),
		("metadata", sample_metadata().encode()),
		("frame", fixture.frame.clone()),
	]
}

#[cfg(test)]
mod tests {
	use rand::{rngs::StdRng, Rng, SeedableRng};

	use super::*;

	/// Inputs each target gets in the smoke test: random ones and mutations of a valid one.
	const SMOKE_INPUTS: usize = 4_000;

	/// `seed` with a few bytes flipped, inserted, removed or cut off.
	fn mutated(rng: &mut StdRng, seed: &[u8]) -> Vec<u8> {
		let mut bytes = seed.to_vec();
		for _ in 0..rng.gen_range(1..4) {
			let at = rng.gen_range(0..=bytes.len());
			match rng.gen_range(0..4) {
				0 if at < bytes.len() => bytes[at] ^= 1 << rng.gen_range(0..8),
				1 => bytes.insert(at, rng.gen()),
				2 if at < bytes.len() => drop(bytes.remove(at)),
				_ => bytes.truncate(at),
			}
		}
		bytes
	}

	#[test]
	fn every_target_takes_random_and_mutated_inputs_without_panicking() {
		let mut rng = StdRng::seed_from_u64(13);
		let seeds = seeds();
		for (name, target) in TARGETS {
			let (_, seed) = seeds.iter().find(|(seed_of, _)| *seed_of == name).expect("a seed");
			target(seed);
			for _ in 0..SMOKE_INPUTS {
				let len = rng.gen_range(0..256);
				let random: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
				target(&random);
				target(&mutated(&mut rng, seed));
			}
		}
	}

	#[test]
	fn the_seeds_are_valid_inputs() {
		let fixture = fixture();
		assert!(decoded::<SealedShareRecord>(&fixture.record.encode()).is_some());
		let mut frame = fixture.frame.clone();
		let mut receiver = fixture.keys.receiver(Direction::InitiatorToProvider, SESSION);
		assert_eq!(receiver.open_in_place(&mut frame).expect("the fixture's frame"), b"hello");
		fixture.request.verify_signature().expect("a signed request");
		for (name, seed) in seeds() {
			assert!(!seed.is_empty(), "{name}");
		}
	}
}
