//! Key assembly: an initiator or provider rebuilds the key of a stream epoch from its own
//! sealed share and the shares witnesses release to it.
//!
//! [`NodeClient::assemble_key`] reads the stream and the epoch's commitments at the best block
//! (the fast path, see [`crate::Dealing`] for what happens if that dealing does not become
//! final), fetches and checks the holder's own record, asks witness nodes for their
//! shares with signed requests until the stream's threshold of verified shares is held, and
//! derives the [`StreamKeys`].

use std::{fmt, time::Duration};

use futures::StreamExt;
use keyorch_primitives::{
	combine, record_dht_key, record_hash, Commitments, DealContext, HolderIndex, HolderShare,
	SealedShareRecord, StreamKeys, StreamSecret, WireFormat, WireVersion,
};
use sp_core::H256;

use crate::{
	AccountId, Dealing, EpochIndex, EpochView, Error, HolderRole, Identity, NodeClient, Refusal,
	StreamId, StreamView,
};

/// How long one witness may take, from connecting to its answer.
pub const WITNESS_TIMEOUT: Duration = Duration::from_secs(5);

/// For how many blocks after the best block a share request stays valid.
pub const REQUEST_VALIDITY_BLOCKS: u32 = 20;

/// A witness node to ask for shares: the URL of its RPC and, if known, the witness account it
/// serves (otherwise asked with `keyorch_status` when needed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessEndpoint {
	/// The node's WebSocket URL, e.g. `ws://127.0.0.1:9945`.
	pub url: String,
	/// The witness account the node serves, if known.
	pub account: Option<AccountId>,
}

impl WitnessEndpoint {
	/// A node whose witness account is asked for when needed.
	pub fn new(url: impl Into<String>) -> Self {
		Self { url: url.into(), account: None }
	}

	/// A node known to serve witness `account`.
	pub fn with_account(url: impl Into<String>, account: AccountId) -> Self {
		Self { url: url.into(), account: Some(account) }
	}

	/// Asks every node at `urls`, concurrently and within [`WITNESS_TIMEOUT`] each, which
	/// witness account it serves: the endpoints that answered with one, and what went wrong
	/// with the others.
	pub async fn discover(urls: &[String]) -> (Vec<WitnessEndpoint>, Vec<WitnessReport>) {
		let answers = futures::future::join_all(urls.iter().map(|url| async move {
			let endpoint = WitnessEndpoint::new(url.clone());
			let outcome = within_timeout(connect_witness(&endpoint)).await;
			(endpoint, outcome)
		}))
		.await;
		let mut found = Vec::new();
		let mut failed = Vec::new();
		for (endpoint, outcome) in answers {
			match outcome {
				Ok((_, account)) => {
					found.push(WitnessEndpoint::with_account(endpoint.url, account))
				},
				Err(failure) => failed.push(WitnessReport { url: endpoint.url, failure }),
			}
		}
		(found, failed)
	}
}

/// Why one witness node gave no usable share.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessFailure {
	/// The node could not be reached.
	#[error("unreachable: {0}")]
	Unreachable(String),
	/// The node did not answer in time.
	#[error("no answer within {seconds} s")]
	TimedOut {
		/// The time allowed.
		seconds: u64,
	},
	/// The node runs no witness service.
	#[error("the node serves no witness")]
	NoWitnessService,
	/// The node's witness is not one of the stream's witnesses.
	#[error("its witness {0} is not a witness of this stream")]
	NotSelected(AccountId),
	/// Another URL already gave this witness's share.
	#[error("witness {0} already answered through another URL")]
	Duplicate(AccountId),
	/// The node refused the request.
	#[error("refused: {0}")]
	Refused(Refusal),
	/// The node answered with an error that is not one of keyorch's refusals.
	#[error("failed: {0}")]
	Failed(String),
	/// The answer does not decode, open or verify against the commitments.
	#[error("bad answer: {0}")]
	BadAnswer(String),
}

