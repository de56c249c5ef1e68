//! Dealing, sealing, verification and assembly.

use keyorch_primitives::{
	combine, deal, Commitments, EncryptionPublicKey, Error, HolderShare, WireVersion, MAX_HOLDERS,
};
use proptest::prelude::*;

use super::{context, holder_secret, index, Fixture};

fn keys(n: usize) -> Vec<EncryptionPublicKey> {
	(0..n).map(|i| holder_secret(i).public_key()).collect()
}

#[test]
fn deal_rejects_bad_parameters() {
	let ctx = context(1, 0);
	let seed = [1; 32];
	for (n, t) in [(3, 0), (3, 1), (3, 4), (2, 3), (0, 2)] {
		assert_eq!(
			deal(&seed, &ctx, t, &keys(n)),
			Err(Error::ThresholdOutOfRange { threshold: usize::from(t), holders: n })
		);
	}
	assert_eq!(
		deal(&seed, &ctx, 2, &keys(MAX_HOLDERS + 1)),
		Err(Error::TooManyHolders { holders: MAX_HOLDERS + 1 })
	);

	let mut duplicate = keys(4);
	duplicate[3] = duplicate[1];
	assert_eq!(
		deal(&seed, &ctx, 2, &duplicate),
		Err(Error::DuplicateHolderKey { first: 2, second: 4 })
	);

	for low_order in [[0u8; 32], {
		let mut one = [0u8; 32];
		one[0] = 1;
		one
	}] {
		let mut holders = keys(3);
		holders[2] = EncryptionPublicKey(low_order);
		assert_eq!(deal(&seed, &ctx, 2, &holders), Err(Error::InvalidHolderKey(3)));
	}
}

#[test]
fn dealing_shape_and_determinism() {
	let fixture = Fixture::simple(5, 3);
	let dealing = &fixture.dealing;
	assert_eq!(dealing.commitments.threshold(), 3);
	assert_eq!(dealing.commitments.validate(), Ok(()));
	assert_eq!(dealing.records.len(), 5);
	for (i, record) in dealing.records.iter().enumerate() {
		assert_eq!(record.holder_index, index(i));
		assert_eq!(record.context(), fixture.context);
		assert_eq!(record.version, WireVersion::V1);
	}
	assert_eq!(dealing.record_hashes().len(), 5);

	// Same seed and context: same dealing. Another epoch or stream: unrelated.
	let again = Fixture::simple(5, 3);
	assert_eq!(again.dealing, fixture.dealing);
	let other_epoch = Fixture::new([7; 32], context(1, 1), 5, 3);
	assert_ne!(other_epoch.dealing.commitments, fixture.dealing.commitments);
	let other_stream = Fixture::new([7; 32], context(2, 0), 5, 3);
	assert_ne!(other_stream.dealing.commitments, fixture.dealing.commitments);
}

#[test]
fn combine_checks_inputs() {
	let fixture = Fixture::simple(6, 3);
	let shares = fixture.shares();
	let commitments = &fixture.dealing.commitments;

	assert_eq!(combine(&[], commitments), Err(Error::NotEnoughShares { have: 0, need: 3 }));
	assert_eq!(
		combine(&shares[..2], commitments),
		Err(Error::NotEnoughShares { have: 2, need: 3 })
	);
	let duplicated = [shares[0].clone(), shares[1].clone(), shares[0].clone()];
	assert_eq!(combine(&duplicated, commitments), Err(Error::DuplicateShare(1)));

	let other = Fixture::new([7; 32], context(1, 1), 6, 3);
	let mixed = [shares[0].clone(), shares[1].clone(), other.share(2)];
	assert_eq!(combine(&mixed, commitments), Err(Error::WrongContext));
	// Shares of one dealing against another dealing's commitments.
	assert!(matches!(
		combine(&shares[..3], &other.dealing.commitments),
		Err(Error::ShareVerificationFailed(_))
	));
	assert_eq!(
		shares[0].verify(&other.dealing.commitments),
		Err(Error::ShareVerificationFailed(1))
	);

	// More than t shares: the first t are used.
	let all = combine(&shares, commitments).expect("all shares combine");
	let three = combine(&shares[3..], commitments).expect("last three combine");
	assert_eq!(all, three);
	assert_eq!(all.context(), &fixture.context);
}

