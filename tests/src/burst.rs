//! Bursts of stream requests: many `request_stream` transactions submitted without waiting for
//! their inclusion, and the chain followed block by block until every requested stream's epoch
//! 0 is dealt. The burst test and `keyorch-figures burst` share them.

use std::{
	collections::{BTreeMap, HashMap},
	fmt::Write as _,
	sync::atomic::{AtomicUsize, Ordering},
	time::{Duration, Instant},
};

use keyorch_client::{
	AccountId, Balance, Error, NodeClient, RuntimeCall, RuntimeEvent, Signer, StreamRequest,
};
use keyorch_runtime::{
	pallet_keyorch::{self, StreamId},
	RuntimeError,
};

use crate::{parties::Party, wait_for};

/// How often the follower looks for a new best block.
const FOLLOW_POLL: Duration = Duration::from_millis(50);

/// How long funding transfers may take to land.
const FUNDING_TIMEOUT: Duration = Duration::from_secs(120);

/// Registers `provider` and `initiators` as participants and `witnesses` as witnesses: the
/// parties at once, each party's transactions in turn.
pub async fn register(
	client: &NodeClient,
	provider: &Party,
	initiators: &[Party],
	witnesses: &[Party],
) {
	let mut parties: Vec<(&Party, bool)> = vec![(provider, false)];
	parties.extend(initiators.iter().map(|party| (party, false)));
	parties.extend(witnesses.iter().map(|party| (party, true)));
	futures::future::join_all(
		parties.into_iter().map(|(party, witness)| party.register(client, witness)),
	)
	.await;
}

/// Transfers `amount` from `funder` to each of `accounts`, submitting all the transfers at
/// once, and waits until every account has at least `amount`.
pub async fn fund(client: &NodeClient, funder: &Signer, accounts: &[AccountId], amount: Balance) {
	let mut nonce = client.next_nonce(&funder.account_id()).await.expect("the funder's nonce");
	for account in accounts {
		let call = RuntimeCall::Balances(keyorch_runtime::BalancesCall::transfer_keep_alive {
			dest: keyorch_runtime::Address::Id(account.clone()),
			value: amount,
		});
		client.sign_and_submit_with_nonce(funder, call, nonce).await.expect("a transfer");
		nonce += 1;
	}
	for account in accounts {
		wait_for("a funding transfer to land", FUNDING_TIMEOUT, || async {
			(client.free_balance(account).await.ok()? >= amount).then_some(())
		})
		.await;
	}
}

/// What submitting a burst did.
#[derive(Debug)]
pub struct Submission {
	/// From the first submission to the pool's last answer.
	pub elapsed: Duration,
	/// Requests the pool accepted.
	pub accepted: usize,
	/// The first refusal of each initiator that had one; its later requests were not sent.
	pub refusals: Vec<String>,
}

/// Submits `count` requests for `request`, spread evenly over `initiators`, without waiting
/// for their inclusion: each initiator's one after the other with consecutive transaction
/// indices (the first from `system_accountNextIndex`), the initiators at once. An initiator
/// stops at its first refusal: requests after a missing index could never be included.
pub async fn submit(
	client: &NodeClient,
	initiators: &[Party],
	request: &StreamRequest,
	count: usize,
) -> Submission {
	assert!(!initiators.is_empty(), "a burst needs initiators");
	let call = request.call().expect("a request the chain accepts");
	let started = Instant::now();
	let shares = (0..initiators.len())
		.map(|i| count / initiators.len() + usize::from(i < count % initiators.len()));
	let outcomes =
		futures::future::join_all(initiators.iter().zip(shares).map(|(initiator, share)| {
			let call = call.clone();
			async move {
				let account = initiator.signer.account_id();
				let refused = |sent: usize, error: Error| (sent, format!("{account}: {error}"));
				let mut nonce = client.next_nonce(&account).await.map_err(|e| refused(0, e))?;
				for sent in 0..share {
					client
						.sign_and_submit_with_nonce(&initiator.signer, call.clone(), nonce)
						.await
						.map_err(|e| refused(sent, e))?;
					nonce += 1;
				}
				Ok::<usize, (usize, String)>(share)
			}
		}))
		.await;
	let elapsed = started.elapsed();
	let mut submission = Submission { elapsed, accepted: 0, refusals: Vec::new() };
	for outcome in outcomes {
		match outcome {
			Ok(sent) => submission.accepted += sent,
			Err((sent, refusal)) => {
				submission.accepted += sent;
				submission.refusals.push(refusal);
			},
		}
	}
	submission
}

