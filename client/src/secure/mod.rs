//! Secure streams between the initiator and the provider of a keyorch stream.
//!
//! A [`SecureStream`] carries messages (byte strings) over any reliable, ordered transport —
//! TCP, a Unix socket, a WebSocket through [`WsTransport`], anything that is
//! `AsyncRead + AsyncWrite + Unpin + Send` — in the AES-256-GCM frames of
//! [`keyorch_primitives::frame`]. It is independent of the chain: the caller hands it the
//! [`StreamKeys`] of each epoch ([`SecureStream::connect`], [`StreamControl::install_epoch`]) and
//! tells it when the chain ended the stream ([`StreamControl::end`]). [`SecureDatagram`] is the
//! variant for UDP.
//!
//! # Hello
//!
//! Every transport starts with a three-message hello that proves to each side that the other
//! holds the stream's keys, without a key or a share on the wire:
//!
//! ```text
//! initiator → provider  "KOSS" 1 kind stream_id session_id epoch nonce_i     (plaintext, 90 bytes)
//! provider  → initiator nonce_p epoch' frame_p                               (36 bytes + a frame)
//! initiator → provider  frame_i                                              (a frame)
//! ```
//!
//! `kind` is *new session* or *resume*; `epoch` is the newest epoch the initiator holds and
//! `epoch'` the one the provider picks (the newer one both hold). Both proofs are ordinary
//! frames under the session id
//! `SHA-256("keyorch/v1/secure-hello" ‖ stream_id ‖ session_id ‖ epoch' ‖ kind ‖ nonce_i ‖
//! nonce_p)[..16]`, so their keys are derived from the epoch's directional stream keys and are
//! fresh for every hello (both nonces are random): `frame_p` is sealed under the
//! provider→initiator key, `frame_i` under the initiator→provider key. Each proof carries a
//! status (session known, or unknown) and the number of frames its sender has received in the
//! session. A side that cannot open the peer's proof fails with
//! [`SecureStreamError::AuthenticationFailed`]. The session id of a new session is drawn at
//! random by the initiator.
//!
//! # Frames
//!
//! After the hello, every record on the transport is a frame of the session (one sequence per
//! direction and epoch, see [`keyorch_primitives::frame`]); its plaintext is
//! `kind (1) ‖ ack (8, big-endian) ‖ body`, where `ack` is the number of frames the sender has
//! accepted from its peer so far, piggybacked on every frame. The kinds are message chunks (a
//! message is split into chunks of at most [`SecureConfig::max_frame_payload`] bytes; the last
//! chunk is marked), standalone acks (sent after [`SecureConfig::ack_every`] frames or
//! [`SecureConfig::ack_delay`] without traffic back), `ready(epoch)`, `switch(epoch)`,
//! `finish` and `end(reason)`.
//!
//! # Resumption
//!
//! Every sealed frame stays in a resend buffer, as the very bytes sent, until the peer
//! acknowledges it; the buffer is bounded by [`SecureConfig::resend_buffer_bytes`], and
//! [`SecureSender::send`] waits while it is full. When a transport breaks (or is found
//! tampered with), the stream becomes [`LinkState::Disconnected`]; both sides then call
//! [`StreamControl::resume`] with a new transport, of any kind. The resume hello carries each
//! side's count of received frames, and each side resends exactly the frames after that count:
//! no duplicates, no gaps, the same sequence numbers and nonces, nothing renegotiated.
//!
//! A side that lost its memory (a restart) has lost its sequence numbers and must never seal
//! under the old session again. It gets keys again from the caller and opens a **new session**
//! (a new random session id, hence new frame keys):
//!
//! - a restarted *initiator* simply [`SecureStream::connect`]s; the provider sees an
//!   [`Incoming`] hello whose [`Incoming::is_resume`] is false and whose session id differs, and
//!   [`SecureStream::accept`]s it as a new stream;
//! - a restarted *provider* [`SecureStream::accept`]s the initiator's resume hello: it answers,
//!   authenticated, that it does not know the session and fails with
//!   [`SecureStreamError::UnknownSession`]; the initiator's [`StreamControl::resume`] fails with
//!   [`SecureStreamError::SessionLost`], which also ends its old stream; it then connects a new
//!   session.
//!
//! What the application had sent but the restarted side had not consumed is the application's
//! to send again in the new session.
//!
//! # Rotation
//!
//! [`StreamControl::install_epoch`] gives a side the keys of a newer epoch; it announces
//! `ready(epoch)`. A side switches its sending direction once both sides are ready for an epoch:
//! its last frame under the old epoch is `switch(epoch)`, and its next frame is sequence 0 under
//! the new epoch. The receiver switches on that frame, so the grace window for frames in flight
//! is exact: every frame sealed before the switch is accepted (also when resent after a cut),
//! and no frame under the retired key is accepted after it. [`StreamControl::usage`] counts the
//! bytes sent and received in total and in the current epoch of each direction, for
//! `report_usage`.
//!
//! # Ending
//!
//! [`StreamControl::end`] (the chain revoked, expired or closed the stream) makes every local
//! send and receive fail with [`SecureStreamError::Ended`] and the reason, drops the keys and,
//! if the transport is up, sends `end(reason)` so that the peer's stream ends with the same
//! error. [`SecureSender::finish`] is the graceful end of one direction: the peer's
//! [`SecureReceiver::recv`] returns `None` after the last message.
//!
//! # Hostile transports
//!
//! A frame that fails authentication, is a replay or belongs to another session or to a retired
//! epoch is dropped and counted ([`Counters`]), and the stream goes on. A frame ahead of the next
//! sequence number, a header that does not parse and a frame cut short cannot happen on an
//! honest ordered transport: they are counted and the transport is dropped
//! ([`LinkState::Disconnected`]); resuming over a new transport fills the gap. A frame that
//! authenticates but does not follow the protocol ends the stream with
//! [`SecureStreamError::Protocol`].
//!
//! # Channel binding
//!
//! When the two ends first meet over TLS (rustls), they can bind the stream's keys to that TLS
//! session: each exports 32 bytes of keying material with the label [`TLS_EXPORTER_LABEL`]
//! (`ConnectionCommon::export_keying_material`, no context) and uses
//! `AssembledKey::bound_keys(&exported)` instead of `AssembledKey::keys` on both sides. The
//! exporter value is known only to the two TLS endpoints, so a quorum of orchestrator and
//! witnesses — who can rebuild the epoch's secret from their shares — still cannot derive the
//! traffic keys, read the stream or impersonate an end; an end whose keys are not bound to the
//! same TLS session fails the hello with [`SecureStreamError::AuthenticationFailed`]. What it
//! does not change: resuming over another transport later keeps the bound keys (the binding is
//! to the first meeting, not to each transport), and each new epoch must be bound again with an
//! exporter value the two ends still hold.
//!
//! # Datagrams
//!
//! [`SecureDatagram`] sends one frame per UDP datagram; see its documentation for the exact
//! semantics (loss, reordering within a replay window, rotation with a timed grace window).

