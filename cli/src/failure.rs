//! How a command fails: one `error:` line, maybe a `hint:` line, and an exit code that tells
//! scripts what kind of failure it was.

use std::process::ExitCode;

use keyorch_client::{Error, RpcClientError};

/// The documented exit codes, shown by `--help`.
pub const EXIT_CODES: &str = "\
Exit codes:
  0  success
  2  usage error: unknown command or option, missing or malformed argument
  3  bad input or local file: key file, dev seed, stream id, account, request values
  4  the node is unreachable, or the RPC transport failed or timed out
  5  the chain or a node refused: dispatch error, unknown or ended stream, not
     authorized, epoch not dealt yet, not enough witnesses";

/// What kind of failure it was; the discriminant is the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
	/// Bad input or a bad local file.
	BadInput = 3,
	/// The node cannot be reached, or the transport failed.
	Unreachable = 4,
	/// The chain or a node refused.
	Refused = 5,
}

impl Kind {
	/// The kind's name in JSON (`keyorch agent`'s problem details).
	pub fn name(self) -> &'static str {
		match self {
			Self::BadInput => "bad-input",
			Self::Unreachable => "unreachable",
			Self::Refused => "refused",
		}
	}
}

/// What exactly failed, finer than its [`Kind`], for programs: `keyorch agent` answers with an
/// HTTP status and a problem type by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
	/// Nothing finer than the kind is known.
	Other,
	/// No such stream, open or ended.
	UnknownStream,
	/// The identity is not a party the stream allows for this.
	NotStreamParty,
	/// The stream was revoked, closed or expired.
	StreamEnded,
	/// The epoch is no longer kept on chain.
	EpochNotKept,
	/// The epoch is not dealt yet, or not yet final, or witnesses still fetch their shares:
	/// asking again later may succeed.
	NotYet,
}

impl Reason {
	/// The reason's name in JSON.
	pub fn name(self) -> &'static str {
		match self {
			Self::Other => "other",
			Self::UnknownStream => "unknown-stream",
			Self::NotStreamParty => "not-stream-party",
			Self::StreamEnded => "stream-ended",
			Self::EpochNotKept => "epoch-not-kept",
			Self::NotYet => "not-yet",
		}
	}

	/// The reason of a call the chain refused, by its pallet error (`Keyorch(UnknownStream)`).
	fn of_dispatch(reason: &str) -> Self {
		match reason {
			"Keyorch(UnknownStream)" => Self::UnknownStream,
			"Keyorch(NotStreamParty)" => Self::NotStreamParty,
			"Keyorch(StreamClosed)" | "Keyorch(StreamRevoked)" | "Keyorch(StreamExpired)" => {
				Self::StreamEnded
			},
			_ => Self::Other,
		}
	}

	/// The reason of a client error.
	fn of(error: &Error) -> Self {
		match error {
			Error::UnknownStream { .. } => Self::UnknownStream,
			Error::NotParticipant { .. } => Self::NotStreamParty,
			Error::StreamEnded { .. } => Self::StreamEnded,
			Error::EpochNotKept { .. } => Self::EpochNotKept,
			Error::EpochNotDealt { .. }
			| Error::NotEnoughWitnesses { .. }
			| Error::RecordNotFound { .. }
			| Error::DealingDropped { .. } => Self::NotYet,
			Error::DispatchFailed { reason } => Self::of_dispatch(reason),
			_ => Self::Other,
		}
	}
}

/// A failed command, ready to be reported on stderr.
#[derive(Debug)]
pub struct Failure {
	/// What kind of failure, hence the exit code.
	pub kind: Kind,
	/// What exactly failed, where known.
	pub reason: Reason,
	/// What went wrong, on one line.
	pub message: String,
	/// What to do about it, if something useful can be said.
	pub hint: Option<String>,
}

impl Failure {
	/// A failure of `kind` saying `message`.
	pub fn new(kind: Kind, message: impl Into<String>) -> Self {
		Self { kind, reason: Reason::Other, message: message.into(), hint: None }
	}

	/// Bad input or a bad local file.
	pub fn input(message: impl Into<String>) -> Self {
		Self::new(Kind::BadInput, message)
	}

	/// The same failure with a finer reason.
	pub fn because(mut self, reason: Reason) -> Self {
		self.reason = reason;
		self
	}

	/// The same failure with a hint.
	pub fn hint(mut self, hint: impl Into<String>) -> Self {
		self.hint = Some(hint.into());
		self
	}

	/// Prints `error: …` (and `hint: …`) on stderr, each on one line, and gives the exit code.
	pub fn report(&self) -> ExitCode {
		eprintln!("error: {}", one_line(&self.message));
		if let Some(hint) = &self.hint {
			eprintln!("hint: {}", one_line(hint));
		}
		ExitCode::from(self.kind as u8)
	}
}

fn one_line(text: &str) -> String {
	text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A hint for a call the chain refused, by its pallet error (`Keyorch(NotParticipant)`).
fn dispatch_hint(reason: &str) -> Option<&'static str> {
	let error = reason.strip_prefix("Keyorch(").and_then(|rest| rest.strip_suffix(')'))?;
	Some(match error {
		"NotParticipant" => "register this identity first: `keyorch register`",
		"ProviderNotRegistered" => "the provider registers first, with `keyorch register`",
		"AlreadyRegistered" => "this account is registered already",
		"AlreadyWitness" => "this account is a witness already",
		"InsufficientBalance" => "the account lacks the free balance for the deposit",
		"NotEnoughWitnesses" => {
			"fewer witnesses are registered than --witnesses asks for: ask for fewer, or \
			 register more (`keyorch witness register`)"
		},
		"InvalidThreshold" => "the threshold is at least 2 and at most --witnesses + 2",
		"NotStreamParty" => "only the stream's initiator or provider may do this",
		"UnknownStream" => "check the stream id; `keyorch request` printed it",
		"RotationAllowanceExhausted" => {
			"the stream's deposit covers no more rotations: close it and request a new stream"
		},
		_ => return None,
	})
}