/// What a dispatch error says: the runtime's typed error (`typed`, from
/// `RuntimeError::from_dispatch_error`) if it is one, else the error itself (`raw`).
fn dispatch_reason(typed: Option<RuntimeError>, raw: &dyn std::fmt::Debug) -> String {
	typed.map(|typed| format!("{typed:?}")).unwrap_or_else(|| format!("{raw:?}"))
}

/// One block, as the follower read it.
#[derive(Debug, Clone)]
pub struct FollowedBlock {
	/// Its number.
	pub number: u32,
	/// When the follower first read it.
	pub seen: Instant,
	/// The streams the burst's initiators requested in it (`StreamRequested`).
	pub requested: Vec<StreamId>,
	/// The streams whose epoch 0 was dealt in it (`KeyEpochDealt`).
	pub dealt: Vec<StreamId>,
	/// Later epochs (rotations) of any stream dealt in it.
	pub rotations: usize,
	/// Why transactions in it failed (`ExtrinsicFailed`) and dealings of an epoch 0 were
	/// refused (`DealingRefused`), if any were.
	pub failed: Vec<String>,
}

/// One requested stream: the blocks of its request and of its epoch 0.
#[derive(Debug, Clone, Copy)]
pub struct StreamBlocks {
	/// The stream.
	pub stream: StreamId,
	/// Which of the burst's initiators requested it: its index among them.
	pub initiator: usize,
	/// The block that included its request.
	pub requested: u32,
	/// The block that dealt its epoch 0, if one did in time.
	pub dealt: Option<u32>,
}

/// What the chain made of a burst.
#[derive(Debug, Clone)]
pub struct Followed {
	/// Every block read, in order, from the first after submission began.
	pub blocks: Vec<FollowedBlock>,
	/// The requested streams, in the order the chain included them.
	pub streams: Vec<StreamBlocks>,
	/// Whether the follower gave up before every request was seen and dealt.
	pub timed_out: bool,
}

impl Followed {
	/// The block read with number `number`.
	pub fn block(&self, number: u32) -> Option<&FollowedBlock> {
		let first = self.blocks.first()?.number;
		self.blocks.get(number.checked_sub(first)? as usize)
	}

	/// The first block with a request of the burst.
	pub fn first_requested(&self) -> Option<u32> {
		self.streams.iter().map(|s| s.requested).min()
	}

	/// The last block with a request of the burst.
	pub fn last_requested(&self) -> Option<u32> {
		self.streams.iter().map(|s| s.requested).max()
	}

	/// The first block that dealt an epoch 0 of the burst.
	pub fn first_dealt(&self) -> Option<u32> {
		self.streams.iter().filter_map(|s| s.dealt).min()
	}

	/// The last block that dealt an epoch 0 of the burst.
	pub fn last_dealt(&self) -> Option<u32> {
		self.streams.iter().filter_map(|s| s.dealt).max()
	}

	/// Streams whose epoch 0 is not dealt yet.
	pub fn undealt(&self) -> usize {
		self.streams.iter().filter(|s| s.dealt.is_none()).count()
	}

	/// The wall-clock time from when the follower read block `from` to when it read block `to`.
	pub fn seconds_between(&self, from: u32, to: u32) -> Option<Duration> {
		Some(self.block(to)?.seen.saturating_duration_since(self.block(from)?.seen))
	}

	/// Whether `expected` requests were seen and all of them dealt.
	fn complete(&self, expected: usize) -> bool {
		self.streams.len() >= expected && self.undealt() == 0
	}

	/// Reads the events of block `number`.
	fn record(
		&mut self,
		number: u32,
		events: &[RuntimeEvent],
		initiators: &[AccountId],
		index: &mut HashMap<StreamId, usize>,
	) {
		use pallet_keyorch::Event as E;
		let mut block = FollowedBlock {
			number,
			seen: Instant::now(),
			requested: Vec::new(),
			dealt: Vec::new(),
			rotations: 0,
			failed: Vec::new(),
		};
		for event in events {
			match event {
				RuntimeEvent::Keyorch(E::StreamRequested { stream, initiator, .. }) => {
					let Some(by) = initiators.iter().position(|account| account == initiator)
					else {
						continue;
					};
					index.insert(*stream, self.streams.len());
					self.streams.push(StreamBlocks {
						stream: *stream,
						initiator: by,
						requested: number,
						dealt: None,
					});
					block.requested.push(*stream);
				},
				RuntimeEvent::Keyorch(E::KeyEpochDealt { stream, epoch: 0, .. }) => {
					if let Some(&at) = index.get(stream) {
						let requested = &mut self.streams[at];
						requested.dealt = requested.dealt.or(Some(number));
					}
					block.dealt.push(*stream);
				},
				RuntimeEvent::Keyorch(E::KeyEpochDealt { .. }) => block.rotations += 1,
				RuntimeEvent::Keyorch(E::DealingRefused { epoch: 0, error, .. }) => {
					block.failed.push(format!(
						"dealing refused: {}",
						dispatch_reason(RuntimeError::from_dispatch_error(*error), error)
					));
				},
				RuntimeEvent::System(frame_system::Event::ExtrinsicFailed {
					dispatch_error,
					..
				}) => block.failed.push(dispatch_reason(
					RuntimeError::from_dispatch_error(*dispatch_error),
					dispatch_error,
				)),
				_ => {},
			}
		}
		self.blocks.push(block);
	}

