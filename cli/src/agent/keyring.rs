//! The agent's keys: each stream epoch's keys assembled once, kept in memory (zeroized when
//! dropped), used to seal and open messages only while the chain says the stream is live.

use std::{
	collections::{HashMap, VecDeque},
	sync::{
		atomic::{AtomicU64, Ordering},
		Arc, Mutex,
	},
	time::{Duration, Instant},
};

use keyorch_client::{
	stream_status_name, AssembledKey, Error, HolderRole, Identity, NodeClient, StreamId,
	StreamStatus, WitnessEndpoint,
};
use keyorch_primitives::{
	message::{MessageHeader, MAX_MESSAGES_PER_KEY, MAX_MESSAGE_LEN},
	Direction,
};
use rand::RngCore;
use zeroize::Zeroizing;

use crate::failure::{Failure, Kind, Reason};

/// How long the agent trusts what the chain said about a stream before it reads it again: the
/// longest a revocation in the best block goes unnoticed.
pub const LIVENESS_TTL: Duration = Duration::from_secs(1);

/// Epochs whose keys the agent keeps; the least recently assembled go first.
pub const MAX_KEPT_EPOCHS: usize = 1024;

/// Streams whose liveness the agent remembers.
const MAX_REMEMBERED_STREAMS: usize = 4096;

/// A live stream as the agent last read it from the best block.
#[derive(Clone, Copy, Debug)]
pub struct LiveStream {
	/// The epoch new messages are sealed under.
	pub current_epoch: u32,
	/// The direction this identity seals in (its role's).
	pub sending: Direction,
	read_at: Instant,
}

/// The longest a first use of an epoch waits for its keys to be assembled and their dealing to
/// be final (a stalled chain never makes it final).
pub const ASSEMBLY_TIMEOUT: Duration = Duration::from_secs(90);

/// A caller's place in the queue for one epoch's assembly; the last one out removes the
/// queue, whether its assembly succeeded, failed or was abandoned.
struct Turn<'a> {
	ring: &'a KeyRing,
	epoch: (StreamId, u32),
	lock: Arc<tokio::sync::Mutex<()>>,
}

impl<'a> Turn<'a> {
	fn take(ring: &'a KeyRing, epoch: (StreamId, u32)) -> Self {
		let lock = lock(&ring.assembling).entry(epoch).or_default().clone();
		Self { ring, epoch, lock }
	}
}

impl Drop for Turn<'_> {
	fn drop(&mut self) {
		let mut assembling = lock(&self.ring.assembling);
		// Two references: the map's and this one, so no one else waits for it.
		if Arc::strong_count(&self.lock) <= 2 {
			assembling.remove(&self.epoch);
		}
	}
}

/// One epoch's keys and how many messages they sealed.
struct EpochKeys {
	assembled: AssembledKey,
	sealed: AtomicU64,
}

/// Kept epoch keys, oldest first in `order`.
#[derive(Default)]
struct Kept {
	keys: HashMap<(StreamId, u32), Arc<EpochKeys>>,
	order: VecDeque<(StreamId, u32)>,
}

/// The agent's keys and what it knows of its streams.
pub struct KeyRing {
	client: NodeClient,
	identity: Identity,
	witnesses: Vec<WitnessEndpoint>,
	kept: Mutex<Kept>,
	streams: Mutex<HashMap<StreamId, LiveStream>>,
	/// One assembly at a time per epoch: concurrent first requests for an epoch wait for one
	/// assembly instead of each asking the witnesses.
	assembling: Mutex<HashMap<(StreamId, u32), AssemblyTurn>>,
}

/// The lock an epoch's assemblies take in turn.
type AssemblyTurn = Arc<tokio::sync::Mutex<()>>;

/// A sealed message and the epoch it was sealed under.
pub struct Sealed {
	pub epoch: u32,
	pub message: Vec<u8>,
}

/// An opened message and the epoch it was sealed under.
pub struct Opened {
	pub epoch: u32,
	pub plaintext: Zeroizing<Vec<u8>>,
}

