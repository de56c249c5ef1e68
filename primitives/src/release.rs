//! Release of a witness's share to the stream's initiator or provider.
//!
//! The requester signs a [`ShareReleaseRequest`] with its sr25519 account key.
//! The witness checks it ([`ShareReleaseRequest::check`]) and, if the chain says
//! the stream is live and the requester is its initiator or provider, answers
//! with its share sealed to the requester's encryption key
//! ([`SealedShareAnswer::seal`]). The answer is bound to the whole request,
//! nonce included, so it cannot be replayed for another request.

use alloc::vec::Vec;

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use schnorrkel::{PublicKey, Signature};
use sp_crypto_hashing::blake2_256;

use crate::keys::{EncryptionPublicKey, EncryptionSecret};
use crate::rng::SeededRng;
use crate::seal::{self, Sealed};
use crate::vss::{DealContext, HolderShare};
use crate::wire::{WireFormat, WireVersion};
use crate::{domain, AccountId, Error, HolderIndex, Result, StreamId};

/// The signed terms of a share release request.
#[derive(
	Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
pub struct ReleaseTerms {
	/// The stream.
	pub stream_id: StreamId,
	/// The key epoch.
	pub epoch: u32,
	/// The witness asked for its share.
	pub witness: AccountId,
	/// The requester's sr25519 account (its public key).
	pub requester: AccountId,
	/// Fresh random nonce chosen by the requester.
	pub nonce: [u8; 32],
	/// Last block at which the request is valid.
	pub expires_at: u32,
}

impl ReleaseTerms {
	/// The stream and epoch asked for.
	pub fn context(&self) -> DealContext {
		DealContext { stream_id: self.stream_id, epoch: self.epoch }
	}

	/// The message the requester signs (with the sr25519 context
	/// [`domain::SR25519_SIGNING_CONTEXT`], as `sp_core::sr25519::Pair::sign`
	/// does): `SCALE(RELEASE_REQUEST, version, terms)`.
	pub fn signing_payload(&self) -> Vec<u8> {
		(domain::RELEASE_REQUEST, WireVersion::V1, self).encode()
	}

	/// The request with a signature made elsewhere (e.g. by an `sp_core` keystore
	/// over [`Self::signing_payload`]).
	pub fn with_signature(self, signature: [u8; 64]) -> ShareReleaseRequest {
		ShareReleaseRequest { version: WireVersion::V1, terms: self, signature }
	}

	/// Signs the terms with the requester's keypair.
	///
	/// Fails with [`Error::SignerMismatch`] if `keypair` is not `requester`.
	#[cfg(feature = "std")]
	pub fn sign(self, keypair: &schnorrkel::Keypair) -> Result<ShareReleaseRequest> {
		if keypair.public.to_bytes() != self.requester {
			return Err(Error::SignerMismatch);
		}
		let signature = keypair
			.sign_simple(domain::SR25519_SIGNING_CONTEXT, &self.signing_payload())
			.to_bytes();
		Ok(self.with_signature(signature))
	}
}

/// A request, signed by the requester's sr25519 account key, for a witness to
/// release its share of a stream epoch.
#[derive(
	Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
pub struct ShareReleaseRequest {
	/// Format version.
	pub version: WireVersion,
	/// The signed terms.
	pub terms: ReleaseTerms,
	/// sr25519 signature of [`ReleaseTerms::signing_payload`] by `terms.requester`.
	pub signature: [u8; 64],
}

impl WireFormat for ShareReleaseRequest {}

impl ShareReleaseRequest {
	/// Verifies the signature (no_std).
	pub fn verify_signature(&self) -> Result<()> {
		let public =
			PublicKey::from_bytes(&self.terms.requester).map_err(|_| Error::BadSignature)?;
		let signature = Signature::from_bytes(&self.signature).map_err(|_| Error::BadSignature)?;
		public
			.verify_simple(
				domain::SR25519_SIGNING_CONTEXT,
				&self.terms.signing_payload(),
				&signature,
			)
			.map_err(|_| Error::BadSignature)
	}

