//! `keyorch agent`: a local HTTP API over one identity, for applications in any language.
//!
//! The agent holds the identity's keys and the stream keys it assembles; applications ask it to
//! request, follow, rotate and end streams and to seal and open messages, and never see a key
//! unless the agent was started with `--allow-key-export`. It listens on loopback TCP, where
//! every request but `GET /v1/health` carries the bearer token it writes, readable by its
//! owner only, to `--token-file` at every start; and/or on a Unix socket of mode 0600 that
//! serves only its owner's connections, without a token.

mod events;
mod keyring;
mod metrics;
mod openapi;
mod problem;
mod routes;
mod socket;

use std::{
	future::IntoFuture,
	io::Write,
	net::SocketAddr,
	os::unix::fs::OpenOptionsExt,
	path::{Path, PathBuf},
	sync::Arc,
};

use clap::Args;
use keyorch_client::{Identity, NodeClient, WitnessEndpoint};
use rand::RngCore;
use zeroize::Zeroizing;

use crate::{failure::Failure, input::hex};

/// `keyorch agent`'s options.
#[derive(Args, Debug)]
pub struct AgentArgs {
	/// Where to serve HTTP with a bearer token: a loopback address and port (127.0.0.1:8710
	/// unless only --socket is given).
	#[arg(long, value_name = "ADDRESS")]
	listen: Option<SocketAddr>,
	/// A Unix socket to serve HTTP on as well (or instead, without --listen): mode 0600, its
	/// owner's connections only, no token.
	#[arg(long, value_name = "PATH")]
	socket: Option<PathBuf>,
	/// Where to write the bearer token (readable by its owner only); a new one at every start.
	#[arg(long, value_name = "FILE", default_value = "./keyorch-agent.token")]
	token_file: PathBuf,
	/// A witness node's WebSocket RPC URL; repeat it or separate URLs with commas.
	#[arg(long = "witness-url", value_name = "URL", required = true, num_args = 1.., value_delimiter = ',')]
	witness_urls: Vec<String>,
	/// Let `GET /v1/streams/{id}/keys/{epoch}` hand out stream keys.
	#[arg(long)]
	allow_key_export: bool,
}

/// A fresh bearer token: 32 random bytes in hex.
fn new_token() -> Zeroizing<String> {
	let mut bytes = Zeroizing::new([0u8; 32]);
	rand::rngs::OsRng.fill_bytes(bytes.as_mut());
	Zeroizing::new(hex(bytes.as_ref()).trim_start_matches("0x").to_owned())
}

/// Writes `token` to `path`, readable by its owner only: beside it first, then renamed over it.
fn write_token(path: &Path, token: &str) -> Result<(), Failure> {
	let cannot = |error: std::io::Error| {
		Failure::input(format!("cannot write the token file {}: {error}", path.display()))
	};
	let name = path
		.file_name()
		.ok_or_else(|| Failure::input(format!("{} is not a file name", path.display())))?;
	let fresh = path.with_file_name(format!(".{}.new", name.to_string_lossy()));
	let _ = std::fs::remove_file(&fresh);
	let mut file = std::fs::OpenOptions::new()
		.write(true)
		.create_new(true)
		.mode(0o600)
		.open(&fresh)
		.map_err(cannot)?;
	file.write_all(token.as_bytes()).and_then(|()| file.sync_all()).map_err(cannot)?;
	std::fs::rename(&fresh, path).map_err(cannot)
}

/// The default TCP address.
const DEFAULT_LISTEN: SocketAddr =
	SocketAddr::V4(std::net::SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, 8710));

