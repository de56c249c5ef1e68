//! Dealing, verification and assembly of a stream secret (Feldman VSS over
//! Ristretto255).
//!
//! The dealer draws a random polynomial
//! `f(x) = s + a_1 x + … + a_{t-1} x^{t-1}` over the Ristretto255 scalar field,
//! whose constant term `s` is the stream secret; holder `i` receives `f(i)`
//! sealed to its key, and everybody receives the commitments `C_j = a_j · G`
//! (`a_0 = s`, `G` the Ristretto basepoint), against which a holder checks
//! `f(i) · G = Σ_j i^j · C_j`. Any `t` shares give `s` by Lagrange interpolation
//! at 0, which is checked against `C_0`.
//!
//! The arithmetic is `curve25519-dalek`'s. The scheme is the one of `vsss-rs`
//! (`feldman::split_secret` with sequential identifiers `1..=n`), with which the
//! test suite checks interoperability both ways; `vsss-rs` itself is not a
//! dependency because it enables `subtle/std`, which does not build for
//! `wasm32v1-none`.

use alloc::vec::Vec;
use core::fmt;

use bounded_collections::{BoundedVec, ConstU32};
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use curve25519_dalek::Scalar;
use scale_info::TypeInfo;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::keys::EncryptionPublicKey;
use crate::rng::SeededRng;
use crate::sealed::{record_hash, SealedShareRecord};
use crate::stream::StreamKeys;
use crate::wire::{WireFormat, WireVersion};
use crate::{domain, Error, HolderIndex, Result, StreamId, MAX_HOLDERS, MIN_THRESHOLD};

/// The secret polynomial of a dealing, lowest degree first. Zeroized on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
struct Polynomial(Vec<Scalar>);

impl Polynomial {
	/// A polynomial of degree `threshold - 1` with uniformly random coefficients.
	fn random(threshold: usize, rng: &mut SeededRng) -> Self {
		Self((0..threshold).map(|_| Scalar::random(rng)).collect())
	}

	/// `f(x)` by Horner's rule.
	fn evaluate(&self, x: HolderIndex) -> Zeroizing<Scalar> {
		let x = Scalar::from(x);
		let mut value = Zeroizing::new(Scalar::ZERO);
		for coefficient in self.0.iter().rev() {
			*value = *value * x + coefficient;
		}
		value
	}

	/// The commitments `a_j · G`.
	fn commit(&self) -> Vec<[u8; 32]> {
		self.0
			.iter()
			.map(|coefficient| RistrettoPoint::mul_base(coefficient).compress().to_bytes())
			.collect()
	}
}

/// The stream and epoch a dealing belongs to.
#[derive(
	Clone,
	Copy,
	Debug,
	PartialEq,
	Eq,
	Hash,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct DealContext {
	/// The stream.
	pub stream_id: StreamId,
	/// The key epoch of the stream (0 for the first dealing, +1 per rotation).
	pub epoch: u32,
}

/// Public Feldman commitments of one dealing, `C_0 … C_{t-1}` as compressed
/// Ristretto points; `C_0` commits to the secret and the count is the threshold.
#[derive(
	Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
pub struct Commitments {
	/// Format version.
	pub version: WireVersion,
	/// Compressed points `C_0 … C_{t-1}`.
	pub points: BoundedVec<[u8; 32], ConstU32<{ MAX_HOLDERS as u32 }>>,
}

impl WireFormat for Commitments {}

impl Commitments {
	/// The threshold of the dealing: the number of commitment elements.
	pub fn threshold(&self) -> usize {
		self.points.len()
	}

	/// Checks that the threshold is within `MIN_THRESHOLD..=MAX_HOLDERS` and that
	/// every element is a canonical encoding of a Ristretto point other than the
	/// identity. Usable in the runtime (`no_std`).
	pub fn validate(&self) -> Result<()> {
		self.decompress().map(drop)
	}

	fn decompress(&self) -> Result<Vec<RistrettoPoint>> {
		let count = self.points.len();
		if !(MIN_THRESHOLD..=MAX_HOLDERS).contains(&count) {
			return Err(Error::CommitmentCountOutOfRange { count });
		}
		self.points
			.iter()
			.enumerate()
			.map(|(position, bytes)| {
				CompressedRistretto(*bytes)
					.decompress()
					.filter(|point| !point.is_identity())
					.ok_or(Error::InvalidCommitment { position })
			})
			.collect()
	}

	/// Checks `share · G = Σ_j index^j · C_j` against decompressed commitments.
	fn verify_share(points: &[RistrettoPoint], index: HolderIndex, share: &Scalar) -> bool {
		let x = Scalar::from(index);
		// dalek's multiscalar multiplication wants exact-size iterators.
		let powers: Vec<Scalar> =
			core::iter::successors(Some(Scalar::ONE), |power| Some(power * x))
				.take(points.len())
				.collect();
		let expected = RistrettoPoint::vartime_multiscalar_mul(&powers, points);
		RistrettoPoint::mul_base(share) == expected
	}
}

