//! Secure streams over real loopback transports: long transfers with cuts, rotation, a
//! man in the middle, restarts, revocation and datagrams. Everything runs on 127.0.0.1 with
//! bounded timeouts.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use keyorch_client::secure::{
	EndReason, Incoming, LinkState, Role, SecureConfig, SecureDatagram, SecureReceiver,
	SecureSender, SecureStream, SecureStreamError, StreamControl, Transport, WsTransport,
	TLS_EXPORTER_LABEL,
};
use keyorch_primitives::frame::{FrameHeader, HEADER_LEN};
use keyorch_primitives::{combine, deal, DealContext, EncryptionSecret, StreamKeys, StreamSecret};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};
use tokio::time::timeout;

const STREAM: [u8; 32] = [0x5a; 32];
#[path = "../examples/fixtures/tls.rs"]
mod fixtures;

const MIB: usize = 1024 * 1024;
const HELLO_LEN: usize = 90;

type BoxTransport = Box<dyn Transport>;

/// The secret of `epoch` as the initiator or provider assembles it, built afresh each call.
fn secret_with_seed(epoch: u32, seed: u8) -> StreamSecret {
	let secrets: Vec<_> =
		[[1u8; 32], [2; 32], [3; 32]].into_iter().map(EncryptionSecret::from_bytes).collect();
	let public: Vec<_> = secrets.iter().map(EncryptionSecret::public_key).collect();
	let context = DealContext { stream_id: STREAM, epoch };
	let dealing = deal(&[seed.wrapping_add(epoch as u8); 32], &context, 2, &public).unwrap();
	let shares: Vec<_> = (0..2)
		.map(|i| dealing.records[i].open(&secrets[i], &context, i as u8 + 1).unwrap())
		.collect();
	combine(&shares, &dealing.commitments).unwrap()
}

/// The keys of `epoch` as the initiator or provider assembles them, built afresh each call.
fn keys_with_seed(epoch: u32, seed: u8) -> StreamKeys {
	secret_with_seed(epoch, seed).derive_keys(None)
}

fn keys(epoch: u32) -> StreamKeys {
	keys_with_seed(epoch, 0x40)
}

/// Bounds every test step.
async fn within<T>(seconds: u64, what: &str, future: impl Future<Output = T>) -> T {
	timeout(Duration::from_secs(seconds), future)
		.await
		.unwrap_or_else(|_| panic!("{what} did not finish within {seconds} s"))
}

/// The three transports the streams run over.
#[derive(Clone, Copy, Debug)]
enum Kind {
	Tcp,
	Unix,
	WebSocket,
}

struct Listeners {
	tcp: TcpListener,
	unix: UnixListener,
	_dir: tempfile::TempDir,
}

impl Listeners {
	async fn new() -> Self {
		let dir = tempfile::tempdir().unwrap();
		Self {
			tcp: TcpListener::bind("127.0.0.1:0").await.unwrap(),
			unix: UnixListener::bind(dir.path().join("stream.sock")).unwrap(),
			_dir: dir,
		}
	}

	/// A fresh connection of `kind`: (initiator's end, provider's end).
	async fn link(&self, kind: Kind) -> (BoxTransport, BoxTransport) {
		let tcp = self.tcp.local_addr().unwrap();
		let unix = self.unix.local_addr().unwrap();
		let unix = unix.as_pathname().unwrap();
		match kind {
			Kind::Tcp => {
				let (a, b) = tokio::join!(TcpStream::connect(tcp), self.tcp.accept());
				(Box::new(a.unwrap()), Box::new(b.unwrap().0))
			},
			Kind::Unix => {
				let (a, b) = tokio::join!(UnixStream::connect(unix), self.unix.accept());
				(Box::new(a.unwrap()), Box::new(b.unwrap().0))
			},
			Kind::WebSocket => {
				let client = async {
					let socket = TcpStream::connect(tcp).await.unwrap();
					tokio_tungstenite::client_async("ws://127.0.0.1/stream", socket).await
				};
				let server = async {
					tokio_tungstenite::accept_async(self.tcp.accept().await.unwrap().0).await
				};
				let (a, b) = tokio::join!(client, server);
				(Box::new(WsTransport::new(a.unwrap().0)), Box::new(WsTransport::new(b.unwrap())))
			},
		}
	}
}

/// A transport that breaks after writing `budget` bytes (possibly inside a frame).
struct Cut<T> {
	inner: T,
	budget: usize,
}

impl<T: AsyncRead + Unpin> AsyncRead for Cut<T> {
	fn poll_read(
		mut self: Pin<&mut Self>,
		cx: &mut Context<'_>,
		buf: &mut ReadBuf<'_>,
	) -> Poll<io::Result<()>> {
		Pin::new(&mut self.inner).poll_read(cx, buf)
	}
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Cut<T> {
	fn poll_write(
		mut self: Pin<&mut Self>,
		cx: &mut Context<'_>,
		buf: &[u8],
	) -> Poll<io::Result<usize>> {
		if self.budget == 0 {
			return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
		}
		let len = buf.len().min(self.budget);
		let written = std::task::ready!(Pin::new(&mut self.inner).poll_write(cx, &buf[..len]))?;
		self.budget -= written;
		Poll::Ready(Ok(written))
	}

	fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
		Pin::new(&mut self.inner).poll_flush(cx)
	}

	fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
		Pin::new(&mut self.inner).poll_shutdown(cx)
	}
}

/// Opens a new session over `link`.
async fn open(
	(a, b): (BoxTransport, BoxTransport),
	initiator_keys: StreamKeys,
	provider_keys: StreamKeys,
) -> (SecureStream, SecureStream) {
	let provider = async {
		let incoming = Incoming::read(b, Duration::from_secs(5)).await?;
		assert!(!incoming.is_resume());
		SecureStream::accept(incoming, provider_keys, SecureConfig::default()).await
	};
	let initiator = SecureStream::connect(a, initiator_keys, SecureConfig::default());
	let (initiator, provider) =
		within(10, "opening a session", async { tokio::join!(initiator, provider) }).await;
	let (initiator, provider) = (initiator.unwrap(), provider.unwrap());
	assert_eq!(initiator.control().session_id(), provider.control().session_id());
	(initiator, provider)
}

/// Resumes both sides over new links from `next_link` whenever both sides have noticed that
/// they lost their transport, until `done` resolves. Returns the number of resumes.
async fn keep_resuming<L, F>(
	initiator: StreamControl,
	provider: StreamControl,
	mut next_link: L,
	done: impl Future<Output = ()>,
) -> usize
where
	L: FnMut(usize) -> F,
	F: Future<Output = (BoxTransport, BoxTransport)>,
{
	let mut resumes = 0;
	tokio::pin!(done);
	loop {
		tokio::select! {
			() = &mut done => return resumes,
			_ = async { tokio::join!(initiator.disconnected(), provider.disconnected()) } => {},
		}
		for state in [initiator.state(), provider.state()] {
			assert!(!matches!(state, LinkState::Terminated(_)), "{state:?}");
		}
		let (a, b) = next_link(resumes).await;
		let (i, p) =
			within(10, "a resume", async { tokio::join!(initiator.resume(a), provider.resume(b)) })
				.await;
		if i.is_ok() && p.is_ok() {
			resumes += 1;
		}
	}
}

/// Pseudo-random message material: messages are slices of one block.
fn material() -> Vec<u8> {
	let mut block = vec![0u8; 2 * MIB];
	StdRng::seed_from_u64(7).fill(&mut block[..]);
	block
}

/// Sends `total` bytes in messages of random sizes, installing epoch `e` once `rotate[e-1]`
/// bytes were sent; finishes; returns the hash of what was sent.
async fn send_all(mut sender: SecureSender, total: usize, rotate: &[usize]) -> [u8; 32] {
	let block = material();
	let mut rng = StdRng::seed_from_u64(11);
	let (mut sent, mut hash, mut epoch) = (0, Sha256::new(), 0);
	while sent < total {
		let len = rng.gen_range(1..=256 * 1024).min(total - sent);
		let start = rng.gen_range(0..block.len() - len);
		let message = &block[start..start + len];
		sender.send(message).await.unwrap();
		hash.update(message);
		sent += len;
		if rotate.get(epoch).is_some_and(|at| sent >= *at) {
			epoch += 1;
			sender.control().install_epoch(keys(epoch as u32)).await.unwrap();
		}
	}
	sender.finish().await.unwrap();
	hash.finalize().into()
}

