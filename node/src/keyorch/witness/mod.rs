//! The witness service (`--witness`): keeps this witness's share of every epoch it is a holder
//! of, and releases it to the stream's initiator or provider while the chain says the stream
//! is live.
//!
//! - It follows best and finalized blocks. For each `KeyEpochDealt` naming it, in a best block
//!   already (the fast path), it fetches its sealed record (local store or DHT), checks the hash
//!   the chain committed to, opens it and verifies the share against the commitments, then keeps
//!   the record, which is sealed to its own X25519 key, under
//!   `<base path>/keyorch/witness/shares/`. Shares survive restarts; the plaintext share exists
//!   only while a request is answered.
//! - `keyorch_requestShare` answers a [`ShareReleaseRequest`] only if it is addressed to this
//!   witness, unexpired, from the initiator or provider of a stream this witness holds a share
//!   of, correctly signed, within the rate limits, the stream is live and the requester may ask
//!   at the best block (so an end in the best chain refuses at once, and a dealing need not be
//!   final, see `ledger`), and its nonce was never seen before
//!   (nonces are kept until the request expires, across restarts). The checks run cheapest first (see [`release`]), the
//!   chain reads and the nonce's write off the async threads. The answer is the share sealed
//!   to the requester's registered key. Refusals are counted by reason.
//! - When a revocation, close or expiry is final, the stream's shares are deleted.

mod nonces;
mod release;
mod vault;
mod wanted;

use std::{
	collections::BTreeSet,
	path::{Path, PathBuf},
	sync::{Arc, Mutex},
	time::Instant,
};

use codec::Encode;
use futures::StreamExt;
use keyorch_client::{stream_status_name, Identity};
use keyorch_primitives::{
	record_dht_key, record_hash, Commitments, DealContext, EncryptionPublicKey, HolderIndex,
	SealedShareAnswer, SealedShareRecord, WireFormat, WireVersion,
};
use keyorch_runtime::{AccountId, BlockNumber};
use sc_client_api::BlockchainEvents;

use super::{
	ledger::{finalized_blocks, new_best_blocks, Ledger, LedgerError, LedgerEvent},
	metrics::Metrics,
	overlay::{hex, Overlay},
};
use nonces::NonceLog;
use release::{Prechecked, Release};
use vault::Vault;
use wanted::Wanted;

/// Log target of the witness service.
const LOG_TARGET: &str = "keyorch::witness";

/// Finalized blocks during which a share not yet in the DHT is looked for again (about ten
/// minutes at 3 s blocks): after a burst of a thousand streams, the last records reached the
/// DHT minutes after their epochs were final, and a share given up is a share its parties lack.
const FETCH_BLOCKS: BlockNumber = 200;

/// Records a witness looks up at once when many epochs are dealt together.
const CONCURRENT_FETCHES: usize = 32;

/// Command-line options of the witness service.
#[derive(Debug, Clone, clap::Args)]
pub struct WitnessParams {
	/// Run the witness service for this witness: a keyorch key file (see `keyorch keys new`;
	/// it must be readable by its owner only) or, on development chains, a dev seed such as
	/// `//Dave`.
	#[arg(long, value_name = "KEY_FILE_OR_DEV_SEED")]
	pub witness: Option<String>,
}