impl From<Error> for WitnessFailure {
	fn from(error: Error) -> Self {
		use jsonrpsee::core::ClientError;
		match error {
			Error::Connect { source, .. } => Self::Unreachable(source.to_string()),
			Error::Rpc { source: ClientError::RequestTimeout, .. } => {
				Self::TimedOut { seconds: WITNESS_TIMEOUT.as_secs() }
			},
			Error::Rpc { source: ClientError::Call(call), .. } => {
				Self::Failed(format!("error {}: {}", call.code(), call.message()))
			},
			Error::Rpc { source, .. } => Self::Unreachable(source.to_string()),
			Error::Refused { refusal, .. } => Self::Refused(refusal),
			Error::StreamEnded { status } => Self::Refused(Refusal::StreamEnded { status }),
			Error::Malformed { detail, .. } => Self::BadAnswer(detail),
			other => Self::Failed(other.to_string()),
		}
	}
}

/// What went wrong with one witness node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessReport {
	/// The node's URL.
	pub url: String,
	/// What went wrong.
	pub failure: WitnessFailure,
}

impl WitnessReport {
	/// All reports on one line, or a note that no witness was asked.
	pub fn summary(reports: &[WitnessReport]) -> String {
		if reports.is_empty() {
			return "no witness node to ask".into();
		}
		reports.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
	}

	/// The stream status a witness refused with because the stream has ended, if one did.
	fn stream_ended(&self) -> Option<&str> {
		match &self.failure {
			WitnessFailure::Refused(Refusal::StreamEnded { status }) => Some(status),
			_ => None,
		}
	}
}

impl fmt::Display for WitnessReport {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		write!(f, "{}: {}", self.url, self.failure)
	}
}

/// The keys of one stream epoch, rebuilt by its initiator or provider.
#[derive(Debug)]
pub struct AssembledKey {
	/// The stream.
	pub stream: StreamId,
	/// The epoch.
	pub epoch: EpochIndex,
	/// The assembling holder's index (1 initiator, 2 provider).
	pub holder_index: HolderIndex,
	/// The best block the stream and epoch were read at.
	pub block: u32,
	/// The dealing the key comes from: it must become final, or the key is dropped.
	pub dealing: Dealing,
	/// The witnesses whose shares were used.
	pub witnesses: Vec<AccountId>,
	/// The witness nodes that gave no usable share on the way.
	pub skipped: Vec<WitnessReport>,
	/// The two directional AES-256 keys (`Debug` shows their fingerprint only).
	pub keys: StreamKeys,
	/// The epoch's secret, kept for [`AssembledKey::bound_keys`] (zeroized on drop, redacted in
	/// `Debug`).
	secret: StreamSecret,
}

impl AssembledKey {
	/// The epoch's keys bound to a secret only the two endpoints share, such as a TLS exporter
	/// value of the connection between them (see [`crate::secure::TLS_EXPORTER_LABEL`]). Keys
	/// bound this way cannot be derived by a quorum of orchestrator and witnesses, who can
	/// rebuild the epoch's secret but do not hold the TLS session.
	pub fn bound_keys(&self, channel_binding: &[u8]) -> StreamKeys {
		self.secret.derive_keys(Some(channel_binding))
	}
}

/// What a witness share request needs to know of the stream.
struct Asking<'a> {
	identity: &'a Identity,
	context: DealContext,
	commitments: &'a Commitments,
	/// The stream's witnesses with their holder indexes.
	witnesses: Vec<(AccountId, HolderIndex)>,
	expires_at: u32,
}

/// `future`, or [`WitnessFailure::TimedOut`] after [`WITNESS_TIMEOUT`].
async fn within_timeout<T>(
	future: impl std::future::Future<Output = Result<T, WitnessFailure>>,
) -> Result<T, WitnessFailure> {
	tokio::time::timeout(WITNESS_TIMEOUT, future)
		.await
		.unwrap_or(Err(WitnessFailure::TimedOut { seconds: WITNESS_TIMEOUT.as_secs() }))
}

/// Connects to a witness node and learns the witness account it serves, unless known.
async fn connect_witness(
	endpoint: &WitnessEndpoint,
) -> Result<(NodeClient, AccountId), WitnessFailure> {
	// One request per connection: a witness that drops it is reported, not waited for.
	let client = NodeClient::connect_with_timeout(&endpoint.url, WITNESS_TIMEOUT)
		.await?
		.with_reconnect_patience(Duration::ZERO);
	let account = match &endpoint.account {
		Some(account) => account.clone(),
		None => client.status().await?.witness.ok_or(WitnessFailure::NoWitnessService)?,
	};
	Ok((client, account))
}

