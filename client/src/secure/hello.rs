//! The hello that opens or resumes a session on a transport, and the keys of a session.

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use keyorch_primitives::frame::{FrameHeader, HEADER_LEN, TAG_LEN};
use keyorch_primitives::{Direction, SessionId, StreamId, StreamKeys};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::stream::{BoxTransport, Transport};
use super::{Role, SecureStreamError};

/// Hash prefix of the session id the hello proofs are sealed under.
const HELLO_LABEL: &[u8] = b"keyorch/v1/secure-hello";
/// First bytes of an initiator's hello.
const MAGIC: [u8; 4] = *b"KOSS";
/// Version of the hello and of the frames' plaintext layout.
const VERSION: u8 = 1;
/// Length of the initiator's hello: magic, version, kind, stream id, session id, epoch, nonce.
const CLIENT_HELLO_LEN: usize = 4 + 1 + 1 + 32 + 16 + 4 + 32;
/// Length of the plaintext part of the provider's hello: nonce and epoch.
const SERVER_HELLO_LEN: usize = 32 + 4;
/// Length of a proof's plaintext: status and received-frame count.
const PROOF_LEN: usize = 9;

/// The keys of every epoch a session still needs, oldest first, all of one stream.
#[derive(Clone)]
pub(crate) struct KeyRing(BTreeMap<u32, Arc<StreamKeys>>);

impl KeyRing {
	/// A ring holding one epoch.
	pub(crate) fn new(keys: Arc<StreamKeys>) -> Self {
		Self(BTreeMap::from([(keys.context().epoch, keys)]))
	}

	/// The newest epoch's keys.
	pub(crate) fn newest(&self) -> (u32, &Arc<StreamKeys>) {
		let (epoch, keys) = self.0.last_key_value().expect("a key ring is never empty");
		(*epoch, keys)
	}

	/// The stream the keys are for.
	pub(crate) fn stream_id(&self) -> StreamId {
		self.newest().1.context().stream_id
	}

	/// The keys of `epoch`, if held.
	pub(crate) fn get(&self, epoch: u32) -> Option<&Arc<StreamKeys>> {
		self.0.get(&epoch)
	}

	/// Adds the keys of a newer epoch of the same stream and returns the epoch.
	pub(crate) fn insert(&mut self, keys: StreamKeys) -> Result<u32, SecureStreamError> {
		let (newest, _) = self.newest();
		let epoch = keys.context().epoch;
		if epoch <= newest || keys.context().stream_id != self.stream_id() {
			return Err(SecureStreamError::StaleEpoch { epoch, newest });
		}
		self.0.insert(epoch, Arc::new(keys));
		Ok(epoch)
	}

	/// Drops the keys of every epoch before `epoch`.
	pub(crate) fn retain_from(&mut self, epoch: u32) {
		self.0.retain(|held, _| *held >= epoch);
	}
}

/// Whether a hello opens a new session or resumes one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum HelloKind {
	New = 1,
	Resume = 2,
}

/// The initiator's opening message.
#[derive(Clone, Debug)]
struct ClientHello {
	kind: HelloKind,
	stream_id: StreamId,
	session_id: SessionId,
	epoch: u32,
	nonce: [u8; 32],
}

impl ClientHello {
	fn encode(&self) -> [u8; CLIENT_HELLO_LEN] {
		let mut out = [0u8; CLIENT_HELLO_LEN];
		out[..4].copy_from_slice(&MAGIC);
		out[4] = VERSION;
		out[5] = self.kind as u8;
		out[6..38].copy_from_slice(&self.stream_id);
		out[38..54].copy_from_slice(&self.session_id);
		out[54..58].copy_from_slice(&self.epoch.to_be_bytes());
		out[58..].copy_from_slice(&self.nonce);
		out
	}

	fn decode(bytes: &[u8; CLIENT_HELLO_LEN]) -> Result<Self, SecureStreamError> {
		if bytes[..4] != MAGIC || bytes[4] != VERSION {
			return Err(SecureStreamError::Protocol("not a keyorch secure-stream hello"));
		}
		let kind = match bytes[5] {
			1 => HelloKind::New,
			2 => HelloKind::Resume,
			_ => return Err(SecureStreamError::Protocol("unknown hello kind")),
		};
		let field = |range: std::ops::Range<usize>| &bytes[range];
		Ok(Self {
			kind,
			stream_id: field(6..38).try_into().expect("32 bytes"),
			session_id: field(38..54).try_into().expect("16 bytes"),
			epoch: u32::from_be_bytes(field(54..58).try_into().expect("4 bytes")),
			nonce: field(58..CLIENT_HELLO_LEN).try_into().expect("32 bytes"),
		})
	}

	/// The session id both proofs of this hello are sealed under.
	fn proof_session(&self, epoch: u32, provider_nonce: &[u8; 32]) -> SessionId {
		let digest = Sha256::new()
			.chain_update(HELLO_LABEL)
			.chain_update(self.stream_id)
			.chain_update(self.session_id)
			.chain_update(epoch.to_be_bytes())
			.chain_update([self.kind as u8])
			.chain_update(self.nonce)
			.chain_update(provider_nonce)
			.finalize();
		digest[..16].try_into().expect("16 bytes")
	}
}

