//! Parsing what people type: stream ids and accounts, each refused with a clear reason.

use std::str::FromStr;

use keyorch_client::{AccountId, StreamId};

use crate::failure::Failure;

/// A stream id: `0x` and 64 hex digits.
pub fn stream_id(text: &str) -> Result<StreamId, Failure> {
	let digits = text.strip_prefix("0x").unwrap_or_default();
	if digits.len() != 64 {
		return Err(not_a_stream_id(text));
	}
	StreamId::from_str(digits).map_err(|_| not_a_stream_id(text))
}

fn not_a_stream_id(text: &str) -> Failure {
	Failure::input(format!("not a stream id: {text:?} (expected 0x and 64 hex digits)"))
		.hint("`keyorch request` prints the id of the stream it requested")
}

/// An account: an SS58 address or `0x` and 64 hex digits.
pub fn account(text: &str) -> Result<AccountId, Failure> {
	AccountId::from_str(text).map_err(|_| {
		Failure::input(format!(
			"not an account: {text:?} (expected an SS58 address or 0x and 64 hex digits)"
		))
		.hint("`keyorch keys show` prints an identity's account")
	})
}

/// `0x`-prefixed lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
	sp_core::bytes::to_hex(bytes, false)
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::failure::Kind;

	#[test]
	fn stream_ids_are_0x_and_64_hex_digits() {
		let id = format!("0x{}", "ab".repeat(32));
		assert_eq!(stream_id(&id).unwrap(), StreamId::repeat_byte(0xab));
		assert_eq!(hex(stream_id(&id).unwrap().as_bytes()), id);
		for bad in ["", "0x", "ab".repeat(32).as_str(), "0x1234", &format!("0x{}", "zz".repeat(32))]
		{
			let failure = stream_id(bad).unwrap_err();
			assert_eq!(failure.kind, Kind::BadInput);
			assert!(failure.message.contains("not a stream id"), "{}", failure.message);
		}
	}

	#[test]
	fn accounts_are_ss58_or_hex() {
		let alice = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
		let parsed = account(alice).unwrap();
		assert_eq!(parsed.to_string(), alice);
		assert_eq!(account(&hex(parsed.as_ref())).unwrap(), parsed);
		assert_eq!(account("bob").unwrap_err().kind, Kind::BadInput);
	}
}
