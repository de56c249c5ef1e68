//! Stream parties for tests: an account key, an X25519 key made fresh from OS randomness, and
//! the calls that register them and request streams.

use std::time::Duration;

use keyorch_client::{Included, NodeClient, RuntimeCall, RuntimeEvent, Signer};
use keyorch_primitives::{EncryptionPublicKey, EncryptionSecret};
use keyorch_runtime::pallet_keyorch::{
	self, Permissions, RotationPolicy, StreamId, StreamMetadata, StreamPolicy,
};
use rand::RngCore;

/// A participant: its account and its X25519 encryption key.
pub struct Party {
	/// The account key.
	pub signer: Signer,
	/// The X25519 secret its shares are sealed to.
	pub secret: EncryptionSecret,
}

impl Party {
	/// The dev account `uri` (e.g. `//Bob`) with a fresh X25519 key.
	pub fn new(uri: &str) -> Self {
		let mut bytes = [0u8; 32];
		rand::rngs::OsRng.fill_bytes(&mut bytes);
		Self {
			signer: Signer::from_uri(uri).expect("dev seed"),
			secret: EncryptionSecret::from_bytes(bytes),
		}
	}

	/// Its X25519 public key.
	pub fn public_key(&self) -> EncryptionPublicKey {
		self.secret.public_key()
	}

	/// Registers its X25519 key, and as a witness if `witness`.
	pub async fn register(&self, client: &NodeClient, witness: bool) {
		let call = RuntimeCall::Keyorch(pallet_keyorch::Call::register_participant {
			x25519_public_key: self.public_key().0,
		});
		client.submit_and_watch(&self.signer, call).await.expect("register_participant");
		if witness {
			let call = RuntimeCall::Keyorch(pallet_keyorch::Call::register_witness {});
			client.submit_and_watch(&self.signer, call).await.expect("register_witness");
		}
	}

	/// Requests a stream to `provider`; returns its id.
	pub async fn request_stream(
		&self,
		client: &NodeClient,
		provider: &Party,
		witness_count: u32,
		threshold: u32,
		rotation: RotationPolicy,
	) -> (StreamId, Included) {
		let call = RuntimeCall::Keyorch(pallet_keyorch::Call::request_stream {
			provider: provider.signer.account_id(),
			metadata: StreamMetadata {
				data_type: b"application/octet-stream".to_vec().try_into().expect("short"),
				permissions: Permissions(Permissions::READ),
				duration: 600,
			},
			policy: StreamPolicy { witness_count, threshold, rotation },
		});
		let included = client.submit_and_watch(&self.signer, call).await.expect("request_stream");
		let stream = included
			.events
			.iter()
			.find_map(|event| match event {
				RuntimeEvent::Keyorch(pallet_keyorch::Event::StreamRequested {
					stream, ..
				}) => Some(*stream),
				_ => None,
			})
			.expect("StreamRequested event");
		(stream, included)
	}
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
}

/// Waits (from block `from`) for `epoch` of `stream` to be dealt.
pub async fn wait_for_epoch(
	client: &NodeClient,
	stream: StreamId,
	epoch: u32,
	from: u32,
	timeout: Duration,
) -> DealtEpoch {
	let ((holders, commitments, record_hashes), block) = client
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
					..
				}) if *s == stream && *e == epoch => {
					Some((holders.clone(), commitments.clone(), record_hashes.clone()))
				},
				_ => None,
			},
		)
		.await
		.expect("KeyEpochDealt");
	DealtEpoch { holders, commitments, record_hashes, block }
}