/// What a proof says: whether its sender knows the session, and how many frames of it it
/// received.
struct Proof {
	known: bool,
	received: u64,
}

impl Proof {
	fn seal(&self, keys: &StreamKeys, direction: Direction, session: SessionId) -> Vec<u8> {
		let mut buf = vec![0u8; HEADER_LEN + PROOF_LEN + TAG_LEN];
		buf[HEADER_LEN] = u8::from(self.known);
		buf[HEADER_LEN + 1..HEADER_LEN + PROOF_LEN].copy_from_slice(&self.received.to_be_bytes());
		keys.sender(direction, session)
			.seal_in_place(&mut buf, PROOF_LEN)
			.expect("the buffer fits and sequence 0 is free");
		buf
	}

	fn open(
		keys: &StreamKeys,
		direction: Direction,
		session: SessionId,
		mut frame: Vec<u8>,
	) -> Result<Self, SecureStreamError> {
		let payload = keys
			.receiver(direction, session)
			.open_in_place(&mut frame)
			.map_err(|_| SecureStreamError::AuthenticationFailed)?;
		match payload {
			[known @ (0 | 1), received @ ..] if received.len() == 8 => Ok(Self {
				known: *known == 1,
				received: u64::from_be_bytes(received.try_into().expect("8 bytes")),
			}),
			_ => Err(SecureStreamError::Protocol("malformed hello proof")),
		}
	}
}

/// Why a frame could not be read from a transport.
#[derive(Debug)]
pub(crate) enum ReadError {
	/// The transport ended between frames.
	Closed,
	/// The transport ended inside a frame.
	Truncated,
	/// The header does not parse.
	Malformed,
	/// The transport failed.
	Io(io::Error),
}

impl From<ReadError> for SecureStreamError {
	fn from(error: ReadError) -> Self {
		match error {
			ReadError::Closed | ReadError::Truncated => {
				Self::Transport("the transport closed during the hello".into())
			},
			ReadError::Malformed => Self::AuthenticationFailed,
			ReadError::Io(error) => error.into(),
		}
	}
}

/// Fills `buf` unless the transport ends first; returns the bytes read.
async fn read_full<R: AsyncRead + Unpin>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
	let mut filled = 0;
	while filled < buf.len() {
		match reader.read(&mut buf[filled..]).await? {
			0 => break,
			n => filled += n,
		}
	}
	Ok(filled)
}

/// Reads one whole frame (header, payload, tag).
pub(crate) async fn read_frame<R: AsyncRead + Unpin>(reader: &mut R) -> Result<Vec<u8>, ReadError> {
	let mut header = [0u8; HEADER_LEN];
	match read_full(reader, &mut header).await.map_err(ReadError::Io)? {
		0 => return Err(ReadError::Closed),
		HEADER_LEN => {},
		_ => return Err(ReadError::Truncated),
	}
	let len = FrameHeader::parse(&header).map_err(|_| ReadError::Malformed)?.frame_len();
	let mut frame = vec![0u8; len];
	frame[..HEADER_LEN].copy_from_slice(&header);
	if read_full(reader, &mut frame[HEADER_LEN..]).await.map_err(ReadError::Io)? < len - HEADER_LEN
	{
		return Err(ReadError::Truncated);
	}
	Ok(frame)
}

/// Runs `hello` within `limit`.
pub(crate) async fn timed<T>(
	limit: Duration,
	hello: impl std::future::Future<Output = Result<T, SecureStreamError>>,
) -> Result<T, SecureStreamError> {
	tokio::time::timeout(limit, hello).await.map_err(|_| SecureStreamError::HelloTimeout)?
}

/// The initiator's side of a hello: returns the number of frames the provider has received.
///
/// Fails with [`SecureStreamError::SessionLost`] if the provider does not know the session.
pub(crate) async fn initiate(
	transport: &mut BoxTransport,
	kind: HelloKind,
	keys: &KeyRing,
	session_id: SessionId,
	received: u64,
) -> Result<u64, SecureStreamError> {
	let hello = ClientHello {
		kind,
		stream_id: keys.stream_id(),
		session_id,
		epoch: keys.newest().0,
		nonce: rand::random(),
	};
	transport.write_all(&hello.encode()).await?;
	transport.flush().await?;
	let mut reply = [0u8; SERVER_HELLO_LEN];
	transport.read_exact(&mut reply).await?;
	let provider_nonce: [u8; 32] = reply[..32].try_into().expect("32 bytes");
	let epoch = u32::from_be_bytes(reply[32..].try_into().expect("4 bytes"));
	let epoch_keys = keys.get(epoch).ok_or(SecureStreamError::NoCommonEpoch { offered: epoch })?;
	let session = hello.proof_session(epoch, &provider_nonce);
	let frame = read_frame(transport).await?;
	let theirs = Proof::open(epoch_keys, Role::Initiator.receive_direction(), session, frame)?;
	if !theirs.known {
		return Err(SecureStreamError::SessionLost);
	}
	let ours = Proof { known: true, received };
	transport.write_all(&ours.seal(epoch_keys, Role::Initiator.send_direction(), session)).await?;
	transport.flush().await?;
	Ok(theirs.received)
}

