//! `keyorch`: keyorch's command line, for people and scripts.
//!
//! Key files, registration, stream requests, status, key assembly, rotation, revocation, file
//! transfers and the local agent. Each command is a module of [`commands`]: its arguments, its
//! operation and a serializable result, printed on stdout as a table or, with `--output json`,
//! as one JSON object. Progress, notes and errors go to stderr, errors as one `error:` line and
//! maybe a `hint:` line, with the exit codes of [`failure::EXIT_CODES`].

mod agent;
mod commands;
mod context;
mod failure;
mod input;
mod listener;
mod output;
mod progress;
mod transfer;

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

use crate::{
	commands::{
		close, key, keys, receive, register, request, revoke, rotate, send, status, streams, usage,
		witness,
	},
	context::Context,
	failure::{Failure, EXIT_CODES},
	output::{emit, Format},
};

/// keyorch: fresh keys for data streams, dealt by a chain's orchestrators and released by its
/// witnesses.
#[derive(Parser, Debug)]
#[command(name = "keyorch", version, after_help = EXIT_CODES)]
struct Cli {
	/// The keyorch node's WebSocket RPC URL.
	#[arg(
		long,
		global = true,
		env = "KEYORCH_URL",
		value_name = "URL",
		default_value = "ws://127.0.0.1:9944"
	)]
	url: String,
	/// The identity's key file (made by `keyorch keys new`) [env: KEYORCH_KEY_FILE]
	/// [default: ./keyorch-key.json].
	// Not clap's `env`: a key file from the environment must not conflict with --dev-seed.
	#[arg(long, global = true, value_name = "FILE")]
	key_file: Option<PathBuf>,
	/// Use a dev account such as //Alice as identity instead of a key file (development
	/// chains only: its encryption key is derived from the URI, so anyone can know it).
	#[arg(long, global = true, value_name = "URI", conflicts_with = "key_file")]
	dev_seed: Option<String>,
	/// How results are printed on stdout.
	#[arg(long, global = true, value_enum, default_value_t = Format::Table)]
	output: Format,
	#[command(subcommand)]
	command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
	/// Make or show the identity's key file.
	#[command(subcommand)]
	Keys(keys::KeysCommand),
	/// Register the identity as a participant, with its X25519 encryption key.
	Register,
	/// Witness registration.
	#[command(subcommand)]
	Witness(witness::WitnessCommand),
	/// Request a stream to a provider (metadata only); prints the stream id.
	Request(request::RequestArgs),
	/// List the open streams the identity is initiator or provider of.
	Streams(streams::StreamsArgs),
	/// Show a stream as the latest finalized block has it.
	Status(status::StatusArgs),
	/// Assemble a stream epoch's key from the identity's share and witnesses' shares; prints
	/// only the key's fingerprint, never the key.
	Key(key::KeyArgs),
	/// Ask for a new key epoch now (initiator or provider).
	Rotate(rotate::RotateArgs),
	/// Report bytes carried on a stream, toward its byte-budget rotation.
	Usage(usage::UsageArgs),
	/// Revoke a stream (initiator or provider): witnesses stop releasing its key.
	Revoke(revoke::RevokeArgs),
	/// Close a stream (initiator or provider).
	Close(close::CloseArgs),
	/// As the stream's provider, send a file to its initiator over a secure stream, listening
	/// on TCP, Unix-socket or WebSocket endpoints; keys follow the chain's epochs.
	Send(send::SendArgs),
	/// As the stream's initiator, receive the provider's file over a secure stream, resuming
	/// over the next endpoint when a transport breaks; prints the file's SHA-256.
	Receive(receive::ReceiveArgs),
	/// Serve a local HTTP API over this identity for applications in any language: stream
	/// requests, status, rotation, revocation, and messages sealed and opened with stream keys.
	Agent(agent::AgentArgs),
}