/// Receives until the peer finishes, installing epoch `e` once `rotate[e-1]` bytes came in;
/// returns the hash and the byte count.
async fn receive_all(mut receiver: SecureReceiver, rotate: &[usize]) -> ([u8; 32], usize) {
	let (mut received, mut hash, mut epoch) = (0, Sha256::new(), 0);
	while let Some(message) = receiver.recv().await.unwrap() {
		hash.update(&message);
		received += message.len();
		if rotate.get(epoch).is_some_and(|at| received >= *at) {
			epoch += 1;
			receiver.control().install_epoch(keys(epoch as u32)).await.unwrap();
		}
	}
	(hash.finalize().into(), received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_64_mib_survives_cuts_on_tcp_unix_and_websocket_and_rotates_three_times() {
	const TOTAL: usize = 64 * MIB;
	const CUTS: usize = 7;
	let listeners = Listeners::new().await;
	let kinds = [Kind::Tcp, Kind::Unix, Kind::WebSocket];
	let mut rng = StdRng::seed_from_u64(3);
	let mut budgets: Vec<usize> = (0..CUTS).map(|_| rng.gen_range(256 * 1024..8 * MIB)).collect();
	let (a, b) = listeners.link(Kind::Tcp).await;
	let first: BoxTransport = Box::new(Cut { inner: a, budget: budgets.remove(0) });
	let (initiator, provider) = open((first, b), keys(0), keys(0)).await;
	let (initiator_control, provider_control) =
		(initiator.control().clone(), provider.control().clone());
	let (sender, _) = initiator.split();
	let (_, receiver) = provider.split();

	let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
	let resumer = keep_resuming(
		initiator_control.clone(),
		provider_control.clone(),
		|resume| {
			let listeners = &listeners;
			let budget = budgets.get(resume).copied().unwrap_or(usize::MAX);
			async move {
				let (a, b) = listeners.link(kinds[(resume + 1) % kinds.len()]).await;
				(Box::new(Cut { inner: a, budget }) as BoxTransport, b)
			}
		},
		async {
			let _ = done_rx.await;
		},
	);
	let transfer = async {
		let result = tokio::join!(
			send_all(sender, TOTAL, &[16 * MIB, 32 * MIB, 48 * MIB]),
			receive_all(receiver, &[8 * MIB, 40 * MIB, 50 * MIB]),
		);
		let _ = done_tx.send(());
		result
	};
	let ((sent_hash, (received_hash, received)), resumes) =
		within(300, "the 64 MiB transfer", async { tokio::join!(transfer, resumer) }).await;

	assert_eq!(received, TOTAL);
	assert_eq!(sent_hash, received_hash);
	assert!(resumes >= 5, "only {resumes} resumes");
	let (i, p) = (initiator_control.counters(), provider_control.counters());
	assert!(i.resumes >= 5 && p.resumes >= 5, "{i:?} {p:?}");
	assert!(i.frames_resent > 0, "{i:?}");
	assert_eq!(p.forged + p.out_of_order + p.malformed, 0, "{p:?}");
	let (i, p) = (initiator_control.usage(), provider_control.usage());
	assert_eq!((i.send_epoch, i.receive_epoch, p.send_epoch, p.receive_epoch), (3, 3, 3, 3));
	assert_eq!(i.bytes_sent, TOTAL as u64);
	assert_eq!(p.bytes_received, TOTAL as u64);
	assert!(p.bytes_received_in_epoch > 0 && p.bytes_received_in_epoch < TOTAL as u64 / 3);
}

/// What the man in the middle does to the initiator's frames on one connection.
#[derive(Clone, Copy, Debug)]
enum Attack {
	/// Injects a frame with a flipped ciphertext bit, one with another session's header, and a
	/// replay of an earlier frame, which the provider skips; later closes between frames.
	ForgeAndReplay,
	/// Swaps two frames: the provider drops the transport.
	Reorder,
	/// Sends half a frame and closes.
	Truncate,
	/// Relays faithfully.
	None,
}

/// Relays bytes between `initiator` and `provider`, attacking the initiator's frames.
async fn man_in_the_middle(initiator: TcpStream, provider: TcpStream, attack: Attack) {
	let (mut from_initiator, mut to_initiator) = initiator.into_split();
	let (mut from_provider, mut to_provider) = provider.into_split();
	let backward = tokio::io::copy(&mut from_provider, &mut to_initiator);
	let forward = async move {
		let mut hello = [0u8; HELLO_LEN];
		from_initiator.read_exact(&mut hello).await?;
		to_provider.write_all(&hello).await?;
		let mut seen: Vec<Vec<u8>> = Vec::new();
		let mut held: Option<Vec<u8>> = None;
		loop {
			let mut header = [0u8; HEADER_LEN];
			from_initiator.read_exact(&mut header).await?;
			let len = FrameHeader::parse(&header).unwrap().frame_len();
			let mut frame = header.to_vec();
			frame.resize(len, 0);
			from_initiator.read_exact(&mut frame[HEADER_LEN..]).await?;
			let index = seen.len();
			seen.push(frame.clone());
			match attack {
				Attack::ForgeAndReplay if index == 20 => {
					let mut forged = frame.clone();
					forged[HEADER_LEN + 3] ^= 1;
					to_provider.write_all(&forged).await?;
					let mut other_session = frame.clone();
					other_session[2] ^= 1;
					to_provider.write_all(&other_session).await?;
					to_provider.write_all(&frame).await?;
					to_provider.write_all(&seen[10]).await?;
				},
				Attack::ForgeAndReplay if index == 40 => return Ok(()),
				Attack::Reorder if index == 30 => held = Some(frame),
				Attack::Reorder if index == 31 => {
					to_provider.write_all(&frame).await?;
					to_provider.write_all(&held.take().unwrap()).await?;
				},
				Attack::Truncate if index == 15 => {
					to_provider.write_all(&frame[..len / 2]).await?;
					// Closes this direction and waits for the provider to close: closing both
					// at once could reset the connection before the half frame is read.
					to_provider.shutdown().await?;
					std::future::pending::<()>().await;
				},
				_ => to_provider.write_all(&frame).await?,
			}
		}
	};
	// Either direction ending (or failing) ends the connection.
	tokio::select! {
		_ = backward => {},
		_ = async { let _: io::Result<()> = forward.await; } => {},
	}
}

/// A TCP connection through a man in the middle: (initiator's end, provider's end).
async fn attacked_link(listener: &TcpListener, attack: Attack) -> (BoxTransport, BoxTransport) {
	let addr = listener.local_addr().unwrap();
	let (a, relay_a) = tokio::join!(TcpStream::connect(addr), listener.accept());
	let (relay_b, b) = tokio::join!(TcpStream::connect(addr), listener.accept());
	tokio::spawn(man_in_the_middle(relay_a.unwrap().0, relay_b.unwrap(), attack));
	(Box::new(a.unwrap()), Box::new(b.unwrap().0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_man_in_the_middle_is_counted_and_the_stream_recovers() {
	const TOTAL: usize = 16 * MIB;
	let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
	let attacks = [Attack::Reorder, Attack::Truncate, Attack::None];
	let link = attacked_link(&listener, Attack::ForgeAndReplay).await;
	let (initiator, provider) = open(link, keys(0), keys(0)).await;
	let (initiator_control, provider_control) =
		(initiator.control().clone(), provider.control().clone());
	let (sender, _) = initiator.split();
	let (_, receiver) = provider.split();
	let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
	let resumer = keep_resuming(
		initiator_control.clone(),
		provider_control.clone(),
		|resume| attacked_link(&listener, attacks[resume.min(attacks.len() - 1)]),
		async {
			let _ = done_rx.await;
		},
	);
	let transfer = async {
		let result = tokio::join!(send_all(sender, TOTAL, &[]), receive_all(receiver, &[]));
		let _ = done_tx.send(());
		result
	};
	let ((sent_hash, (received_hash, received)), _) =
		within(120, "the attacked transfer", async { tokio::join!(transfer, resumer) }).await;
	assert_eq!(received, TOTAL);
	assert_eq!(sent_hash, received_hash);
	let counters = provider_control.counters();
	assert!(counters.forged >= 1, "{counters:?}");
	assert!(counters.wrong_context >= 1, "{counters:?}");
	assert!(counters.replayed >= 1, "{counters:?}");
	assert!(counters.out_of_order >= 1, "{counters:?}");
	assert!(counters.truncated >= 1, "{counters:?}");
	assert!(counters.resumes >= 3, "{counters:?}");
}

/// Sends `total` bytes from `initiator` to `provider` and checks they arrive.
async fn transfer(initiator: SecureStream, provider: SecureStream, total: usize) {
	let (sender, _) = initiator.split();
	let (_, receiver) = provider.split();
	let (sent, (received, len)) = within(60, "a transfer", async {
		tokio::join!(send_all(sender, total, &[]), receive_all(receiver, &[]))
	})
	.await;
	assert_eq!((sent, len), (received, total));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_provider_makes_the_initiator_open_a_new_session() {
	let listeners = Listeners::new().await;
	let (a, b) = tokio::join!(
		TcpStream::connect(listeners.tcp.local_addr().unwrap()),
		listeners.tcp.accept()
	);
	let b = b.unwrap().0.into_std().unwrap();
	// A second handle on the provider's socket, to kill the connection as a crash would.
	let crash = b.try_clone().unwrap();
	let (mut initiator, mut provider) =
		open((Box::new(a.unwrap()), Box::new(TcpStream::from_std(b).unwrap())), keys(0), keys(0))
			.await;
	let old_session = initiator.control().session_id();
	let message = vec![7u8; MIB];
	within(10, "sending before the restart", async {
		initiator.send(&message).await.unwrap();
		initiator.send(&message).await.unwrap();
		assert_eq!(provider.recv().await.unwrap().unwrap().len(), MIB);
	})
	.await;
	// The provider crashes and restarts: its connection dies and all its state is gone (with
	// no chance to say goodbye: dropping a live stream would end it as abandoned).
	crash.shutdown(std::net::Shutdown::Both).unwrap();
	within(10, "the provider noticing", provider.control().disconnected()).await;
	drop(provider);
	let state = within(10, "noticing the cut", initiator.control().disconnected()).await;
	assert_eq!(state, LinkState::Disconnected);

	// The initiator tries to resume; the restarted provider, with keys assembled again, says it
	// does not know the session.
	let (a, b) = listeners.link(Kind::Unix).await;
	let restarted = async {
		let incoming = Incoming::read(b, Duration::from_secs(5)).await.unwrap();
		assert!(incoming.is_resume());
		assert_eq!(incoming.session_id(), old_session);
		SecureStream::accept(incoming, keys(0), SecureConfig::default()).await
	};
	let (resumed, accepted) = within(10, "the refused resume", async {
		tokio::join!(initiator.control().resume(a), restarted)
	})
	.await;
	assert_eq!(resumed, Err(SecureStreamError::SessionLost));
	assert_eq!(accepted.unwrap_err(), SecureStreamError::UnknownSession);
	assert_eq!(initiator.send(b"more").await, Err(SecureStreamError::SessionLost));
	assert_eq!(
		initiator.recv().await.map(|m| m.map(|m| m.len())),
		Err(SecureStreamError::SessionLost)
	);

	// A new session with new keys objects of the same epoch completes.
	let (initiator, provider) = open(listeners.link(Kind::WebSocket).await, keys(0), keys(0)).await;
	assert_ne!(initiator.control().session_id(), old_session);
	transfer(initiator, provider, 4 * MIB).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_initiator_opens_a_new_session_the_provider_routes() {
	let listeners = Listeners::new().await;
	let (initiator, old_provider) = open(listeners.link(Kind::Tcp).await, keys(0), keys(0)).await;
	let old_session = old_provider.control().session_id();
	drop(initiator);
	within(10, "noticing the cut", old_provider.control().disconnected()).await;

	// The restarted initiator connects a new session. Given to the old stream, its hello is
	// refused...
	let (a, b) = listeners.link(Kind::Tcp).await;
	let (refused, _) = within(10, "the misrouted hello", async {
		tokio::join!(
			async {
				let incoming = Incoming::read(b, Duration::from_secs(5)).await.unwrap();
				assert!(!incoming.is_resume());
				assert_ne!(incoming.session_id(), old_session);
				old_provider.control().resume_incoming(incoming).await
			},
			SecureStream::connect(a, keys(0), SecureConfig::default()),
		)
	})
	.await;
	assert!(matches!(refused, Err(SecureStreamError::SessionMismatch { .. })), "{refused:?}");

	// ...so the provider's listener, seeing a new session id, accepts it as a new stream.
	let (initiator, provider) = open(listeners.link(Kind::Unix).await, keys(0), keys(0)).await;
	assert_ne!(provider.control().session_id(), old_session);
	old_provider.control().end(EndReason::Closed).await;
	transfer(initiator, provider, 4 * MIB).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_mid_transfer_ends_both_sides_with_the_revocation_error() {
	let listeners = Listeners::new().await;
	let (initiator, provider) = open(listeners.link(Kind::WebSocket).await, keys(0), keys(0)).await;
	let initiator_control = initiator.control().clone();
	let (mut sender, mut initiator_receiver) = initiator.split();
	let (mut provider_sender, mut receiver) = provider.split();
	let sending = tokio::spawn(async move {
		let message = vec![1u8; 64 * 1024];
		loop {
			if let Err(error) = sender.send(&message).await {
				return error;
			}
		}
	});
	within(10, "the revocation", async {
		for _ in 0..20 {
			receiver.recv().await.unwrap().unwrap();
		}
		receiver.control().end(EndReason::Revoked).await;
	})
	.await;
	let revoked = SecureStreamError::Ended(EndReason::Revoked);
	assert_eq!(receiver.recv().await.map(|m| m.map(|m| m.len())), Err(revoked.clone()));
	assert_eq!(provider_sender.send(b"late").await, Err(revoked.clone()));
	assert_eq!(within(10, "the peer's send failing", sending).await.unwrap(), revoked);
	let received = within(10, "the peer's recv", initiator_receiver.recv()).await;
	assert_eq!(received.map(|m| m.map(|m| m.len())), Err(revoked.clone()));
	assert_eq!(initiator_control.state(), LinkState::Terminated(revoked.clone()));
	let (transport, _) = tokio::io::duplex(64);
	assert_eq!(initiator_control.resume(transport).await, Err(revoked));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_receiving_half_does_not_stall_the_sending_half() {
	const TOTAL: usize = 12 * MIB;
	let listeners = Listeners::new().await;
	let (initiator, provider) = open(listeners.link(Kind::Unix).await, keys(0), keys(0)).await;
	// The initiator only sends; what the provider sends it is never read.
	let (initiator_sender, _) = initiator.split();
	// The initiator keeps the stream (its control) after its sender is done and dropped.
	let initiator_control = initiator_sender.control().clone();
	let (mut provider_sender, provider_receiver) = provider.split();
	let unread = async {
		let message = vec![3u8; 256 * 1024];
		for _ in 0..TOTAL / message.len() {
			provider_sender.send(&message).await.unwrap();
		}
		provider_sender.finish().await.unwrap();
	};
	let ((sent, (received, len)), ()) = within(60, "both directions", async {
		tokio::join!(
			async {
				tokio::join!(
					send_all(initiator_sender, TOTAL, &[]),
					receive_all(provider_receiver, &[])
				)
			},
			unread,
		)
	})
	.await;
	assert_eq!((sent, len), (received, TOTAL));
	assert_eq!(initiator_control.state(), LinkState::Connected);
}

/// A side that drops every handle ends the stream for its peer: the peer still reads what was
/// sent before, then learns that the stream was abandoned, and its sends fail instead of
/// waiting for acks that never come.
#[tokio::test]
async fn dropping_every_handle_tells_the_peer_that_the_stream_was_abandoned() {
	let listeners = Listeners::new().await;
	let (initiator, provider) = open(listeners.link(Kind::Tcp).await, keys(0), keys(0)).await;
	let (mut initiator_sender, initiator_receiver) = initiator.split();
	initiator_sender.send(b"last words").await.unwrap();
	drop((initiator_sender, initiator_receiver));
	let (mut provider_sender, mut provider_receiver) = provider.split();
	let abandoned = SecureStreamError::Ended(EndReason::Abandoned);
	let last = within(10, "the last message", provider_receiver.recv()).await.unwrap();
	assert_eq!(last.as_deref(), Some(&b"last words"[..]));
	assert_eq!(within(10, "the end", provider_receiver.recv()).await, Err(abandoned.clone()));
	assert_eq!(provider_sender.control().state(), LinkState::Terminated(abandoned.clone()));
	assert_eq!(provider_sender.send(b"anyone there?").await, Err(abandoned));
}

#[tokio::test]
async fn a_peer_without_the_keys_fails_the_hello() {
	let listeners = Listeners::new().await;
	let (a, b) = listeners.link(Kind::Tcp).await;
	let provider = async {
		let incoming = Incoming::read(b, Duration::from_secs(5)).await?;
		SecureStream::accept(incoming, keys(0), SecureConfig::default()).await
	};
	let wrong = keys_with_seed(0, 0x99);
	let (initiator, provider) = within(10, "the hello", async {
		tokio::join!(SecureStream::connect(a, wrong, SecureConfig::default()), provider)
	})
	.await;
	assert_eq!(initiator.unwrap_err(), SecureStreamError::AuthenticationFailed);
	assert!(provider.is_err());
}

/// 32 bytes of keying material of a TLS connection, under keyorch's channel-binding label.
fn exporter<D>(connection: &rustls::ConnectionCommon<D>) -> [u8; 32] {
	connection
		.export_keying_material([0u8; 32], TLS_EXPORTER_LABEL, None)
		.expect("TLS 1.3 exports keying material")
}

/// Keys bound to one TLS session work over it; keys bound to another (or to none) fail the
/// hello: holding the stream's secret is not enough without the TLS session.
#[tokio::test]
async fn keys_bound_to_a_tls_session_work_over_it_and_nowhere_else() {
	use rustls::pki_types::ServerName;
	let (connector, _, acceptor) = fixtures::tls();
	let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
	let tls_pair = || async {
		let (a, b) =
			tokio::join!(TcpStream::connect(listener.local_addr().unwrap()), listener.accept());
		let name = ServerName::try_from("localhost").unwrap();
		let (client, server) =
			tokio::join!(connector.connect(name, a.unwrap()), acceptor.accept(b.unwrap().0));
		(client.unwrap(), server.unwrap())
	};
	let secret = secret_with_seed(0, 0x40);
	let handshake = |initiator_keys: StreamKeys, provider_keys: StreamKeys, client, server| async move {
		let provider = async move {
			let incoming = Incoming::read(server, Duration::from_secs(5)).await?;
			SecureStream::accept(incoming, provider_keys, SecureConfig::default()).await
		};
		within(10, "the hello", async move {
			tokio::join!(
				SecureStream::connect(client, initiator_keys, SecureConfig::default()),
				provider
			)
		})
		.await
	};

	let (client, server) = tls_pair().await;
	let (client_binding, server_binding) =
		(exporter(client.get_ref().1), exporter(server.get_ref().1));
	assert_eq!(client_binding, server_binding, "both ends export the same value");
	let bound = |binding: &[u8; 32]| secret.derive_keys(Some(binding));
	let (initiator, provider) =
		handshake(bound(&client_binding), bound(&server_binding), client, server).await;
	let (mut initiator, mut provider) = (initiator.unwrap(), provider.unwrap());
	initiator.send(b"bound").await.unwrap();
	let received = within(10, "a message", provider.recv()).await.unwrap().unwrap();
	assert_eq!(&received[..], b"bound");

	// Another TLS session has another exporter value; the holders' unbound keys are not enough.
	let (client, server) = tls_pair().await;
	assert_ne!(exporter(client.get_ref().1), client_binding);
	let (initiator, _) =
		handshake(secret.derive_keys(None), bound(&exporter(server.get_ref().1)), client, server)
			.await;
	assert_eq!(initiator.unwrap_err(), SecureStreamError::AuthenticationFailed);
}

/// Receives datagrams until none comes for 500 ms.
async fn drain(socket: &mut SecureDatagram) -> Vec<Vec<u8>> {
	let mut got = Vec::new();
	while let Ok(message) = timeout(Duration::from_millis(500), socket.recv()).await {
		got.push(message.unwrap());
	}
	got
}

/// An initiator's and a provider's datagram sockets of one session (epoch 0), both connected
/// to a relay socket; the provider's address, for the relay to send to.
async fn datagrams_through_a_relay(
	grace: Duration,
) -> (SecureDatagram, UdpSocket, std::net::SocketAddr, SecureDatagram) {
	let bind = || UdpSocket::bind("127.0.0.1:0");
	let (a, relay, b) = (bind().await.unwrap(), bind().await.unwrap(), bind().await.unwrap());
	a.connect(relay.local_addr().unwrap()).await.unwrap();
	b.connect(relay.local_addr().unwrap()).await.unwrap();
	let to_b = b.local_addr().unwrap();
	let session = rand::random();
	let sender = SecureDatagram::new(a, Role::Initiator, session, keys(0), grace);
	let receiver = SecureDatagram::new(b, Role::Provider, session, keys(0), grace);
	(sender, relay, to_b, receiver)
}

#[tokio::test]
async fn datagrams_tolerate_reordering_and_reject_replays_forgeries_and_retired_epochs() {
	const GRACE: Duration = Duration::from_millis(300);
	let (mut sender, relay, to_b, mut receiver) = datagrams_through_a_relay(GRACE).await;
	let mut captured = Vec::new();
	let mut buf = vec![0u8; 65536];
	for i in 0..102u32 {
		sender.send(&i.to_be_bytes()).await.unwrap();
		let (len, _) = within(5, "the relay", relay.recv_from(&mut buf)).await.unwrap();
		captured.push(buf[..len].to_vec());
	}
	// Two epoch-0 datagrams are held back for after the rotation.
	let late = captured.split_off(100);
	// Reversed order, every tenth twice, five forgeries and one with a changed counter (the
	// last ones of held-back datagrams, whose counters are fresh).
	for (i, datagram) in captured.iter().enumerate().rev() {
		relay.send_to(datagram, to_b).await.unwrap();
		if i % 10 == 0 {
			relay.send_to(datagram, to_b).await.unwrap();
		}
	}
	for bit in 0..5 {
		let mut forged = late[1].clone();
		*forged.last_mut().unwrap() ^= 1 << bit;
		relay.send_to(&forged, to_b).await.unwrap();
	}
	let mut moved = late[0].clone();
	// The counter, after the 16-byte sender id.
	moved[16] ^= 1;
	relay.send_to(&moved, to_b).await.unwrap();

	let mut got: Vec<u32> = drain(&mut receiver)
		.await
		.into_iter()
		.map(|m| u32::from_be_bytes(m.try_into().unwrap()))
		.collect();
	got.sort_unstable();
	assert_eq!(got, (0..100).collect::<Vec<_>>());
	let counters = receiver.counters();
	assert_eq!(counters.received, 100);
	assert_eq!(counters.replayed, 10);
	assert_eq!(counters.forged, 5);
	assert_eq!(counters.wrong_context, 1);

	// Rotation: the previous epoch is accepted during the grace window only.
	receiver.install_epoch(keys(1)).unwrap();
	sender.install_epoch(keys(1)).unwrap();
	assert!(matches!(
		sender.install_epoch(keys(1)),
		Err(SecureStreamError::StaleEpoch { epoch: 1, newest: 1 })
	));
	sender.send(b"new epoch").await.unwrap();
	let (len, _) = relay.recv_from(&mut buf).await.unwrap();
	relay.send_to(&buf[..len], to_b).await.unwrap();
	relay.send_to(&late[0], to_b).await.unwrap();
	assert_eq!(drain(&mut receiver).await, [b"new epoch".to_vec(), 100u32.to_be_bytes().to_vec()]);
	tokio::time::sleep(GRACE).await;
	relay.send_to(&late[1], to_b).await.unwrap();
	assert!(drain(&mut receiver).await.is_empty());
	assert_eq!(receiver.counters().wrong_context, 2);
}

/// Random and mutated hellos, each followed by random bytes where the initiator's proof
/// belongs, as a fuzzer makes them: the provider refuses every one with an error, in time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_and_mutated_hellos_are_refused() {
	const MUTANTS: usize = 2_000;
	let provider_keys = std::sync::Arc::new(keys(0));
	let (initiator, mut provider) = tokio::io::duplex(4096);
	let connecting =
		tokio::spawn(SecureStream::connect(initiator, keys(0), SecureConfig::default()));
	let mut genuine = [0u8; HELLO_LEN];
	within(5, "the genuine hello", provider.read_exact(&mut genuine)).await.unwrap();
	connecting.abort();

	let config = SecureConfig { hello_timeout: Duration::from_secs(2), ..SecureConfig::default() };
	let mut rng = StdRng::seed_from_u64(0x4e11);
	for i in 0..MUTANTS {
		let mut hello = genuine;
		if i % 4 == 0 {
			rng.fill(&mut hello[..]);
		} else {
			for _ in 0..rng.gen_range(1..4) {
				let at = rng.gen_range(0..HELLO_LEN);
				hello[at] ^= rng.gen_range(1..=u8::MAX);
			}
		}
		let proof: Vec<u8> = (0..rng.gen_range(0..256)).map(|_| rng.gen()).collect();
		let (mut attacker, provider) = tokio::io::duplex(4096);
		attacker.write_all(&hello).await.unwrap();
		attacker.write_all(&proof).await.unwrap();
		attacker.shutdown().await.unwrap();
		let accepted = within(5, "a refusal", async {
			let incoming = Incoming::read(provider, config.hello_timeout).await?;
			SecureStream::accept(incoming, provider_keys.clone(), config.clone()).await
		})
		.await;
		assert!(accepted.is_err(), "mutant {i} was accepted");
	}
}

/// Random and mutated datagrams, as a fuzzer makes them, through a real socket: none is
/// accepted, they are counted as refused, and the genuine datagram still gets through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_and_mutated_datagrams_are_refused_and_the_genuine_one_gets_through() {
	const GRACE: Duration = Duration::from_millis(300);
	const MUTANTS: usize = 20_000;
	let (mut sender, relay, to_b, mut receiver) = datagrams_through_a_relay(GRACE).await;
	sender.send(b"genuine").await.unwrap();
	let mut buf = vec![0u8; 65536];
	let (len, _) = within(5, "the relay", relay.recv_from(&mut buf)).await.unwrap();
	let genuine = buf[..len].to_vec();

	let receiving = tokio::spawn(async move {
		let got = drain(&mut receiver).await;
		(got, receiver.counters())
	});
	let mut rng = StdRng::seed_from_u64(0x5eed);
	for i in 0..MUTANTS {
		let datagram: Vec<u8> = if i % 4 == 0 {
			(0..rng.gen_range(0..genuine.len() * 2)).map(|_| rng.gen()).collect()
		} else {
			let mut mutant = genuine.clone();
			for _ in 0..rng.gen_range(1..4) {
				let at = rng.gen_range(0..mutant.len());
				mutant[at] ^= rng.gen_range(1..=u8::MAX);
			}
			if i % 4 == 3 {
				mutant.truncate(rng.gen_range(0..mutant.len()));
			}
			mutant
		};
		if datagram != genuine {
			relay.send_to(&datagram, to_b).await.unwrap();
			tokio::task::yield_now().await;
		}
	}
	relay.send_to(&genuine, to_b).await.unwrap();
	let (got, counters) = within(60, "the receiver", receiving).await.unwrap();
	assert_eq!(got, [b"genuine".to_vec()], "{counters:?}");
	let refused = counters.forged + counters.replayed + counters.wrong_context + counters.malformed;
	// Loopback may drop some under the flood; most must have arrived and been refused.
	assert!(refused > MUTANTS as u64 / 2, "{counters:?}");
}

#[tokio::test]
async fn datagram_sockets_that_reuse_a_session_id_never_share_a_frame_key() {
	const GRACE: Duration = Duration::from_millis(300);
	const PREFIX: usize = 16 + 8;
	let bind = || UdpSocket::bind("127.0.0.1:0");
	let (first, second, relay, b) = (
		bind().await.unwrap(),
		bind().await.unwrap(),
		bind().await.unwrap(),
		bind().await.unwrap(),
	);
	for socket in [&first, &second, &b] {
		socket.connect(relay.local_addr().unwrap()).await.unwrap();
	}
	let to_b = b.local_addr().unwrap();
	// A side that restarted and used its session id again: its counter starts at 0 again.
	let session = rand::random();
	let mut before = SecureDatagram::new(first, Role::Initiator, session, keys(0), GRACE);
	let mut after = SecureDatagram::new(second, Role::Initiator, session, keys(0), GRACE);
	let mut receiver = SecureDatagram::new(b, Role::Provider, session, keys(0), GRACE);
	let mut captured = Vec::new();
	let mut buf = vec![0u8; 65536];
	for socket in [&mut before, &mut after] {
		socket.send(b"the same message").await.unwrap();
		let (len, _) = within(5, "the relay", relay.recv_from(&mut buf)).await.unwrap();
		captured.push(buf[..len].to_vec());
	}
	// AES-GCM under one (key, nonce) would seal the same message to the same bytes.
	let ciphertext = |datagram: &[u8]| datagram[PREFIX + HEADER_LEN..].to_vec();
	assert_ne!(ciphertext(&captured[0]), ciphertext(&captured[1]));
	assert_eq!(captured[0][16..PREFIX], captured[1][16..PREFIX], "both are counter 0");

	// The receiver keeps to the first peer socket that authenticated: the other one's
	// datagrams, or old ones replayed, do not enter its session.
	for datagram in &captured {
		relay.send_to(datagram, to_b).await.unwrap();
	}
	assert_eq!(drain(&mut receiver).await, [b"the same message".to_vec()]);
	assert_eq!(receiver.counters().wrong_context, 1);
}
