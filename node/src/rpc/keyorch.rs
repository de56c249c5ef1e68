//! The `keyorch_` JSON-RPC namespace: sealed records from the DHT overlay, share release by the
//! witness service, and the node's keyorch status.
//!
//! Everything served here is public or sealed to its holder; no method returns or logs key
//! material. Errors carry a code from [`error_code`] and, where useful, a `data` string.

use jsonrpsee::{
	core::{async_trait, RpcResult},
	proc_macros::rpc,
	types::{ErrorObject, ErrorObjectOwned},
	Extensions,
};
use sp_core::{Bytes, H256};

use crate::keyorch::{
	overlay::{GetRecordError, OverlayStatus, PutOutcome},
	witness::Refusal,
	Services,
};

/// JSON-RPC error codes of the `keyorch_` namespace.
pub mod error_code {
	/// No record the chain commits to is held under that key, here or in the DHT.
	pub const RECORD_NOT_FOUND: i32 = 7001;
	/// The node's keyorch services are not running.
	pub const UNAVAILABLE: i32 = 7002;
	/// The stream has ended (revoked, closed or expired); `data` is its status.
	pub const STREAM_ENDED: i32 = 7003;
	/// The requester is not the stream's initiator or provider, or the stream is not live.
	pub const NOT_AUTHORIZED: i32 = 7004;
	/// The request's nonce was already used.
	pub const REPLAYED: i32 = 7005;
	/// The request's signature does not verify.
	pub const BAD_SIGNATURE: i32 = 7006;
	/// The request has expired.
	pub const REQUEST_EXPIRED: i32 = 7007;
	/// The request does not decode, or asks for too long a validity.
	pub const MALFORMED: i32 = 7008;
	/// The witness holds no share of that stream and epoch (yet).
	pub const NO_SHARE: i32 = 7009;
	/// This node is not the witness asked, or runs no witness service.
	pub const WRONG_WITNESS: i32 = 7010;
	/// Too many share requests, from this requester or from everyone: retry shortly.
	pub const RATE_LIMITED: i32 = 7011;
}

/// What `keyorch_status` answers.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
	/// The witness account this node serves (`0x` hex), if it runs the witness service.
	pub witness: Option<String>,
	/// The overlay's state and record counters.
	#[serde(flatten)]
	pub overlay: OverlayStatus,
	/// Shares the witness holds.
	pub shares_held: u64,
	/// Share requests answered.
	pub requests_served: u64,
	/// Share requests refused.
	pub requests_refused: u64,
}

/// The `keyorch_` methods.
#[rpc(server, namespace = "keyorch")]
pub trait KeyorchApi {
	/// The sealed share record under DHT `key` (see `keyorch_primitives::record_dht_key`),
	/// SCALE-encoded, from this node or the DHT, and only if the finalized chain commits to its
	/// hash for a live stream. Only its holder can open it. With `localOnly`, the DHT is not
	/// asked.
	#[method(name = "getRecord")]
	async fn get_record(&self, key: H256, local_only: Option<bool>) -> RpcResult<Bytes>;

	/// Offers a SCALE-encoded sealed record to this node and to the DHT peers closest to its
	/// key, each of which stores it only if the chain commits to it. Unsafe: a node operator's
	/// tool for republishing a record one holds.
	#[method(name = "putRecord", with_extensions)]
	async fn put_record(&self, key: H256, record: Bytes) -> RpcResult<PutOutcome>;

	/// Answers a SCALE-encoded `ShareReleaseRequest` addressed to this node's witness with a
	/// SCALE-encoded `SealedShareAnswer`, or a refusal whose code says why.
	#[method(name = "requestShare")]
	async fn request_share(&self, request: Bytes) -> RpcResult<Bytes>;

	/// The node's keyorch state: overlay peers and records, witness shares and requests.
	#[method(name = "status")]
	async fn status(&self) -> RpcResult<Status>;
}

/// Serves the `keyorch_` methods from the node's keyorch services.
pub struct Keyorch {
	services: Services,
}

impl Keyorch {
	/// Serves from `services`.
	pub fn new(services: Services) -> Self {
		Self { services }
	}
}

fn error(code: i32, message: impl Into<String>, data: Option<String>) -> ErrorObjectOwned {
	ErrorObject::owned(code, message.into(), data)
}

fn unavailable() -> ErrorObjectOwned {
	error(error_code::UNAVAILABLE, "the keyorch overlay is not running", None)
}