/// The public result of a dealing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dealing {
	/// Feldman commitments; goes on chain.
	pub commitments: Commitments,
	/// One sealed share per holder; `records[i]` is for holder index `i + 1`.
	pub records: Vec<SealedShareRecord>,
}

impl Dealing {
	/// [`record_hash`] of every record, in holder order; goes on chain.
	pub fn record_hashes(&self) -> Vec<[u8; 32]> {
		self.records.iter().map(record_hash).collect()
	}
}

/// The holder indices `1..=255`, in order.
pub(crate) fn holder_indices() -> impl Iterator<Item = HolderIndex> {
	1..=HolderIndex::MAX
}

/// Deals a fresh stream secret to `holders` with threshold `threshold`.
///
/// `holders[i]` is the encryption key of holder index `i + 1`: initiator,
/// provider, then the witnesses (see the crate documentation). All randomness —
/// the secret, the polynomial and the ephemeral sealing keys — is expanded from
/// `seed` (bound to `context`), which must be fresh CSPRNG output.
///
/// # Errors
///
/// [`Error::TooManyHolders`] above [`MAX_HOLDERS`]; [`Error::ThresholdOutOfRange`]
/// unless `MIN_THRESHOLD <= threshold <= holders.len()`;
/// [`Error::DuplicateHolderKey`] if two holders share a key;
/// [`Error::InvalidHolderKey`] for a low-order key (see
/// [`EncryptionPublicKey::validate`]).
pub fn deal(
	seed: &[u8; 32],
	context: &DealContext,
	threshold: u8,
	holders: &[EncryptionPublicKey],
) -> Result<Dealing> {
	let holders_len = holders.len();
	let threshold = usize::from(threshold);
	check_sizes(threshold, holders_len)?;
	check_distinct(holders)?;

	let mut rng =
		SeededRng::new(seed, domain::DEAL_RNG, &[&context.stream_id, &context.epoch.to_le_bytes()]);
	let polynomial = Polynomial::random(threshold, &mut rng);
	let commitments = Commitments {
		version: WireVersion::V1,
		// `threshold <= MAX_HOLDERS`, the bound: nothing is truncated.
		points: BoundedVec::truncate_from(polynomial.commit()),
	};
	let records = holders
		.iter()
		.zip(holder_indices())
		.map(|(key, index)| {
			let share = Zeroizing::new(polynomial.evaluate(index).to_bytes());
			SealedShareRecord::seal(&mut rng, context, index, key, &share).map_err(|e| match e {
				Error::NonContributory => Error::InvalidHolderKey(index),
				other => other,
			})
		})
		.collect::<Result<Vec<_>>>()?;

	Ok(Dealing { commitments, records })
}

/// Checks `holders <= MAX_HOLDERS` and `MIN_THRESHOLD <= threshold <= holders`.
pub(crate) fn check_sizes(threshold: usize, holders: usize) -> Result<()> {
	if holders > MAX_HOLDERS {
		return Err(Error::TooManyHolders { holders });
	}
	if !(MIN_THRESHOLD..=holders).contains(&threshold) {
		return Err(Error::ThresholdOutOfRange { threshold, holders });
	}
	Ok(())
}

fn check_distinct(holders: &[EncryptionPublicKey]) -> Result<()> {
	let mut sorted: Vec<(&EncryptionPublicKey, HolderIndex)> =
		holders.iter().zip(holder_indices()).collect();
	sorted.sort_unstable();
	match sorted.windows(2).find(|pair| pair[0].0 == pair[1].0) {
		Some(pair) => Err(Error::DuplicateHolderKey { first: pair[0].1, second: pair[1].1 }),
		None => Ok(()),
	}
}

/// A holder's share of a stream secret. Zeroized on drop; `Debug` shows the
/// context and index only.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct HolderShare {
	#[zeroize(skip)]
	context: DealContext,
	#[zeroize(skip)]
	index: HolderIndex,
	value: Scalar,
}

impl HolderShare {
	/// A share from its 32-byte canonical scalar encoding, e.g. as kept in a
	/// holder's own secure storage.
	///
	/// Fails with [`Error::InvalidHolderIndex`] for index 0 and
	/// [`Error::Malformed`] for a non-canonical scalar.
	pub fn from_bytes(context: DealContext, index: HolderIndex, bytes: &[u8; 32]) -> Result<Self> {
		if index == 0 {
			return Err(Error::InvalidHolderIndex);
		}
		let value =
			Option::<Scalar>::from(Scalar::from_canonical_bytes(*bytes)).ok_or(Error::Malformed)?;
		Ok(Self { context, index, value })
	}

