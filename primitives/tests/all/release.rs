//! Share release requests (sr25519) and sealed answers.

use keyorch_primitives::{
	combine, Error, ReleaseTerms, SealedShareAnswer, ShareReleaseRequest, FIRST_WITNESS_INDEX,
	INITIATOR_INDEX,
};
use schnorrkel::{ExpansionMode, Keypair, MiniSecretKey};

use super::{holder_secret, Fixture};

const WITNESS: [u8; 32] = [0x77; 32];

/// `//Alice` of Substrate's development keyring.
fn alice() -> Keypair {
	let seed = hex::decode("e5be9a5092b81bca64be81d212e7f2f9eba183bb7a90954f7b76361f6edb5c0a")
		.expect("hex");
	MiniSecretKey::from_bytes(&seed).expect("32 bytes").expand_to_keypair(ExpansionMode::Ed25519)
}

fn terms(fixture: &Fixture, requester: &Keypair) -> ReleaseTerms {
	ReleaseTerms {
		stream_id: fixture.context.stream_id,
		epoch: fixture.context.epoch,
		witness: WITNESS,
		requester: requester.public.to_bytes(),
		nonce: [0x33; 32],
		expires_at: 100,
	}
}

#[test]
fn alice_is_substrates_alice() {
	assert_eq!(
		hex::encode(alice().public.to_bytes()),
		"d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d"
	);
}

#[test]
fn signed_request_verifies_and_checks() {
	let fixture = Fixture::simple(3, 2);
	let alice = alice();
	let request = terms(&fixture, &alice).sign(&alice).expect("signs");
	assert_eq!(request.verify_signature(), Ok(()));
	assert_eq!(request.check(&WITNESS, 100), Ok(()));
	assert_eq!(request.check(&WITNESS, 101), Err(Error::Expired { expires_at: 100, now: 101 }));
	assert_eq!(request.check(&[0; 32], 1), Err(Error::WrongContext));

	// Any change to the signed terms breaks the signature.
	let mut tampered = request.clone();
	tampered.terms.expires_at = 1000;
	assert_eq!(tampered.verify_signature(), Err(Error::BadSignature));
	let mut renonced = request.clone();
	renonced.terms.nonce[0] ^= 1;
	assert_eq!(renonced.verify_signature(), Err(Error::BadSignature));
	let mut bad_signature = request.clone();
	bad_signature.signature[10] ^= 1;
	assert_eq!(bad_signature.verify_signature(), Err(Error::BadSignature));
	let mut not_a_key = request.clone();
	not_a_key.terms.requester = [0xff; 32];
	assert_eq!(not_a_key.verify_signature(), Err(Error::BadSignature));
}

#[test]
fn signature_made_elsewhere_verifies() {
	// As `sp_core::sr25519::Pair::sign(payload)` does.
	let fixture = Fixture::simple(3, 2);
	let alice = alice();
	let terms = terms(&fixture, &alice);
	let signature = alice.sign_simple(b"substrate", &terms.signing_payload()).to_bytes();
	assert_eq!(terms.with_signature(signature).verify_signature(), Ok(()));
}

#[test]
fn only_the_requester_signs() {
	let fixture = Fixture::simple(3, 2);
	let other = MiniSecretKey::from_bytes(&[9; 32])
		.expect("32 bytes")
		.expand_to_keypair(ExpansionMode::Ed25519);
	assert_eq!(terms(&fixture, &alice()).sign(&other).err(), Some(Error::SignerMismatch));
}

/// A request of the initiator (holder 1) to the first witness (holder 3).
fn request(fixture: &Fixture) -> ShareReleaseRequest {
	let alice = alice();
	terms(fixture, &alice).sign(&alice).expect("signs")
}

#[test]
fn answer_round_trip_and_assembly() {
	let fixture = Fixture::simple(4, 2);
	let request = request(&fixture);
	let initiator = &fixture.secrets[usize::from(INITIATOR_INDEX) - 1];
	let witness_share = fixture.share(usize::from(FIRST_WITNESS_INDEX) - 1);

	let answer =
		SealedShareAnswer::seal(&[1; 32], &witness_share, &request, &initiator.public_key())
			.expect("seals");
	assert_eq!(answer.holder_index, FIRST_WITNESS_INDEX);
	assert_eq!(answer.request_nonce, request.terms.nonce);
	let released = answer.open(initiator, &request).expect("opens");
	assert_eq!(released.index(), FIRST_WITNESS_INDEX);

	let own = fixture.share(0);
	let secret = combine(&[own, released], &fixture.dealing.commitments).expect("combines");
	let all = combine(&fixture.shares(), &fixture.dealing.commitments).expect("combines");
	assert_eq!(secret, all);
}

#[test]
fn answer_is_bound_to_request_and_requester() {
	let fixture = Fixture::simple(4, 2);
	let request = request(&fixture);
	let initiator = &fixture.secrets[0];
	let share = fixture.share(2);
	let answer = SealedShareAnswer::seal(&[1; 32], &share, &request, &initiator.public_key())
		.expect("seals");

	// Another requester's key.
	assert_eq!(answer.open(&holder_secret(1), &request).err(), Some(Error::DecryptionFailed));

	// Another request (new nonce): the answer names the old nonce.
	let mut second_terms = request.terms.clone();
	second_terms.nonce = [0x44; 32];
	let alice = alice();
	let second = second_terms.sign(&alice).expect("signs");
	assert_eq!(answer.open(initiator, &second).err(), Some(Error::WrongContext));
	// Relabelled with the new nonce, it fails authentication.
	let mut relabelled = answer.clone();
	relabelled.request_nonce = second.terms.nonce;
	assert_eq!(relabelled.open(initiator, &second).err(), Some(Error::DecryptionFailed));
	// A rewritten holder index fails authentication.
	let mut reindexed = answer.clone();
	reindexed.holder_index = 4;
	assert_eq!(reindexed.open(initiator, &request).err(), Some(Error::DecryptionFailed));

	// A witness cannot answer with a share of another epoch.
	let other_epoch = Fixture::new([7; 32], super::context(1, 1), 4, 2);
	assert_eq!(
		SealedShareAnswer::seal(&[1; 32], &other_epoch.share(2), &request, &initiator.public_key())
			.err(),
		Some(Error::WrongContext)
	);
}
