//! A spinner on stderr while the command waits for the chain or the network; hidden when
//! stderr is not a terminal.

use std::{future::Future, time::Duration};

use indicatif::{ProgressBar, ProgressStyle};

/// Runs `future` with a spinner saying `what` it waits for.
pub async fn waiting<T>(what: impl Into<String>, future: impl Future<Output = T>) -> T {
	let spinner = ProgressBar::new_spinner();
	spinner.set_style(
		ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
			.unwrap_or_else(|_| ProgressStyle::default_spinner()),
	);
	spinner.set_message(what.into());
	spinner.enable_steady_tick(Duration::from_millis(120));
	let output = future.await;
	spinner.finish_and_clear();
	output
}
