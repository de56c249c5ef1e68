//! Following a stream's keys: every epoch the chain deals is assembled as soon as the witnesses
//! hold their shares, and the end of the stream (revocation, close, expiry) is reported the
//! moment it is final. This is what keeps a secure stream's keys current.

use std::time::Duration;

use backon::Retryable;
use futures::{Stream, StreamExt};
use keyorch_runtime::pallet_keyorch::StreamId;

use crate::{
	retry::{backoff, Waiting},
	AssembledKey, Error, Identity, NodeClient, Refusal, StreamEvent, WitnessEndpoint,
	WitnessFailure,
};

/// How long an epoch's assembly is retried while witnesses are still fetching their shares.
pub const ASSEMBLY_PATIENCE: Duration = Duration::from_secs(60);

/// First and longest pause between two assembly attempts of the same epoch.
const RETRY_PAUSES: (Duration, Duration) = (Duration::from_millis(200), Duration::from_secs(3));

/// A change of a stream's keys.
#[derive(Debug)]
pub enum KeyUpdate {
	/// The keys of a newly dealt epoch (or of the current one, first).
	Epoch(Box<AssembledKey>),
	/// The stream ended; no key will be released any more.
	Ended {
		/// `revoked`, `closed` or `expired`.
		status: String,
		/// The finalized block that ended it.
		block: u32,
	},
}

/// Whether an assembly failure may go away by itself soon: witnesses that do not hold the new
/// epoch's share yet or are rate-limiting requests (not witnesses that are down), a record
/// still on its way through the DHT, or an epoch not dealt yet.
fn transient(error: &Error) -> bool {
	match error {
		Error::NotEnoughWitnesses { witnesses, .. } => witnesses.iter().any(|report| {
			matches!(
				report.failure,
				WitnessFailure::Refused(Refusal::NoShare | Refusal::RateLimited)
			)
		}),
		Error::RecordNotFound { .. } | Error::EpochNotDealt { .. } => true,
		_ => false,
	}
}

impl NodeClient {
	/// Assembles `identity`'s key of `epoch`, retrying with backoff for [`ASSEMBLY_PATIENCE`]
	/// while the failure is one that passes by itself (witnesses still fetching their shares);
	/// each retry is told to the [`Self::on_wait`] observer.
	pub async fn assemble_key_patiently(
		&self,
		identity: &Identity,
		stream: StreamId,
		epoch: Option<u32>,
		witnesses: &[WitnessEndpoint],
	) -> Result<AssembledKey, Error> {
		let (first, longest) = RETRY_PAUSES;
		(|| self.assemble_key(identity, stream, epoch, witnesses))
			.retry(backoff(first, longest, ASSEMBLY_PATIENCE))
			.when(transient)
			.notify(|error, retry_in| {
				let reason = error.to_string();
				self.notify(Waiting::Assembly { stream, epoch, reason, retry_in })
			})
			.await
	}

	/// The keys of `stream` as they change: first the current epoch's, then each newly dealt
	/// epoch's, and finally [`KeyUpdate::Ended`] once the stream's end is final. Follows
	/// finalized blocks from the latest one. Ends after `Ended` or the first error.
	pub fn follow_keys<'a>(
		&'a self,
		identity: &'a Identity,
		stream: StreamId,
		witnesses: &'a [WitnessEndpoint],
	) -> impl Stream<Item = Result<KeyUpdate, Error>> + 'a {
		type Events<'a> =
			std::pin::Pin<Box<dyn Stream<Item = Result<StreamEvent, Error>> + Send + 'a>>;
		enum State<'a> {
			Start,
			/// Following events, with the last epoch given out.
			Following(Events<'a>, u32),
			Done,
		}
		let events = move |from: u32| -> Events<'a> { Box::pin(self.stream_events(stream, from)) };
		futures::stream::unfold(State::Start, move |state| async move {
			match state {
				State::Start => {
					let from = match self.finalized_number().await {
						Ok(number) => number + 1,
						Err(error) => return Some((Err(error), State::Done)),
					};
					let first =
						self.assemble_key_patiently(identity, stream, None, witnesses).await;
					let next = match &first {
						Ok(key) => State::Following(events(from), key.epoch),
						Err(_) => State::Done,
					};
					Some((first.map(|key| KeyUpdate::Epoch(Box::new(key))), next))
				},
				State::Following(mut events, last) => loop {
					let event = match events.next().await? {
						Ok(event) => event,
						Err(error) => return Some((Err(error), State::Done)),
					};
					let (status, block) = match event {
						// The first update may already be this epoch's.
						StreamEvent::EpochReady { epoch, .. } if epoch <= last => continue,
						StreamEvent::EpochReady { epoch, .. } => {
							let key = self
								.assemble_key_patiently(identity, stream, Some(epoch), witnesses)
								.await;
							let next = if key.is_ok() {
								State::Following(events, epoch)
							} else {
								State::Done
							};
							return Some((key.map(|key| KeyUpdate::Epoch(Box::new(key))), next));
						},
						StreamEvent::Revoked { block, .. } => ("revoked", block),
						StreamEvent::Closed { block, .. } => ("closed", block),
						StreamEvent::Expired { block } => ("expired", block),
						StreamEvent::EpochRequested { .. } => continue,
					};
					let ended = KeyUpdate::Ended { status: status.into(), block };
					return Some((Ok(ended), State::Done));
				},
				State::Done => None,
			}
		})
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::WitnessReport;

	fn too_few(failure: WitnessFailure) -> Error {
		let witnesses = vec![WitnessReport { url: "ws://127.0.0.1:1".into(), failure }];
		Error::NotEnoughWitnesses { have: 1, needed: 2, witnesses }
	}

	#[test]
	fn only_failures_that_pass_by_themselves_are_retried() {
		assert!(transient(&too_few(WitnessFailure::Refused(Refusal::NoShare))));
		assert!(transient(&too_few(WitnessFailure::Refused(Refusal::RateLimited))));
		assert!(!transient(&too_few(WitnessFailure::Unreachable("refused".into()))));
		assert!(!transient(&too_few(WitnessFailure::Refused(Refusal::NotAuthorized))));
		assert!(!transient(&Error::StreamEnded { status: "revoked".into() }));
	}
}
