//! Sealed share records: what the orchestrator publishes to the DHT.

use alloc::vec::Vec;

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use rand_core::{CryptoRng, RngCore};
use scale_info::TypeInfo;
use sp_crypto_hashing::blake2_256;

use crate::keys::{EncryptionPublicKey, EncryptionSecret};
use crate::seal::{self, Sealed};
use crate::vss::{DealContext, HolderShare};
use crate::wire::{WireFormat, WireVersion};
use crate::{domain, Error, HolderIndex, Result, StreamId};

/// One holder's share of one dealing, sealed to the holder's X25519 key.
///
/// The stream id, epoch and holder index are authenticated as associated data
/// (with the ephemeral and recipient keys), so a record cannot be replayed for
/// another stream, epoch or holder.
#[derive(
	Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
pub struct SealedShareRecord {
	/// Format version.
	pub version: WireVersion,
	/// The stream.
	pub stream_id: StreamId,
	/// The key epoch.
	pub epoch: u32,
	/// The holder the share is for.
	pub holder_index: HolderIndex,
	/// The dealer's ephemeral X25519 public key.
	pub ephemeral_key: EncryptionPublicKey,
	/// The sealed 32-byte share: AES-256-GCM ciphertext then tag.
	pub ciphertext: Sealed,
}

impl WireFormat for SealedShareRecord {}

/// What a dealt share's ciphertext is bound to.
fn share_binding(context: &DealContext, holder_index: HolderIndex) -> impl Encode {
	(WireVersion::V1, *context, holder_index)
}

impl SealedShareRecord {
	pub(crate) fn seal(
		rng: &mut (impl RngCore + CryptoRng),
		context: &DealContext,
		holder_index: HolderIndex,
		holder_key: &EncryptionPublicKey,
		share: &[u8; 32],
	) -> Result<Self> {
		let (ephemeral_key, ciphertext) = seal::seal(
			rng,
			holder_key,
			domain::SEAL_DEALT_SHARE,
			&share_binding(context, holder_index),
			share,
		)?;
		Ok(Self {
			version: WireVersion::V1,
			stream_id: context.stream_id,
			epoch: context.epoch,
			holder_index,
			ephemeral_key,
			ciphertext,
		})
	}

	/// The stream and epoch named by the record.
	pub fn context(&self) -> DealContext {
		DealContext { stream_id: self.stream_id, epoch: self.epoch }
	}

	/// Opens the record with the holder's secret key, for the stream, epoch and
	/// holder index the caller expects.
	///
	/// The share is not yet checked against the commitments: call
	/// [`HolderShare::verify`].
	///
	/// # Errors
	///
	/// [`Error::WrongContext`] if the record names another stream, epoch or
	/// holder; [`Error::DecryptionFailed`] if it is not sealed to this key for that
	/// context or was tampered with; [`Error::NonContributory`] for a low-order
	/// ephemeral key; [`Error::Malformed`] if the plaintext is not a canonical
	/// scalar.
	pub fn open(
		&self,
		holder_secret: &EncryptionSecret,
		expected: &DealContext,
		holder_index: HolderIndex,
	) -> Result<HolderShare> {
		if self.context() != *expected || self.holder_index != holder_index {
			return Err(Error::WrongContext);
		}
		let share = seal::open(
			holder_secret,
			&self.ephemeral_key,
			domain::SEAL_DEALT_SHARE,
			&share_binding(expected, holder_index),
			&self.ciphertext,
		)?;
		HolderShare::from_bytes(*expected, holder_index, &share)
	}
}

/// The DHT key under which the record of `holder_index` for `context` is stored:
/// `blake2b-256(SCALE(DHT_RECORD_KEY, stream_id, epoch, holder_index))`.
pub fn record_dht_key(context: &DealContext, holder_index: HolderIndex) -> [u8; 32] {
	(domain::DHT_RECORD_KEY, context, holder_index).using_encoded(blake2_256)
}

/// Where a node keeps the record with DHT key `dht_key` in its persistent off-chain storage.
pub fn offchain_record_key(dht_key: &[u8; 32]) -> Vec<u8> {
	[domain::OFFCHAIN_RECORD, dht_key.as_slice()].concat()
}

/// The hash committed on chain for a record: `blake2b-256(SCALE(record))`.
pub fn record_hash(record: &SealedShareRecord) -> [u8; 32] {
	record.using_encoded(blake2_256)
}