/// Serves the agent until Ctrl-C or SIGTERM.
pub async fn run(identity: Identity, client: NodeClient, args: AgentArgs) -> Result<(), Failure> {
	let listen = match (args.listen, &args.socket) {
		(None, None) => Some(DEFAULT_LISTEN),
		(listen, _) => listen,
	};
	let tcp = match listen {
		Some(address) if !address.ip().is_loopback() => {
			return Err(Failure::input(format!(
				"the agent listens on loopback only, not on {address}"
			))
			.hint("use --listen 127.0.0.1:PORT; put a TLS proxy in front to serve other hosts"))
		},
		Some(address) => Some(
			tokio::net::TcpListener::bind(address)
				.await
				.map_err(|e| Failure::input(format!("cannot listen on {address}: {e}")))?,
		),
		None => None,
	};
	let socket = match args.socket.as_deref() {
		Some(path) => Some(socket::OwnerOnly::bind(path).await?),
		None => None,
	};
	let token = new_token();
	write_token(&args.token_file, &token)?;
	let account = identity.signer().account_id();
	let witnesses = args.witness_urls.into_iter().map(WitnessEndpoint::new).collect();
	let agent = Arc::new(routes::Agent {
		keyring: keyring::KeyRing::new(client, identity, witnesses),
		token,
		allow_key_export: args.allow_key_export,
		metrics: Default::default(),
		subscriptions: Default::default(),
	});
	let mut on = Vec::new();
	on.extend(listen.map(|address| {
		format!("http://{address} (bearer token in {})", args.token_file.display())
	}));
	on.extend(args.socket.as_ref().map(|path| format!("unix:{}", path.display())));
	let export = if args.allow_key_export { "; key export allowed" } else { "" };
	eprintln!("keyorch agent for {account} on {}{export}", on.join(" and "));

	let (stop, stopped) = tokio::sync::watch::channel(());
	let until_stopped = |mut stopped: tokio::sync::watch::Receiver<()>| async move {
		let _ = stopped.changed().await;
	};
	let mut servers = tokio::task::JoinSet::new();
	if let Some(listener) = tcp {
		let router = routes::router(agent.clone(), routes::Access::BearerToken);
		let server =
			axum::serve(listener, router).with_graceful_shutdown(until_stopped(stopped.clone()));
		servers.spawn(server.into_future());
	}
	if let Some(listener) = socket {
		let router = routes::router(agent.clone(), routes::Access::SocketOwner);
		let server = axum::serve(listener, router).with_graceful_shutdown(until_stopped(stopped));
		servers.spawn(server.into_future());
	}
	let first = tokio::select! {
		() = shutdown() => Ok(()),
		Some(ended) = servers.join_next() => ended_server(ended),
	};
	let _ = stop.send(());
	// Open event streams never end by themselves: they get a grace period, then are cut.
	let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
		let mut outcome = Ok(());
		while let Some(ended) = servers.join_next().await {
			outcome = outcome.and(ended_server(ended));
		}
		outcome
	});
	let rest = drained.await.unwrap_or_else(|_| {
		servers.abort_all();
		Ok(())
	});
	first.and(rest)
}

/// How long connections still open at shutdown are given to finish.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// A listener's server that ended: an error unless it ended cleanly.
fn ended_server(ended: Result<std::io::Result<()>, tokio::task::JoinError>) -> Result<(), Failure> {
	match ended {
		Ok(Ok(())) => Ok(()),
		Ok(Err(error)) => Err(Failure::input(format!("the agent stopped: {error}"))),
		Err(error) => Err(Failure::input(format!("the agent stopped: {error}"))),
	}
}

/// Ctrl-C or SIGTERM.
async fn shutdown() {
	let mut terminate =
		tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
	tokio::select! {
		_ = tokio::signal::ctrl_c() => {},
		_ = async {
			match terminate.as_mut() {
				Some(signal) => { signal.recv().await; },
				None => std::future::pending().await,
			}
		} => {},
	}
}

#[cfg(test)]
mod tests {
	use std::os::unix::fs::PermissionsExt;

	use super::*;

	#[test]
	fn the_token_file_is_new_at_every_start_and_readable_by_its_owner_only() {
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("agent.token");
		let first = new_token();
		write_token(&path, &first).unwrap();
		let second = new_token();
		write_token(&path, &second).unwrap();
		assert_ne!(*first, *second);
		assert_eq!(std::fs::read_to_string(&path).unwrap(), *second);
		assert_eq!(second.len(), 64);
		let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
		assert_eq!(mode, 0o600);
		assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no file left beside it");
	}
}