	/// One line per block read: its number, requests included, epochs 0 dealt, failures and
	/// when it was read (after the first block); then the failures' reasons.
	pub fn table(&self) -> String {
		let mut out = String::new();
		let start = self.blocks.first().map(|b| b.seen);
		let _ = writeln!(
			out,
			"{:>7} {:>9} {:>15} {:>10} {:>7} {:>10}",
			"block", "requests", "epochs 0 dealt", "rotations", "failed", "read (ms)"
		);
		for block in &self.blocks {
			let millis = start.map_or(0, |s| block.seen.saturating_duration_since(s).as_millis());
			let _ = writeln!(
				out,
				"{:>7} {:>9} {:>15} {:>10} {:>7} {:>10}",
				block.number,
				block.requested.len(),
				block.dealt.len(),
				block.rotations,
				block.failed.len(),
				millis
			);
		}
		let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
		for reason in self.blocks.iter().flat_map(|b| &b.failed) {
			*reasons.entry(reason.as_str()).or_default() += 1;
		}
		for (reason, times) in reasons {
			let _ = writeln!(out, "failed {times}x: {reason}");
		}
		let _ = writeln!(
			out,
			"{} requests seen, {} not dealt{}",
			self.streams.len(),
			self.undealt(),
			if self.timed_out { " (timed out)" } else { "" }
		);
		out
	}
}

/// Reads block after block from `from` on, as they become best, until `expected` requests by
/// `initiators` were seen and each one's epoch 0 dealt, or until `timeout` (then `timed_out`).
/// `expected` is read again after every block: a submitter lowers it when requests were
/// refused.
pub async fn follow(
	client: &NodeClient,
	from: u32,
	initiators: &[AccountId],
	expected: &AtomicUsize,
	timeout: Duration,
) -> Followed {
	let deadline = Instant::now() + timeout;
	let mut followed = Followed { blocks: Vec::new(), streams: Vec::new(), timed_out: false };
	let mut index = HashMap::new();
	let mut next = from;
	loop {
		let best = client.header(None).await.expect("chain_getHeader").number;
		while next <= best {
			let hash = client.block_hash(next).await.expect("chain_getBlockHash");
			let events = client.events(hash).await.expect("the block's events");
			followed.record(next, &events, initiators, &mut index);
			next += 1;
		}
		if followed.complete(expected.load(Ordering::SeqCst)) {
			return followed;
		}
		if Instant::now() >= deadline {
			followed.timed_out = true;
			return followed;
		}
		tokio::time::sleep(FOLLOW_POLL).await;
	}
}

/// A burst: how its submission went, and what the chain made of it.
#[derive(Debug)]
pub struct Burst {
	/// The submission.
	pub submission: Submission,
	/// The blocks from the first after submission began, and each stream's.
	pub followed: Followed,
}

/// Submits `count` requests for `request` from `initiators` (see [`submit`]) while following
/// the chain from the next block on (see [`follow`]), until all the accepted requests are seen
/// with their epoch 0 dealt, or until `timeout`.
pub async fn run(
	client: &NodeClient,
	initiators: &[Party],
	request: &StreamRequest,
	count: usize,
	timeout: Duration,
) -> Burst {
	let from = client.header(None).await.expect("chain_getHeader").number + 1;
	let accounts: Vec<AccountId> = initiators.iter().map(|p| p.signer.account_id()).collect();
	let expected = AtomicUsize::new(count);
	let (submission, followed) = tokio::join!(
		async {
			let submission = submit(client, initiators, request, count).await;
			expected.store(submission.accepted, Ordering::SeqCst);
			submission
		},
		follow(client, from, &accounts, &expected, timeout),
	);
	Burst { submission, followed }
}
