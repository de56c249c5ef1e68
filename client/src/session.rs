//! Keeping a secure stream in step with the chain: each newly dealt epoch's keys are installed
//! as soon as they can be assembled, traffic is reported for byte-budget rotation, and the
//! stream ends, on both sides, once its revocation, close or expiry is final.
//!
//! It fails closed: the link asks the node every [`LIVENESS_POLL`] whether the stream is live in
//! its best block, and counts the stream confirmed live up to that block's timestamp. When the
//! newest confirmation is older than half of [`ChainLink::liveness_timeout`] by this machine's
//! clock (the node unreachable, its chain stalled, or the stream ended in a best block that is
//! not final yet) the secure stream pauses; once it is older than the whole timeout the stream
//! ends, on both sides, with [`EndReason::Unconfirmed`]. A failing node never leaves the
//! transfer going on unchecked.
//!
//! Keys are assembled before their dealing is final (see [`crate::Dealing`]); the link checks
//! at every poll that each key in use became final, and ends the stream the same way, with
//! [`Error::DealingDropped`], if one does not within [`crate::DEALING_FINALITY_BLOCKS`].
//!
//! Block time rather than the arrival of new blocks is what counts, because a `--dev` chain
//! seals a burst of transactions ahead of the wall clock and then makes no block until the
//! clock has caught up. A block stamped ahead of this machine's clock confirms the stream only
//! up to the moment the node said so, so an unreachable node is noticed in time all the same;
//! a clock ahead of the chain's shortens the timeout by as much.

use std::{future::Future, pin::Pin, time::Duration};

use futures::StreamExt;
use keyorch_runtime::pallet_keyorch::{StreamId, StreamStatus};
use tokio::time::Instant;

use crate::{
	secure::{EndReason, LinkState, StreamControl},
	Dealing, DealingFinality, Error, Identity, Included, KeyUpdate, NodeClient, WitnessEndpoint,
};

/// How often the traffic counters are looked at for usage reports.
const USAGE_POLL: Duration = Duration::from_millis(250);

/// How often the link asks the node whether the stream is still live.
pub const LIVENESS_POLL: Duration = Duration::from_secs(1);

/// How long the link goes on without confirming that the stream is live, unless told
/// otherwise: five blocks.
pub const DEFAULT_LIVENESS_TIMEOUT: Duration = Duration::from_secs(15);

/// Longest wait for the node's answer to one liveness question.
const LIVENESS_ANSWER_TIMEOUT: Duration = Duration::from_secs(3);

/// Pause before following the keys again after the node failed.
const FOLLOW_RETRY: Duration = Duration::from_secs(1);

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
	/// The stream could not be confirmed live for half the liveness timeout: it is paused.
	Paused {
		/// Why it could not be confirmed.
		reason: String,
	},
	/// The stream was confirmed live again after a pause, in best block `block`.
	Unpaused {
		/// The block.
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
	/// The dealing of the key the secure stream was opened with
	/// ([`crate::AssembledKey::dealing`]), checked until it is final.
	pub dealing: Dealing,
	/// Report the bytes this side sent whenever this many more were sent (`None`: never).
	pub report_every: Option<u64>,
	/// How long the stream may go on without being confirmed live on chain (see the module
	/// documentation); [`DEFAULT_LIVENESS_TIMEOUT`] suits 3-second blocks.
	pub liveness_timeout: Duration,
}

/// Until when the stream is confirmed live, and what went wrong since.
struct Liveness {
	/// The newest block time, in Unix milliseconds, at which the stream was live.
	until: u64,
	/// The best block that said so.
	block: Option<u32>,
	/// What failed since, if anything did.
	problem: Option<String>,
	/// Whether the stream is paused for want of a confirmation.
	paused: bool,
}

/// This machine's clock, in Unix milliseconds.
fn wall_clock_millis() -> u64 {
	std::time::SystemTime::now()
		.duration_since(std::time::UNIX_EPOCH)
		.map_or(0, |since| since.as_millis() as u64)
}

impl Liveness {
	/// Confirmed live as the link starts.
	fn new() -> Self {
		Self { until: wall_clock_millis(), block: None, problem: None, paused: false }
	}

