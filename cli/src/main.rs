//! `keyorch`: keyorch's command line, for people and scripts.
//!
//! Key files, registration, stream requests, status, key assembly, revocation. Results go to
//! stdout (a stream id, a key fingerprint, a table or JSON); progress, notes and errors go to
//! stderr, errors as one `error:` line and maybe a `hint:` line, with the exit codes of
//! [`failure::EXIT_CODES`].

mod agent;
mod failure;
mod input;
mod listener;
mod progress;
mod request;
mod status;
mod transfer;

use std::{
	path::{Path, PathBuf},
	process::ExitCode,
};

use clap::{Args, Parser, Subcommand};
use keyorch_client::{Identity, NodeClient, WitnessEndpoint};

use crate::{
	failure::{Failure, EXIT_CODES},
	input::hex,
	progress::waiting,
};

/// keyorch: fresh keys for data streams, dealt by a chain's orchestrators and released by its
/// witnesses.
#[derive(Parser, Debug)]
#[command(name = "keyorch", version, after_help = EXIT_CODES)]
struct Cli {
	/// The keyorch node's WebSocket RPC URL.
	#[arg(long, global = true, value_name = "URL", default_value = "ws://127.0.0.1:9944")]
	url: String,
	/// The identity's key file (made by `keyorch keys new`).
	#[arg(long, global = true, value_name = "FILE", default_value = "./keyorch-key.json")]
	key_file: PathBuf,
	/// Use a dev account such as //Alice as identity instead of a key file (development
	/// chains only: its encryption key is derived from the URI, so anyone can know it).
	#[arg(long, global = true, value_name = "URI", conflicts_with = "key_file")]
	dev_seed: Option<String>,
	#[command(subcommand)]
	command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
	/// Make or show the identity's key file.
	#[command(subcommand)]
	Keys(KeysCommand),
	/// Register the identity as a participant, with its X25519 encryption key.
	Register,
	/// Witness registration.
	#[command(subcommand)]
	Witness(WitnessCommand),
	/// Request a stream to a provider (metadata only); prints the stream id.
	Request(request::RequestArgs),
	/// Show a stream as the latest finalized block has it.
	Status {
		/// The stream id (0x and 64 hex digits).
		stream: String,
		/// Print JSON for scripts instead of a table.
		#[arg(long)]
		json: bool,
	},
	/// Assemble a stream epoch's key from the identity's share and witnesses' shares; prints
	/// only the key's fingerprint, never the key.
	Key {
		/// The stream id (0x and 64 hex digits).
		stream: String,
		/// The epoch (the current one by default).
		#[arg(long, value_name = "N")]
		epoch: Option<u32>,
		/// A witness node's WebSocket RPC URL; repeat it or separate URLs with commas.
		#[arg(
			long = "witness-url",
			value_name = "URL",
			required = true,
			num_args = 1..,
			value_delimiter = ','
		)]
		witness_urls: Vec<String>,
	},
	/// Revoke a stream (initiator or provider): witnesses stop releasing its key.
	Revoke {
		/// The stream id (0x and 64 hex digits).
		stream: String,
		/// A short reason, recorded on chain.
		#[arg(long, default_value = "")]
		reason: String,
	},
	/// Close a stream (initiator or provider).
	Close {
		/// The stream id (0x and 64 hex digits).
		stream: String,
	},
	/// As the stream's provider, send a file to its initiator over a secure stream, listening
	/// on TCP, Unix-socket or WebSocket endpoints; keys follow the chain's epochs.
	Send(SendArgs),
	/// As the stream's initiator, receive the provider's file over a secure stream, resuming
	/// over the next endpoint when a transport breaks; prints the file's SHA-256.
	Receive(ReceiveArgs),
	/// Serve a local HTTP API over this identity for applications in any language: stream
	/// requests, status, rotation, revocation, and messages sealed and opened with stream keys.
	Agent(agent::AgentArgs),
}

/// Where a transfer's keys come from.
#[derive(Args, Debug)]
struct TransferArgs {
	/// The stream id (0x and 64 hex digits).
	stream: String,
	/// A witness node's WebSocket RPC URL; repeat it or separate URLs with commas.
	#[arg(long = "witness-url", value_name = "URL", required = true, num_args = 1.., value_delimiter = ',')]
	witness_urls: Vec<String>,
	/// Stop the transfer, with an error, when the chain cannot confirm for this many seconds
	/// that the stream is still live (the node unreachable or its chain stalled); it pauses
	/// after half of it.
	#[arg(long, value_name = "SECONDS", default_value_t = keyorch_client::DEFAULT_LIVENESS_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(2..))]
	liveness_timeout: u64,
}

