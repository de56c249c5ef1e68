//! `keyorch send`: as the stream's provider, a file to its initiator over a secure stream.

use std::path::PathBuf;

use clap::Args;

use crate::{
	context::Context,
	failure::Failure,
	transfer::{Endpoint, Sent, Session, TransferArgs},
};

#[derive(Args, Debug)]
pub struct SendArgs {
	#[command(flatten)]
	transfer: TransferArgs,
	/// The file to send.
	#[arg(long, value_name = "FILE")]
	file: PathBuf,
	/// Where to listen: tcp:HOST:PORT, unix:PATH or ws:HOST:PORT (repeatable).
	#[arg(long = "listen", value_name = "ENDPOINT", required = true)]
	listen: Vec<Endpoint>,
	/// Send at most this many bytes per second.
	#[arg(long, value_name = "BYTES")]
	rate: Option<u64>,
	/// Report the bytes sent on chain every this many bytes (for byte-budget rotation).
	#[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
	report_every: u64,
}

pub async fn run(context: &Context, args: SendArgs) -> Result<Sent, Failure> {
	let session = Session::open(context, &args.transfer).await?;
	session.send(&args.file, args.listen, args.rate, Some(args.report_every)).await
}
