//! Which share requests a witness answers. The checks run cheapest first, so that a stranger's
//! request costs a decode and a lookup in memory, never a signature check, a chain read or a
//! write:
//!
//! 1. [`Release::precheck`]: the request decodes, is addressed to this witness, is not expired
//!    and asks for at most [`MAX_REQUEST_BLOCKS`] of validity; its requester is the initiator
//!    or provider of a stream this witness was dealt a share of ([`Parties`], kept from the
//!    chain's events; a party of a stream that ended lately is told so at once); the total
//!    rate of signature checks allows one more; the signature verifies; the requester's own
//!    rate allows one more.
//! 2. [`Release::authorize`]: the chain says the stream is live (it has ended in neither of
//!    the node's views) and the requester may ask at the best block (see `ledger`), and gives
//!    the requester's registered encryption key.
//!
//! The witness then loads the share and records the nonce, last (see `Witness::answer`).

use std::{
	collections::{HashMap, VecDeque},
	num::NonZeroU32,
	sync::RwLock,
};

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use keyorch_client::stream_status_name;
use keyorch_primitives::{ShareReleaseRequest, WireFormat};
use keyorch_runtime::{pallet_keyorch::StreamStatus, AccountId, BlockNumber};

use super::Refusal;
use crate::keyorch::ledger::{Ledger, LedgerError};

/// Longest validity a share request may ask for, in blocks: it bounds the nonces kept.
pub const MAX_REQUEST_BLOCKS: BlockNumber = 100;

/// Longest encoded share request: a larger one is refused before it is decoded.
const MAX_REQUEST_LEN: usize = 256;

/// Signature checks per second, all requesters together, and the burst allowed above it.
const SIGNATURE_CHECKS: (u32, u32) = (1_000, 1_000);

/// Requests per second one requester may make once its signature verified, and the burst
/// allowed above it: enough for an initiator assembling the keys of a few hundred streams at
/// once, retried while the witnesses still fetch their shares.
const REQUESTER_RATE: (u32, u32) = (50, 500);

/// The chain reads of [`Release::authorize`], behind a trait so that the policy is tested
/// without a node.
pub trait ReleaseChain {
	/// A stream's status: ended if it ended in any view of the chain (`None`: unknown stream).
	fn stream_status(&self, stream: [u8; 32]) -> Result<Option<StreamStatus>, LedgerError>;
	/// Whether `witness` may release its share of `stream` to `requester` now (see `ledger`).
	fn may_request_share(
		&self,
		stream: [u8; 32],
		requester: AccountId,
		witness: AccountId,
	) -> Result<bool, LedgerError>;
	/// A participant's registered X25519 key.
	fn participant_key(&self, who: AccountId) -> Result<Option<[u8; 32]>, LedgerError>;
}

impl ReleaseChain for Ledger {
	fn stream_status(&self, stream: [u8; 32]) -> Result<Option<StreamStatus>, LedgerError> {
		Ledger::stream_status(self, stream)
	}

	fn may_request_share(
		&self,
		stream: [u8; 32],
		requester: AccountId,
		witness: AccountId,
	) -> Result<bool, LedgerError> {
		Ledger::may_request_share(self, stream, requester, witness)
	}

	fn participant_key(&self, who: AccountId) -> Result<Option<[u8; 32]>, LedgerError> {
		Ledger::participant_key(self, who)
	}
}

/// How many ended streams [`Parties`] remembers, so their parties hear "ended" rather than
/// "not authorized"; the oldest is forgotten first.
const ENDED_REMEMBERED: usize = 16_384;

/// The initiator and provider of every stream this witness was dealt a share of, and of the
/// streams that ended lately.
#[derive(Default)]
pub struct Parties(RwLock<PartiesIndex>);

#[derive(Default)]
struct PartiesIndex {
	streams: HashMap<[u8; 32], StreamParties>,
	/// Ended streams, oldest first.
	ended: VecDeque<[u8; 32]>,
}

struct StreamParties {
	parties: [AccountId; 2],
	/// How the stream ended, once it has.
	ended: Option<&'static str>,
}

/// What [`Parties`] knows of a requester of a stream.
#[derive(Debug, PartialEq, Eq)]
enum Party {
	/// Not a party of a stream this witness knows.
	Stranger,
	/// Of a stream this witness was not dealt a share of (yet).
	UnknownStream,
	/// A party of a stream that is live as far as this witness knows.
	OfLiveStream,
	/// A party of a stream that ended so.
	OfEndedStream(&'static str),
}

impl Parties {
	/// `stream`'s initiator and provider are `parties`.
	pub fn insert(&self, stream: [u8; 32], parties: [AccountId; 2]) {
		self.write().streams.insert(stream, StreamParties { parties, ended: None });
	}