impl Asking<'_> {
	/// Asks one witness node for its share, and opens and verifies the answer.
	/// [`Self::ask`] within the witness timeout, with the endpoint asked.
	async fn ask_at<'e>(
		&self,
		endpoint: &'e WitnessEndpoint,
	) -> (&'e WitnessEndpoint, Result<(AccountId, HolderShare), WitnessFailure>) {
		(endpoint, within_timeout(self.ask(endpoint)).await)
	}

	async fn ask(
		&self,
		endpoint: &WitnessEndpoint,
	) -> Result<(AccountId, HolderShare), WitnessFailure> {
		let (client, account) = connect_witness(endpoint).await?;
		let index = self
			.witnesses
			.iter()
			.find_map(|(witness, index)| (*witness == account).then_some(*index))
			.ok_or_else(|| WitnessFailure::NotSelected(account.clone()))?;
		let request =
			self.identity.signer().release_request(&self.context, &account, self.expires_at);
		let answer = client.request_share(&request).await?;
		if answer.holder_index != index {
			return Err(WitnessFailure::BadAnswer(format!(
				"it answered as holder {}, the witness is holder {index}",
				answer.holder_index
			)));
		}
		let share = answer
			.open(self.identity.encryption_secret(), &request)
			.map_err(|e| WitnessFailure::BadAnswer(e.to_string()))?;
		share.verify(self.commitments).map_err(|e| WitnessFailure::BadAnswer(e.to_string()))?;
		Ok((account, share))
	}
}

/// The holder index of `account` in `view` if it is the initiator or the provider.
fn party_index(view: &StreamView, account: &AccountId) -> Option<HolderIndex> {
	view.holders.iter().zip(1..).find_map(|(holder, index)| {
		(holder.account == *account && holder.role != HolderRole::Witness).then_some(index)
	})
}

/// The stream's witnesses with their holder indexes.
fn witness_indexes(view: &StreamView) -> Vec<(AccountId, HolderIndex)> {
	view.holders
		.iter()
		.zip(1..)
		.filter(|(holder, _)| holder.role == HolderRole::Witness)
		.map(|(holder, index)| (holder.account.clone(), index))
		.collect()
}

/// The commitments of a dealt epoch as the crypto layer takes them.
fn commitments_of(epoch: &EpochView) -> Result<Commitments, Error> {
	let points = epoch.commitments.clone().try_into().map_err(|_| Error::Malformed {
		method: "KeyorchApi_epoch",
		detail: format!("{} commitments", epoch.commitments.len()),
	})?;
	Ok(Commitments { version: WireVersion::V1, points })
}

impl NodeClient {
	/// The open stream `stream` at block `at`, or why there is none: [`Error::StreamEnded`]
	/// (also for an expired stream awaiting clean-up) or [`Error::UnknownStream`].
	pub async fn open_stream(&self, stream: StreamId, at: H256) -> Result<StreamView, Error> {
		match self.stream_view(stream, Some(at)).await? {
			Some(view) if view.status.has_ended() => {
				Err(Error::StreamEnded { status: crate::stream_status_name(view.status).into() })
			},
			Some(view) => Ok(view),
			None => match self.tombstone(stream, Some(at)).await? {
				Some(tombstone) => Err(Error::StreamEnded {
					status: crate::stream_status_name(tombstone.status).into(),
				}),
				None => Err(Error::UnknownStream { stream }),
			},
		}
	}

	/// The dealt epoch `epoch` of `view` (its current epoch if `None`) at block `at`.
	async fn dealt_epoch(
		&self,
		view: &StreamView,
		epoch: Option<EpochIndex>,
		at: H256,
	) -> Result<EpochView, Error> {
		let Some(current) = view.current_epoch else {
			return Err(Error::EpochNotDealt {
				epoch: epoch.or(view.pending_epoch).unwrap_or_default(),
			});
		};
		let wanted = epoch.unwrap_or(current);
		if wanted > current {
			return Err(Error::EpochNotDealt { epoch: wanted });
		}
		self.epoch_view(view.id, wanted, Some(at))
			.await?
			.ok_or(Error::EpochNotKept { epoch: wanted, current })
	}

