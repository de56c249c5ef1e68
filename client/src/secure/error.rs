//! Errors of secure streams and datagrams.

use keyorch_primitives::SessionId;

use super::EndReason;

/// Everything that can go wrong on a secure stream or datagram socket. No variant carries
/// secret material.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecureStreamError {
	/// The stream ended (locally through [`super::StreamControl::end`], or the peer said so):
	/// nothing more is sent or received.
	#[error("the stream was {0}")]
	Ended(EndReason),
	/// The peer no longer knows this session (it restarted and lost its state): open a new
	/// session with [`super::SecureStream::connect`]. The old stream has ended.
	#[error("the peer no longer knows this session: open a new session")]
	SessionLost,
	/// The initiator asked to resume a session this side does not know; it was told, and will
	/// open a new session.
	#[error("the initiator asked to resume an unknown session; it was told to open a new one")]
	UnknownSession,
	/// A hello for another session than this stream's (or a new-session hello given to
	/// [`super::StreamControl::resume_incoming`]).
	#[error("the hello is for session {got:02x?}, not this stream's")]
	SessionMismatch {
		/// The session of the hello.
		got: SessionId,
	},
	/// The peer's hello proof does not open: it does not hold this stream's keys for the epoch
	/// (or the hello was tampered with).
	#[error("the peer did not prove that it holds the stream's keys")]
	AuthenticationFailed,
	/// The peer's hello is for another stream.
	#[error("the peer's hello is for another stream")]
	WrongStream,
	/// The two sides hold no common key epoch.
	#[error("no key epoch that both sides hold (the peer offered epoch {offered})")]
	NoCommonEpoch {
		/// The epoch the peer offered or chose.
		offered: u32,
	},
	/// Keys given to [`super::StreamControl::install_epoch`] that are not newer than the ones
	/// held, or belong to another stream.
	#[error("keys for epoch {epoch} are not a newer epoch of this stream (newest held: {newest})")]
	StaleEpoch {
		/// The epoch of the keys given.
		epoch: u32,
		/// The newest epoch held.
		newest: u32,
	},
	/// The hello did not complete in [`super::SecureConfig::hello_timeout`].
	#[error("the hello timed out")]
	HelloTimeout,
	/// The peer asked to resume from a frame this side no longer keeps; the session cannot
	/// continue (open a new one). The stream has ended.
	#[error("cannot resend from frame {requested}: the oldest frame kept is {oldest}")]
	ResendGap {
		/// The frame count the peer has received.
		requested: u64,
		/// The oldest frame still in the resend buffer.
		oldest: u64,
	},
	/// The peer broke the protocol with authenticated frames, or the stream's task stopped. The
	/// stream has ended.
	#[error("protocol violation: {0}")]
	Protocol(&'static str),
	/// The transport failed during a hello.
	#[error("transport error during the hello: {0}")]
	Transport(String),
	/// This side already finished sending.
	#[error("this side already finished sending")]
	Finished,
	/// A message larger than [`super::SecureConfig::max_message_len`] (or, on a datagram
	/// socket, than one datagram holds).
	#[error("message of {len} bytes exceeds the limit of {max}")]
	MessageTooLarge {
		/// Length of the message.
		len: usize,
		/// The limit.
		max: usize,
	},
	/// The frame layer refused to seal (e.g. a session's sequence numbers are exhausted).
	#[error("the frame layer failed: {0:?}")]
	Frame(keyorch_primitives::Error),
}

impl From<std::io::Error> for SecureStreamError {
	fn from(error: std::io::Error) -> Self {
		Self::Transport(error.to_string())
	}
}
