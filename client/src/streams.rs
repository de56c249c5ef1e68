//! Streams from an application's side: request one, rotate, report usage, revoke or close it,
//! and follow what happens to it on chain as typed events.

use std::{collections::VecDeque, time::Duration};

use futures::Stream;
use keyorch_runtime::pallet_keyorch::{
	self, EndedBy, Permissions, RotationPolicy, StreamId, StreamMetadata, StreamPolicy,
};

use crate::{AccountId, Error, Identity, Included, NodeClient, RuntimeCall, RuntimeEvent, Signer};

/// What an initiator asks for: metadata only, never a key or credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRequest {
	/// The provider of the data.
	pub provider: AccountId,
	/// What flows, e.g. a media type.
	pub data_type: Vec<u8>,
	/// `Permissions::READ` and/or `Permissions::WRITE`.
	pub permissions: u8,
	/// How long the stream lives, in blocks.
	pub duration_blocks: u32,
	/// How many witnesses keep a share.
	pub witness_count: u32,
	/// How many shares rebuild the key (at least 2).
	pub threshold: u32,
	/// A new key every this many blocks.
	pub rotate_every_blocks: Option<u32>,
	/// A new key after this many bytes reported.
	pub rotate_every_bytes: Option<u64>,
}

impl StreamRequest {
	/// The `request_stream` call that asks for this stream, to sign and submit as the initiator
	/// ([`NodeClient::request_stream`] does both and waits for the block).
	///
	/// Fails with [`Error::InvalidRequest`] if the data type is longer than the chain accepts.
	pub fn call(&self) -> Result<RuntimeCall, Error> {
		let data_type = self.data_type.clone().try_into().map_err(|_| Error::InvalidRequest {
			reason: "the data type is longer than the chain accepts".into(),
		})?;
		let call = pallet_keyorch::Call::request_stream {
			provider: self.provider.clone(),
			metadata: StreamMetadata {
				data_type,
				permissions: Permissions(self.permissions),
				duration: self.duration_blocks,
			},
			policy: StreamPolicy {
				witness_count: self.witness_count,
				threshold: self.threshold,
				rotation: RotationPolicy {
					every_blocks: self.rotate_every_blocks,
					every_bytes: self.rotate_every_bytes,
				},
			},
		};
		Ok(keyorch(call))
	}
}

/// What happened to a stream, as the chain says in a finalized block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
	/// A new key epoch was asked for (request, rotation interval, byte budget or `rotate`).
	EpochRequested {
		/// The epoch.
		epoch: u32,
		/// The block.
		block: u32,
	},
	/// The records of an epoch are ready: every holder can fetch and open its share.
	EpochReady {
		/// The epoch.
		epoch: u32,
		/// The block.
		block: u32,
		/// Holders in share order: initiator, provider, witnesses.
		holders: Vec<AccountId>,
		/// The Feldman commitments (the first commits to the secret).
		commitments: Vec<[u8; 32]>,
		/// The hashes of the sealed records, in holder order.
		record_hashes: Vec<[u8; 32]>,
	},
	/// The stream was revoked; its key is no longer released.
	Revoked {
		/// Who revoked it.
		by: EndedBy,
		/// The block.
		block: u32,
	},
	/// A party closed the stream.
	Closed {
		/// Who closed it.
		by: EndedBy,
		/// The block.
		block: u32,
	},
	/// The stream's duration passed.
	Expired {
		/// The block.
		block: u32,
	},
}

impl StreamEvent {
	/// Whether the stream is over after this event.
	pub fn ends_stream(&self) -> bool {
		matches!(self, Self::Revoked { .. } | Self::Closed { .. } | Self::Expired { .. })
	}

	fn from_runtime(stream: StreamId, event: &RuntimeEvent, block: u32) -> Option<Self> {
		use pallet_keyorch::Event as E;
		let RuntimeEvent::Keyorch(event) = event else { return None };
		match event {
			E::EpochRequested { stream: s, epoch, .. } if *s == stream => {
				Some(Self::EpochRequested { epoch: *epoch, block })
			},
			E::KeyEpochDealt { stream: s, epoch, holders, commitments, record_hashes, .. }
				if *s == stream =>
			{
				Some(Self::EpochReady {
					epoch: *epoch,
					block,
					holders: holders.clone(),
					commitments: commitments.clone(),
					record_hashes: record_hashes.clone(),
				})
			},
			E::StreamRevoked { stream: s, by, .. } if *s == stream => {
				Some(Self::Revoked { by: *by, block })
			},
			E::StreamClosed { stream: s, by, .. } if *s == stream => {
				Some(Self::Closed { by: *by, block })
			},
			E::StreamExpired { stream: s, .. } if *s == stream => Some(Self::Expired { block }),
			_ => None,
		}
	}
}