	/// Fetches the holder's own sealed record from this node, checks it against the hash on
	/// chain, opens it and verifies the share against the commitments.
	async fn own_share(
		&self,
		identity: &Identity,
		context: &DealContext,
		index: HolderIndex,
		epoch: &EpochView,
		commitments: &Commitments,
	) -> Result<HolderShare, Error> {
		let key = H256(record_dht_key(context, index));
		let expected =
			epoch.record_hashes.get(usize::from(index) - 1).ok_or_else(|| Error::Malformed {
				method: "KeyorchApi_epoch",
				detail: format!("no record hash for holder {index}"),
			})?;
		let bytes = self.record(key).await?;
		let record = SealedShareRecord::decode_exact(&bytes)
			.map_err(|e| Error::BadRecord { reason: e.to_string() })?;
		if record_hash(&record) != *expected {
			return Err(Error::RecordHashMismatch { key });
		}
		let share = record
			.open(identity.encryption_secret(), context, index)
			.map_err(|e| Error::BadRecord { reason: e.to_string() })?;
		share.verify(commitments).map_err(|e| Error::BadRecord { reason: e.to_string() })?;
		Ok(share)
	}

	/// Rebuilds the keys of `epoch` of `stream` (the current epoch if `None`) for `identity`,
	/// the stream's initiator or provider.
	///
	/// Reads the stream and the epoch at the best block, fetches the identity's
	/// own sealed record from this node, and asks the stream's witnesses among `witnesses`
	/// (at most as many at once as shares are missing, each within [`WITNESS_TIMEOUT`]) with
	/// requests valid for [`REQUEST_VALIDITY_BLOCKS`] blocks, until the stream's threshold of
	/// verified shares is held. Witnesses that are down, slow, refuse or answer badly are
	/// skipped; [`AssembledKey::skipped`] says why.
	///
	/// # Errors
	///
	/// [`Error::UnknownStream`], [`Error::StreamEnded`] (from the chain, the node or, when
	/// too few shares came back, a witness), [`Error::NotParticipant`],
	/// [`Error::WrongEncryptionKey`], [`Error::EpochNotDealt`], [`Error::EpochNotKept`],
	/// [`Error::RecordNotFound`], [`Error::RecordHashMismatch`], [`Error::BadRecord`],
	/// [`Error::NotEnoughWitnesses`] with each witness's reason, [`Error::Assembly`], and
	/// transport errors.
	pub async fn assemble_key(
		&self,
		identity: &Identity,
		stream: StreamId,
		epoch: Option<EpochIndex>,
		witnesses: &[WitnessEndpoint],
	) -> Result<AssembledKey, Error> {
		let at = self.best_hash().await?;
		let block = self.header(Some(at)).await?.number;
		let view = self.open_stream(stream, at).await?;
		let account = identity.signer().account_id();
		let index = party_index(&view, &account)
			.ok_or_else(|| Error::NotParticipant { stream, account: account.clone() })?;
		let registered = view.holders[usize::from(index) - 1].x25519_public_key;
		if registered.is_some_and(|key| key != identity.encryption_public_key().0) {
			return Err(Error::WrongEncryptionKey { account });
		}
		let epoch = self.dealt_epoch(&view, epoch, at).await?;
		let context = DealContext { stream_id: stream.0, epoch: epoch.epoch };
		let commitments = commitments_of(&epoch)?;
		let needed = commitments.threshold();
		let mut shares =
			vec![self.own_share(identity, &context, index, &epoch, &commitments).await?];

		let asking = Asking {
			identity,
			context,
			commitments: &commitments,
			witnesses: witness_indexes(&view),
			expires_at: block.saturating_add(REQUEST_VALIDITY_BLOCKS),
		};
		// A stream combinator with a closure here would keep the assembly from being `Send` for
		// every lifetime (rustc cannot prove it), and it could not be spawned.
		let concurrency = needed.saturating_sub(1).max(1);
		let mut queued = witnesses.iter();
		let mut answers = futures::stream::FuturesUnordered::new();
		for endpoint in queued.by_ref().take(concurrency) {
			answers.push(asking.ask_at(endpoint));
		}
		let mut used = Vec::new();
		let mut skipped = Vec::new();
		while shares.len() < needed {
			let Some((endpoint, answer)) = answers.next().await else { break };
			if let Some(next) = queued.next() {
				answers.push(asking.ask_at(next));
			}
			let failure = match answer {
				Ok((witness, _)) if used.contains(&witness) => WitnessFailure::Duplicate(witness),
				Ok((witness, share)) => {
					used.push(witness);
					shares.push(share);
					continue;
				},
				Err(failure) => failure,
			};
			skipped.push(WitnessReport { url: endpoint.url.clone(), failure });
		}
		if shares.len() < needed {
			if let Some(status) = skipped.iter().find_map(WitnessReport::stream_ended) {
				return Err(Error::StreamEnded { status: status.into() });
			}
			return Err(Error::NotEnoughWitnesses {
				have: shares.len(),
				needed,
				witnesses: skipped,
			});
		}
		let secret = combine(&shares, &commitments).map_err(Error::Assembly)?;
		let keys = secret.derive_keys(None);
		let dealing = Dealing {
			stream,
			epoch: context.epoch,
			dealt_at: epoch.dealt_at,
			seen_at: block,
			commitments: epoch.commitments,
		};
		Ok(AssembledKey {
			secret,
			stream,
			epoch: context.epoch,
			holder_index: index,
			block,
			dealing,
			witnesses: used,
			skipped,
			keys,
		})
	}
}