/// An epoch's exported keys.
pub struct Exported {
	pub epoch: u32,
	pub fingerprint: String,
	/// [`Direction::InitiatorToProvider`]'s key first.
	pub keys: Zeroizing<[[u8; 32]; 2]>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
	// A panic elsewhere cannot leave these maps half-changed: every change is one insert or
	// remove.
	mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl KeyRing {
	pub fn new(client: NodeClient, identity: Identity, witnesses: Vec<WitnessEndpoint>) -> Self {
		Self {
			client,
			identity,
			witnesses,
			kept: Mutex::default(),
			streams: Mutex::default(),
			assembling: Mutex::default(),
		}
	}

	pub fn client(&self) -> &NodeClient {
		&self.client
	}

	pub fn identity(&self) -> &Identity {
		&self.identity
	}

	/// Stream epochs whose keys it holds.
	pub fn kept_epochs(&self) -> usize {
		lock(&self.kept).keys.len()
	}

	/// Forgets what the agent read of `stream` and drops its keys, so that the next use reads
	/// the chain again (after this agent revoked or closed it).
	pub fn forget(&self, stream: StreamId) {
		lock(&self.streams).remove(&stream);
		let mut kept = lock(&self.kept);
		kept.order.retain(|(of, _)| *of != stream);
		kept.keys.retain(|(of, _), _| *of != stream);
	}

	/// `stream` if the best block has it live with a dealt epoch and this identity as its
	/// initiator or provider; read again after [`LIVENESS_TTL`].
	pub async fn live(&self, stream: StreamId) -> Result<LiveStream, Failure> {
		if let Some(known) = lock(&self.streams).get(&stream) {
			if known.read_at.elapsed() < LIVENESS_TTL {
				return Ok(*known);
			}
		}
		let at = self.client.best_hash().await?;
		let Some(view) = self.client.stream_view(stream, Some(at)).await? else {
			return Err(match self.client.tombstone(stream, Some(at)).await? {
				Some(ended) => {
					Error::StreamEnded { status: stream_status_name(ended.status).into() }
				},
				None => Error::UnknownStream { stream },
			}
			.into());
		};
		let me = self.identity.signer().account_id();
		let role = view.holders.iter().find(|holder| holder.account == me).map(|h| h.role);
		let sending = match role {
			Some(HolderRole::Initiator) => Direction::InitiatorToProvider,
			Some(HolderRole::Provider) => Direction::ProviderToInitiator,
			_ => return Err(Error::NotParticipant { account: me, stream }.into()),
		};
		let current_epoch = match (view.status, view.current_epoch) {
			(StreamStatus::Live, Some(epoch)) => epoch,
			_ => return Err(Error::EpochNotDealt { epoch: 0 }.into()),
		};
		let live = LiveStream { current_epoch, sending, read_at: Instant::now() };
		let mut streams = lock(&self.streams);
		if streams.len() >= MAX_REMEMBERED_STREAMS {
			streams.retain(|_, known| known.read_at.elapsed() < LIVENESS_TTL);
		}
		streams.insert(stream, live);
		Ok(live)
	}

	/// The keys of `epoch` of `stream`: kept, or assembled from this identity's share and the
	/// witnesses' and kept once their dealing is final. An epoch newer than the `live` one
	/// is refused at once rather than waited for.
	async fn keys(
		&self,
		stream: StreamId,
		live: &LiveStream,
		epoch: u32,
	) -> Result<Arc<EpochKeys>, Failure> {
		if epoch > live.current_epoch {
			return Err(Failure::new(
				Kind::Refused,
				format!("epoch {epoch} is newer than the best block's {}", live.current_epoch),
			)
			.because(Reason::NotYet));
		}
		let kept = || lock(&self.kept).keys.get(&(stream, epoch)).cloned();
		if let Some(keys) = kept() {
			return Ok(keys);
		}
		let turn = Turn::take(self, (stream, epoch));
		let _one_at_a_time = turn.lock.lock().await;
		if let Some(keys) = kept() {
			return Ok(keys);
		}
		let assembled = tokio::time::timeout(ASSEMBLY_TIMEOUT, self.assemble(stream, epoch))
			.await
			.map_err(|_| {
				Failure::new(
					Kind::Unreachable,
					format!("epoch {epoch}'s keys were not assembled and final within {ASSEMBLY_TIMEOUT:?}"),
				)
				.because(Reason::NotYet)
			})??;
		let keys = Arc::new(EpochKeys { assembled, sealed: AtomicU64::new(0) });
		let mut kept = lock(&self.kept);
		while kept.order.len() >= MAX_KEPT_EPOCHS {
			if let Some(oldest) = kept.order.pop_front() {
				kept.keys.remove(&oldest);
			}
		}
		kept.order.push_back((stream, epoch));
		kept.keys.insert((stream, epoch), keys.clone());
		Ok(keys)
	}

	/// Assembles the keys of `epoch` of `stream` and waits for their dealing to be final.
	async fn assemble(&self, stream: StreamId, epoch: u32) -> Result<AssembledKey, Error> {
		let assembled = self
			.client
			.assemble_key_patiently(&self.identity, stream, Some(epoch), &self.witnesses)
			.await?;
		self.client.confirm_dealing(&assembled.dealing).await?;
		Ok(assembled)
	}

	/// Seals `plaintext` with associated data `aad` under the stream's current epoch, in this
	/// identity's direction.
	pub async fn seal(
		&self,
		stream: StreamId,
		aad: &[u8],
		plaintext: &[u8],
	) -> Result<Sealed, Failure> {
		if plaintext.len() > MAX_MESSAGE_LEN {
			return Err(Failure::input(format!(
				"the message has {} bytes; at most {MAX_MESSAGE_LEN} are sealed at once",
				plaintext.len()
			)));
		}
		let live = self.live(stream).await?;
		let keys = self.keys(stream, &live, live.current_epoch).await?;
		if keys.sealed.fetch_add(1, Ordering::Relaxed) >= MAX_MESSAGES_PER_KEY {
			return Err(Failure::new(
				Kind::Refused,
				format!("epoch {} sealed as many messages as one key may", live.current_epoch),
			)
			.hint("rotate the stream: POST /v1/streams/{id}/rotate"));
		}
		let mut nonce = [0u8; 12];
		rand::rngs::OsRng.fill_bytes(&mut nonce);
		let message = keys
			.assembled
			.keys
			.seal_message(live.sending, nonce, aad, plaintext)
			.map_err(|error| Failure::input(format!("cannot seal the message: {error}")))?;
		Ok(Sealed { epoch: live.current_epoch, message })
	}

	/// Opens `message`, sealed by the stream's other party with associated data `aad`, while
	/// the stream is live.
	pub async fn open(
		&self,
		stream: StreamId,
		aad: &[u8],
		message: &[u8],
	) -> Result<Opened, Failure> {
		let header = MessageHeader::parse(message).map_err(|_| {
			Failure::input("not a sealed keyorch message (wrong version, or too short)")
		})?;
		let live = self.live(stream).await?;
		if header.direction == live.sending {
			return Err(Failure::input(
				"the message was sealed in this identity's own direction: the other party opens it",
			));
		}
		let keys = self.keys(stream, &live, header.epoch).await?;
		let plaintext =
			keys.assembled.keys.open_message(header.direction, aad, message).map_err(|_| {
				Failure::input(
					"the message fails authentication: it was changed, or sealed with other \
					 associated data or for another stream",
				)
			})?;
		Ok(Opened { epoch: header.epoch, plaintext })
	}

	/// The keys of `epoch` of `stream` (the current one if `None`), while the stream is live.
	pub async fn export(&self, stream: StreamId, epoch: Option<u32>) -> Result<Exported, Failure> {
		let live = self.live(stream).await?;
		let epoch = epoch.unwrap_or(live.current_epoch);
		let keys = self.keys(stream, &live, epoch).await?;
		Ok(Exported {
			epoch,
			fingerprint: keys.assembled.keys.fingerprint().to_string(),
			keys: keys.assembled.keys.export(),
		})
	}
}
