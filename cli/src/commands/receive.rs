//! `keyorch receive`: as the stream's initiator, the provider's file over a secure stream,
//! resumed over the next endpoint when a transport breaks.

use std::path::PathBuf;

use clap::Args;

use crate::{
	context::Context,
	failure::Failure,
	transfer::{Endpoint, Received, Session, TransferArgs},
};

#[derive(Args, Debug)]
pub struct ReceiveArgs {
	#[command(flatten)]
	transfer: TransferArgs,
	/// Where to write the file; if it has bytes already, only the rest is asked for.
	#[arg(long, value_name = "FILE")]
	out: PathBuf,
	/// The provider's endpoints, tried in turn: tcp:HOST:PORT, unix:PATH or ws:HOST:PORT.
	#[arg(long = "connect", value_name = "ENDPOINT", required = true)]
	connect: Vec<Endpoint>,
	/// Cut the transport once after this many bytes, to show resumption (demos and tests).
	#[arg(long, value_name = "BYTES")]
	cut_after: Option<u64>,
}

pub async fn run(context: &Context, args: ReceiveArgs) -> Result<Received, Failure> {
	let session = Session::open(context, &args.transfer).await?;
	session.receive(&args.out, args.connect, args.cut_after).await
}