#[cfg(test)]
mod tests {
	use jsonrpsee::{core::ClientError, types::ErrorObjectOwned};
	use keyorch_primitives::EncryptionSecret;
	use sp_keyring::Sr25519Keyring;

	use super::*;
	use crate::{HolderView, Permissions, StreamPolicy, StreamStatus};

	fn holder(account: AccountId, role: HolderRole) -> HolderView {
		HolderView { account, role, x25519_public_key: None }
	}

	fn view() -> StreamView {
		StreamView {
			id: H256::repeat_byte(1),
			status: StreamStatus::Live,
			holders: vec![
				holder(Sr25519Keyring::Alice.to_account_id(), HolderRole::Initiator),
				holder(Sr25519Keyring::Bob.to_account_id(), HolderRole::Provider),
				holder(Sr25519Keyring::Charlie.to_account_id(), HolderRole::Witness),
				holder(Sr25519Keyring::Dave.to_account_id(), HolderRole::Witness),
			],
			data_type: b"text/plain".to_vec(),
			permissions: Permissions(Permissions::READ),
			policy: StreamPolicy { witness_count: 2, threshold: 2, rotation: Default::default() },
			requested_at: 1,
			expires_at: 100,
			selection_seed: vec![0; 32],
			current_epoch: Some(0),
			pending_epoch: None,
			total_bytes: 0,
			bytes_since_rotation: 0,
		}
	}

	#[test]
	fn only_initiator_and_provider_have_a_party_index() {
		let view = view();
		assert_eq!(party_index(&view, &Sr25519Keyring::Alice.to_account_id()), Some(1));
		assert_eq!(party_index(&view, &Sr25519Keyring::Bob.to_account_id()), Some(2));
		assert_eq!(party_index(&view, &Sr25519Keyring::Charlie.to_account_id()), None);
		assert_eq!(party_index(&view, &Sr25519Keyring::Eve.to_account_id()), None);
		assert_eq!(
			witness_indexes(&view),
			vec![
				(Sr25519Keyring::Charlie.to_account_id(), 3),
				(Sr25519Keyring::Dave.to_account_id(), 4)
			]
		);
	}

