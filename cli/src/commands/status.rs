//! `keyorch status` and the agent's `GET /v1/streams/{id}`: a stream as the latest finalized
//! block has it, as a table for people or JSON for scripts, from one type.

use clap::Args;
use keyorch_client::{
	ended_by_name, stream_status_name, EpochView, HolderRole, NodeClient, Permissions, StreamId,
	StreamView, Tombstone,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
	context::Context,
	failure::Failure,
	input::{self, hex},
	output::Report,
};

#[derive(Args, Debug)]
pub struct StatusArgs {
	/// The stream id (0x and 64 hex digits).
	stream: String,
}

/// A stream, open or ended.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum StreamReport {
	Open(OpenStream),
	Ended(EndedStream),
}

impl Report for StreamReport {}

/// An open stream: requested or live.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenStream {
	pub stream: String,
	/// `requested` or `live`.
	pub status: String,
	pub initiator: String,
	pub provider: String,
	pub witnesses: Vec<String>,
	/// Everyone who holds a share, by holder index.
	pub holders: Vec<Holder>,
	pub data_type: String,
	/// `read` and/or `write`.
	pub permissions: Vec<String>,
	pub witness_count: u32,
	pub threshold: u32,
	pub rotate_every_blocks: Option<u32>,
	pub rotate_every_bytes: Option<u64>,
	pub requested_at: u32,
	pub expires_at: u32,
	pub current_epoch: Option<u32>,
	pub current_epoch_dealt_at: Option<u32>,
	pub pending_epoch: Option<u32>,
	pub total_bytes: u64,
	pub bytes_since_rotation: u64,
	/// The finalized block this status is read at.
	pub finalized_block: u32,
}

/// A holder of a stream's shares.
#[derive(Debug, Serialize, ToSchema)]
pub struct Holder {
	/// The holder index (1 initiator, 2 provider, then witnesses).
	pub index: u32,
	/// `initiator`, `provider` or `witness`.
	pub role: String,
	pub account: String,
	/// Its X25519 public key, if it is a registered participant.
	pub encryption_key: Option<String>,
}

/// An ended stream: closed, revoked or expired.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndedStream {
	pub stream: String,
	/// `closed`, `revoked` or `expired`.
	pub status: String,
	pub initiator: String,
	pub provider: String,
	pub final_epoch: Option<u32>,
	/// `initiator`, `provider`, `governance` or `expiry`.
	pub ended_by: String,
	pub ended_at: u32,
	/// The finalized block this status is read at.
	pub finalized_block: u32,
}

pub(crate) fn role_name(role: HolderRole) -> &'static str {
	match role {
		HolderRole::Initiator => "initiator",
		HolderRole::Provider => "provider",
		HolderRole::Witness => "witness",
	}
}

fn permission_names(permissions: Permissions) -> Vec<String> {
	[(Permissions::READ, "read"), (Permissions::WRITE, "write")]
		.into_iter()
		.filter(|(flag, _)| permissions.contains(*flag))
		.map(|(_, name)| name.to_owned())
		.collect()
}

/// An open stream, with its current epoch if one is dealt.
fn open_stream(view: &StreamView, current: Option<&EpochView>, block: u32) -> OpenStream {
	let of_role = |role| {
		view.holders
			.iter()
			.filter(|holder| holder.role == role)
			.map(|holder| holder.account.to_string())
			.collect::<Vec<_>>()
	};
	let holders = view
		.holders
		.iter()
		.zip(1..)
		.map(|(holder, index)| Holder {
			index,
			role: role_name(holder.role).to_owned(),
			account: holder.account.to_string(),
			encryption_key: holder.x25519_public_key.map(|key| hex(&key)),
		})
		.collect();
	OpenStream {
		stream: hex(view.id.as_bytes()),
		status: stream_status_name(view.status).to_owned(),
		initiator: of_role(HolderRole::Initiator).into_iter().next().unwrap_or_default(),
		provider: of_role(HolderRole::Provider).into_iter().next().unwrap_or_default(),
		witnesses: of_role(HolderRole::Witness),
		holders,
		data_type: String::from_utf8_lossy(&view.data_type).into_owned(),
		permissions: permission_names(view.permissions),
		witness_count: view.policy.witness_count,
		threshold: view.policy.threshold,
		rotate_every_blocks: view.policy.rotation.every_blocks,
		rotate_every_bytes: view.policy.rotation.every_bytes,
		requested_at: view.requested_at,
		expires_at: view.expires_at,
		current_epoch: view.current_epoch,
		current_epoch_dealt_at: current.map(|epoch| epoch.dealt_at),
		pending_epoch: view.pending_epoch,
		total_bytes: view.total_bytes,
		bytes_since_rotation: view.bytes_since_rotation,
		finalized_block: block,
	}
}