/// Why a share request is refused. Each has its own JSON-RPC error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
	/// The stream was revoked, closed or has expired.
	#[error("the stream has ended ({0})")]
	StreamEnded(&'static str),
	/// The requester is not the stream's initiator or provider, or the stream is not live.
	#[error("not authorized: {0}")]
	NotAuthorized(&'static str),
	/// The request's nonce was already used.
	#[error("replayed request: this nonce was already used")]
	Replayed,
	/// The signature does not verify for the requester.
	#[error("bad signature")]
	BadSignature,
	/// The request's validity has passed.
	#[error("the request expired at block {expires_at} (finalized block is {now})")]
	Expired {
		/// Its last valid block.
		expires_at: u32,
		/// The finalized block.
		now: u32,
	},
	/// Not a SCALE `ShareReleaseRequest`, or asks for too long a validity.
	#[error("malformed request: {0}")]
	Malformed(&'static str),
	/// This witness holds no share of that stream and epoch (yet).
	#[error("no share of this stream and epoch is held here")]
	NoShare,
	/// The request names another witness, or this node runs no witness service.
	#[error("this node is not the witness asked")]
	WrongWitness,
	/// The chain could not be read, or the nonce not recorded.
	#[error("{0}")]
	Unavailable(String),
	/// Too many requests, from this requester or from everyone: retry shortly.
	#[error("too many share requests: retry shortly")]
	RateLimited,
}

impl Refusal {
	/// The refusal's `reason` label on the refusal counter.
	pub fn reason(&self) -> &'static str {
		match self {
			Self::StreamEnded(_) => "stream_ended",
			Self::NotAuthorized(_) => "not_authorized",
			Self::Replayed => "replayed",
			Self::BadSignature => "bad_signature",
			Self::Expired { .. } => "expired",
			Self::Malformed(_) => "malformed",
			Self::NoShare => "no_share",
			Self::WrongWitness => "wrong_witness",
			Self::Unavailable(_) => "unavailable",
			Self::RateLimited => "rate_limited",
		}
	}

	/// Every `reason` label.
	pub const REASONS: [&'static str; 10] = [
		"stream_ended",
		"not_authorized",
		"replayed",
		"bad_signature",
		"expired",
		"malformed",
		"no_share",
		"wrong_witness",
		"unavailable",
		"rate_limited",
	];
}

impl From<LedgerError> for Refusal {
	fn from(error: LedgerError) -> Self {
		Self::Unavailable(error.to_string())
	}
}

/// A share the witness is still looking for: what checks its record.
#[derive(Clone)]
struct WantedShare {
	key: [u8; 32],
	stream: [u8; 32],
	epoch: u32,
	holder: HolderIndex,
	record_hash: [u8; 32],
	commitments: Commitments,
}

/// What looking a wanted share up came to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lookup {
	/// The share is kept.
	Kept,
	/// No record, or not the one the chain commits to here (yet), or it could not be written:
	/// looked for again.
	Missed,
	/// The record the chain commits to holds no valid share for this witness; it never will.
	Invalid,
}

/// The witness service.
pub struct Witness {
	identity: Identity,
	account: AccountId,
	vault: Vault,
	ledger: Ledger,
	release: Release,
	/// Nonces of answered requests.
	nonces: Mutex<NonceLog>,
	metrics: Metrics,
}

/// Errors starting the witness service.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
	/// The key cannot be loaded.
	#[error("witness key {source_name}: {reason}")]
	Key {
		/// The key file or seed given.
		source_name: String,
		/// What is wrong.
		reason: String,
	},
	/// The nonce log cannot be opened.
	#[error("witness nonce log {path}: {reason}")]
	Nonces {
		/// The file.
		path: String,
		/// What is wrong.
		reason: String,
	},
	/// The chain cannot be read at start-up.
	#[error("witness start-up: {0}")]
	Ledger(#[from] LedgerError),
	/// The state directory cannot be created.
	#[error("witness state directory {dir}: {reason}")]
	Dir {
		/// The directory.
		dir: String,
		/// What is wrong.
		reason: String,
	},
}

/// Loads the witness identity from a key file, or a dev seed (`//Name`) on development chains.
fn load_identity(source: &str, dev_chain: bool) -> Result<Identity, StartError> {
	let error = |reason: String| StartError::Key { source_name: source.into(), reason };
	if source.starts_with("//") {
		if !dev_chain {
			return Err(error("dev seeds are for development chains only; use a key file".into()));
		}
		Identity::dev(source).map_err(|e| error(e.to_string()))
	} else {
		Identity::load(Path::new(source)).map_err(|e| error(e.to_string()))
	}
}