	/// The stream is live in best block `block`, made at `timestamp`. That confirms it up to
	/// the block's time, but never past this machine's now: a block stamped ahead of the clock
	/// confirms the stream only as long as the node keeps answering.
	fn confirm(&mut self, block: u32, timestamp: u64) {
		let now = wall_clock_millis();
		let until = timestamp.min(now);
		if until <= self.until {
			let age = Duration::from_millis(now.saturating_sub(timestamp));
			self.problem = Some(format!("the best block, #{block}, was made {age:?} ago"));
			return;
		}
		self.until = until;
		self.block = Some(block);
		self.problem = None;
	}

	/// How long the stream has gone without a confirmation, by this machine's clock.
	fn unconfirmed(&self) -> Duration {
		Duration::from_millis(wall_clock_millis().saturating_sub(self.until))
	}

	/// Why the stream is not confirmed live.
	fn reason(&self) -> String {
		self.problem.clone().unwrap_or_else(|| "no answer from the node".into())
	}
}

/// A usage report on its way to the chain, with the counter it reports up to.
type Reporting<'a> = Pin<Box<dyn Future<Output = (Result<Included, Error>, u64, u64)> + Send + 'a>>;

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
	/// Node failures are retried; the stream pauses and ends as the module documentation says
	/// when the chain cannot confirm it is live. `on_event` hears of every installed epoch,
	/// usage report, pause and the end.
	///
	/// # Errors
	///
	/// [`Error::LivenessUnconfirmed`] once the secure stream was ended for want of a
	/// confirmation; [`Error::StreamEnded`] (the secure stream ended with it) if the stream had
	/// ended before its end could be followed.
	pub async fn keep_in_step(
		&self,
		link: ChainLink<'_>,
		control: StreamControl,
		mut on_event: impl FnMut(LinkEvent),
	) -> Result<Option<EndReason>, Error> {
		let follow = || Box::pin(self.follow_keys(link.identity, link.stream, link.witnesses));
		let mut updates = follow();
		let mut follow_again: Option<Instant> = None;
		let mut installed = link.epoch;
		// Keys in use whose dealing is not final yet: each must become final in time.
		let mut unconfirmed = vec![link.dealing.clone()];
		let mut reported = 0u64;
		let mut reporting: Option<Reporting<'_>> = None;
		let mut usage_poll = tokio::time::interval(USAGE_POLL);
		let mut liveness_poll = tokio::time::interval(LIVENESS_POLL);
		let mut liveness = Liveness::new();
		loop {
			tokio::select! {
				update = updates.next(), if follow_again.is_none() => match update {
					Some(Ok(KeyUpdate::Epoch(key))) if key.epoch > installed => {
						// Refused only if the stream is over already; the loop then ends below.
						if control.install_epoch(key.keys).await.is_ok() {
							installed = key.epoch;
							unconfirmed.push(key.dealing);
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
					Some(Err(Error::StreamEnded { status })) => {
						control.end(end_reason(&status)).await;
						return Err(Error::StreamEnded { status });
					},
					// The node or the witnesses failed: the liveness checks decide how long
					// the stream may go on meanwhile.
					Some(Err(error)) => {
						liveness.problem = Some(error.to_string());
						follow_again = Some(Instant::now() + FOLLOW_RETRY);
					},
					// The key stream ends only after its end or an error: follow it again.
					None => follow_again = Some(Instant::now() + FOLLOW_RETRY),
				},
				() = tokio::time::sleep_until(follow_again.unwrap_or_else(Instant::now)),
					if follow_again.is_some() =>
				{
					updates = follow();
					follow_again = None;
				},
				(outcome, from, to) = async { reporting.as_mut().expect("guarded").await },
					if reporting.is_some() =>
				{
					reporting = None;
					match outcome {
						Ok(included) => {
							reported = reported.max(to);
							on_event(LinkEvent::UsageReported { bytes: to - from, block: included.number });
						},
						// Reported again, with what was sent since, at the next poll.
						Err(error) => liveness.problem = Some(format!("usage report: {error}")),
					}
				},
				_ = usage_poll.tick() => {
					if let LinkState::Terminated(_) = control.state() {
						return Ok(None);
					}
					let Some(every) = link.report_every else { continue };
					let sent = control.usage().bytes_sent;
					if reporting.is_none() && sent.saturating_sub(reported) >= every {
						let (from, signer, stream) = (reported, link.identity.signer(), link.stream);
						reporting = Some(Box::pin(async move {
							(self.report_usage(signer, stream, sent - from).await, from, sent)
						}));
					}
				},
				_ = liveness_poll.tick() => {
					if let Err(dropped) = self.keep_final(&mut unconfirmed).await {
						control.end(EndReason::Unconfirmed).await;
						return Err(dropped);
					}
					match self.live_in_best_block(link.stream).await {
						Ok((block, timestamp)) => liveness.confirm(block, timestamp),
						Err(problem) => liveness.problem = Some(problem),
					}
					let unconfirmed = liveness.unconfirmed();
					if unconfirmed >= link.liveness_timeout {
						control.end(EndReason::Unconfirmed).await;
						return Err(Error::LivenessUnconfirmed {
							seconds: unconfirmed.as_secs(),
							reason: liveness.reason(),
						});
					}
					let confirmed = unconfirmed < link.liveness_timeout / 2;
					if confirmed == liveness.paused {
						liveness.paused = !confirmed;
						control.pause(liveness.paused);
						on_event(match (liveness.paused, liveness.block) {
							(false, Some(block)) => LinkEvent::Unpaused { block },
							_ => LinkEvent::Paused { reason: liveness.reason() },
						});
					}
				},
			}
		}
	}

	/// Forgets the dealings that became final; [`Error::DealingDropped`] for one that will not.
	/// A node that does not answer in time leaves them as they are: the liveness checks deal
	/// with it.
	async fn keep_final(&self, unconfirmed: &mut Vec<Dealing>) -> Result<(), Error> {
		let mut still = Vec::with_capacity(unconfirmed.len());
		for dealing in unconfirmed.drain(..) {
			let finality = self.dealing_finality(&dealing);
			match tokio::time::timeout(LIVENESS_ANSWER_TIMEOUT, finality).await {
				Ok(Ok(DealingFinality::Final)) => {},
				Ok(Err(dropped @ Error::DealingDropped { .. })) => return Err(dropped),
				_ => still.push(dealing),
			}
		}
		*unconfirmed = still;
		Ok(())
	}

	/// The number and timestamp of the node's best block if `stream` is live in it; else why
	/// not.
	async fn live_in_best_block(&self, stream: StreamId) -> Result<(u32, u64), String> {
		let ask = async {
			let hash = self.best_hash().await.map_err(|e| e.to_string())?;
			let number = self.header(Some(hash)).await.map_err(|e| e.to_string())?.number;
			match self.stream_status(stream, Some(hash)).await.map_err(|e| e.to_string())? {
				Some(StreamStatus::Live) => {
					Ok((number, self.timestamp(hash).await.map_err(|e| e.to_string())?))
				},
				Some(status) => Err(format!(
					"the stream is {} in best block #{number}",
					crate::stream_status_name(status)
				)),
				None => Err(format!("no such stream in best block #{number}")),
			}
		};
		tokio::time::timeout(LIVENESS_ANSWER_TIMEOUT, ask).await.unwrap_or_else(|_| {
			Err(format!("no answer from the node in {LIVENESS_ANSWER_TIMEOUT:?}"))
		})
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn a_block_stamped_ahead_of_the_clock_confirms_only_up_to_now() {
		let mut liveness = Liveness::new();
		liveness.until -= 10_000;
		let ahead = wall_clock_millis() + 60_000;
		liveness.confirm(1, ahead);
		assert!(liveness.until <= wall_clock_millis(), "never confirmed past now");
		assert_eq!(liveness.block, Some(1));
		liveness.until -= 10_000;
		liveness.confirm(1, ahead);
		assert!(liveness.unconfirmed() < Duration::from_secs(1), "the same block, asked again");
	}

	#[test]
	fn a_chain_that_stands_still_confirms_nothing_more() {
		let mut liveness = Liveness::new();
		let before = liveness.until;
		liveness.confirm(7, before - 5_000);
		assert_eq!(liveness.until, before);
		assert_eq!(liveness.block, None);
		assert!(liveness.reason().contains("#7"), "{}", liveness.reason());
	}
}
