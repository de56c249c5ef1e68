//! Loopback figures for secure streams, in one run: throughput of a `SecureStream` over TCP,
//! of plain TCP and of a rustls TLS 1.3 stream with AES-256-GCM, and the time to resume a
//! session after a cut against a full TLS handshake (and a TLS 1.3 resumption).
//!
//! `cargo bench` would rebuild the whole dependency tree in the release profile, so this is an
//! example for the dev profile (where AES-GCM, GHASH and SHA-2 are optimized anyway, see the
//! workspace's profile overrides):
//!
//! ```sh
//! source scripts/env.sh
//! SKIP_WASM_BUILD=1 cargo build --workspace --examples
//! $CARGO_TARGET_DIR/debug/examples/secure_stream_bench [MiB per throughput run, default 256]
//! ```
//!
//! The TLS certificate is a self-signed P-256 certificate for `localhost` in `fixtures/`, made
//! once with `openssl req -x509` (rcgen 0.11, which Cargo.lock has, would switch on a feature
//! of a dependency of the node's network stack and rebuild all of it).

use std::future::Future;
use std::time::{Duration, Instant};

use keyorch_client::secure::{Incoming, SecureConfig, SecureStream};
use keyorch_primitives::{combine, deal, DealContext, EncryptionSecret, StreamKeys};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

#[path = "fixtures/tls.rs"]
mod fixtures;
use fixtures::tls;

/// Bytes per write or message.
const CHUNK: usize = 64 * 1024;
/// Handshakes and resumes timed.
const ROUNDS: u32 = 200;
/// Runs of each throughput measurement; the median is reported.
const THROUGHPUT_ROUNDS: usize = 5;

/// The keys of epoch 0 of a test stream, as a holder assembles them.
fn keys() -> StreamKeys {
	let secrets: Vec<_> =
		[[1u8; 32], [2; 32], [3; 32]].into_iter().map(EncryptionSecret::from_bytes).collect();
	let public: Vec<_> = secrets.iter().map(EncryptionSecret::public_key).collect();
	let context = DealContext { stream_id: [7; 32], epoch: 0 };
	let dealing = deal(&[9; 32], &context, 2, &public).expect("a valid dealing");
	let shares: Vec<_> = (0..2)
		.map(|i| dealing.records[i].open(&secrets[i], &context, i as u8 + 1).expect("own share"))
		.collect();
	combine(&shares, &dealing.commitments).expect("two shares").derive_keys(None)
}

/// A connected TCP pair on loopback: (client's end, server's end).
async fn tcp_pair(listener: &TcpListener) -> (TcpStream, TcpStream) {
	let (client, server) =
		tokio::join!(TcpStream::connect(listener.local_addr().unwrap()), listener.accept());
	let (client, server) = (client.unwrap(), server.unwrap().0);
	client.set_nodelay(true).unwrap();
	server.set_nodelay(true).unwrap();
	(client, server)
}

/// Writes `total` bytes into `writer` and reads them from `reader`; returns the time taken.
async fn pump<W, R>(mut writer: W, mut reader: R, total: usize) -> Duration
where
	W: AsyncWrite + Unpin + Send + 'static,
	R: AsyncRead + Unpin,
{
	let start = Instant::now();
	let write = tokio::spawn(async move {
		let chunk = vec![0x5au8; CHUNK];
		for _ in 0..total / CHUNK {
			writer.write_all(&chunk).await.unwrap();
		}
		writer.flush().await.unwrap();
		writer
	});
	let mut buf = vec![0u8; CHUNK];
	let mut read = 0;
	while read < total {
		read += reader.read(&mut buf).await.unwrap();
	}
	let elapsed = start.elapsed();
	drop(write.await.unwrap());
	elapsed
}

/// A new secure session over a TCP pair, with the initiator's and the provider's keys.
async fn secure_pair(
	listener: &TcpListener,
	(initiator_keys, provider_keys): (StreamKeys, StreamKeys),
) -> (SecureStream, SecureStream) {
	let (a, b) = tcp_pair(listener).await;
	let provider = async {
		let incoming = Incoming::read(b, Duration::from_secs(5)).await?;
		SecureStream::accept(incoming, provider_keys, SecureConfig::default()).await
	};
	let initiator = SecureStream::connect(a, initiator_keys, SecureConfig::default());
	let (initiator, provider) = tokio::join!(initiator, provider);
	(initiator.unwrap(), provider.unwrap())
}

async fn secure_throughput(listener: &TcpListener, total: usize) -> Duration {
	let (initiator, provider) = secure_pair(listener, (keys(), keys())).await;
	let (mut sender, _) = initiator.split();
	let (_, mut receiver) = provider.split();
	let start = Instant::now();
	let send = tokio::spawn(async move {
		let chunk = vec![0x5au8; CHUNK];
		for _ in 0..total / CHUNK {
			sender.send(&chunk).await.unwrap();
		}
		sender.finish().await.unwrap();
	});
	let mut read = 0;
	while let Some(message) = receiver.recv().await.unwrap() {
		read += message.len();
	}
	let elapsed = start.elapsed();
	send.await.unwrap();
	assert_eq!(read, total);
	elapsed
}