impl Witness {
	/// Starts the witness service with state under `dir`; the returned future follows the
	/// chain until the node stops.
	pub fn start(
		source: &str,
		dev_chain: bool,
		dir: PathBuf,
		ledger: Ledger,
		overlay: Overlay,
		metrics: Metrics,
	) -> Result<(Arc<Self>, impl std::future::Future<Output = ()>), StartError> {
		let identity = load_identity(source, dev_chain)?;
		let vault = Vault { dir };
		std::fs::create_dir_all(vault.shares_dir()).map_err(|e| StartError::Dir {
			dir: vault.dir.display().to_string(),
			reason: e.to_string(),
		})?;
		let (now, _) = ledger.finalized();
		let nonces = NonceLog::open(vault.nonces_path(), &vault.legacy_nonces_path(), now)
			.map_err(|e| StartError::Nonces {
				path: vault.nonces_path().display().to_string(),
				reason: e.to_string(),
			})?;
		let account = identity.signer().account_id();
		log::info!(target: LOG_TARGET, "witness service for {account}");
		let release = Release::new(account.clone());
		// The parties of the streams whose shares survived a restart.
		let streams: BTreeSet<[u8; 32]> =
			vault.shares().into_iter().map(|(stream, _, _)| stream).collect();
		for stream in streams {
			let Some(view) = ledger.stream(stream)? else { continue };
			if let [initiator, provider, ..] = &view.holders[..] {
				release
					.parties()
					.insert(stream, [initiator.account.clone(), provider.account.clone()]);
			}
		}
		let witness = Arc::new(Self {
			identity,
			account,
			vault,
			ledger,
			release,
			nonces: Mutex::new(nonces),
			metrics,
		});
		witness.refresh_gauge();
		let follower = witness.clone().follow(overlay);
		Ok((witness, follower))
	}

	/// The witness's account.
	pub fn account(&self) -> &AccountId {
		&self.account
	}

	fn refresh_gauge(&self) {
		self.metrics.shares_held.set(self.vault.shares().len() as u64);
	}

	/// Follows the chain: wants its share of every epoch dealt in a best block (the fast path)
	/// or a finalized one (in case the best block's was missed), looks each wanted share up on
	/// its own schedule (see [`wanted`]) without holding up the chain's events, and deletes
	/// shares only on finalized events.
	async fn follow(self: Arc<Self>, overlay: Overlay) {
		let client = self.ledger.client().clone();
		let mut finality = client.finality_notification_stream();
		let mut imports = client.import_notification_stream();
		let mut tick = tokio::time::interval(wanted::FIRST_RETRY);
		tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
		let mut wanted = Wanted::default();
		let mut lookups = futures::stream::FuturesUnordered::new();
		let mut kept_since_refresh = false;
		for (block, _) in self.ledger.unfinalized_blocks() {
			self.on_best_block(block, &mut wanted);
		}
		loop {
			tokio::select! {
				notification = imports.next() => {
					let Some(notification) = notification else { break };
					for (block, _) in new_best_blocks(&notification) {
						self.on_best_block(block, &mut wanted);
					}
				},
				notification = finality.next() => {
					let Some(notification) = notification else { break };
					for block in finalized_blocks(&notification) {
						for event in self.ledger.events(block) {
							self.on_ledger_event(event, &mut wanted);
						}
					}
					let (now, _) = self.ledger.finalized();
					for share in wanted.expire(now) {
						log::warn!(
							target: LOG_TARGET,
							"gave up looking for the share of epoch {} of {}: its record was not \
							 found in {FETCH_BLOCKS} finalized blocks",
							share.epoch,
							hex(&share.stream)
						);
					}
					self.release.forget_idle_requesters();
					self.refresh_gauge();
					kept_since_refresh = false;
				},
				Some((key, hash, outcome)) = lookups.next(), if !lookups.is_empty() => {
					let current = wanted.get(&key).map(|share: &WantedShare| share.record_hash);
					match outcome {
						Lookup::Kept | Lookup::Invalid if current == Some(hash) => {
							wanted.done(&key);
							kept_since_refresh |= outcome == Lookup::Kept;
						},
						_ => wanted.missed(&key, Instant::now()),
					}
				},
				_ = tick.tick(), if !wanted.is_empty() || kept_since_refresh => {
					if kept_since_refresh {
						self.refresh_gauge();
						kept_since_refresh = false;
					}
				},
			}
			let room = CONCURRENT_FETCHES.saturating_sub(lookups.len());
			for key in wanted.take_due(Instant::now(), room) {
				let Some(share) = wanted.get(&key).cloned() else { continue };
				lookups.push(self.clone().look_up(overlay.clone(), share));
			}
		}
	}