#[derive(Args, Debug)]
struct SendArgs {
	#[command(flatten)]
	transfer: TransferArgs,
	/// The file to send.
	#[arg(long, value_name = "FILE")]
	file: PathBuf,
	/// Where to listen: tcp:HOST:PORT, unix:PATH or ws:HOST:PORT (repeatable).
	#[arg(long = "listen", value_name = "ENDPOINT", required = true)]
	listen: Vec<transfer::Endpoint>,
	/// Send at most this many bytes per second.
	#[arg(long, value_name = "BYTES")]
	rate: Option<u64>,
	/// Report the bytes sent on chain every this many bytes (for byte-budget rotation).
	#[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
	report_every: u64,
}

#[derive(Args, Debug)]
struct ReceiveArgs {
	#[command(flatten)]
	transfer: TransferArgs,
	/// Where to write the file; if it has bytes already, only the rest is asked for.
	#[arg(long, value_name = "FILE")]
	out: PathBuf,
	/// The provider's endpoints, tried in turn: tcp:HOST:PORT, unix:PATH or ws:HOST:PORT.
	#[arg(long = "connect", value_name = "ENDPOINT", required = true)]
	connect: Vec<transfer::Endpoint>,
	/// Cut the transport once after this many bytes, to show resumption (demos and tests).
	#[arg(long, value_name = "BYTES")]
	cut_after: Option<u64>,
}

#[derive(Subcommand, Debug)]
enum KeysCommand {
	/// Make a new identity (sr25519 account and X25519 encryption key) in the key file,
	/// readable by its owner only.
	New {
		/// Replace an existing key file; the keys in it are lost.
		#[arg(long)]
		force: bool,
	},
	/// Show the identity's account and encryption public key (never a secret).
	Show,
}

#[derive(Subcommand, Debug)]
enum WitnessCommand {
	/// Register the identity as a witness (it must be a participant; a deposit is held).
	Register,
}

/// Where the identity and the node are.
struct Context {
	url: String,
	key_file: PathBuf,
	dev_seed: Option<String>,
}

impl Context {
	/// The identity: the dev seed's, or the key file's.
	fn identity(&self) -> Result<Identity, Failure> {
		if let Some(uri) = &self.dev_seed {
			return Identity::dev(uri).map_err(Failure::from);
		}
		if !self.key_file.exists() {
			return Err(Failure::input(format!("no key file at {}", self.key_file.display()))
				.hint("make one with `keyorch keys new`, or use --dev-seed //Alice on a development chain"));
		}
		Ok(Identity::load(&self.key_file)?)
	}

	/// A client of the node that says on stderr what it waits for.
	async fn connect(&self) -> Result<NodeClient, Failure> {
		let client = NodeClient::connect(&self.url).await?;
		Ok(client.on_wait(|waiting| eprintln!("waiting: {waiting}")))
	}
}

/// Prints an identity's public parts.
fn show_identity(identity: &Identity) {
	let account = identity.signer().account_id();
	println!("account         {account}");
	println!("account hex     {}", hex(account.as_ref()));
	println!("encryption key  {} (X25519 public key)", hex(&identity.encryption_public_key().0));
}

/// Writes a new identity to `path`, replacing an existing file only if `force`.
fn new_key_file(path: &Path, force: bool) -> Result<Identity, Failure> {
	let identity = Identity::generate();
	if !path.exists() {
		identity.save(path)?;
		return Ok(identity);
	}
	if !force {
		return Err(Failure::input(format!("key file {} exists already", path.display()))
			.hint("`keyorch keys new --force` replaces it, and the keys in it are lost"));
	}
	let name = path
		.file_name()
		.ok_or_else(|| Failure::input(format!("{} is not a file name", path.display())))?;
	// Written beside the old file, then renamed over it: the old keys stay until the new
	// ones are safely on disk.
	let fresh = path.with_file_name(format!(".{}.new", name.to_string_lossy()));
	let _ = std::fs::remove_file(&fresh);
	identity.save(&fresh)?;
	std::fs::rename(&fresh, path).map_err(|e| {
		let _ = std::fs::remove_file(&fresh);
		Failure::input(format!("cannot replace {}: {e}", path.display()))
	})?;
	Ok(identity)
}

