//! The agent's Unix-socket listener: mode 0600, and only connections from the agent's own user
//! are served (checked by peer credentials, so that even root's connections are refused unless
//! the agent runs as root), with no bearer token needed.

use std::{
	io,
	os::unix::fs::{FileTypeExt, PermissionsExt},
	path::{Path, PathBuf},
};

use axum::serve::Listener;
use tokio::net::{UnixListener, UnixStream};

use crate::failure::Failure;

/// A Unix-socket listener that serves its owner only.
pub struct OwnerOnly {
	listener: UnixListener,
	owner: u32,
	path: PathBuf,
}

impl OwnerOnly {
	/// Binds `path` with mode 0600, serving the agent's own user; a stale socket left there by
	/// an agent that died is replaced, a live one or any other file is not.
	pub async fn bind(path: &Path) -> Result<Self, Failure> {
		let cannot = |error: io::Error| {
			Failure::input(format!("cannot listen on the socket {}: {error}", path.display()))
		};
		if let Ok(existing) = std::fs::symlink_metadata(path) {
			if !existing.file_type().is_socket() {
				return Err(Failure::input(format!(
					"{} exists and is not a socket; the agent does not replace it",
					path.display()
				)));
			}
			if UnixStream::connect(path).await.is_ok() {
				return Err(Failure::input(format!(
					"something listens on {} already; the agent does not replace it",
					path.display()
				)));
			}
			std::fs::remove_file(path).map_err(cannot)?;
		}
		let listener = UnixListener::bind(path).map_err(cannot)?;
		std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(cannot)?;
		let owner = rustix::process::geteuid().as_raw();
		Ok(Self { listener, owner, path: path.to_owned() })
	}
}

impl Drop for OwnerOnly {
	fn drop(&mut self) {
		let _ = std::fs::remove_file(&self.path);
	}
}

impl Listener for OwnerOnly {
	type Io = UnixStream;
	type Addr = tokio::net::unix::SocketAddr;

	async fn accept(&mut self) -> (UnixStream, Self::Addr) {
		loop {
			let (stream, address) = Listener::accept(&mut self.listener).await;
			match stream.peer_cred() {
				Ok(peer) if peer.uid() == self.owner => return (stream, address),
				Ok(peer) => eprintln!("refused a socket connection from uid {}", peer.uid()),
				Err(error) => eprintln!("refused a socket connection: {error}"),
			}
		}
	}

	fn local_addr(&self) -> io::Result<Self::Addr> {
		self.listener.local_addr()
	}
}