/// A TLS connection over a new TCP pair. The server then sends one byte, so that the client
/// also reads the session tickets that follow the handshake (a resumption needs them).
async fn tls_pair(
	listener: &TcpListener,
	connector: &TlsConnector,
	acceptor: &TlsAcceptor,
) -> (tokio_rustls::client::TlsStream<TcpStream>, tokio_rustls::server::TlsStream<TcpStream>) {
	let (a, b) = tcp_pair(listener).await;
	let name = ServerName::try_from("localhost").unwrap();
	let (client, server) = tokio::join!(connector.connect(name, a), acceptor.accept(b));
	let (mut client, mut server) = (client.unwrap(), server.unwrap());
	server.write_all(&[1]).await.unwrap();
	server.flush().await.unwrap();
	client.read_exact(&mut [0]).await.unwrap();
	(client, server)
}

/// The mean time of `ROUNDS` runs of `round`.
async fn mean<F: Future<Output = ()>>(mut round: impl FnMut() -> F) -> Duration {
	let start = Instant::now();
	for _ in 0..ROUNDS {
		round().await;
	}
	start.elapsed() / ROUNDS
}

fn mib_per_s(total: usize, elapsed: Duration) -> f64 {
	total as f64 / (1024.0 * 1024.0) / elapsed.as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
	let mib: usize = std::env::args().nth(1).map_or(256, |arg| arg.parse().expect("MiB"));
	let total = mib * 1024 * 1024;
	let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
	let (full_tls, resuming_tls, acceptor) = tls();

	println!(
		"throughput, {mib} MiB in {} KiB messages over loopback, median of {THROUGHPUT_ROUNDS} \
		 interleaved runs:",
		CHUNK / 1024
	);
	let mut runs = [const { Vec::new() }; 3];
	for _ in 0..THROUGHPUT_ROUNDS {
		let (a, b) = tcp_pair(&listener).await;
		runs[0].push(pump(a, b, total).await);
		runs[1].push(secure_throughput(&listener, total).await);
		let (client, server) = tls_pair(&listener, &full_tls, &acceptor).await;
		runs[2].push(pump(client, server, total).await);
	}
	let [plain, secure, tls_time] = runs.map(|mut times| {
		times.sort();
		times[times.len() / 2]
	});
	let (plain_rate, tls_rate) = (mib_per_s(total, plain), mib_per_s(total, tls_time));
	for (name, elapsed) in [
		("plain TCP", plain),
		("SecureStream over TCP", secure),
		("TLS 1.3 AES-256-GCM (rustls)", tls_time),
	] {
		let rate = mib_per_s(total, elapsed);
		println!(
			"  {name:<30} {rate:>9.1} MiB/s  {:>5.2} of plain TCP  {:>5.2} of TLS",
			rate / plain_rate,
			rate / tls_rate
		);
	}

	println!("connection set-up on loopback, mean of {ROUNDS} (each with a new TCP connection):");
	let tcp = mean(|| async {
		tcp_pair(&listener).await;
	})
	.await;
	// Assembling keys (curve arithmetic) is not part of a session's set-up.
	let mut key_pairs: Vec<_> = (0..ROUNDS).map(|_| (keys(), keys())).collect();
	let new_session = mean(|| {
		let pair = key_pairs.pop().expect("one pair per round");
		let listener = &listener;
		async move {
			secure_pair(listener, pair).await;
		}
	})
	.await;
	let (initiator, provider) = secure_pair(&listener, (keys(), keys())).await;
	let resume = mean(|| async {
		let (a, b) = tcp_pair(&listener).await;
		let (i, p) = tokio::join!(initiator.control().resume(a), provider.control().resume(b));
		i.unwrap();
		p.unwrap();
	})
	.await;
	let full = mean(|| async {
		tls_pair(&listener, &full_tls, &acceptor).await;
	})
	.await;
	let resumed = mean(|| async {
		tls_pair(&listener, &resuming_tls, &acceptor).await;
	})
	.await;
	for (name, time) in [
		("TCP connect only", tcp),
		("SecureStream resume", resume),
		("SecureStream new session", new_session),
		("TLS 1.3 full handshake", full),
		("TLS 1.3 resumption (PSK)", resumed),
	] {
		let ratio = time.as_secs_f64() / resume.as_secs_f64();
		println!("  {name:<30} {:>9.1} µs  {ratio:>5.2} × resume", time.as_secs_f64() * 1e6);
	}
}