async fn run(cli: Cli) -> Result<(), Failure> {
	let context = Context { url: cli.url, key_file: cli.key_file, dev_seed: cli.dev_seed };
	match cli.command {
		Command::Keys(KeysCommand::New { force }) => {
			if context.dev_seed.is_some() {
				return Err(Failure::input("a --dev-seed identity has no key file")
					.hint("leave out --dev-seed to make a new identity in --key-file"));
			}
			let identity = new_key_file(&context.key_file, force)?;
			eprintln!("wrote {} (readable by its owner only)", context.key_file.display());
			show_identity(&identity);
		},
		Command::Keys(KeysCommand::Show) => show_identity(&context.identity()?),
		Command::Register => {
			let identity = context.identity()?;
			let client = context.connect().await?;
			let included = waiting(
				"waiting for the registration to be in a block",
				client.register_participant(&identity),
			)
			.await?;
			println!(
				"registered {} with encryption key {} in block #{}",
				identity.signer().account_id(),
				hex(&identity.encryption_public_key().0),
				included.number
			);
		},
		Command::Witness(WitnessCommand::Register) => {
			let identity = context.identity()?;
			let client = context.connect().await?;
			let included = waiting(
				"waiting for the witness registration to be in a block",
				client.register_witness(identity.signer()),
			)
			.await?;
			println!(
				"registered {} as a witness in block #{}",
				identity.signer().account_id(),
				included.number
			);
		},
		Command::Request(args) => {
			let identity = context.identity()?;
			let request = args.stream_request()?;
			let client = context.connect().await?;
			let (stream, block) = waiting(
				"waiting for the stream request to be in a block",
				client.request_stream(identity.signer(), &request),
			)
			.await?;
			let id = hex(stream.as_bytes());
			println!("{id}");
			eprintln!(
				"requested in block #{block}; `keyorch status {id}` shows when its key is dealt"
			);
		},
		Command::Status { stream, json } => {
			let stream = input::stream_id(&stream)?;
			let client = context.connect().await?;
			let fields = status::fetch(&client, stream).await?;
			if json {
				println!("{}", status::to_json(fields));
			} else {
				print!("{}", status::to_table(&fields));
			}
		},
		Command::Key { stream, epoch, witness_urls } => {
			let identity = context.identity()?;
			let stream = input::stream_id(&stream)?;
			let client = context.connect().await?;
			let endpoints: Vec<WitnessEndpoint> =
				witness_urls.into_iter().map(WitnessEndpoint::new).collect();
			let assembled = waiting(
				format!("assembling the key: asking up to {} witness node(s)", endpoints.len()),
				client.assemble_key_patiently(&identity, stream, epoch, &endpoints),
			)
			.await?;
			// What is printed must stay true: a key whose dealing a reorg undoes is dropped.
			waiting(
				format!(
					"waiting for the dealing (block #{}) to be final",
					assembled.dealing.dealt_at
				),
				client.confirm_dealing(&assembled.dealing),
			)
			.await?;
			println!("{}", assembled.keys.fingerprint());
			eprintln!(
				"epoch {} of stream {}: key assembled from this identity's share and {} \
				 witness share(s) at best block #{}; its dealing is final",
				assembled.epoch,
				hex(stream.as_bytes()),
				assembled.witnesses.len(),
				assembled.block
			);
			for report in &assembled.skipped {
				eprintln!("note: skipped {report}");
			}
		},
		Command::Revoke { stream, reason } => {
			let identity = context.identity()?;
			let stream = input::stream_id(&stream)?;
			let client = context.connect().await?;
			let included = waiting(
				"waiting for the revocation to be in a block",
				client.revoke(identity.signer(), stream, &reason),
			)
			.await?;
			println!("revoked stream {} in block #{}", hex(stream.as_bytes()), included.number);
		},
		Command::Close { stream } => {
			let identity = context.identity()?;
			let stream = input::stream_id(&stream)?;
			let client = context.connect().await?;
			let included = waiting(
				"waiting for the closing to be in a block",
				client.close(identity.signer(), stream),
			)
			.await?;
			println!("closed stream {} in block #{}", hex(stream.as_bytes()), included.number);
		},
		Command::Send(args) => {
			let session = transfer_session(&context, &args.transfer).await?;
			let session = std::sync::Arc::new(session);
			session.send(&args.file, args.listen, args.rate, Some(args.report_every)).await?;
		},
		Command::Receive(args) => {
			let session = transfer_session(&context, &args.transfer).await?;
			session.receive(&args.out, args.connect, args.cut_after).await?;
		},
		Command::Agent(args) => {
			let identity = context.identity()?;
			agent::run(identity, context.connect().await?, args).await?;
		},
	}
	Ok(())
}

