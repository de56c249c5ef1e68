//! The witness service (`--witness`): keeps this witness's share of every epoch it is a holder
//! of, and releases it to the stream's initiator or provider while the chain says the stream
//! is live.
//!
//! - It follows finalized blocks. For each `KeyEpochDealt` naming it, it fetches its sealed
//!   record (local store or DHT), checks the hash the chain committed to, opens it and verifies
//!   the share against the commitments, then keeps the record, which is sealed to its own X25519
//!   key, under `<base path>/keyorch/witness/shares/`. Shares survive restarts; the plaintext
//!   share exists only while a request is answered.
//! - `keyorch_requestShare` answers a [`ShareReleaseRequest`] only if it is addressed to this
//!   witness, unexpired, correctly signed, never seen before (nonces are kept until the request
//!   expires, across restarts), and the finalized chain says the stream is live and the
//!   requester is its initiator or provider. The answer is the share sealed to the requester's
//!   registered key.
//! - When a revocation, close or expiry is final, the stream's shares are deleted.

use std::{
	collections::{BTreeMap, HashMap},
	path::{Path, PathBuf},
	sync::{Arc, Mutex},
};

use codec::{Decode, Encode};
use futures::StreamExt;
use keyorch_client::{stream_status_name, Identity};
use keyorch_primitives::{
	record_dht_key, record_hash, Commitments, DealContext, EncryptionPublicKey, HolderIndex,
	SealedShareAnswer, SealedShareRecord, ShareReleaseRequest, WireFormat, WireVersion,
};
use keyorch_runtime::{AccountId, BlockNumber};
use sc_client_api::BlockchainEvents;

use super::{
	ledger::{finalized_blocks, Ledger, LedgerError, LedgerEvent},
	metrics::Metrics,
	overlay::{hex, Overlay},
};

/// Log target of the witness service.
const LOG_TARGET: &str = "keyorch::witness";

/// Longest validity a share request may ask for, in blocks: it bounds the nonces kept.
pub const MAX_REQUEST_BLOCKS: BlockNumber = 100;

/// Finalized blocks during which a share not yet in the DHT is looked for again.
const FETCH_BLOCKS: BlockNumber = 40;

/// Records a witness fetches at once when many epochs are final together.
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
	/// The chain could not be read.
	#[error("{0}")]
	Unavailable(String),
}

impl From<LedgerError> for Refusal {
	fn from(error: LedgerError) -> Self {
		Self::Unavailable(error.to_string())
	}
}

/// Where the witness keeps its state.
struct Vault {
	dir: PathBuf,
}

impl Vault {
	fn shares_dir(&self) -> PathBuf {
		self.dir.join("shares")
	}

	fn share_path(&self, stream: &[u8; 32], epoch: u32) -> PathBuf {
		self.shares_dir().join(format!("{}-{epoch}.record", hex(stream)))
	}

	fn nonces_path(&self) -> PathBuf {
		self.dir.join("nonces.scale")
	}

	/// Writes `bytes` to `path` atomically (a crash leaves the old or the new file).
	fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
		use std::{io::Write, os::unix::fs::OpenOptionsExt};
		let temporary = path.with_extension("tmp");
		let mut file = std::fs::OpenOptions::new()
			.write(true)
			.create(true)
			.truncate(true)
			.mode(0o600)
			.open(&temporary)?;
		file.write_all(bytes)?;
		file.sync_all()?;
		std::fs::rename(temporary, path)
	}

	fn load_share(&self, stream: &[u8; 32], epoch: u32) -> Option<SealedShareRecord> {
		let bytes = std::fs::read(self.share_path(stream, epoch)).ok()?;
		SealedShareRecord::decode_exact(&bytes).ok()
	}

	/// The stored shares' (stream prefix, epoch) file names.
	fn share_files(&self) -> Vec<PathBuf> {
		std::fs::read_dir(self.shares_dir())
			.map(|entries| {
				entries
					.filter_map(|entry| entry.ok().map(|entry| entry.path()))
					.filter(|path| path.extension().is_some_and(|ext| ext == "record"))
					.collect()
			})
			.unwrap_or_default()
	}

	/// Deletes the shares of `stream` whose epoch `keep` rejects.
	fn delete_shares(&self, stream: &[u8; 32], keep: impl Fn(u32) -> bool) {
		let prefix = format!("{}-", hex(stream));
		for path in self.share_files() {
			let Some(name) = path.file_stem().and_then(|name| name.to_str()) else { continue };
			let Some(epoch) = name.strip_prefix(&prefix).and_then(|e| e.parse().ok()) else {
				continue;
			};
			if !keep(epoch) {
				if let Err(error) = std::fs::remove_file(&path) {
					log::warn!(target: LOG_TARGET, "deleting {}: {error}", path.display());
				}
			}
		}
	}
}