	/// What a witness checks before answering, short of the chain state: the
	/// request is addressed to `witness`, not expired at block `now`, and
	/// correctly signed. Whether the stream is live and the requester is its
	/// initiator or provider is for the caller to check on chain.
	///
	/// # Errors
	///
	/// [`Error::WrongContext`], [`Error::Expired`] or [`Error::BadSignature`].
	pub fn check(&self, witness: &AccountId, now: u32) -> Result<()> {
		if self.terms.witness != *witness {
			return Err(Error::WrongContext);
		}
		if now > self.terms.expires_at {
			return Err(Error::Expired { expires_at: self.terms.expires_at, now });
		}
		self.verify_signature()
	}

	/// `blake2b-256(SCALE(request))`, to which the answer is bound.
	pub fn hash(&self) -> [u8; 32] {
		self.using_encoded(blake2_256)
	}
}

/// A witness's share, sealed to the requester's encryption key in answer to one
/// [`ShareReleaseRequest`].
#[derive(
	Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
pub struct SealedShareAnswer {
	/// Format version.
	pub version: WireVersion,
	/// The stream.
	pub stream_id: StreamId,
	/// The key epoch.
	pub epoch: u32,
	/// The witness's holder index.
	pub holder_index: HolderIndex,
	/// The nonce of the request answered.
	pub request_nonce: [u8; 32],
	/// The witness's ephemeral X25519 public key.
	pub ephemeral_key: EncryptionPublicKey,
	/// The sealed 32-byte share: AES-256-GCM ciphertext then tag.
	pub ciphertext: Sealed,
}

impl WireFormat for SealedShareAnswer {}

/// What a released share's ciphertext is bound to.
fn answer_binding(request: &ShareReleaseRequest, holder_index: HolderIndex) -> impl Encode {
	(WireVersion::V1, request.hash(), holder_index)
}

impl SealedShareAnswer {
	/// Seals the witness's `share` to `requester_key`, in answer to `request`
	/// (which the witness has checked). `seed` must be fresh CSPRNG output.
	///
	/// Fails with [`Error::WrongContext`] if the share is not of the requested
	/// stream and epoch, [`Error::NonContributory`] for a low-order
	/// `requester_key`.
	pub fn seal(
		seed: &[u8; 32],
		share: &HolderShare,
		request: &ShareReleaseRequest,
		requester_key: &EncryptionPublicKey,
	) -> Result<Self> {
		let context = request.terms.context();
		if *share.context() != context {
			return Err(Error::WrongContext);
		}
		let mut rng = SeededRng::new(seed, domain::ANSWER_RNG, &[&request.hash()]);
		let (ephemeral_key, ciphertext) = seal::seal(
			&mut rng,
			requester_key,
			domain::SEAL_SHARE_ANSWER,
			&answer_binding(request, share.index()),
			&share.to_bytes(),
		)?;
		Ok(Self {
			version: WireVersion::V1,
			stream_id: context.stream_id,
			epoch: context.epoch,
			holder_index: share.index(),
			request_nonce: request.terms.nonce,
			ephemeral_key,
			ciphertext,
		})
	}

	/// Opens the answer to `request` with the requester's encryption secret.
	///
	/// The share is not yet checked against the commitments: [`crate::combine`]
	/// or [`HolderShare::verify`] does.
	///
	/// # Errors
	///
	/// [`Error::WrongContext`] if the answer is not for `request`;
	/// [`Error::DecryptionFailed`] if not sealed to this key for this request or
	/// tampered with; the other errors of [`crate::SealedShareRecord::open`].
	pub fn open(
		&self,
		requester_secret: &EncryptionSecret,
		request: &ShareReleaseRequest,
	) -> Result<HolderShare> {
		let context = request.terms.context();
		if (self.stream_id, self.epoch, self.request_nonce)
			!= (context.stream_id, context.epoch, request.terms.nonce)
		{
			return Err(Error::WrongContext);
		}
		let share = seal::open(
			requester_secret,
			&self.ephemeral_key,
			domain::SEAL_SHARE_ANSWER,
			&answer_binding(request, self.holder_index),
			&self.ciphertext,
		)?;
		HolderShare::from_bytes(context, self.holder_index, &share)
	}
}