impl From<Error> for Failure {
	fn from(error: Error) -> Self {
		let (kind, hint) = match &error {
			Error::Connect { url, .. } => (
				Kind::Unreachable,
				Some(format!(
					"is a keyorch node running at {url}? Start one with scripts/dev.sh, or pass \
					 --url"
				)),
			),
			Error::Rpc { source: RpcClientError::Call(_), .. } => (Kind::Refused, None),
			Error::Rpc { .. } | Error::Malformed { .. } | Error::Timeout { .. } => {
				(Kind::Unreachable, None)
			},
			Error::KeyFile { .. } | Error::BadSecretUri | Error::InvalidRequest { .. } => {
				(Kind::BadInput, None)
			},
			Error::WrongEncryptionKey { .. } => (
				Kind::BadInput,
				Some(
					"use the key file this account registered with (a --dev-seed identity only \
					 matches a registration made with the same --dev-seed)"
						.into(),
				),
			),
			Error::DispatchFailed { reason } => {
				(Kind::Refused, dispatch_hint(reason).map(Into::into))
			},
			Error::TransactionRejected { .. } => (
				Kind::Refused,
				Some(
					"the account may lack funds for the fee, or have another transaction pending"
						.into(),
				),
			),
			Error::UnknownStream { .. } => {
				(Kind::Refused, Some("check the stream id; `keyorch request` printed it".into()))
			},
			Error::NotParticipant { .. } => (
				Kind::Refused,
				Some(
					"only the stream's initiator and provider can assemble its key; check \
					 --key-file or --dev-seed"
						.into(),
				),
			),
			Error::EpochNotDealt { .. } => (
				Kind::Refused,
				Some(
					"an orchestrator deals it within a few blocks; try again shortly (`keyorch \
					 status` shows current_epoch)"
						.into(),
				),
			),
			Error::LivenessUnconfirmed { .. } => (
				Kind::Unreachable,
				Some(
					"check that the node at --url is up and its chain makes blocks; \
					 --liveness-timeout sets how long a transfer goes on unconfirmed"
						.into(),
				),
			),
			Error::DealingDropped { .. } => (
				Kind::Unreachable,
				Some(
					"the chain's finality is stalled or it reorganised; ask for the key again \
					 once `keyorch status` shows finality moving"
						.into(),
				),
			),
			Error::NotEnoughWitnesses { .. } => (
				Kind::Refused,
				Some(
					"pass the URLs of more of the stream's witness nodes with --witness-url".into(),
				),
			),
			_ => (Kind::Refused, None),
		};
		Self { kind, reason: Reason::of(&error), message: error.to_string(), hint }
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn client_errors_get_the_documented_exit_codes() {
		let cases = [
			(Error::BadSecretUri, Kind::BadInput),
			(Error::KeyFile { path: "k".into(), reason: "broken".into() }, Kind::BadInput),
			(
				Error::Connect { url: "ws://x".into(), source: RpcClientError::RequestTimeout },
				Kind::Unreachable,
			),
			(
				Error::Rpc { method: "state_call", source: RpcClientError::RequestTimeout },
				Kind::Unreachable,
			),
			(Error::DispatchFailed { reason: "Keyorch(NotParticipant)".into() }, Kind::Refused),
			(Error::StreamEnded { status: "revoked".into() }, Kind::Refused),
			(Error::NotEnoughWitnesses { have: 1, needed: 2, witnesses: vec![] }, Kind::Refused),
			(Error::UnknownStream { stream: Default::default() }, Kind::Refused),
		];
		for (error, kind) in cases {
			assert_eq!(Failure::from(error).kind, kind);
		}
	}

	#[test]
	fn client_errors_and_refused_calls_carry_their_reason() {
		let cases = [
			(Error::UnknownStream { stream: Default::default() }, Reason::UnknownStream),
			(
				Error::DispatchFailed { reason: "Keyorch(UnknownStream)".into() },
				Reason::UnknownStream,
			),
			(
				Error::DispatchFailed { reason: "Keyorch(NotStreamParty)".into() },
				Reason::NotStreamParty,
			),
			(
				Error::DispatchFailed { reason: "Keyorch(StreamRevoked)".into() },
				Reason::StreamEnded,
			),
			(Error::StreamEnded { status: "revoked".into() }, Reason::StreamEnded),
			(Error::EpochNotDealt { epoch: 0 }, Reason::NotYet),
			(Error::DispatchFailed { reason: "Keyorch(EpochOverflow)".into() }, Reason::Other),
			(Error::BadSecretUri, Reason::Other),
		];
		for (error, reason) in cases {
			assert_eq!(Failure::from(error).reason, reason);
		}
	}

	#[test]
	fn refused_calls_get_a_hint_where_one_helps() {
		let failure =
			Failure::from(Error::DispatchFailed { reason: "Keyorch(NotParticipant)".into() });
		assert!(failure.hint.unwrap().contains("keyorch register"));
		assert!(Failure::from(Error::DispatchFailed { reason: "Keyorch(EpochOverflow)".into() })
			.hint
			.is_none());
		assert!(Failure::from(Error::DispatchFailed { reason: "BadOrigin".into() }).hint.is_none());
	}

	#[test]
	fn messages_are_reported_on_one_line() {
		assert_eq!(one_line("first\n  second\tthird "), "first second third");
	}
}
