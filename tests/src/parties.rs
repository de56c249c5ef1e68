//! Stream parties for tests: a funded dev account with a fresh X25519 key, waiting for dealt
//! epochs and for witnesses to keep their shares, and assembling a party's key.

use std::time::Duration;

use codec::Encode;
use keyorch_primitives::{
	record_dht_key, Commitments, DealContext, HolderShare, SealedShareRecord, WireFormat,
	WireVersion,
};

use keyorch_client::{
	AssembledKey, Error, Identity, NodeClient, RuntimeEvent, Signer, StreamRequest, WitnessEndpoint,
};
use keyorch_primitives::{EncryptionSecret, ReleaseTerms, ShareReleaseRequest};

use crate::{wait_for, Node};
use keyorch_runtime::pallet_keyorch::{self, Permissions, RotationPolicy, StreamId};

/// How long a first epoch may take to be dealt on a 3-validator network.
const DEALING_TIMEOUT: Duration = Duration::from_secs(120);

/// A participant: a funded dev account and a fresh X25519 key.
pub struct Party {
	identity: Identity,
	/// The account key.
	pub signer: Signer,
}

impl Party {
	/// The dev account `uri` (e.g. `//Bob`) with a fresh X25519 key.
	pub fn new(uri: &str) -> Self {
		Self::from_signer(Signer::from_uri(uri).expect("dev seed"))
	}

	/// The account of `signer` with a fresh X25519 key.
	pub fn from_signer(signer: Signer) -> Self {
		Self { identity: Identity::with_new_encryption_key(signer.clone()), signer }
	}

	/// The dev account `uri` with the X25519 key `Identity::dev` derives from it: what a node
	/// started with `--witness <uri>` uses.
	pub fn dev(uri: &str) -> Self {
		let identity = Identity::dev(uri).expect("dev seed");
		Self { signer: identity.signer().clone(), identity }
	}

	/// Its identity: account key and X25519 key.
	pub fn identity(&self) -> &Identity {
		&self.identity
	}

	/// Its account as raw bytes.
	pub fn account(&self) -> [u8; 32] {
		self.signer.account_id().into()
	}

	/// A share release request to `witness` for `epoch` of `stream`, valid until block
	/// `expires_at`, with a fresh nonce, signed by this party.
	pub fn release_request(
		&self,
		stream: StreamId,
		epoch: u32,
		witness: &Party,
		expires_at: u32,
	) -> ShareReleaseRequest {
		let terms = ReleaseTerms {
			stream_id: stream.0,
			epoch,
			witness: witness.account(),
			requester: self.account(),
			nonce: rand::random(),
			expires_at,
		};
		let signature = self.signer.sign(&terms.signing_payload());
		terms.with_signature(signature.0)
	}

	/// The X25519 secret its shares are sealed to.
	pub fn secret(&self) -> &EncryptionSecret {
		self.identity.encryption_secret()
	}

	/// Registers its X25519 key, and as a witness if `witness`.
	pub async fn register(&self, client: &NodeClient, witness: bool) {
		client.register_participant(&self.identity).await.expect("register_participant");
		if witness {
			client.register_witness(&self.signer).await.expect("register_witness");
		}
	}

	/// Requests a stream to `provider`; returns its id and the block it was requested in.
	pub async fn request_stream(
		&self,
		client: &NodeClient,
		provider: &Party,
		witness_count: u32,
		threshold: u32,
		rotation: RotationPolicy,
	) -> (StreamId, u32) {
		let request = stream_request(provider, witness_count, threshold, rotation);
		client.request_stream(&self.signer, &request).await.expect("request_stream")
	}
}

/// What the tests ask for: a read stream to `provider` of 600 blocks, with `witness_count`
/// witnesses, `threshold` and `rotation`.
pub fn stream_request(
	provider: &Party,
	witness_count: u32,
	threshold: u32,
	rotation: RotationPolicy,
) -> StreamRequest {
	StreamRequest {
		provider: provider.signer.account_id(),
		data_type: b"application/octet-stream".to_vec(),
		permissions: Permissions::READ,
		duration_blocks: 600,
		witness_count,
		threshold,
		rotate_every_blocks: rotation.every_blocks,
		rotate_every_bytes: rotation.every_bytes,
	}
}

/// Registers `initiator` and `provider` as participants and `witnesses` as witnesses, then
/// requests a stream from `initiator` to `provider` with all of them as witnesses; returns its
/// id and the block it was requested in.
pub async fn register_and_request(
	client: &NodeClient,
	initiator: &Party,
	provider: &Party,
	witnesses: &[Party],
	threshold: u32,
	rotation: RotationPolicy,
) -> (StreamId, u32) {
	initiator.register(client, false).await;
	provider.register(client, false).await;
	for witness in witnesses {
		witness.register(client, true).await;
	}
	let count = witnesses.len() as u32;
	initiator.request_stream(client, provider, count, threshold, rotation).await
}