	/// The canonical 32-byte encoding of the share value.
	pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
		Zeroizing::new(self.value.to_bytes())
	}

	/// The stream and epoch of the share.
	pub fn context(&self) -> &DealContext {
		&self.context
	}

	/// The holder index (the share is `f(index)`).
	pub fn index(&self) -> HolderIndex {
		self.index
	}

	/// Checks the share against the dealing's commitments.
	///
	/// Fails with [`Error::ShareVerificationFailed`] for a wrong share, or with the
	/// error of [`Commitments::validate`].
	pub fn verify(&self, commitments: &Commitments) -> Result<()> {
		self.verify_against(&commitments.decompress()?)
	}

	fn verify_against(&self, points: &[RistrettoPoint]) -> Result<()> {
		if Commitments::verify_share(points, self.index, &self.value) {
			Ok(())
		} else {
			Err(Error::ShareVerificationFailed(self.index))
		}
	}
}

impl fmt::Debug for HolderShare {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		f.debug_struct("HolderShare")
			.field("context", &self.context)
			.field("index", &self.index)
			.field("value", &"<redacted>")
			.finish()
	}
}

/// Rebuilds the stream secret from at least `t` shares of one dealing.
///
/// The first `t` shares (`t` = [`Commitments::threshold`]) are interpolated and
/// the result is checked against the commitment to the secret; on a mismatch
/// each of them is verified to name the culprit.
///
/// # Errors
///
/// [`Error::NotEnoughShares`], [`Error::DuplicateShare`], [`Error::WrongContext`]
/// if the shares are of different streams or epochs,
/// [`Error::ShareVerificationFailed`] naming a wrong share, or
/// [`Error::SecretMismatch`]; and the errors of [`Commitments::validate`].
pub fn combine(shares: &[HolderShare], commitments: &Commitments) -> Result<StreamSecret> {
	let points = commitments.decompress()?;
	let need = points.len();
	let first = shares.first().ok_or(Error::NotEnoughShares { have: 0, need })?;
	let mut seen = [false; 1 << HolderIndex::BITS];
	for share in shares {
		if share.context != first.context {
			return Err(Error::WrongContext);
		}
		let seen = &mut seen[usize::from(share.index)];
		if *seen {
			return Err(Error::DuplicateShare(share.index));
		}
		*seen = true;
	}
	let used = shares.get(..need).ok_or(Error::NotEnoughShares { have: shares.len(), need })?;

	let secret = StreamSecret { context: first.context, scalar: interpolate_at_zero(used) };
	if RistrettoPoint::mul_base(&secret.scalar) == points[0] {
		return Ok(secret);
	}
	for share in used {
		share.verify_against(&points)?;
	}
	Err(Error::SecretMismatch)
}

/// `f(0) = Σ_i y_i · Π_{j≠i} x_j / (x_j − x_i)` over shares with distinct,
/// non-zero indices.
fn interpolate_at_zero(shares: &[HolderShare]) -> Scalar {
	let xs: Vec<Scalar> = shares.iter().map(|share| Scalar::from(share.index)).collect();
	let (mut numerators, mut denominators): (Vec<Scalar>, Vec<Scalar>) = xs
		.iter()
		.enumerate()
		.map(|(i, x_i)| {
			xs.iter()
				.enumerate()
				.filter(|&(j, _)| j != i)
				.fold((Scalar::ONE, Scalar::ONE), |(num, den), (_, x_j)| {
					(num * x_j, den * (x_j - x_i))
				})
		})
		.unzip();
	// Distinct indices make every denominator non-zero.
	Scalar::batch_invert(&mut denominators);
	let mut secret = Scalar::ZERO;
	for ((share, numerator), inverse) in shares.iter().zip(&mut numerators).zip(&denominators) {
		*numerator *= inverse * share.value;
		secret += *numerator;
		numerator.zeroize();
	}
	secret
}

/// A rebuilt stream secret. Zeroized on drop; `Debug` shows the context only;
/// equality is constant-time.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct StreamSecret {
	#[zeroize(skip)]
	context: DealContext,
	scalar: Scalar,
}

impl StreamSecret {
	/// The stream and epoch of the secret.
	pub fn context(&self) -> &DealContext {
		&self.context
	}

	/// Derives the two directional stream keys (see [`StreamKeys`]).
	///
	/// `channel_binding` optionally mixes in a secret only the two endpoints know,
	/// such as a TLS exporter value, so that not even a quorum of holders can
	/// derive the keys; `None` and an empty binding are the same.
	pub fn derive_keys(&self, channel_binding: Option<&[u8]>) -> StreamKeys {
		let secret = Zeroizing::new(self.scalar.to_bytes());
		StreamKeys::derive(&secret, &self.context, channel_binding.unwrap_or_default())
	}
}

impl PartialEq for StreamSecret {
	fn eq(&self, other: &Self) -> bool {
		self.context == other.context && bool::from(self.scalar.ct_eq(&other.scalar))
	}
}

impl Eq for StreamSecret {}

impl fmt::Debug for StreamSecret {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		f.debug_struct("StreamSecret")
			.field("context", &self.context)
			.field("scalar", &"<redacted>")
			.finish()
	}
}