impl Cli {
	/// Where the identity and the node are, by the options, else the environment, else the
	/// defaults.
	fn context(&self) -> Context {
		let key_file = self
			.key_file
			.clone()
			.or_else(|| std::env::var_os(KEY_FILE_VARIABLE).map(PathBuf::from))
			.unwrap_or_else(|| PathBuf::from(DEFAULT_KEY_FILE));
		Context { url: self.url.clone(), key_file, dev_seed: self.dev_seed.clone() }
	}
}

/// Where the key file is when neither `--key-file` nor the environment says.
const DEFAULT_KEY_FILE: &str = "./keyorch-key.json";
/// The environment variable that names the key file.
const KEY_FILE_VARIABLE: &str = "KEYORCH_KEY_FILE";

async fn run(cli: Cli) -> Result<(), Failure> {
	let context = cli.context();
	let format = cli.output;
	match cli.command {
		Command::Keys(command) => emit(&keys::run(&context, command)?, format),
		Command::Register => emit(&register::run(&context).await?, format),
		Command::Witness(command) => emit(&witness::run(&context, command).await?, format),
		Command::Request(args) => emit(&request::run(&context, args).await?, format),
		Command::Streams(args) => emit(&streams::run(&context, args).await?, format),
		Command::Status(args) => emit(&status::run(&context, args).await?, format),
		Command::Key(args) => emit(&key::run(&context, args).await?, format),
		Command::Rotate(args) => emit(&rotate::run(&context, args).await?, format),
		Command::Usage(args) => emit(&usage::run(&context, args).await?, format),
		Command::Revoke(args) => emit(&revoke::run(&context, args).await?, format),
		Command::Close(args) => emit(&close::run(&context, args).await?, format),
		Command::Send(args) => emit(&send::run(&context, args).await?, format),
		Command::Receive(args) => emit(&receive::run(&context, args).await?, format),
		Command::Agent(args) => {
			let identity = context.identity()?;
			agent::run(identity, context.connect().await?, args).await?
		},
	}
	Ok(())
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
			Command::Key(args) => assert_eq!(args.witness_urls, ["ws://a", "ws://b", "ws://c"]),
			other => panic!("parsed as {other:?}"),
		}
		let missing = Cli::try_parse_from(["keyorch", "key", "0x00"]).unwrap_err();
		assert_eq!(missing.exit_code(), 2);
	}

	#[test]
	fn the_node_and_key_file_come_from_the_environment_unless_given() {
		// Only this test sets these variables in this process.
		std::env::set_var("KEYORCH_URL", "ws://from-env:1");
		std::env::set_var(KEY_FILE_VARIABLE, "env.json");
		let parse = |args: &[&str]| {
			Cli::try_parse_from([&["keyorch"][..], args].concat()).map(|cli| cli.context())
		};
		let from_env = parse(&["keys", "show"]);
		let given = parse(&["--url", "ws://given:2", "--key-file", "given.json", "keys", "show"]);
		let dev_seed = parse(&["--dev-seed", "//Alice", "keys", "show"]);
		std::env::remove_var("KEYORCH_URL");
		std::env::remove_var(KEY_FILE_VARIABLE);
		let from_env = from_env.unwrap();
		assert_eq!(
			(from_env.url.as_str(), from_env.key_file.to_str()),
			("ws://from-env:1", Some("env.json"))
		);
		let given = given.unwrap();
		assert_eq!(
			(given.url.as_str(), given.key_file.to_str()),
			("ws://given:2", Some("given.json"))
		);
		assert!(dev_seed.is_ok(), "a key file from the environment leaves --dev-seed free");
		let defaults = parse(&["keys", "show"]).unwrap();
		assert_eq!(defaults.key_file.to_str(), Some(DEFAULT_KEY_FILE));
		let json = Cli::try_parse_from(["keyorch", "status", "0x00", "--output", "json"]).unwrap();
		assert_eq!(json.output, Format::Json);
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
}