	/// The shares dealt in best block `block` are wanted at once. Ends need nothing here: the
	/// release policy reads them from the best block itself.
	fn on_best_block(&self, block: keyorch_runtime::Hash, wanted: &mut Wanted<WantedShare>) {
		for event in self.ledger.events(block) {
			if let LedgerEvent::EpochDealt { .. } = event {
				self.want_share(event, wanted);
			}
		}
	}

	/// Looks `share`'s record up (this node's store first, then the DHT) and keeps the share if
	/// the record is the one wanted. Returns the key and the record hash looked for, with the
	/// outcome.
	async fn look_up(
		self: Arc<Self>,
		overlay: Overlay,
		share: WantedShare,
	) -> ([u8; 32], [u8; 32], Lookup) {
		let (key, hash) = (share.key, share.record_hash);
		let Ok(value) = overlay.get_record(key, false).await else {
			return (key, hash, Lookup::Missed);
		};
		// Opening, verifying and writing (with an fsync) the share is blocking work.
		let outcome = tokio::task::spawn_blocking(move || self.keep_share(&share, &value))
			.await
			.unwrap_or(Lookup::Missed);
		(key, hash, outcome)
	}

	/// Wants this witness's share of a dealt epoch, unless the very record the chain commits
	/// to is kept already. Returns the epoch's stream and number if this witness holds a share.
	fn want_share(
		&self,
		event: LedgerEvent,
		wanted: &mut Wanted<WantedShare>,
	) -> Option<([u8; 32], u32)> {
		let LedgerEvent::EpochDealt { stream, epoch, holders, commitments, record_hashes } = event
		else {
			return None;
		};
		let position = holders.iter().position(|holder| *holder == self.account)?;
		let (Ok(holder), Some(committed), Ok(points)) = (
			HolderIndex::try_from(position + 1),
			record_hashes.get(position),
			commitments.try_into(),
		) else {
			log::warn!(target: LOG_TARGET, "epoch {epoch} of {} is malformed", hex(&stream));
			return None;
		};
		if let [initiator, provider, ..] = &holders[..] {
			self.release.parties().insert(stream, [initiator.clone(), provider.clone()]);
		}
		let kept = self.vault.load_share(&stream, epoch);
		if kept.is_some_and(|record| record_hash(&record) == *committed) {
			return Some((stream, epoch));
		}
		let key = record_dht_key(&DealContext { stream_id: stream, epoch }, holder);
		let until = self.ledger.finalized().0 + FETCH_BLOCKS;
		let commitments = Commitments { version: WireVersion::V1, points };
		// A reorg may deal the epoch again: the newest dealing is the one wanted.
		let share =
			WantedShare { key, stream, epoch, holder, record_hash: *committed, commitments };
		wanted.want(key, stream, until, share, Instant::now());
		Some((stream, epoch))
	}

	fn on_ledger_event(&self, event: LedgerEvent, wanted: &mut Wanted<WantedShare>) {
		match event {
			LedgerEvent::EpochDealt { .. } => {
				// The chain keeps the current and the previous epoch; so does the witness, as
				// finality says.
				if let Some((stream, epoch)) = self.want_share(event, wanted) {
					self.vault.delete_shares(&stream, |kept| kept + 1 >= epoch);
				}
			},
			LedgerEvent::StreamEnded { stream, status } => {
				wanted.forget_stream(&stream);
				self.release.parties().end(&stream, stream_status_name(status));
				self.vault.delete_shares(&stream, |_| false);
				log::info!(
					target: LOG_TARGET,
					"stream {} ended ({status:?}): its shares are deleted",
					hex(&stream)
				);
			},
		}
	}

