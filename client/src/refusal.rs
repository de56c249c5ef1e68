//! The refusals of keyorch's own RPC methods (`keyorch_getRecord`, `keyorch_requestShare`),
//! by their JSON-RPC error codes.

use jsonrpsee::core::ClientError;
use serde_json::value::RawValue;

use crate::Error;

/// Why a keyorch node refused `keyorch_getRecord` or `keyorch_requestShare`: one variant per
/// error code of those methods.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
	/// 7001: the node holds no record under that key.
	#[error("no such record")]
	RecordNotFound,
	/// 7002: the node keeps no record store.
	#[error("the node keeps no record store")]
	NoRecordStore,
	/// 7003: the stream has ended.
	#[error("the stream has ended ({status})")]
	StreamEnded {
		/// `revoked`, `closed` or `expired`, as the node said.
		status: String,
	},
	/// 7004: the requester is not the stream's initiator or provider, or the stream is not
	/// live.
	#[error("the requester is not the stream's initiator or provider, or the stream is not live")]
	NotAuthorized,
	/// 7005: a request with this nonce was already answered.
	#[error("replayed request (its nonce was already used)")]
	Replayed,
	/// 7006: the request's signature does not verify.
	#[error("bad request signature")]
	BadSignature,
	/// 7007: the request is past its expiry block.
	#[error("the request has expired")]
	Expired,
	/// 7008: the request does not decode.
	#[error("malformed request")]
	MalformedRequest,
	/// 7009: the witness holds no share of that stream and epoch (yet).
	#[error("the witness holds no share of this stream and epoch (yet)")]
	NoShare,
	/// 7010: the node is not the witness asked for, or runs no witness service.
	#[error("the node is not that witness or runs no witness service")]
	NotThatWitness,
	/// 7011: too many share requests, from this requester or from everyone; retry shortly.
	#[error("the witness is rate-limiting share requests; retry shortly")]
	RateLimited,
}

impl Refusal {
	/// The refusal with JSON-RPC error `code` (`data` is the error's data, which names the
	/// stream status for 7003), or `None` for a code that is not keyorch's.
	pub fn from_code(code: i32, data: Option<&RawValue>) -> Option<Self> {
		Some(match code {
			7001 => Self::RecordNotFound,
			7002 => Self::NoRecordStore,
			7003 => Self::StreamEnded {
				status: data
					.and_then(|raw| serde_json::from_str::<String>(raw.get()).ok())
					.unwrap_or_else(|| "ended".into()),
			},
			7004 => Self::NotAuthorized,
			7005 => Self::Replayed,
			7006 => Self::BadSignature,
			7007 => Self::Expired,
			7008 => Self::MalformedRequest,
			7009 => Self::NoShare,
			7010 => Self::NotThatWitness,
			7011 => Self::RateLimited,
			_ => return None,
		})
	}

	/// The JSON-RPC error code of this refusal.
	pub fn code(&self) -> i32 {
		match self {
			Self::RecordNotFound => 7001,
			Self::NoRecordStore => 7002,
			Self::StreamEnded { .. } => 7003,
			Self::NotAuthorized => 7004,
			Self::Replayed => 7005,
			Self::BadSignature => 7006,
			Self::Expired => 7007,
			Self::MalformedRequest => 7008,
			Self::NoShare => 7009,
			Self::NotThatWitness => 7010,
			Self::RateLimited => 7011,
		}
	}

	/// The refusal a failed call carries, if the node answered with one of keyorch's codes.
	pub fn of(error: &ClientError) -> Option<Self> {
		match error {
			ClientError::Call(call) => Self::from_code(call.code(), call.data()),
			_ => None,
		}
	}
}

impl Error {
	/// The client error for a failed call of keyorch's RPC method `method`: a refusal of a
	/// stream that has ended is [`Error::StreamEnded`], other keyorch codes are
	/// [`Error::Refused`], anything else [`Error::Rpc`].
	pub(crate) fn from_keyorch_rpc(method: &'static str, source: ClientError) -> Self {
		match Refusal::of(&source) {
			Some(Refusal::StreamEnded { status }) => Self::StreamEnded { status },
			Some(refusal) => Self::Refused { method, refusal },
			None => Self::Rpc { method, source },
		}
	}
}

#[cfg(test)]
mod tests {
	use jsonrpsee::types::ErrorObjectOwned;

	use super::*;

	fn call_error(code: i32, data: Option<&str>) -> ClientError {
		ClientError::Call(ErrorObjectOwned::owned(code, "refused", data))
	}

	#[test]
	fn every_keyorch_code_maps_to_its_refusal_and_back() {
		for code in 7001..=7011 {
			let refusal = Refusal::from_code(code, None).expect("a keyorch code");
			assert_eq!(refusal.code(), code);
		}
		assert_eq!(Refusal::from_code(7000, None), None);
		assert_eq!(Refusal::from_code(7012, None), None);
		assert_eq!(Refusal::from_code(-32601, None), None);
	}

	#[test]
	fn a_stream_ended_refusal_carries_the_status_from_the_error_data() {
		let ended = call_error(7003, Some("revoked"));
		assert_eq!(Refusal::of(&ended), Some(Refusal::StreamEnded { status: "revoked".into() }));
		match Error::from_keyorch_rpc("keyorch_requestShare", ended) {
			Error::StreamEnded { status } => assert_eq!(status, "revoked"),
			other => panic!("expected StreamEnded, got {other:?}"),
		}
		// Data that is not a JSON string still gives a typed refusal.
		let odd = ClientError::Call(ErrorObjectOwned::owned(7003, "ended", Some(42)));
		assert_eq!(Refusal::of(&odd), Some(Refusal::StreamEnded { status: "ended".into() }));
	}

	#[test]
	fn other_codes_are_typed_refusals_and_foreign_errors_stay_rpc_errors() {
		match Error::from_keyorch_rpc("keyorch_requestShare", call_error(7005, None)) {
			Error::Refused { method, refusal: Refusal::Replayed } => {
				assert_eq!(method, "keyorch_requestShare")
			},
			other => panic!("expected a replay refusal, got {other:?}"),
		}
		assert!(matches!(
			Error::from_keyorch_rpc("keyorch_getRecord", call_error(-32602, None)),
			Error::Rpc { .. }
		));
		assert!(matches!(
			Error::from_keyorch_rpc("keyorch_getRecord", ClientError::RequestTimeout),
			Error::Rpc { .. }
		));
	}
}