	/// `stream` ended, as `status` says.
	pub fn end(&self, stream: &[u8; 32], status: &'static str) {
		let mut index = self.write();
		let Some(entry) = index.streams.get_mut(stream) else { return };
		if entry.ended.replace(status).is_some() {
			return;
		}
		index.ended.push_back(*stream);
		if index.ended.len() > ENDED_REMEMBERED {
			if let Some(oldest) = index.ended.pop_front() {
				index.streams.remove(&oldest);
			}
		}
	}

	fn write(&self) -> std::sync::RwLockWriteGuard<'_, PartiesIndex> {
		self.0.write().unwrap_or_else(|poisoned| poisoned.into_inner())
	}

	fn party(&self, stream: &[u8; 32], who: &AccountId) -> Party {
		let index = self.0.read().unwrap_or_else(|poisoned| poisoned.into_inner());
		match index.streams.get(stream) {
			Some(entry) if entry.parties.contains(who) => match entry.ended {
				Some(status) => Party::OfEndedStream(status),
				None => Party::OfLiveStream,
			},
			Some(_) => Party::Stranger,
			None => Party::UnknownStream,
		}
	}
}

/// A request that passed [`Release::precheck`].
pub struct Prechecked {
	/// The request.
	pub request: ShareReleaseRequest,
	/// Its requester.
	pub requester: AccountId,
}

/// The share-release policy of one witness.
pub struct Release {
	witness: AccountId,
	parties: Parties,
	signature_checks: DefaultDirectRateLimiter,
	requesters: DefaultKeyedRateLimiter<AccountId>,
}

fn quota((per_second, burst): (u32, u32)) -> Quota {
	let nonzero = |n: u32| NonZeroU32::new(n).expect("the rates are constants above zero");
	Quota::per_second(nonzero(per_second)).allow_burst(nonzero(burst))
}

impl Release {
	/// The policy of `witness`, which was dealt no share yet.
	pub fn new(witness: AccountId) -> Self {
		Self::with_limits(witness, quota(SIGNATURE_CHECKS), quota(REQUESTER_RATE))
	}

	/// [`Self::new`] with other rates of signature checks and of one requester's requests.
	fn with_limits(witness: AccountId, signature_checks: Quota, per_requester: Quota) -> Self {
		Self {
			witness,
			parties: Parties::default(),
			signature_checks: RateLimiter::direct(signature_checks),
			requesters: RateLimiter::keyed(per_requester),
		}
	}

	/// The streams' parties this policy serves.
	pub fn parties(&self) -> &Parties {
		&self.parties
	}

	/// The checks that need neither the chain nor storage, cheapest first, at finalized block
	/// `now` and best block `best` (the validity a request may ask for is counted from the
	/// best block, which is what a client reads; its expiry from the finalized one).
	pub fn precheck(
		&self,
		request: &[u8],
		now: BlockNumber,
		best: BlockNumber,
	) -> Result<Prechecked, Refusal> {
		if request.len() > MAX_REQUEST_LEN {
			return Err(Refusal::Malformed("longer than any share request"));
		}
		let request = ShareReleaseRequest::decode_exact(request)
			.map_err(|_| Refusal::Malformed("not a SCALE ShareReleaseRequest"))?;
		let terms = &request.terms;
		if terms.witness != *<AccountId as AsRef<[u8; 32]>>::as_ref(&self.witness) {
			return Err(Refusal::WrongWitness);
		}
		if now > terms.expires_at {
			return Err(Refusal::Expired { expires_at: terms.expires_at, now });
		}
		if terms.expires_at > now.max(best).saturating_add(MAX_REQUEST_BLOCKS) {
			return Err(Refusal::Malformed("valid for more than 100 blocks"));
		}
		let requester = AccountId::from(terms.requester);
		match self.parties.party(&terms.stream_id, &requester) {
			Party::Stranger => {
				return Err(Refusal::NotAuthorized(
					"the requester is not the initiator or provider of a stream this witness \
					 holds a share of",
				))
			},
			// The witness may not have imported the dealing yet (or fetched its share): a
			// party asking early tries again, as when the share is on its way.
			Party::UnknownStream => return Err(Refusal::NoShare),
			// The chain says so to anyone: no signature needed.
			Party::OfEndedStream(status) => return Err(Refusal::StreamEnded(status)),
			Party::OfLiveStream => {},
		}
		if self.signature_checks.check().is_err() {
			return Err(Refusal::RateLimited);
		}
		request.verify_signature().map_err(|_| Refusal::BadSignature)?;
		if self.requesters.check_key(&requester).is_err() {
			return Err(Refusal::RateLimited);
		}
		Ok(Prechecked { request, requester })
	}

