//! A WebSocket as a byte transport.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use futures::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

/// A [`WebSocketStream`] (tokio-tungstenite, client or server side, after the handshake) as an
/// `AsyncRead + AsyncWrite` byte stream, so a [`super::SecureStream`] runs over it: every write
/// is one binary message; reads return the bytes of binary messages in order, skip pings and
/// pongs, and end at a close. Text messages are an error.
#[derive(Debug)]
pub struct WsTransport<S> {
	ws: WebSocketStream<S>,
	pending: Bytes,
}

impl<S> WsTransport<S> {
	/// Wraps a WebSocket whose handshake completed.
	pub fn new(ws: WebSocketStream<S>) -> Self {
		Self { ws, pending: Bytes::new() }
	}
}

fn to_io(error: WsError) -> io::Error {
	match error {
		WsError::Io(error) => error,
		other => io::Error::other(other),
	}
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsTransport<S> {
	fn poll_read(
		self: Pin<&mut Self>,
		cx: &mut Context<'_>,
		buf: &mut ReadBuf<'_>,
	) -> Poll<io::Result<()>> {
		let this = self.get_mut();
		while this.pending.is_empty() {
			match ready!(Pin::new(&mut this.ws).poll_next(cx)) {
				Some(Ok(Message::Binary(data))) => this.pending = data,
				None
				| Some(Ok(Message::Close(_)))
				| Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) => return Poll::Ready(Ok(())),
				Some(Ok(Message::Text(_))) => {
					return Poll::Ready(Err(io::Error::new(
						io::ErrorKind::InvalidData,
						"text message on a binary transport",
					)))
				},
				Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {},
				Some(Err(error)) => return Poll::Ready(Err(to_io(error))),
			}
		}
		let len = buf.remaining().min(this.pending.len());
		buf.put_slice(&this.pending[..len]);
		this.pending.advance(len);
		Poll::Ready(Ok(()))
	}
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsTransport<S> {
	fn poll_write(
		self: Pin<&mut Self>,
		cx: &mut Context<'_>,
		buf: &[u8],
	) -> Poll<io::Result<usize>> {
		let ws = &mut self.get_mut().ws;
		ready!(Pin::new(&mut *ws).poll_ready(cx)).map_err(to_io)?;
		Pin::new(ws).start_send(Message::Binary(Bytes::copy_from_slice(buf))).map_err(to_io)?;
		Poll::Ready(Ok(buf.len()))
	}

	fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
		Pin::new(&mut self.get_mut().ws).poll_flush(cx).map_err(to_io)
	}

	fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
		Pin::new(&mut self.get_mut().ws).poll_close(cx).map_err(to_io)
	}
}

#[cfg(test)]
mod tests {
	use tokio::io::{AsyncReadExt, AsyncWriteExt};

	use super::*;

	#[tokio::test]
	async fn bytes_cross_a_websocket_in_order() {
		let (client, server) = tokio::io::duplex(1 << 16);
		let (client, server) = tokio::join!(
			tokio_tungstenite::client_async("ws://localhost/", client),
			tokio_tungstenite::accept_async(server),
		);
		let mut client = WsTransport::new(client.unwrap().0);
		let mut server = WsTransport::new(server.unwrap());
		client.write_all(b"hello ").await.unwrap();
		client.write_all(b"world").await.unwrap();
		client.shutdown().await.unwrap();
		let mut got = Vec::new();
		server.read_to_end(&mut got).await.unwrap();
		assert_eq!(got, b"hello world");
	}
}