	/// Checks a fetched record and keeps it if it holds a valid share for this witness. A
	/// record of another dealing of the epoch (a reorg's) is a miss.
	fn keep_share(&self, wanted: &WantedShare, value: &[u8]) -> Lookup {
		let context = DealContext { stream_id: wanted.stream, epoch: wanted.epoch };
		let Some(record) = SealedShareRecord::decode_exact(value)
			.ok()
			.filter(|record| record_hash(record) == wanted.record_hash)
		else {
			log::debug!(
				target: LOG_TARGET,
				"record {} is not the one the chain commits to here (yet)",
				hex(&wanted.key)
			);
			return Lookup::Missed;
		};
		let valid = record
			.open(self.identity.encryption_secret(), &context, wanted.holder)
			.is_ok_and(|share| share.verify(&wanted.commitments).is_ok());
		if !valid {
			log::warn!(target: LOG_TARGET, "record {} does not hold a valid share", hex(&wanted.key));
			return Lookup::Invalid;
		}
		let path = self.vault.share_path(&wanted.stream, wanted.epoch);
		match Vault::write(&path, &record.encode()) {
			Ok(()) => {
				log::info!(
					target: LOG_TARGET,
					"keeping share of epoch {} of {}",
					wanted.epoch,
					hex(&wanted.stream)
				);
				Lookup::Kept
			},
			Err(error) => {
				log::error!(target: LOG_TARGET, "writing {}: {error}", path.display());
				Lookup::Missed
			},
		}
	}

	/// Answers a SCALE-encoded [`ShareReleaseRequest`] with a SCALE-encoded
	/// [`SealedShareAnswer`]: the checks that need neither the chain nor storage here, the rest
	/// on a blocking thread.
	pub async fn request_share(self: &Arc<Self>, request: &[u8]) -> Result<Vec<u8>, Refusal> {
		let (now, _) = self.ledger.finalized();
		let (best, _) = self.ledger.best();
		let answer = match self.release.precheck(request, now, best) {
			Ok(checked) => {
				let witness = self.clone();
				tokio::task::spawn_blocking(move || witness.answer(checked))
					.await
					.unwrap_or_else(|_| Err(Refusal::Unavailable("the answer failed".into())))
			},
			Err(refusal) => Err(refusal),
		};
		match &answer {
			Ok(_) => self.metrics.share_requests_served.inc(),
			Err(refusal) => {
				log::debug!(target: LOG_TARGET, "share request refused: {refusal}");
				self.metrics.share_requests_refused.with_label_values(&[refusal.reason()]).inc()
			},
		}
		answer
	}

	/// Share requests refused so far, all reasons together.
	pub fn refused(&self) -> u64 {
		Refusal::REASONS
			.iter()
			.map(|reason| self.metrics.share_requests_refused.with_label_values(&[reason]).get())
			.sum()
	}

	/// The chain's word, the share, and the nonce recorded last: blocking.
	fn answer(&self, checked: Prechecked) -> Result<Vec<u8>, Refusal> {
		let requester_key = self.release.authorize(&self.ledger, &checked)?;
		let Prechecked { request, .. } = checked;
		let terms = &request.terms;
		let record =
			self.vault.load_share(&terms.stream_id, terms.epoch).ok_or(Refusal::NoShare)?;
		let share = record
			.open(self.identity.encryption_secret(), &terms.context(), record.holder_index)
			.map_err(|_| Refusal::NoShare)?;
		let (now, _) = self.ledger.finalized();
		let fresh = self
			.nonces
			.lock()
			.unwrap_or_else(|poisoned| poisoned.into_inner())
			.record(terms.nonce, terms.expires_at, now)
			.map_err(|e| Refusal::Unavailable(format!("cannot record the nonce: {e}")))?;
		if !fresh {
			return Err(Refusal::Replayed);
		}
		let seed = zeroize::Zeroizing::new(rand::random::<[u8; 32]>());
		let answer =
			SealedShareAnswer::seal(&seed, &share, &request, &EncryptionPublicKey(requester_key))
				.map_err(|_| Refusal::NotAuthorized("the requester's encryption key is unusable"))?;
		Ok(answer.encode())
	}
}