/// How often the event stream looks for newly finalized blocks.
const FOLLOW_POLL: Duration = Duration::from_millis(500);

fn keyorch(call: pallet_keyorch::Call<keyorch_runtime::Runtime>) -> RuntimeCall {
	RuntimeCall::Keyorch(call)
}

impl NodeClient {
	/// Registers `identity`'s X25519 key, so shares can be sealed to it.
	pub async fn register_participant(&self, identity: &Identity) -> Result<Included, Error> {
		let call = pallet_keyorch::Call::register_participant {
			x25519_public_key: identity.encryption_public_key().0,
		};
		self.submit_and_watch(identity.signer(), keyorch(call)).await
	}

	/// Registers `signer` as a witness (its deposit is held while it is one).
	pub async fn register_witness(&self, signer: &Signer) -> Result<Included, Error> {
		self.submit_and_watch(signer, keyorch(pallet_keyorch::Call::register_witness {})).await
	}

	/// Requests a stream as `initiator`; returns its id and the block it was requested in.
	pub async fn request_stream(
		&self,
		initiator: &Signer,
		request: &StreamRequest,
	) -> Result<(StreamId, u32), Error> {
		let included = self.submit_and_watch(initiator, request.call()?).await?;
		included
			.events
			.iter()
			.find_map(|event| match event {
				RuntimeEvent::Keyorch(pallet_keyorch::Event::StreamRequested {
					stream, ..
				}) => Some((*stream, included.number)),
				_ => None,
			})
			.ok_or(Error::Malformed {
				method: "author_submitAndWatchExtrinsic",
				detail: "request_stream emitted no StreamRequested event".into(),
			})
	}

	/// Asks for a new key epoch now (initiator or provider).
	pub async fn rotate(&self, party: &Signer, stream: StreamId) -> Result<Included, Error> {
		self.submit_and_watch(party, keyorch(pallet_keyorch::Call::rotate { stream })).await
	}

	/// Reports `bytes` of traffic (initiator or provider); past the byte budget a new epoch
	/// is requested.
	pub async fn report_usage(
		&self,
		party: &Signer,
		stream: StreamId,
		bytes: u64,
	) -> Result<Included, Error> {
		self.submit_and_watch(party, keyorch(pallet_keyorch::Call::report_usage { stream, bytes }))
			.await
	}

	/// Revokes the stream (initiator or provider) with a short human-readable reason.
	pub async fn revoke(
		&self,
		party: &Signer,
		stream: StreamId,
		reason: &str,
	) -> Result<Included, Error> {
		let reason = reason.as_bytes().to_vec().try_into().map_err(|_| Error::InvalidRequest {
			reason: "the revocation reason is longer than the chain accepts".into(),
		})?;
		self.submit_and_watch(party, keyorch(pallet_keyorch::Call::revoke { stream, reason })).await
	}

	/// Closes the stream (initiator or provider).
	pub async fn close(&self, party: &Signer, stream: StreamId) -> Result<Included, Error> {
		self.submit_and_watch(party, keyorch(pallet_keyorch::Call::close { stream })).await
	}

	/// The events of `stream` in finalized blocks from block `from` on, in order. The stream
	/// ends after the event that ends the stream, or with the first error.
	pub fn stream_events(
		&self,
		stream: StreamId,
		from: u32,
	) -> impl Stream<Item = Result<StreamEvent, Error>> + '_ {
		struct Follow {
			next_block: u32,
			ready: VecDeque<StreamEvent>,
			done: bool,
		}
		let start = Follow { next_block: from, ready: VecDeque::new(), done: false };
		futures::stream::unfold(start, move |mut state| async move {
			loop {
				if let Some(event) = state.ready.pop_front() {
					state.done = event.ends_stream();
					return Some((Ok(event), state));
				}
				if state.done {
					return None;
				}
				let finalized = match self.finalized_number().await {
					Ok(number) => number,
					Err(error) => {
						state.done = true;
						return Some((Err(error), state));
					},
				};
				if state.next_block > finalized {
					tokio::time::sleep(FOLLOW_POLL).await;
					continue;
				}
				let block = state.next_block;
				let events = match self.block_hash(block).await {
					Ok(hash) => self.events(hash).await,
					Err(error) => Err(error),
				};
				match events {
					Ok(events) => state.ready.extend(
						events.iter().filter_map(|e| StreamEvent::from_runtime(stream, e, block)),
					),
					Err(error) => {
						state.done = true;
						return Some((Err(error), state));
					},
				}
				state.next_block += 1;
			}
		})
	}
}
