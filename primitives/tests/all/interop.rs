//! Interoperability with vsss-rs' Feldman VSS over Ristretto255, both ways.

use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::Scalar;
use keyorch_primitives::{combine, Commitments, HolderShare, WireVersion};
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use vsss_rs::curve25519::{WrappedRistretto, WrappedScalar};
use vsss_rs::{
	feldman, DefaultShare, FeldmanVerifierSet, IdentifierPrimeField, ReadableShareSet, ValueGroup,
};

use super::{context, Fixture};

type VssScalar = IdentifierPrimeField<WrappedScalar>;
type VssShare = DefaultShare<VssScalar, VssScalar>;
type VssPoint = ValueGroup<WrappedRistretto>;

fn vss_scalar(scalar: Scalar) -> VssScalar {
	IdentifierPrimeField(WrappedScalar(scalar))
}

fn vss_point(point: RistrettoPoint) -> VssPoint {
	ValueGroup(WrappedRistretto(point))
}

proptest! {
	#![proptest_config(ProptestConfig::with_cases(12))]

	/// Shares we deal verify with vsss-rs, and vsss-rs rebuilds the committed secret.
	#[test]
	fn vsss_rs_accepts_our_dealings(
		(n, t, seed) in (2usize..=20).prop_flat_map(|n| (Just(n), 2..=n as u8, any::<[u8; 32]>()))
	) {
		let fixture = Fixture::new(seed, context(6, 0), n, t);
		let points: Vec<RistrettoPoint> = fixture
			.dealing
			.commitments
			.points
			.iter()
			.map(|bytes| CompressedRistretto(*bytes).decompress().expect("valid point"))
			.collect();
		let verifiers: Vec<VssPoint> =
			std::iter::once(vss_point(RistrettoPoint::mul_base(&Scalar::ONE)))
				.chain(points.iter().copied().map(vss_point))
				.collect();
		let shares: Vec<VssShare> = fixture
			.shares()
			.iter()
			.map(|share| VssShare {
				identifier: vss_scalar(Scalar::from(share.index())),
				value: vss_scalar(
					Scalar::from_canonical_bytes(*share.to_bytes()).expect("canonical"),
				),
			})
			.collect();
		for share in &shares {
			prop_assert!(verifiers.verify_share(share).is_ok());
		}
		let secret = shares[n - usize::from(t)..].to_vec().combine().expect("combines");
		prop_assert_eq!(RistrettoPoint::mul_base(&secret.0 .0), points[0]);
	}

	/// Shares vsss-rs deals verify and combine with keyorch.
	#[test]
	fn we_accept_vsss_rs_dealings(
		(n, t, seed) in (2usize..=20).prop_flat_map(|n| (Just(n), 2..=n, any::<[u8; 32]>()))
	) {
		let mut rng = ChaCha20Rng::from_seed(seed);
		let secret = vss_scalar(Scalar::from_bytes_mod_order(seed));
		let (shares, verifiers) =
			feldman::split_secret::<VssShare, VssPoint>(t, n, &secret, None, &mut rng)
				.expect("splits");
		let commitments = Commitments {
			version: WireVersion::V1,
			points: FeldmanVerifierSet::<VssShare, VssPoint>::verifiers(&verifiers)
				.iter()
				.map(|point| point.0 .0.compress().to_bytes())
				.collect::<Vec<_>>()
				.try_into()
				.expect("bounded"),
		};
		let ctx = context(7, 0);
		let ours: Vec<HolderShare> = shares
			.iter()
			.map(|share| {
				let id = share.identifier.0 .0.to_bytes();
				assert!(id[1..].iter().all(|&b| b == 0), "identifiers are 1..=n");
				let index = id[0];
				HolderShare::from_bytes(ctx, index, &share.value.0 .0.to_bytes())
					.expect("canonical")
			})
			.collect();
		for share in &ours {
			prop_assert_eq!(share.verify(&commitments), Ok(()));
		}
		let rebuilt = combine(&ours[..t], &commitments).expect("combines");
		prop_assert_eq!(rebuilt.context(), &ctx);
	}
}