/// An initiator's hello read from a new transport, before the provider decides whether it
/// opens a new stream ([`super::SecureStream::accept`]) or resumes one
/// ([`super::StreamControl::resume_incoming`]).
pub struct Incoming {
	hello: ClientHello,
	pub(crate) transport: BoxTransport,
}

impl std::fmt::Debug for Incoming {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		f.debug_struct("Incoming")
			.field("session_id", &self.hello.session_id)
			.field("resume", &self.is_resume())
			.finish_non_exhaustive()
	}
}

impl Incoming {
	/// Reads the initiator's hello from `transport`, within `timeout`.
	///
	/// # Errors
	///
	/// [`SecureStreamError::HelloTimeout`], [`SecureStreamError::Transport`], or
	/// [`SecureStreamError::Protocol`] if the peer does not speak this protocol.
	pub async fn read(
		transport: impl Transport,
		timeout: Duration,
	) -> Result<Self, SecureStreamError> {
		let mut transport: BoxTransport = Box::new(transport);
		let hello = timed(timeout, async {
			let mut bytes = [0u8; CLIENT_HELLO_LEN];
			transport.read_exact(&mut bytes).await?;
			ClientHello::decode(&bytes)
		})
		.await?;
		Ok(Self { hello, transport })
	}

	/// The session the initiator opens or resumes.
	pub fn session_id(&self) -> SessionId {
		self.hello.session_id
	}

	/// The stream the initiator claims (unauthenticated until the hello completes).
	pub fn stream_id(&self) -> StreamId {
		self.hello.stream_id
	}

	/// The newest epoch the initiator claims to hold (unauthenticated until the hello
	/// completes).
	pub fn epoch(&self) -> u32 {
		self.hello.epoch
	}

	/// Whether the initiator resumes a session (rather than opening a new one).
	pub fn is_resume(&self) -> bool {
		self.hello.kind == HelloKind::Resume
	}

	/// The provider's side of the hello. `received` is the number of frames of the session
	/// received so far, or `None` if this side does not know the session: the initiator is then
	/// told so (authenticated) and this fails with [`SecureStreamError::UnknownSession`].
	/// Returns the number of frames the initiator has received.
	pub(crate) async fn respond(
		&mut self,
		keys: &KeyRing,
		received: Option<u64>,
	) -> Result<u64, SecureStreamError> {
		let hello = &self.hello;
		if hello.stream_id != keys.stream_id() {
			return Err(SecureStreamError::WrongStream);
		}
		let epoch = hello.epoch.min(keys.newest().0);
		let epoch_keys =
			keys.get(epoch).ok_or(SecureStreamError::NoCommonEpoch { offered: hello.epoch })?;
		let nonce: [u8; 32] = rand::random();
		let session = hello.proof_session(epoch, &nonce);
		let ours = Proof { known: received.is_some(), received: received.unwrap_or(0) };
		let mut reply = nonce.to_vec();
		reply.extend_from_slice(&epoch.to_be_bytes());
		reply.extend(ours.seal(epoch_keys, Role::Provider.send_direction(), session));
		self.transport.write_all(&reply).await?;
		self.transport.flush().await?;
		if received.is_none() {
			return Err(SecureStreamError::UnknownSession);
		}
		let frame = read_frame(&mut self.transport).await?;
		Ok(Proof::open(epoch_keys, Role::Provider.receive_direction(), session, frame)?.received)
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn client_hello_round_trips_and_rejects_garbage() {
		let hello = ClientHello {
			kind: HelloKind::Resume,
			stream_id: [1; 32],
			session_id: [2; 16],
			epoch: 7,
			nonce: [3; 32],
		};
		let bytes = hello.encode();
		let back = ClientHello::decode(&bytes).unwrap();
		assert_eq!(back.encode(), bytes);
		let mut bad = bytes;
		bad[0] = b'X';
		assert!(ClientHello::decode(&bad).is_err());
		let mut bad = bytes;
		bad[5] = 9;
		assert!(ClientHello::decode(&bad).is_err());
	}

	#[test]
	fn proof_sessions_differ_with_every_input() {
		let hello = ClientHello {
			kind: HelloKind::New,
			stream_id: [1; 32],
			session_id: [2; 16],
			epoch: 0,
			nonce: [3; 32],
		};
		let base = hello.proof_session(0, &[4; 32]);
		assert_ne!(base, hello.proof_session(1, &[4; 32]));
		assert_ne!(base, hello.proof_session(0, &[5; 32]));
		let resume = ClientHello { kind: HelloKind::Resume, ..hello };
		assert_ne!(base, resume.proof_session(0, &[4; 32]));
	}
}