#[test]
fn commitments_validation() {
	let fixture = Fixture::simple(4, 3);
	let valid = fixture.dealing.commitments.clone();

	let mut too_few = valid.clone();
	too_few.points.truncate(1);
	assert_eq!(too_few.validate(), Err(Error::CommitmentCountOutOfRange { count: 1 }));

	let mut identity = valid.clone();
	identity.points[1] = [0; 32];
	assert_eq!(identity.validate(), Err(Error::InvalidCommitment { position: 1 }));

	let mut not_a_point = valid.clone();
	not_a_point.points[2] = [0xff; 32];
	assert_eq!(not_a_point.validate(), Err(Error::InvalidCommitment { position: 2 }));

	let share = fixture.share(0);
	assert_eq!(share.verify(&not_a_point), Err(Error::InvalidCommitment { position: 2 }));
}

#[test]
fn sealed_record_is_bound_to_holder_stream_and_epoch() {
	let fixture = Fixture::simple(4, 2);
	let record = &fixture.dealing.records[1];
	let ctx = fixture.context;

	// Another holder's key.
	assert_eq!(record.open(&fixture.secrets[0], &ctx, 2).err(), Some(Error::DecryptionFailed));
	// Another expected context or index.
	assert_eq!(
		record.open(&fixture.secrets[1], &context(9, 0), 2).err(),
		Some(Error::WrongContext)
	);
	assert_eq!(
		record.open(&fixture.secrets[1], &context(1, 1), 2).err(),
		Some(Error::WrongContext)
	);
	assert_eq!(record.open(&fixture.secrets[1], &ctx, 3).err(), Some(Error::WrongContext));

	// A record whose visible header is rewritten to another stream, epoch or
	// holder fails authentication.
	let mut restreamed = record.clone();
	restreamed.stream_id = [9; 32];
	assert_eq!(
		restreamed.open(&fixture.secrets[1], &context(9, 0), 2).err(),
		Some(Error::DecryptionFailed)
	);
	let mut re_epoched = record.clone();
	re_epoched.epoch = 1;
	assert_eq!(
		re_epoched.open(&fixture.secrets[1], &context(1, 1), 2).err(),
		Some(Error::DecryptionFailed)
	);
	let mut reindexed = record.clone();
	reindexed.holder_index = 3;
	assert_eq!(reindexed.open(&fixture.secrets[1], &ctx, 3).err(), Some(Error::DecryptionFailed));

	// Tampered ciphertext or ephemeral key.
	let mut tampered = record.clone();
	tampered.ciphertext[5] ^= 1;
	assert_eq!(tampered.open(&fixture.secrets[1], &ctx, 2).err(), Some(Error::DecryptionFailed));
	let mut low_order = record.clone();
	low_order.ephemeral_key = EncryptionPublicKey([0; 32]);
	assert_eq!(low_order.open(&fixture.secrets[1], &ctx, 2).err(), Some(Error::NonContributory));
}

#[test]
fn share_bytes_round_trip() {
	let fixture = Fixture::simple(3, 2);
	let share = fixture.share(2);
	let bytes = share.to_bytes();
	let back = HolderShare::from_bytes(fixture.context, 3, &bytes).expect("canonical");
	assert_eq!(back.verify(&fixture.dealing.commitments), Ok(()));
	assert_eq!(
		HolderShare::from_bytes(fixture.context, 0, &bytes).err(),
		Some(Error::InvalidHolderIndex)
	);
	assert_eq!(
		HolderShare::from_bytes(fixture.context, 3, &[0xff; 32]).err(),
		Some(Error::Malformed)
	);
}

#[test]
fn secrets_are_redacted_in_debug() {
	let fixture = Fixture::simple(3, 2);
	let shares = fixture.shares();
	let secret = combine(&shares, &fixture.dealing.commitments).expect("combines");
	let keys = secret.derive_keys(None);
	let share_hex = hex::encode(*shares[0].to_bytes());
	for shown in [
		format!("{:?}", shares[0]),
		format!("{secret:?}"),
		format!("{keys:?}"),
		format!("{:?}", fixture.secrets[0]),
	] {
		assert!(!shown.contains(&share_hex), "{shown}");
		assert!(shown.contains("redacted") || shown.contains("fingerprint"), "{shown}");
	}
}

#[test]
fn stream_keys_depend_on_channel_binding() {
	let fixture = Fixture::simple(3, 2);
	let secret = combine(&fixture.shares(), &fixture.dealing.commitments).expect("combines");
	let plain = secret.derive_keys(None).fingerprint();
	assert_eq!(secret.derive_keys(Some(&[])).fingerprint(), plain);
	assert_ne!(secret.derive_keys(Some(b"tls exporter")).fingerprint(), plain);
	assert_eq!(plain.to_string().len(), 16);
}

