//! keyorch-client's stream API on a real dev node: request, follow typed events, rotate,
//! revoke, and a refused call as a typed error.

use std::time::Duration;

use futures::StreamExt;
use keyorch_client::{Error, Identity, StreamEvent, StreamRequest};
use keyorch_runtime::pallet_keyorch::{EndedBy, Permissions};
use keyorch_tests::dev_node;

/// The next event, within 60 s.
async fn next(
	events: &mut (impl futures::Stream<Item = Result<StreamEvent, Error>> + Unpin),
) -> StreamEvent {
	tokio::time::timeout(Duration::from_secs(60), events.next())
		.await
		.expect("an event within 60 s")
		.expect("the stream goes on")
		.expect("no error")
}

#[tokio::test(flavor = "multi_thread")]
async fn request_follow_rotate_and_revoke_a_stream() {
	let node = dev_node().await;
	let client = node.client().await;
	let initiator = Identity::dev("//Bob").unwrap();
	let provider = Identity::dev("//Charlie").unwrap();
	let witness = Identity::dev("//Dave").unwrap();
	for identity in [&initiator, &provider, &witness] {
		client.register_participant(identity).await.expect("register_participant");
	}
	client.register_witness(witness.signer()).await.expect("register_witness");

	let request = StreamRequest {
		provider: provider.signer().account_id(),
		data_type: b"text/plain".to_vec(),
		permissions: Permissions::READ,
		duration_blocks: 500,
		witness_count: 1,
		threshold: 2,
		rotate_every_blocks: None,
		rotate_every_bytes: None,
	};
	let (stream, block) =
		client.request_stream(initiator.signer(), &request).await.expect("request_stream");
	let mut events = Box::pin(client.stream_events(stream, block));

	assert!(matches!(next(&mut events).await, StreamEvent::EpochRequested { epoch: 0, .. }));
	match next(&mut events).await {
		StreamEvent::EpochReady { epoch: 0, holders, commitments, record_hashes, .. } => {
			assert_eq!(holders[0], initiator.signer().account_id());
			assert_eq!((commitments.len(), record_hashes.len()), (2, 3));
		},
		other => panic!("expected epoch 0 ready, got {other:?}"),
	}

	client.rotate(provider.signer(), stream).await.expect("rotate");
	assert!(matches!(next(&mut events).await, StreamEvent::EpochRequested { epoch: 1, .. }));
	assert!(matches!(next(&mut events).await, StreamEvent::EpochReady { epoch: 1, .. }));

	client.revoke(initiator.signer(), stream, "done").await.expect("revoke");
	assert!(matches!(next(&mut events).await, StreamEvent::Revoked { by: EndedBy::Initiator, .. }));
	assert!(events.next().await.is_none(), "the event stream ends with the stream");

	// A revoked stream cannot be rotated: the chain's refusal comes back typed.
	match client.rotate(initiator.signer(), stream).await {
		Err(Error::DispatchFailed { reason }) => {
			assert!(reason.starts_with("Keyorch("), "{reason}")
		},
		other => panic!("expected a dispatch error, got {other:?}"),
	}
}
