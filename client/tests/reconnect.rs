//! A `NodeClient` whose connection drops reconnects with backoff, says so to its observer, and
//! sends a read again on the new connection; it gives up after its reconnect patience. The node
//! is a real jsonrpsee server on 127.0.0.1 that is stopped and started again on the same port.

use std::{
	net::SocketAddr,
	sync::{Arc, Mutex},
	time::Duration,
};

use jsonrpsee::{
	server::{Server, ServerHandle},
	RpcModule,
};
use keyorch_client::{Error, NodeClient, Waiting};

/// A node that answers `system_health`, on `address`.
async fn node_at(address: SocketAddr) -> ServerHandle {
	let mut module = RpcModule::new(());
	module
		.register_method(
			"system_health",
			|_, _, _| serde_json::json!({ "peers": 0, "isSyncing": false, "shouldHavePeers": false }),
		)
		.unwrap();
	Server::builder().build(address).await.expect("the port is free").start(module)
}

/// A client of `address` that records what it waits for.
async fn client_of(
	address: SocketAddr,
	patience: Duration,
) -> (NodeClient, Arc<Mutex<Vec<Waiting>>>) {
	let heard = Arc::new(Mutex::new(Vec::new()));
	let log = heard.clone();
	let client = NodeClient::connect(&format!("ws://{address}"))
		.await
		.expect("the node is up")
		.with_reconnect_patience(patience)
		.on_wait(move |waiting| log.lock().unwrap().push(waiting.clone()));
	(client, heard)
}

async fn stop(node: ServerHandle) {
	node.stop().expect("running");
	node.stopped().await;
}

fn free_address() -> SocketAddr {
	std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

#[tokio::test]
async fn a_read_rides_out_a_node_restart() {
	let address = free_address();
	let node = node_at(address).await;
	let (client, heard) = client_of(address, Duration::from_secs(20)).await;
	client.health().await.expect("answered");

	stop(node).await;
	let restarted = tokio::spawn(async move {
		tokio::time::sleep(Duration::from_millis(1500)).await;
		node_at(address).await
	});
	let health = tokio::time::timeout(Duration::from_secs(15), client.health())
		.await
		.expect("answered within the patience");
	assert!(health.is_ok(), "the read is sent again on the new connection: {health:?}");
	let heard = heard.lock().unwrap().clone();
	assert!(
		matches!(heard.first(), Some(Waiting::Reconnecting { retry_in, .. }) if !retry_in.is_zero()),
		"the failed tries are told, with the pause before the next: {heard:?}"
	);
	assert!(matches!(heard.last(), Some(Waiting::Reconnected { .. })), "{heard:?}");
	// Later calls use the new connection, without reconnecting again.
	client.health().await.expect("answered");
	stop(restarted.await.unwrap()).await;
}

#[tokio::test]
async fn a_node_that_stays_down_fails_the_call_after_the_patience() {
	let address = free_address();
	let node = node_at(address).await;
	let (client, heard) = client_of(address, Duration::from_secs(2)).await;
	stop(node).await;

	let started = std::time::Instant::now();
	let failed = tokio::time::timeout(Duration::from_secs(10), client.health())
		.await
		.expect("gives up by itself");
	assert!(matches!(failed, Err(Error::Rpc { method: "system_health", .. })), "{failed:?}");
	assert!(started.elapsed() < Duration::from_secs(6), "{:?}", started.elapsed());
	let heard = heard.lock().unwrap();
	assert!(!heard.is_empty(), "the waiting was told");
	assert!(heard.iter().all(|waiting| matches!(waiting, Waiting::Reconnecting { .. })));
}
