//! `GET /v1/streams/{id}/events`: a stream's epochs and end as Server-Sent Events, from
//! finalized blocks, so an application hears of key updates without polling.
//!
//! Events: `epoch-requested` and `epoch-ready` (`{"epoch", "block"}`), then `revoked`, `closed`
//! (`{"by", "block"}`) or `expired` (`{"block"}`), after which the event stream ends; `error`
//! (`{"detail"}`) if the node cannot be followed. Each event's id is its block number.

use std::{
	convert::Infallible,
	sync::{
		atomic::{AtomicUsize, Ordering},
		Arc,
	},
	time::Duration,
};

use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use keyorch_client::{ended_by_name, StreamEvent, StreamId};
use serde_json::json;
use tokio::sync::mpsc;

use super::{problem::Problem, routes::Agent};
use crate::failure::{Failure, Kind};

/// Event subscriptions served at once; more are refused until one ends.
pub const MAX_SUBSCRIPTIONS: usize = 64;

/// Events buffered for a slow subscriber before the follower waits for it.
const BUFFERED_EVENTS: usize = 16;

/// How often an idle event stream sends a comment, so proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Counts open subscriptions; a slot is given back when its follower ends.
#[derive(Default)]
pub struct Subscriptions(AtomicUsize);

impl Subscriptions {
	/// Subscriptions open now.
	pub fn open(&self) -> usize {
		self.0.load(Ordering::Relaxed)
	}
}

/// A slot taken in [`Subscriptions`], given back on drop.
struct Slot(Arc<Agent>);

impl Slot {
	fn take(agent: &Arc<Agent>) -> Option<Self> {
		let taken = agent.subscriptions.0.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
			(n < MAX_SUBSCRIPTIONS).then_some(n + 1)
		});
		taken.is_ok().then(|| Self(agent.clone()))
	}
}

impl Drop for Slot {
	fn drop(&mut self) {
		self.0.subscriptions.0.fetch_sub(1, Ordering::AcqRel);
	}
}

/// The SSE form of a stream event: its name and data.
fn sse_event(event: &StreamEvent) -> Event {
	let (name, data, block) = match event {
		StreamEvent::EpochRequested { epoch, block } => {
			("epoch-requested", json!({ "epoch": epoch, "block": block }), block)
		},
		StreamEvent::EpochReady { epoch, block, .. } => {
			("epoch-ready", json!({ "epoch": epoch, "block": block }), block)
		},
		StreamEvent::Revoked { by, block } => {
			("revoked", json!({ "by": ended_by_name(*by), "block": block }), block)
		},
		StreamEvent::Closed { by, block } => {
			("closed", json!({ "by": ended_by_name(*by), "block": block }), block)
		},
		StreamEvent::Expired { block } => ("expired", json!({ "block": block }), block),
	};
	Event::default().event(name).id(block.to_string()).data(data.to_string())
}

/// The events of an open `stream` from finalized block `from` on (the next finalized block if
/// `None`; never before the stream's request, so that no subscriber makes the agent read the
/// chain from its start).
pub async fn subscribe(
	agent: Arc<Agent>,
	stream: StreamId,
	from: Option<u32>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Problem> {
	let client = agent.keyring.client();
	let Some(view) = client.stream_view(stream, None).await? else {
		return Err(match client.tombstone(stream, None).await? {
			Some(ended) => keyorch_client::Error::StreamEnded {
				status: keyorch_client::stream_status_name(ended.status).into(),
			},
			None => keyorch_client::Error::UnknownStream { stream },
		}
		.into());
	};
	let from = match from {
		Some(block) => block.max(view.requested_at),
		None => client.finalized_number().await? + 1,
	};
	let slot = Slot::take(&agent).ok_or_else(|| {
		Failure::new(Kind::Refused, format!("{MAX_SUBSCRIPTIONS} event streams are open already"))
			.because(crate::failure::Reason::NotYet)
	})?;
	let (sender, receiver) = mpsc::channel(BUFFERED_EVENTS);
	// The follower holds the slot until it ends: when the subscriber leaves, or the stream.
	tokio::spawn(async move {
		let events = slot.0.keyring.client().stream_events(stream, from);
		futures::pin_mut!(events);
		loop {
			let next = tokio::select! {
				() = sender.closed() => break,
				next = events.next() => next,
			};
			let event = match next {
				Some(Ok(event)) => sse_event(&event),
				Some(Err(error)) => Event::default()
					.event("error")
					.data(json!({ "detail": error.to_string() }).to_string()),
				None => break,
			};
			if sender.send(event).await.is_err() {
				break;
			}
		}
	});
	let events = futures::stream::unfold(receiver, |mut receiver| async move {
		receiver.recv().await.map(|event| (Ok(event), receiver))
	});
	Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}