mod datagram;
mod driver;
mod error;
mod hello;
mod stream;
mod ws;

use std::time::Duration;

use keyorch_primitives::frame::{HEADER_LEN, MAX_PAYLOAD_LEN, TAG_LEN};
pub use keyorch_primitives::{Direction, SessionId, StreamKeys};

pub use datagram::{DatagramCounters, SecureDatagram};
pub use error::SecureStreamError;
pub use hello::Incoming;
pub use stream::{
	Counters, LinkState, SecureReceiver, SecureSender, SecureStream, StreamControl, Transport,
	Usage,
};
pub use ws::WsTransport;

/// Bytes of the plaintext prefix of every frame after the hello: kind and ack.
const PREFIX_LEN: usize = 9;

/// Largest message chunk one frame can carry.
pub const MAX_FRAME_PAYLOAD: usize = MAX_PAYLOAD_LEN - PREFIX_LEN;

/// The TLS exporter label of keyorch's channel binding (RFC 8446 §7.5; see the module
/// documentation).
pub const TLS_EXPORTER_LABEL: &[u8] = b"EXPORTER-keyorch-channel-binding";

/// Which end of the stream this side is; it fixes the direction of each side's frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
	/// The stream's initiator: sends [`Direction::InitiatorToProvider`], speaks first in hellos.
	Initiator,
	/// The stream's provider: sends [`Direction::ProviderToInitiator`].
	Provider,
}

impl Role {
	/// The direction of the frames this side sends.
	pub fn send_direction(self) -> Direction {
		match self {
			Self::Initiator => Direction::InitiatorToProvider,
			Self::Provider => Direction::ProviderToInitiator,
		}
	}

	/// The direction of the frames this side receives.
	pub fn receive_direction(self) -> Direction {
		match self {
			Self::Initiator => Direction::ProviderToInitiator,
			Self::Provider => Direction::InitiatorToProvider,
		}
	}
}