	/// The chain's word on a prechecked request: the requester's registered encryption key if
	/// the stream is live and the requester may ask.
	pub fn authorize(
		&self,
		chain: &impl ReleaseChain,
		checked: &Prechecked,
	) -> Result<[u8; 32], Refusal> {
		let stream = checked.request.terms.stream_id;
		match chain.stream_status(stream)? {
			None => return Err(Refusal::NotAuthorized("unknown stream")),
			Some(status) if status.has_ended() => {
				return Err(Refusal::StreamEnded(stream_status_name(status)))
			},
			Some(_) => {},
		}
		if !chain.may_request_share(stream, checked.requester.clone(), self.witness.clone())? {
			return Err(Refusal::NotAuthorized(
				"the requester is not the stream's initiator or provider, or it is not live",
			));
		}
		chain
			.participant_key(checked.requester.clone())?
			.ok_or(Refusal::NotAuthorized("the requester has no registered encryption key"))
	}

	/// Forgets the rate of requesters not heard from lately.
	pub fn forget_idle_requesters(&self) {
		self.requesters.retain_recent();
	}
}

#[cfg(test)]
mod tests {
	use std::cell::Cell;

	use codec::Encode;
	use keyorch_primitives::{ReleaseTerms, WireVersion};
	use sp_core::{sr25519, Pair};

	use super::*;

	const STREAM: [u8; 32] = [5; 32];

	/// A chain with one stream whose initiator and provider are `parties`, counting its reads.
	struct Chain {
		status: StreamStatus,
		parties: [AccountId; 2],
		reads: Cell<usize>,
	}

	impl Chain {
		fn read(&self) {
			self.reads.set(self.reads.get() + 1);
		}
	}

	impl ReleaseChain for Chain {
		fn stream_status(&self, stream: [u8; 32]) -> Result<Option<StreamStatus>, LedgerError> {
			self.read();
			Ok((stream == STREAM).then_some(self.status))
		}

		fn may_request_share(
			&self,
			stream: [u8; 32],
			requester: AccountId,
			_witness: AccountId,
		) -> Result<bool, LedgerError> {
			self.read();
			Ok(stream == STREAM
				&& self.status == StreamStatus::Live
				&& self.parties.contains(&requester))
		}

		fn participant_key(&self, _who: AccountId) -> Result<Option<[u8; 32]>, LedgerError> {
			self.read();
			Ok(Some([9; 32]))
		}
	}

	fn witness() -> AccountId {
		AccountId::from([1; 32])
	}

	fn pair(seed: u8) -> sr25519::Pair {
		sr25519::Pair::from_seed(&[seed; 32])
	}

	fn account(pair: &sr25519::Pair) -> AccountId {
		AccountId::from(pair.public().0)
	}

	fn request(by: &sr25519::Pair, expires_at: BlockNumber, nonce: u8) -> Vec<u8> {
		let terms = ReleaseTerms {
			stream_id: STREAM,
			epoch: 0,
			witness: [1; 32],
			requester: by.public().0,
			nonce: [nonce; 32],
			expires_at,
		};
		let signature = by.sign(&terms.signing_payload()).0;
		ShareReleaseRequest { version: WireVersion::V1, terms, signature }.encode()
	}

	fn policy_with_parties(parties: [AccountId; 2]) -> Release {
		let release = Release::new(witness());
		release.parties().insert(STREAM, parties);
		release
	}

	#[test]
	fn a_strangers_request_is_refused_before_its_signature_or_the_chain_is_looked_at() {
		let (initiator, provider, stranger) = (pair(2), pair(3), pair(4));
		let parties = [account(&initiator), account(&provider)];
		let release = policy_with_parties(parties.clone());
		// More strangers than the signature budget: none of them spends it.
		for nonce in 0..=SIGNATURE_CHECKS.1 {
			let refused = release.precheck(&request(&stranger, 10, nonce as u8), 0, 0);
			assert!(matches!(refused, Err(Refusal::NotAuthorized(_))));
		}
		let chain = Chain { status: StreamStatus::Live, parties, reads: Cell::new(0) };
		let checked = release.precheck(&request(&initiator, 10, 1), 0, 0).expect("prechecked");
		assert_eq!(release.authorize(&chain, &checked), Ok([9; 32]));
		assert_eq!(chain.reads.get(), 3);
	}