/// What `KeyEpochDealt` says of one epoch.
pub struct DealtEpoch {
	/// Holders in share order: initiator, provider, witnesses.
	pub holders: Vec<keyorch_client::AccountId>,
	/// The Feldman commitments.
	pub commitments: Vec<[u8; 32]>,
	/// The sealed records' hashes, in holder order.
	pub record_hashes: Vec<[u8; 32]>,
	/// The block it was dealt in.
	pub block: u32,
	/// The orchestrator key that dealt it (sr25519 public key bytes).
	pub orchestrator: [u8; 32],
}

/// Waits (from block `from`) for `epoch` of `stream` to be dealt.
pub async fn wait_for_epoch(
	client: &NodeClient,
	stream: StreamId,
	epoch: u32,
	from: u32,
	timeout: Duration,
) -> DealtEpoch {
	let ((holders, commitments, record_hashes, orchestrator), block) = client
		.wait_for_event(
			from,
			timeout,
			&format!("epoch {epoch} of {stream:?} to be dealt"),
			|event| match event {
				RuntimeEvent::Keyorch(pallet_keyorch::Event::KeyEpochDealt {
					stream: s,
					epoch: e,
					holders,
					commitments,
					record_hashes,
					orchestrator,
				}) if *s == stream && *e == epoch => Some((
					holders.clone(),
					commitments.clone(),
					record_hashes.clone(),
					orchestrator.encode().try_into().expect("an sr25519 public key"),
				)),
				_ => None,
			},
		)
		.await
		.expect("KeyEpochDealt");
	DealtEpoch { holders, commitments, record_hashes, block, orchestrator }
}

/// Waits until every witness node of `witnesses` holds at least `count` shares, at most
/// `timeout` for each.
pub async fn wait_for_shares(witnesses: &[&Node], count: u64, timeout: Duration) {
	for node in witnesses {
		let rpc = node.keyorch().await;
		wait_for("the witness to keep its shares", timeout, || async {
			(rpc.status().await["sharesHeld"].as_u64() >= Some(count)).then_some(())
		})
		.await;
	}
}

/// Assembles `party`'s key of `stream` (its current epoch) through `node`, asking the witness
/// nodes `witnesses` in this order.
pub async fn assemble(
	node: &Node,
	party: &Party,
	stream: StreamId,
	witnesses: &[&Node],
) -> Result<AssembledKey, Error> {
	let endpoints: Vec<_> = witnesses.iter().map(|w| WitnessEndpoint::new(w.ws_url())).collect();
	node.client().await.assemble_key(party.identity(), stream, None, &endpoints).await
}

/// A stream from Ferdie to Alice's stash with Dave and Eve as witnesses, threshold 2, epoch 0
/// dealt. The parties are not validators, whose accounts the off-chain workers also sign with.
pub struct DealtStream {
	/// Ferdie.
	pub initiator: Party,
	/// Alice's stash.
	pub provider: Party,
	/// The witnesses, with their dev X25519 keys.
	pub witnesses: Vec<Party>,
	/// The stream.
	pub stream: StreamId,
	/// Epoch 0.
	pub dealt: DealtEpoch,
}

impl DealtStream {
	/// Registers everyone through `nodes[0]`, requests the stream and waits for epoch 0.
	pub async fn new(nodes: &[Node], witnesses: &[&str]) -> Self {
		let client = nodes[0].client().await;
		// Not Ferdie: a validator of `--chain local`, whose account its off-chain worker signs with.
		let initiator = Party::new("//Ferdie//stash");
		let provider = Party::new("//Alice//stash");
		let witnesses: Vec<_> = witnesses.iter().map(|seed| Party::dev(seed)).collect();
		let no_rotation = RotationPolicy { every_blocks: None, every_bytes: None };
		let (stream, requested) =
			register_and_request(&client, &initiator, &provider, &witnesses, 2, no_rotation).await;
		let dealt = wait_for_epoch(&client, stream, 0, requested, DEALING_TIMEOUT).await;
		Self { initiator, provider, witnesses, stream, dealt }
	}

	/// Stream and epoch 0.
	pub fn context(&self) -> DealContext {
		DealContext { stream_id: self.stream.0, epoch: 0 }
	}

	/// DHT key of the record of holder `index` (1 initiator, 2 provider, 3… witnesses).
	pub fn key(&self, index: u8) -> [u8; 32] {
		record_dht_key(&self.context(), index)
	}

	/// The epoch's commitments.
	pub fn commitments(&self) -> Commitments {
		Commitments {
			version: WireVersion::V1,
			points: self.dealt.commitments.clone().try_into().expect("within bounds"),
		}
	}

	/// `party`'s own share (holder `index`), fetched through `node` and verified.
	pub async fn own_share(&self, node: &Node, party: &Party, index: u8) -> HolderShare {
		let bytes = node.keyorch().await.get_record(self.key(index), false).await.expect("record");
		let record = SealedShareRecord::decode_exact(&bytes).expect("a sealed record");
		let share = record.open(party.secret(), &self.context(), index).expect("opens");
		share.verify(&self.commitments()).expect("verifies");
		share
	}
}