/// `n` holders, threshold `t`, a seed, and three random orderings of the holders.
fn dealing_and_subsets() -> impl Strategy<Value = (usize, u8, [u8; 32], Vec<Vec<usize>>)> {
	(2usize..=64).prop_flat_map(|n| (Just(n), 2..=n as u8, any::<[u8; 32]>())).prop_flat_map(
		|(n, t, seed)| {
			let order = Just((0..n).collect::<Vec<_>>()).prop_shuffle();
			(Just(n), Just(t), Just(seed), proptest::collection::vec(order, 3))
		},
	)
}

proptest! {
	#![proptest_config(ProptestConfig::with_cases(64))]

	#[test]
	fn any_t_shares_rebuild_the_secret_and_t_minus_1_do_not(
		(n, t, seed, orders) in dealing_and_subsets()
	) {
		let fixture = Fixture::new(seed, context(3, 7), n, t);
		let shares = fixture.shares();
		let commitments = &fixture.dealing.commitments;
		let t = usize::from(t);
		let pick = |order: &[usize], k: usize| -> Vec<HolderShare> {
			order[..k].iter().map(|&i| shares[i].clone()).collect()
		};

		let reference = combine(&pick(&orders[0], t), commitments).expect("t shares combine");
		for order in &orders[1..] {
			let secret = combine(&pick(order, t), commitments).expect("t shares combine");
			prop_assert_eq!(&secret, &reference);
		}

		for order in &orders {
			let fewer = pick(order, t - 1);
			prop_assert_eq!(
				combine(&fewer, commitments).err(),
				Some(Error::NotEnoughShares { have: t - 1, need: t })
			);
			// Interpolating t - 1 shares as if the threshold were t - 1 does not
			// give the committed secret.
			if t > 2 {
				let truncated = Commitments {
					version: WireVersion::V1,
					points: commitments.points[..t - 1].to_vec().try_into().expect("bounded"),
				};
				prop_assert!(matches!(
					combine(&fewer, &truncated),
					Err(Error::ShareVerificationFailed(_) | Error::SecretMismatch)
				));
			}
		}
	}

	#[test]
	fn a_share_with_one_bit_flipped_fails(
		(n, t, seed) in (2usize..=16).prop_flat_map(|n| (Just(n), 2..=n as u8, any::<[u8; 32]>())),
		holder in any::<prop::sample::Index>(),
		bit in 0usize..256,
	) {
		let fixture = Fixture::new(seed, context(4, 1), n, t);
		let holder = holder.index(n);
		let share = fixture.share(holder);
		let mut bytes = share.to_bytes();
		bytes[bit / 8] ^= 1 << (bit % 8);
		match HolderShare::from_bytes(fixture.context, index(holder), &bytes) {
			// Flipping a high bit can leave the canonical range.
			Err(error) => prop_assert_eq!(error, Error::Malformed),
			Ok(flipped) => {
				prop_assert_eq!(
					flipped.verify(&fixture.dealing.commitments),
					Err(Error::ShareVerificationFailed(index(holder)))
				);
				let mut shares: Vec<HolderShare> = fixture
					.shares()
					.into_iter()
					.filter(|s| s.index() != index(holder))
					.take(usize::from(t) - 1)
					.collect();
				shares.insert(0, flipped);
				prop_assert_eq!(
					combine(&shares, &fixture.dealing.commitments).err(),
					Some(Error::ShareVerificationFailed(index(holder)))
				);
			}
		}
	}

	#[test]
	fn a_record_opens_only_for_its_holder_and_context(
		(n, seed) in (2usize..=12).prop_flat_map(|n| (Just(n), any::<[u8; 32]>())),
		holder in any::<prop::sample::Index>(),
		other in any::<prop::sample::Index>(),
		stream in any::<u8>(),
		epoch in any::<u32>(),
	) {
		let fixture = Fixture::new(seed, context(5, 2), n, 2);
		let holder = holder.index(n);
		let other = other.index(n);
		let record = &fixture.dealing.records[holder];
		let own = &fixture.secrets[holder];
		if other != holder {
			prop_assert_eq!(
				record.open(&fixture.secrets[other], &fixture.context, index(holder)).err(),
				Some(Error::DecryptionFailed)
			);
			prop_assert_eq!(
				record.open(own, &fixture.context, index(other)).err(),
				Some(Error::WrongContext)
			);
		}
		let forged_context = context(stream, epoch);
		if forged_context != fixture.context {
			prop_assert_eq!(
				record.open(own, &forged_context, index(holder)).err(),
				Some(Error::WrongContext)
			);
			let mut rewritten = record.clone();
			rewritten.stream_id = forged_context.stream_id;
			rewritten.epoch = forged_context.epoch;
			prop_assert_eq!(
				rewritten.open(own, &forged_context, index(holder)).err(),
				Some(Error::DecryptionFailed)
			);
		}
	}
}