	#[test]
	fn requests_are_checked_cheapest_first() {
		let (initiator, provider) = (pair(2), pair(3));
		let release = policy_with_parties([account(&initiator), account(&provider)]);
		let too_long = vec![0u8; MAX_REQUEST_LEN + 1];
		assert!(matches!(release.precheck(&too_long, 0, 0), Err(Refusal::Malformed(_))));
		assert!(matches!(release.precheck(&[1, 2, 3], 0, 0), Err(Refusal::Malformed(_))));
		let other_witness = Release::new(AccountId::from([2; 32]));
		other_witness.parties().insert(STREAM, [account(&initiator), account(&provider)]);
		assert_eq!(
			other_witness.precheck(&request(&initiator, 10, 0), 0, 0).err(),
			Some(Refusal::WrongWitness)
		);
		assert_eq!(
			release.precheck(&request(&initiator, 10, 0), 11, 11).err(),
			Some(Refusal::Expired { expires_at: 10, now: 11 })
		);
		assert!(matches!(
			release.precheck(&request(&initiator, 1 + MAX_REQUEST_BLOCKS, 0), 0, 0),
			Err(Refusal::Malformed(_))
		));
		let mut forged = request(&initiator, 10, 0);
		*forged.last_mut().unwrap() ^= 1;
		assert_eq!(release.precheck(&forged, 0, 0).err(), Some(Refusal::BadSignature));
	}

	#[test]
	fn the_fast_path_asks_from_the_best_block_and_early_askers_are_told_to_retry() {
		let (initiator, provider) = (pair(2), pair(3));
		let release = policy_with_parties([account(&initiator), account(&provider)]);
		// Finality lags 90 blocks: a request valid for 20 blocks from the best block is fine.
		let from_best = request(&initiator, 110, 0);
		assert!(release.precheck(&from_best, 0, 90).is_ok());
		assert!(matches!(
			release.precheck(&request(&initiator, 191, 1), 0, 90),
			Err(Refusal::Malformed(_))
		));
		// A party of a stream whose dealing this witness has not seen yet may retry.
		let early = Release::new(witness());
		assert_eq!(early.precheck(&request(&initiator, 10, 2), 0, 0).err(), Some(Refusal::NoShare));
	}

	#[test]
	fn one_requester_is_held_to_its_rate_and_others_are_not() {
		let (initiator, provider) = (pair(2), pair(3));
		// Three an hour: the test is over long before one more is allowed.
		let per_hour = Quota::per_hour(NonZeroU32::new(3).expect("3"));
		let release = Release::with_limits(witness(), quota(SIGNATURE_CHECKS), per_hour);
		release.parties().insert(STREAM, [account(&initiator), account(&provider)]);
		for nonce in 0..3 {
			assert!(release.precheck(&request(&initiator, 10, nonce), 0, 0).is_ok());
		}
		assert_eq!(
			release.precheck(&request(&initiator, 10, 0), 0, 0).err(),
			Some(Refusal::RateLimited)
		);
		assert!(release.precheck(&request(&provider, 10, 0), 0, 0).is_ok());
	}

	#[test]
	fn the_chain_decides_last() {
		let (initiator, provider) = (pair(2), pair(3));
		let parties = [account(&initiator), account(&provider)];
		let release = policy_with_parties(parties.clone());
		let checked = release.precheck(&request(&initiator, 10, 0), 0, 0).expect("prechecked");
		let revoked =
			Chain { status: StreamStatus::Revoked, parties: parties.clone(), reads: Cell::new(0) };
		assert_eq!(release.authorize(&revoked, &checked), Err(Refusal::StreamEnded("revoked")));
		let requested = Chain { status: StreamStatus::Requested, parties, reads: Cell::new(0) };
		assert!(matches!(release.authorize(&requested, &checked), Err(Refusal::NotAuthorized(_))));
	}

	#[test]
	fn the_parties_of_an_ended_stream_hear_how_it_ended_and_strangers_do_not() {
		let (initiator, provider, stranger) = (pair(2), pair(3), pair(4));
		let release = policy_with_parties([account(&initiator), account(&provider)]);
		release.parties().end(&STREAM, "revoked");
		let mut unsigned = request(&initiator, 10, 1);
		*unsigned.last_mut().unwrap() ^= 1;
		assert_eq!(release.precheck(&unsigned, 0, 0).err(), Some(Refusal::StreamEnded("revoked")));
		assert!(matches!(
			release.precheck(&request(&stranger, 10, 1), 0, 0),
			Err(Refusal::NotAuthorized(_))
		));
	}

	#[test]
	fn ended_streams_are_forgotten_oldest_first() {
		let parties = Parties::default();
		let who = AccountId::from([7; 32]);
		for n in 0..=ENDED_REMEMBERED as u32 {
			let mut stream = [0u8; 32];
			stream[..4].copy_from_slice(&n.to_le_bytes());
			parties.insert(stream, [who.clone(), who.clone()]);
			parties.end(&stream, "closed");
		}
		assert_eq!(parties.party(&[0; 32], &who), Party::UnknownStream);
		let mut newest = [0u8; 32];
		newest[..4].copy_from_slice(&(ENDED_REMEMBERED as u32).to_le_bytes());
		assert_eq!(parties.party(&newest, &who), Party::OfEndedStream("closed"));
	}
}