/// An ended stream.
fn ended_stream(stream: StreamId, tombstone: &Tombstone, block: u32) -> EndedStream {
	EndedStream {
		stream: hex(stream.as_bytes()),
		status: stream_status_name(tombstone.status).to_owned(),
		initiator: tombstone.initiator.to_string(),
		provider: tombstone.provider.to_string(),
		final_epoch: tombstone.final_epoch,
		ended_by: ended_by_name(tombstone.ended_by).to_owned(),
		ended_at: tombstone.ended_at,
		finalized_block: block,
	}
}

/// The status of `stream` at the latest finalized block.
pub async fn fetch(client: &NodeClient, stream: StreamId) -> Result<StreamReport, Failure> {
	let (at, block) = super::finalized_block(client).await?;
	if let Some(view) = client.stream_view(stream, Some(at)).await? {
		let current = match view.current_epoch {
			Some(_) => client.current_epoch_view(stream, Some(at)).await?,
			None => None,
		};
		return Ok(StreamReport::Open(open_stream(&view, current.as_ref(), block)));
	}
	match client.tombstone(stream, Some(at)).await? {
		Some(tombstone) => Ok(StreamReport::Ended(ended_stream(stream, &tombstone, block))),
		None => Err(keyorch_client::Error::UnknownStream { stream }.into()),
	}
}

pub async fn run(context: &Context, args: StatusArgs) -> Result<StreamReport, Failure> {
	let stream = input::stream_id(&args.stream)?;
	let client = context.connect().await?;
	fetch(&client, stream).await
}

#[cfg(test)]
mod tests {
	use keyorch_client::{HolderView, StreamPolicy, StreamStatus};
	use serde_json::{json, Value};
	use sp_core::H256;

	use super::*;

	fn view() -> StreamView {
		let holder = |seed: u8, role| HolderView {
			account: keyorch_client::AccountId::new([seed; 32]),
			role,
			x25519_public_key: Some([seed; 32]),
		};
		StreamView {
			id: H256::repeat_byte(0xaa),
			status: StreamStatus::Live,
			holders: vec![
				holder(1, HolderRole::Initiator),
				holder(2, HolderRole::Provider),
				holder(3, HolderRole::Witness),
			],
			data_type: b"text/plain".to_vec(),
			permissions: Permissions(Permissions::READ),
			policy: StreamPolicy { witness_count: 1, threshold: 2, rotation: Default::default() },
			requested_at: 4,
			expires_at: 604,
			selection_seed: vec![],
			current_epoch: None,
			pending_epoch: Some(0),
			total_bytes: 0,
			bytes_since_rotation: 0,
		}
	}

	fn json_of(report: &impl Serialize) -> Value {
		serde_json::from_str(&crate::output::json(report)).unwrap()
	}

	#[test]
	fn an_open_stream_in_json_has_what_scripts_need() {
		let json = json_of(&open_stream(&view(), None, 9));
		assert_eq!(json["status"], "live");
		assert_eq!(json["stream"], format!("0x{}", "aa".repeat(32)));
		assert_eq!(json["initiator"], keyorch_client::AccountId::new([1; 32]).to_string());
		assert_eq!(json["holders"].as_array().unwrap().len(), 3);
		assert_eq!(json["holders"][2]["role"], "witness");
		assert_eq!(json["holders"][2]["index"], 3);
		assert_eq!(json["permissions"], json!(["read"]));
		assert_eq!(json["current_epoch"], Value::Null);
		assert_eq!(json["pending_epoch"], 0);
		assert_eq!(json["expires_at"], 604);
		assert_eq!(json["finalized_block"], 9);
	}

	#[test]
	fn the_table_has_one_aligned_line_per_field_and_per_holder() {
		let report = StreamReport::Open(open_stream(&view(), None, 9));
		let fields = json_of(&report).as_object().unwrap().len();
		let table = report.table();
		assert_eq!(table.lines().count(), fields + 2, "{table}");
		assert!(table.contains("status                  live\n"), "{table}");
		assert!(table.contains("current epoch           -\n"), "{table}");
		let initiator = keyorch_client::AccountId::new([1; 32]);
		assert!(
			table.contains(&format!(
				"holders                 index 1  role initiator  account {initiator}  encryption key 0x0101"
			)),
			"{table}"
		);
	}

	#[test]
	fn an_ended_stream_says_how_it_ended() {
		let tombstone = Tombstone {
			initiator: keyorch_client::AccountId::new([1; 32]),
			provider: keyorch_client::AccountId::new([2; 32]),
			status: StreamStatus::Revoked,
			final_epoch: Some(2),
			ended_by: keyorch_client::EndedBy::Provider,
			ended_at: 77,
		};
		let json =
			json_of(&StreamReport::Ended(ended_stream(H256::repeat_byte(1), &tombstone, 80)));
		assert_eq!(json["status"], "revoked");
		assert_eq!(json["ended_by"], "provider");
		assert_eq!(json["final_epoch"], 2);
	}
}