/// Why a stream ended: as the chain says it, or because the peer let go of the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EndReason {
	/// The initiator, the provider or governance revoked the stream.
	Revoked = 1,
	/// The stream reached the end of its duration.
	Expired = 2,
	/// The stream was closed normally.
	Closed = 3,
	/// The peer dropped every handle of the stream: nobody there sends, receives or
	/// acknowledges any more. What it sent before is still delivered.
	Abandoned = 4,
	/// One side could not confirm on chain for its liveness timeout that the stream is still
	/// live (its node unreachable or its chain stalled), and stopped rather than go on with a
	/// stream that may have been revoked meanwhile.
	Unconfirmed = 5,
}

impl EndReason {
	const ALL: [Self; 5] =
		[Self::Revoked, Self::Expired, Self::Closed, Self::Abandoned, Self::Unconfirmed];

	fn from_byte(byte: u8) -> Option<Self> {
		Self::ALL.into_iter().find(|r| *r as u8 == byte)
	}

	/// Whether messages received before the end are still handed to the application: not
	/// once the chain ended the stream (access ends at once), but when the peer merely left.
	pub(crate) fn keeps_delivered(self) -> bool {
		self == Self::Abandoned
	}
}

impl std::fmt::Display for EndReason {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		f.write_str(match self {
			Self::Revoked => "revoked",
			Self::Expired => "expired",
			Self::Closed => "closed",
			Self::Abandoned => "abandoned by the peer",
			Self::Unconfirmed => "stopped: its liveness could not be confirmed on chain",
		})
	}
}

/// Tuning of a [`SecureStream`]; [`Default`] suits most uses.
#[derive(Clone, Debug)]
pub struct SecureConfig {
	/// Largest message chunk per frame (clamped to `1..=`[`MAX_FRAME_PAYLOAD`]); default
	/// 64 KiB.
	pub max_frame_payload: usize,
	/// Largest message [`SecureSender::send`] sends and [`SecureReceiver::recv`] accepts;
	/// default 64 MiB.
	pub max_message_len: usize,
	/// Bytes of sealed frames kept until the peer acknowledges them; sending waits beyond.
	/// Default 8 MiB.
	pub resend_buffer_bytes: usize,
	/// Bytes received but not yet read by the application beyond which this side stops reading
	/// the transport. Default 8 MiB.
	pub receive_buffer_bytes: usize,
	/// Longest time a hello may take. Default 10 s.
	pub hello_timeout: Duration,
	/// A standalone ack is sent after this many frames received without one. Default 16.
	pub ack_every: u64,
	/// A standalone ack is sent this long after a frame that needs one, unless a frame
	/// carried it before. Default 20 ms.
	pub ack_delay: Duration,
}

impl Default for SecureConfig {
	fn default() -> Self {
		Self {
			max_frame_payload: 64 * 1024,
			max_message_len: 64 * 1024 * 1024,
			resend_buffer_bytes: 8 * 1024 * 1024,
			receive_buffer_bytes: 8 * 1024 * 1024,
			hello_timeout: Duration::from_secs(10),
			ack_every: 16,
			ack_delay: Duration::from_millis(20),
		}
	}
}

/// A buffer for a frame carrying `body`: zeroed room for the header and the kind-and-ack
/// prefix, the body, and zeroed room for the tag. Only the small fixed parts are zeroed: the
/// body is copied in once.
fn frame_buffer(body: &[u8]) -> Vec<u8> {
	let mut buf = Vec::with_capacity(BODY_OFFSET + body.len() + TAG_LEN);
	buf.resize(BODY_OFFSET, 0);
	buf.extend_from_slice(body);
	buf.resize(BODY_OFFSET + body.len() + TAG_LEN, 0);
	buf
}

/// Where a frame's body starts in a [`frame_buffer`].
const BODY_OFFSET: usize = HEADER_LEN + PREFIX_LEN;

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn roles_send_what_the_other_receives() {
		for role in [Role::Initiator, Role::Provider] {
			assert_ne!(role.send_direction(), role.receive_direction());
		}
		assert_eq!(Role::Initiator.send_direction(), Role::Provider.receive_direction());
	}

	#[test]
	fn end_reasons_round_trip_through_their_byte() {
		for reason in EndReason::ALL {
			assert_eq!(EndReason::from_byte(reason as u8), Some(reason));
		}
		assert_eq!(EndReason::from_byte(0), None);
		assert_eq!(
			SecureStreamError::Ended(EndReason::Revoked).to_string(),
			"the stream was revoked"
		);
	}
}
