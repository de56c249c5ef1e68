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
	AccountId, Balance, Error, Hash, NodeClient, RuntimeCall, RuntimeEvent, Signer, StreamRequest,
	WitnessEndpoint,
};
use keyorch_runtime::{
	pallet_keyorch::{self, StreamId},
	RuntimeError,
};

use futures::StreamExt;

use crate::{parties::Party, wait_for, Node};

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
	/// Its hash: a block read again after a reorg is another block.
	pub hash: Hash,
	/// When the follower read it.
	pub seen: Instant,
	/// The streams the burst's initiators requested in it (`StreamRequested`), each with the
	/// index of the initiator that requested it.
	pub requested: Vec<(StreamId, usize)>,
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
	/// Where each stream is in `streams`.
	index: HashMap<StreamId, usize>,
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

	/// Reads the events of block `number`, `hash`.
	fn record(
		&mut self,
		number: u32,
		hash: Hash,
		events: &[RuntimeEvent],
		initiators: &[AccountId],
	) {
		use pallet_keyorch::Event as E;
		let mut block = FollowedBlock {
			number,
			hash,
			seen: Instant::now(),
			requested: Vec::new(),
			dealt: Vec::new(),
			rotations: 0,
			failed: Vec::new(),
		};
		for event in events {
			match event {
				RuntimeEvent::Keyorch(E::StreamRequested { stream, initiator, .. }) => {
					if let Some(by) = initiators.iter().position(|account| account == initiator) {
						block.requested.push((*stream, by));
					}
				},
				RuntimeEvent::Keyorch(E::KeyEpochDealt { stream, epoch: 0, .. }) => {
					block.dealt.push(*stream)
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
		self.apply(&block);
		self.blocks.push(block);
	}

	/// Adds what `block` says to `streams`.
	fn apply(&mut self, block: &FollowedBlock) {
		for &(stream, initiator) in &block.requested {
			self.index.insert(stream, self.streams.len());
			self.streams.push(StreamBlocks {
				stream,
				initiator,
				requested: block.number,
				dealt: None,
			});
		}
		for stream in &block.dealt {
			if let Some(&at) = self.index.get(stream) {
				let requested = &mut self.streams[at];
				requested.dealt = requested.dealt.or(Some(block.number));
			}
		}
	}

	/// Forgets the blocks from `number` on, which a reorg retracted: their requests may be
	/// included again under other stream ids, and their dealings again in other blocks.
	fn retract_from(&mut self, number: u32) {
		let kept = self.blocks.iter().take_while(|b| b.number < number).count();
		let blocks = std::mem::take(&mut self.blocks);
		self.streams.clear();
		self.index.clear();
		for block in blocks.into_iter().take(kept) {
			self.apply(&block);
			self.blocks.push(block);
		}
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
/// refused. When a block's parent is not the block read before it, a reorg retracted that one:
/// the follower forgets it and reads again from there.
pub async fn follow(
	client: &NodeClient,
	from: u32,
	initiators: &[AccountId],
	expected: &AtomicUsize,
	timeout: Duration,
) -> Followed {
	let deadline = Instant::now() + timeout;
	let mut followed = Followed {
		blocks: Vec::new(),
		streams: Vec::new(),
		timed_out: false,
		index: HashMap::new(),
	};
	let mut next = from;
	loop {
		let best = client.header(None).await.expect("chain_getHeader").number;
		while next <= best {
			let hash = client.block_hash(next).await.expect("chain_getBlockHash");
			let parent = client.header(Some(hash)).await.expect("chain_getHeader").parent_hash;
			if let Some(last) = followed.blocks.last().filter(|last| last.hash != parent) {
				next = last.number;
				followed.retract_from(next);
				continue;
			}
			let events = client.events(hash).await.expect("the block's events");
			followed.record(next, hash, &events, initiators);
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

/// Where the parties of a burst's streams assemble their keys.
pub struct Assembly<'a> {
	/// The burst's initiators, as in [`run`].
	pub initiators: &'a [Party],
	/// Every stream's provider.
	pub provider: &'a Party,
	/// The node the initiators talk to, and the provider's.
	pub nodes: (&'a Node, &'a Node),
	/// The two witness nodes: every other stream asks the second first, so both release shares.
	pub witnesses: [&'a Node; 2],
}

/// Both parties' keys of one stream's epoch 0: when both were there and agreed, or what went
/// wrong.
pub type BothKeys = Result<Instant, String>;

impl<'a> Assembly<'a> {
	/// Has both parties of every stream in `streams` assemble their key of epoch 0 at once,
	/// `concurrency` streams at a time, each retrying while its failure is transient
	/// (`NodeClient::assemble_key_patiently`).
	pub async fn assemble_all(
		&self,
		streams: &[StreamBlocks],
		concurrency: usize,
	) -> Vec<(StreamBlocks, BothKeys)> {
		futures::stream::iter(streams.iter().enumerate())
			.map(|(position, requested)| async move {
				let [first, second] = self.witnesses;
				let witnesses = if position % 2 == 0 { [first, second] } else { [second, first] };
				(*requested, self.both_keys(requested, &witnesses).await)
			})
			.buffer_unordered(concurrency)
			.collect()
			.await
	}

	async fn both_keys(&self, requested: &StreamBlocks, witnesses: &[&'a Node]) -> BothKeys {
		let stream = requested.stream;
		let initiator = &self.initiators[requested.initiator];
		let endpoints: Vec<_> =
			witnesses.iter().map(|w| WitnessEndpoint::new(w.ws_url())).collect();
		// As `keyorch key` does: a record or share still on its way is waited for.
		let patiently = |node: &'a Node, party: &'a Party| {
			let endpoints = &endpoints;
			async move {
				let client = node.client().await;
				client.assemble_key_patiently(party.identity(), stream, None, endpoints).await
			}
		};
		let (mine, theirs) = tokio::join!(
			patiently(self.nodes.0, initiator),
			patiently(self.nodes.1, self.provider)
		);
		let at = Instant::now();
		let (mine, theirs) = match (mine, theirs) {
			(Ok(mine), Ok(theirs)) => (mine, theirs),
			(mine, theirs) => {
				return Err(format!(
					"{stream:?}: initiator {}, provider {}",
					mine.map_or_else(|e| e.to_string(), |_| "ok".into()),
					theirs.map_or_else(|e| e.to_string(), |_| "ok".into()),
				))
			},
		};
		if (mine.epoch, theirs.epoch) != (0, 0) {
			return Err(format!(
				"{stream:?}: assembled epochs {} and {}, not 0",
				mine.epoch, theirs.epoch
			));
		}
		let (ours, their) = (mine.keys.fingerprint(), theirs.keys.fingerprint());
		if ours != their {
			return Err(format!(
				"{stream:?}: the initiator's key is {ours}, the provider's {their}"
			));
		}
		Ok(at)
	}
}
