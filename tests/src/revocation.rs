//! How long a stream's end takes to be honoured everywhere: every witness refusing its shares
//! and every node no longer giving its records. Shared by the `finality_stall` test and
//! `keyorch-figures revocation`.

use std::time::{Duration, Instant};

use codec::Encode;
use futures::future::join_all;
use keyorch_primitives::{record_dht_key, DealContext};
use keyorch_runtime::pallet_keyorch::StreamId;

use crate::{parties::Party, poll_until, Node};

/// How often each witness and node is asked again: short, since what is measured is a
/// fraction of a block.
const POLL: Duration = Duration::from_millis(50);

/// The JSON-RPC code of "the stream has ended".
pub const STREAM_ENDED: i32 = 7003;

/// The DHT keys of every record of epoch 0 of `stream`, whose holders are the two parties and
/// `witnesses` witnesses.
pub fn epoch_zero_keys(stream: StreamId, witnesses: usize) -> Vec<[u8; 32]> {
	let context = DealContext { stream_id: stream.0, epoch: 0 };
	(1..=2 + witnesses as u8).map(|holder| record_dht_key(&context, holder)).collect()
}

/// Polls every node of `witnesses` (with the witness it runs) for `requester`'s share of epoch
/// 0 of `stream` until it refuses with [`STREAM_ENDED`], and every node of `nodes` for every
/// record of `keys` (through the DHT too) until it gives none, all at once, every [`POLL`].
/// Returns the time from `since` to the last refusal; panics if one is missing after `timeout`.
pub async fn until_refused_everywhere(
	stream: StreamId,
	requester: &Party,
	witnesses: &[(&Party, &Node)],
	nodes: &[&Node],
	keys: &[[u8; 32]],
	since: Instant,
	timeout: Duration,
) -> Duration {
	// Share requests valid long enough to be refused for the stream's end alone.
	let expires_at = {
		let client = nodes[0].client().await;
		client.header(None).await.expect("best block").number + 50
	};
	let shares = witnesses.iter().map(|&(witness, node)| async move {
		let rpc = node.keyorch().await;
		poll_until("every witness to refuse the stream's shares", timeout, POLL, || async {
			let request = requester.release_request(stream, 0, witness, expires_at);
			let answer = rpc.request_share(request.encode()).await;
			let refused = answer.err().is_some_and(|refusal| refusal.code == STREAM_ENDED);
			refused.then(Instant::now)
		})
		.await
	});
	let records = nodes.iter().flat_map(|node| keys.iter().map(move |&key| (node, key)));
	let records = records.map(|(node, key)| async move {
		let rpc = node.keyorch().await;
		poll_until("every node to stop giving the stream's records", timeout, POLL, || async {
			rpc.get_record(key, false).await.is_err().then(Instant::now)
		})
		.await
	});
	let (shares, records) = tokio::join!(join_all(shares), join_all(records));
	let last = shares.into_iter().chain(records).max().expect("something to ask");
	last.saturating_duration_since(since)
}