/// The JSON-RPC error of a refused share request.
fn refusal_error(refusal: Refusal) -> ErrorObjectOwned {
	use error_code::*;
	let code = match &refusal {
		Refusal::StreamEnded(_) => STREAM_ENDED,
		Refusal::NotAuthorized(_) => NOT_AUTHORIZED,
		Refusal::Replayed => REPLAYED,
		Refusal::BadSignature => BAD_SIGNATURE,
		Refusal::Expired { .. } => REQUEST_EXPIRED,
		Refusal::Malformed(_) => MALFORMED,
		Refusal::NoShare => NO_SHARE,
		Refusal::WrongWitness => WRONG_WITNESS,
		Refusal::Unavailable(_) => UNAVAILABLE,
		Refusal::RateLimited => RATE_LIMITED,
	};
	let data = match &refusal {
		Refusal::StreamEnded(status) => Some((*status).to_string()),
		_ => None,
	};
	error(code, refusal.to_string(), data)
}

/// The JSON-RPC error of a record that cannot be given.
fn get_record_error(failure: GetRecordError, key: H256) -> ErrorObjectOwned {
	match failure {
		GetRecordError::Ended(status) => error(
			error_code::STREAM_ENDED,
			format!(
				"the record's stream has ended ({})",
				keyorch_client::stream_status_name(status)
			),
			Some(keyorch_client::stream_status_name(status).to_string()),
		),
		GetRecordError::NotFound => {
			error(error_code::RECORD_NOT_FOUND, "no record with this key", Some(format!("{key:?}")))
		},
		GetRecordError::Stopped => unavailable(),
	}
}

#[async_trait]
impl KeyorchApiServer for Keyorch {
	async fn get_record(&self, key: H256, local_only: Option<bool>) -> RpcResult<Bytes> {
		self.services
			.overlay
			.get_record(key.to_fixed_bytes(), local_only.unwrap_or(false))
			.await
			.map(Bytes)
			.map_err(|failure| get_record_error(failure, key))
	}

	async fn put_record(
		&self,
		ext: &Extensions,
		key: H256,
		record: Bytes,
	) -> RpcResult<PutOutcome> {
		sc_rpc_api::check_if_safe(ext)?;
		self.services
			.overlay
			.put_record(key.to_fixed_bytes(), record.0)
			.await
			.ok_or_else(unavailable)
	}

	async fn request_share(&self, request: Bytes) -> RpcResult<Bytes> {
		let witness =
			self.services.witness.as_ref().ok_or(Refusal::WrongWitness).map_err(refusal_error)?;
		witness.request_share(&request).await.map(Bytes).map_err(refusal_error)
	}

	async fn status(&self) -> RpcResult<Status> {
		let overlay = self.services.overlay.status().await.ok_or_else(unavailable)?;
		let metrics = &self.services.metrics;
		Ok(Status {
			witness: self.services.witness.as_ref().map(|witness| {
				format!(
					"0x{}",
					sp_core::hexdisplay::HexDisplay::from(witness.account().as_ref() as &[u8; 32])
				)
			}),
			overlay,
			shares_held: metrics.shares_held.get(),
			requests_served: metrics.share_requests_served.get(),
			requests_refused: self.services.witness.as_ref().map_or(0, |witness| witness.refused()),
		})
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn every_refusal_has_its_own_code() {
		let refusals = [
			Refusal::StreamEnded("revoked"),
			Refusal::NotAuthorized("stranger"),
			Refusal::Replayed,
			Refusal::BadSignature,
			Refusal::Expired { expires_at: 1, now: 2 },
			Refusal::Malformed("bad"),
			Refusal::NoShare,
			Refusal::WrongWitness,
			Refusal::Unavailable("down".into()),
		];
		let mut codes: Vec<_> = refusals.into_iter().map(|r| refusal_error(r).code()).collect();
		codes.sort();
		codes.dedup();
		assert_eq!(codes.len(), 9);
	}

	#[test]
	fn an_ended_stream_says_how_it_ended() {
		use keyorch_runtime::pallet_keyorch::types::StreamStatus;
		let error = get_record_error(GetRecordError::Ended(StreamStatus::Revoked), H256::zero());
		assert_eq!(error.code(), error_code::STREAM_ENDED);
		assert_eq!(error.data().map(|d| d.get()), Some("\"revoked\""));
	}
}
