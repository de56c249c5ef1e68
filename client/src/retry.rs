//! Riding out the transient: what the client waits for (a node's RPC connection to come back,
//! witnesses to hold a freshly dealt share), how long it waits between tries (exponential
//! backoff with jitter, from `backon`), and how it tells the application what it is waiting for.

use std::{fmt, sync::Arc, time::Duration};

use backon::ExponentialBuilder;

use crate::StreamId;

/// How long a [`crate::NodeClient`] tries to reconnect after its connection dropped, unless told
/// otherwise ([`crate::NodeClient::with_reconnect_patience`]): long enough for a node to restart.
pub const RECONNECT_PATIENCE: Duration = Duration::from_secs(60);

/// Something the client is waiting for, told to the observer set with
/// [`crate::NodeClient::on_wait`] so that an application can say why it is not done yet.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Waiting {
	/// The RPC connection to the node dropped and a try to reconnect failed; the next try
	/// comes in `retry_in`.
	Reconnecting {
		/// The node.
		url: String,
		/// What the failed try said.
		error: String,
		/// Until the next try.
		retry_in: Duration,
	},
	/// The RPC connection to the node dropped and is up again.
	Reconnected {
		/// The node.
		url: String,
	},
	/// A key could not be assembled yet for a reason that passes by itself (witnesses that do
	/// not hold the share of a freshly dealt epoch yet, a record still on its way); the next try
	/// comes in `retry_in`.
	Assembly {
		/// The stream.
		stream: StreamId,
		/// The epoch, or `None` for the current one.
		epoch: Option<u32>,
		/// Why the last try failed.
		reason: String,
		/// Until the next try.
		retry_in: Duration,
	},
}

impl fmt::Display for Waiting {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		match self {
			Self::Reconnecting { url, error, retry_in } => write!(
				f,
				"the connection to {url} dropped and cannot be opened again yet ({error}); \
				 trying again in {:.1} s",
				retry_in.as_secs_f64()
			),
			Self::Reconnected { url } => write!(f, "the connection to {url} dropped; reconnected"),
			Self::Assembly { stream, epoch, reason, retry_in } => {
				let epoch =
					epoch.map_or_else(|| "the current epoch".into(), |e| format!("epoch {e}"));
				write!(
					f,
					"the key of {epoch} of stream {stream:?} cannot be assembled yet ({reason}); \
					 trying again in {:.1} s",
					retry_in.as_secs_f64()
				)
			},
		}
	}
}

/// Hears what a client waits for.
pub(crate) type WaitObserver = Arc<dyn Fn(&Waiting) + Send + Sync>;

/// Tries again after `first`, then twice as long each time up to `longest`, each pause with
/// jitter, while the pauses add up to at most `patience`.
pub(crate) fn backoff(
	first: Duration,
	longest: Duration,
	patience: Duration,
) -> ExponentialBuilder {
	ExponentialBuilder::new()
		.with_min_delay(first)
		.with_max_delay(longest)
		.with_jitter()
		.without_max_times()
		.with_total_delay(Some(patience))
}

#[cfg(test)]
mod tests {
	use backon::BackoffBuilder;

	use super::*;

	#[test]
	fn pauses_grow_to_the_longest_and_stop_at_the_patience() {
		let patience = Duration::from_secs(10);
		let pauses: Vec<Duration> =
			backoff(Duration::from_millis(100), Duration::from_secs(2), patience).build().collect();
		assert!(pauses.len() >= 5, "{pauses:?}");
		// Jitter adds at most the pause itself.
		assert!(pauses[0] >= Duration::from_millis(100) && pauses[0] <= Duration::from_millis(200));
		assert!(pauses.iter().all(|pause| *pause <= Duration::from_secs(4)), "{pauses:?}");
		assert!(pauses.iter().sum::<Duration>() <= patience, "{pauses:?}");
		assert!(backoff(Duration::from_millis(100), Duration::from_secs(2), Duration::ZERO)
			.build()
			.next()
			.is_none());
	}

	#[test]
	fn waiting_says_what_and_for_how_long() {
		let reconnecting = Waiting::Reconnecting {
			url: "ws://127.0.0.1:9944".into(),
			error: "connection refused".into(),
			retry_in: Duration::from_millis(1500),
		};
		assert_eq!(
			reconnecting.to_string(),
			"the connection to ws://127.0.0.1:9944 dropped and cannot be opened again yet \
			 (connection refused); trying again in 1.5 s"
		);
		let assembly = Waiting::Assembly {
			stream: StreamId::default(),
			epoch: Some(3),
			reason: "no share yet".into(),
			retry_in: Duration::from_millis(200),
		};
		assert!(assembly.to_string().contains("epoch 3"), "{assembly}");
	}
}
