//! Keeping a secure stream in step with the chain: each newly dealt epoch's keys are installed
//! as soon as they can be assembled, traffic is reported for byte-budget rotation, and the
//! stream ends, on both sides, once its revocation, close or expiry is final.

use std::time::Duration;

use futures::StreamExt;
use keyorch_runtime::pallet_keyorch::StreamId;

use crate::{
	secure::{EndReason, LinkState, StreamControl},
	Error, Identity, KeyUpdate, NodeClient, WitnessEndpoint,
};

/// How often the traffic counters are looked at for usage reports.
const USAGE_POLL: Duration = Duration::from_millis(250);

/// Something the chain link did, for a timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
	/// The keys of a new epoch were installed in the stream.
	EpochInstalled {
		/// The epoch.
		epoch: u32,
	},
	/// Traffic was reported on chain with `report_usage`.
	UsageReported {
		/// Bytes reported.
		bytes: u64,
		/// The block it is in.
		block: u32,
	},
	/// The chain ended the stream; the secure stream was ended with this reason.
	Ended {
		/// Why.
		reason: EndReason,
		/// The finalized block that ended it.
		block: u32,
	},
}

/// How the link follows the chain.
#[derive(Clone, Debug)]
pub struct ChainLink<'a> {
	/// This side's identity.
	pub identity: &'a Identity,
	/// The stream.
	pub stream: StreamId,
	/// Witness nodes to assemble new epochs' keys with.
	pub witnesses: &'a [WitnessEndpoint],
	/// The epoch the secure stream was opened with.
	pub epoch: u32,
	/// Report the bytes this side sent whenever this many more were sent (`None`: never).
	pub report_every: Option<u64>,
}

fn end_reason(status: &str) -> EndReason {
	match status {
		"expired" => EndReason::Expired,
		"closed" => EndReason::Closed,
		_ => EndReason::Revoked,
	}
}

impl NodeClient {
	/// Keeps `control`'s stream in step with the chain until the chain ends the stream (then
	/// it ends the secure stream with the reason and returns it) or the secure stream is over.
	/// `on_event` hears of every installed epoch, usage report and the end.
	///
	/// # Errors
	///
	/// The first assembly, chain or usage-report error; the secure stream is left as it is.
	pub async fn keep_in_step(
		&self,
		link: ChainLink<'_>,
		control: StreamControl,
		mut on_event: impl FnMut(LinkEvent),
	) -> Result<Option<EndReason>, Error> {
		let mut updates =
			std::pin::pin!(self.follow_keys(link.identity, link.stream, link.witnesses));
		let mut installed = link.epoch;
		let mut reported = 0u64;
		let mut poll = tokio::time::interval(USAGE_POLL);
		loop {
			tokio::select! {
				update = updates.next() => match update {
					Some(Ok(KeyUpdate::Epoch(key))) if key.epoch > installed => {
						// Refused only if the stream is over already; the loop then ends below.
						if control.install_epoch(key.keys).await.is_ok() {
							installed = key.epoch;
							on_event(LinkEvent::EpochInstalled { epoch: key.epoch });
						}
					},
					Some(Ok(KeyUpdate::Epoch(_))) => {},
					Some(Ok(KeyUpdate::Ended { status, block })) => {
						let reason = end_reason(&status);
						control.end(reason).await;
						on_event(LinkEvent::Ended { reason, block });
						return Ok(Some(reason));
					},
					Some(Err(error)) => return Err(error),
					None => return Ok(None),
				},
				_ = poll.tick() => {
					if let LinkState::Terminated(_) = control.state() {
						return Ok(None);
					}
					let Some(every) = link.report_every else { continue };
					let sent = control.usage().bytes_sent;
					if sent.saturating_sub(reported) >= every {
						let bytes = sent - reported;
						let included =
							self.report_usage(link.identity.signer(), link.stream, bytes).await?;
						reported = sent;
						on_event(LinkEvent::UsageReported { bytes, block: included.number });
					}
				},
			}
		}
	}
}