	#[test]
	fn client_errors_become_witness_failures() {
		let refused = Error::from_keyorch_rpc(
			"keyorch_requestShare",
			ClientError::Call(ErrorObjectOwned::owned(7004, "no", None::<()>)),
		);
		assert_eq!(WitnessFailure::from(refused), WitnessFailure::Refused(Refusal::NotAuthorized));
		let ended = Error::StreamEnded { status: "closed".into() };
		assert_eq!(
			WitnessFailure::from(ended),
			WitnessFailure::Refused(Refusal::StreamEnded { status: "closed".into() })
		);
		let slow =
			Error::Rpc { method: "keyorch_requestShare", source: ClientError::RequestTimeout };
		assert_eq!(WitnessFailure::from(slow), WitnessFailure::TimedOut { seconds: 5 });
		let foreign = Error::Rpc {
			method: "keyorch_status",
			source: ClientError::Call(ErrorObjectOwned::owned(
				-32601,
				"Method not found",
				None::<()>,
			)),
		};
		assert!(
			matches!(WitnessFailure::from(foreign), WitnessFailure::Failed(m) if m.contains("-32601"))
		);
	}

	#[test]
	fn not_enough_witnesses_says_why_for_each_on_one_line() {
		let error = Error::NotEnoughWitnesses {
			have: 1,
			needed: 3,
			witnesses: vec![
				WitnessReport {
					url: "ws://127.0.0.1:1".into(),
					failure: WitnessFailure::Unreachable("connection refused".into()),
				},
				WitnessReport {
					url: "ws://127.0.0.1:2".into(),
					failure: WitnessFailure::Refused(Refusal::NoShare),
				},
			],
		};
		let message = error.to_string();
		assert!(!message.contains('\n'), "{message}");
		assert!(
			message.starts_with("only 1 of the 3 shares needed could be verified"),
			"{message}"
		);
		assert!(message.contains("ws://127.0.0.1:1: unreachable: connection refused"), "{message}");
		assert!(
			message.contains("ws://127.0.0.1:2: refused: the witness holds no share"),
			"{message}"
		);
		let none = Error::NotEnoughWitnesses { have: 1, needed: 2, witnesses: vec![] };
		assert!(none.to_string().contains("no witness node to ask"));
	}

	#[test]
	fn a_witness_report_names_a_stream_that_has_ended() {
		let ended = WitnessReport {
			url: "ws://w".into(),
			failure: WitnessFailure::Refused(Refusal::StreamEnded { status: "revoked".into() }),
		};
		assert_eq!(ended.stream_ended(), Some("revoked"));
		let other =
			WitnessReport { url: "ws://w".into(), failure: WitnessFailure::NoWitnessService };
		assert_eq!(other.stream_ended(), None);
	}

	#[test]
	fn epoch_commitments_convert_or_fail_typed() {
		let dealing = keyorch_primitives::deal(
			&[9; 32],
			&DealContext { stream_id: [1; 32], epoch: 0 },
			2,
			&[[1u8; 32], [2; 32], [3; 32]]
				.map(|seed| EncryptionSecret::from_bytes(seed).public_key()),
		)
		.unwrap();
		let epoch = EpochView {
			epoch: 0,
			commitments: dealing.commitments.points.to_vec(),
			record_hashes: dealing.record_hashes(),
			dealt_at: 2,
			dealt_by: sp_core::sr25519::Public::from_raw([0; 32]).into(),
		};
		assert_eq!(commitments_of(&epoch).unwrap(), dealing.commitments);
		let oversized = EpochView { commitments: vec![[0; 32]; 300], ..epoch };
		assert!(matches!(commitments_of(&oversized), Err(Error::Malformed { .. })));
	}

	#[tokio::test]
	async fn discovery_reports_nodes_that_are_down() {
		let port = std::net::TcpListener::bind("127.0.0.1:0")
			.and_then(|listener| listener.local_addr())
			.unwrap()
			.port();
		let url = format!("ws://127.0.0.1:{port}");
		let (found, failed) = WitnessEndpoint::discover(std::slice::from_ref(&url)).await;
		assert!(found.is_empty());
		assert_eq!(failed.len(), 1);
		assert_eq!(failed[0].url, url);
		assert!(matches!(failed[0].failure, WitnessFailure::Unreachable(_)), "{:?}", failed[0]);
	}
}