/// The node, identity, stream and witness endpoints of a transfer.
async fn transfer_session(
	context: &Context,
	args: &TransferArgs,
) -> Result<transfer::Session, Failure> {
	// Bad input fails before connecting.
	let stream = input::stream_id(&args.stream)?;
	let identity = context.identity()?;
	let timeline = transfer::Timeline::start();
	let client = NodeClient::connect(&context.url).await?;
	Ok(transfer::Session {
		stream,
		witnesses: args.witness_urls.iter().cloned().map(WitnessEndpoint::new).collect(),
		liveness_timeout: std::time::Duration::from_secs(args.liveness_timeout),
		identity,
		client: client.on_wait(move |waiting| timeline.note(format!("waiting: {waiting}"))),
		timeline,
	})
}

#[tokio::main]
async fn main() -> ExitCode {
	match run(Cli::parse()).await {
		Ok(()) => ExitCode::SUCCESS,
		Err(failure) => failure.report(),
	}
}

#[cfg(test)]
mod tests {
	use clap::CommandFactory;

	use super::*;

	#[test]
	fn the_command_line_is_consistent_and_documents_exit_codes() {
		Cli::command().debug_assert();
		let help = Cli::command().render_long_help().to_string();
		assert!(help.contains("Exit codes:"), "{help}");
		assert!(help.contains("5  the chain or a node refused"), "{help}");
	}

	#[test]
	fn key_takes_several_witness_urls_and_needs_one() {
		let cli = Cli::try_parse_from([
			"keyorch",
			"key",
			"0x00",
			"--witness-url",
			"ws://a,ws://b",
			"--witness-url",
			"ws://c",
		])
		.unwrap();
		match cli.command {
			Command::Key { witness_urls, .. } => {
				assert_eq!(witness_urls, ["ws://a", "ws://b", "ws://c"])
			},
			other => panic!("parsed as {other:?}"),
		}
		let missing = Cli::try_parse_from(["keyorch", "key", "0x00"]).unwrap_err();
		assert_eq!(missing.exit_code(), 2);
	}

	#[test]
	fn a_dev_seed_and_a_key_file_exclude_each_other() {
		let both = Cli::try_parse_from([
			"keyorch",
			"--dev-seed",
			"//Alice",
			"--key-file",
			"k.json",
			"keys",
			"show",
		]);
		assert!(both.is_err());
		assert!(Cli::try_parse_from(["keyorch", "--dev-seed", "//Alice", "keys", "show"]).is_ok());
	}

	/// The failure `keyorch args…` ends with.
	async fn failure_of(args: &[&str]) -> Failure {
		let cli = Cli::try_parse_from([&["keyorch"][..], args].concat()).expect("valid usage");
		run(cli).await.expect_err("the command fails")
	}

	#[tokio::test]
	async fn bad_input_fails_before_connecting_and_a_dead_node_is_unreachable() {
		let dir = tempfile::tempdir().unwrap();
		let closed = {
			let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
			format!("ws://{}", listener.local_addr().unwrap())
		};
		let stream = format!("0x{}", "11".repeat(32));
		let key_file = dir.path().join("none.json");
		let key_file = key_file.to_str().unwrap();
		let cases: [(&[&str], failure::Kind, &str); 6] = [
			(
				&["--url", "no-such-scheme//x", "status", &stream],
				failure::Kind::Unreachable,
				"cannot reach",
			),
			(&["--url", &closed, "status", "0x12"], failure::Kind::BadInput, "not a stream id"),
			(
				&["--url", &closed, "--key-file", key_file, "close", &stream],
				failure::Kind::BadInput,
				"no key file",
			),
			(
				&["--url", &closed, "--dev-seed", "//Alice", "request", "--provider", "x"],
				failure::Kind::BadInput,
				"not an account",
			),
			(&["--url", &closed, "status", &stream], failure::Kind::Unreachable, "cannot reach"),
			(
				&["--url", &closed, "--dev-seed", "//Bob", "revoke", &stream],
				failure::Kind::Unreachable,
				"cannot reach",
			),
		];
		for (args, kind, message) in cases {
			let failure = failure_of(args).await;
			assert_eq!(failure.kind, kind, "{args:?}: {}", failure.message);
			assert!(failure.message.contains(message), "{args:?}: {}", failure.message);
		}
	}

	#[test]
	fn a_new_key_file_is_never_replaced_without_force() {
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("key.json");
		let first = new_key_file(&path, false).unwrap();
		let refused = new_key_file(&path, false).unwrap_err();
		assert_eq!(refused.kind, failure::Kind::BadInput);
		let account = |identity: &Identity| identity.signer().account_id();
		assert_eq!(account(&Identity::load(&path).unwrap()), account(&first));

		let second = new_key_file(&path, true).unwrap();
		assert_ne!(account(&second), account(&first));
		assert_eq!(account(&Identity::load(&path).unwrap()), account(&second));
		let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
		assert_eq!(files.len(), 1, "no temporary file is left behind");
	}
}