/// A share the witness is still looking for.
struct WantedShare {
	key: [u8; 32],
	stream: [u8; 32],
	epoch: u32,
	holder: HolderIndex,
	record_hash: [u8; 32],
	commitments: Commitments,
	until: BlockNumber,
}

/// The witness service.
pub struct Witness {
	identity: Identity,
	account: AccountId,
	vault: Vault,
	ledger: Ledger,
	/// Nonces of accepted requests with their last valid block.
	nonces: Mutex<BTreeMap<[u8; 32], BlockNumber>>,
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
		let nonces = std::fs::read(vault.nonces_path())
			.ok()
			.and_then(|bytes| BTreeMap::decode(&mut &bytes[..]).ok())
			.unwrap_or_default();
		let account = identity.signer().account_id();
		log::info!(target: LOG_TARGET, "witness service for {account}");
		let witness = Arc::new(Self {
			identity,
			account,
			vault,
			ledger,
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
		self.metrics.shares_held.set(self.vault.share_files().len() as u64);
	}

	async fn follow(self: Arc<Self>, overlay: Overlay) {
		let mut finality = self.ledger.client().finality_notification_stream();
		let mut wanted: HashMap<[u8; 32], WantedShare> = HashMap::new();
		while let Some(notification) = finality.next().await {
			for block in finalized_blocks(&notification) {
				match self.ledger.events(block) {
					Ok(events) => {
						for event in events {
							self.on_ledger_event(event, &mut wanted);
						}
					},
					Err(error) => log::warn!(target: LOG_TARGET, "events of {block:?}: {error}"),
				}
			}
			let (now, _) = self.ledger.finalized();
			wanted.retain(|_, share| share.until >= now);
			// Many epochs may be final at once: fetch their records side by side.
			let keys: Vec<_> = wanted.keys().copied().collect();
			let mut fetched = futures::stream::iter(keys)
				.map(|key| {
					let overlay = overlay.clone();
					async move { (key, overlay.get_record(key, false).await) }
				})
				.buffer_unordered(CONCURRENT_FETCHES);
			while let Some((key, result)) = fetched.next().await {
				// A record not found yet stays wanted: the next finalized block tries again.
				if let Ok(value) = result {
					if let Some(share) = wanted.remove(&key) {
						self.keep_share(&share, &value);
					}
				}
			}
			self.refresh_gauge();
		}
	}

	fn on_ledger_event(&self, event: LedgerEvent, wanted: &mut HashMap<[u8; 32], WantedShare>) {
		match event {
			LedgerEvent::EpochDealt { stream, epoch, holders, commitments, record_hashes } => {
				let Some(position) = holders.iter().position(|holder| *holder == self.account)
				else {
					return;
				};
				let (Ok(holder), Some(record_hash), Ok(points)) = (
					HolderIndex::try_from(position + 1),
					record_hashes.get(position),
					commitments.try_into(),
				) else {
					log::warn!(target: LOG_TARGET, "epoch {epoch} of {} is malformed", hex(&stream));
					return;
				};
				let key = record_dht_key(&DealContext { stream_id: stream, epoch }, holder);
				let until = self.ledger.finalized().0 + FETCH_BLOCKS;
				let commitments = Commitments { version: WireVersion::V1, points };
				wanted.insert(
					key,
					WantedShare {
						key,
						stream,
						epoch,
						holder,
						record_hash: *record_hash,
						commitments,
						until,
					},
				);
				// The chain keeps the current and the previous epoch; so does the witness.
				self.vault.delete_shares(&stream, |kept| kept + 1 >= epoch);
			},
			LedgerEvent::StreamEnded { stream, status } => {
				wanted.retain(|_, share| share.stream != stream);
				self.vault.delete_shares(&stream, |_| false);
				log::info!(
					target: LOG_TARGET,
					"stream {} ended ({status:?}): its shares are deleted",
					hex(&stream)
				);
			},
		}
	}

	/// Checks a fetched record and keeps it if it holds a valid share for this witness.
	fn keep_share(&self, wanted: &WantedShare, value: &[u8]) {
		let context = DealContext { stream_id: wanted.stream, epoch: wanted.epoch };
		let checked = SealedShareRecord::decode_exact(value)
			.ok()
			.filter(|record| record_hash(record) == wanted.record_hash)
			.and_then(|record| {
				let share =
					record.open(self.identity.encryption_secret(), &context, wanted.holder).ok()?;
				share.verify(&wanted.commitments).ok()?;
				Some(record)
			});
		let Some(record) = checked else {
			log::warn!(target: LOG_TARGET, "record {} does not hold a valid share", hex(&wanted.key));
			return;
		};
		let path = self.vault.share_path(&wanted.stream, wanted.epoch);
		match Vault::write(&path, &record.encode()) {
			Ok(()) => log::info!(
				target: LOG_TARGET,
				"keeping share of epoch {} of {}",
				wanted.epoch,
				hex(&wanted.stream)
			),
			Err(error) => log::error!(target: LOG_TARGET, "writing {}: {error}", path.display()),
		}
	}

	/// Answers a SCALE-encoded [`ShareReleaseRequest`] with a SCALE-encoded
	/// [`SealedShareAnswer`].
	pub fn request_share(&self, request: &[u8]) -> Result<Vec<u8>, Refusal> {
		let answer = self.answer(request);
		match &answer {
			Ok(_) => self.metrics.share_requests_served.inc(),
			Err(refusal) => {
				log::debug!(target: LOG_TARGET, "share request refused: {refusal}");
				self.metrics.share_requests_refused.inc()
			},
		}
		answer
	}

	fn answer(&self, request: &[u8]) -> Result<Vec<u8>, Refusal> {
		use keyorch_primitives::Error;
		let request = ShareReleaseRequest::decode_exact(request)
			.map_err(|_| Refusal::Malformed("not a SCALE ShareReleaseRequest"))?;
		let (now, _) = self.ledger.finalized();
		let terms = &request.terms;
		request.check(self.account.as_ref(), now).map_err(|error| match error {
			Error::WrongContext => Refusal::WrongWitness,
			Error::Expired { expires_at, now } => Refusal::Expired { expires_at, now },
			_ => Refusal::BadSignature,
		})?;
		if terms.expires_at > now + MAX_REQUEST_BLOCKS {
			return Err(Refusal::Malformed("valid for more than 100 blocks"));
		}
		self.use_nonce(terms.nonce, terms.expires_at, now)?;

		let stream = terms.stream_id;
		let requester = AccountId::from(terms.requester);
		match self.ledger.stream_status(stream)? {
			None => return Err(Refusal::NotAuthorized("unknown stream")),
			Some(status) if status.has_ended() => {
				return Err(Refusal::StreamEnded(stream_status_name(status)))
			},
			Some(_) => {},
		}
		if !self.ledger.may_request_share(stream, requester.clone(), self.account.clone())? {
			return Err(Refusal::NotAuthorized(
				"the requester is not the stream's initiator or provider, or it is not live",
			));
		}
		let requester_key = self
			.ledger
			.participant_key(requester)?
			.ok_or(Refusal::NotAuthorized("the requester has no registered encryption key"))?;
		let record = self.vault.load_share(&stream, terms.epoch).ok_or(Refusal::NoShare)?;
		let share = record
			.open(self.identity.encryption_secret(), &terms.context(), record.holder_index)
			.map_err(|_| Refusal::NoShare)?;
		let seed = zeroize::Zeroizing::new(rand::random::<[u8; 32]>());
		let answer =
			SealedShareAnswer::seal(&seed, &share, &request, &EncryptionPublicKey(requester_key))
				.map_err(|_| Refusal::NotAuthorized("the requester's encryption key is unusable"))?;
		Ok(answer.encode())
	}

	/// Records `nonce` as used until `expires_at`; refuses one already used.
	fn use_nonce(
		&self,
		nonce: [u8; 32],
		expires_at: BlockNumber,
		now: BlockNumber,
	) -> Result<(), Refusal> {
		let mut nonces = self.nonces.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
		nonces.retain(|_, until| *until >= now);
		if nonces.insert(nonce, expires_at).is_some() {
			return Err(Refusal::Replayed);
		}
		// Persisted before answering, so a restart cannot make a used nonce fresh again.
		Vault::write(&self.vault.nonces_path(), &nonces.encode())
			.map_err(|e| Refusal::Unavailable(format!("cannot record the nonce: {e}")))
	}
}
