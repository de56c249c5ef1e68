//! Keys before finality: [`NodeClient::assemble_key`] reads the best block, so that a key is
//! usable about one block after its epoch is dealt, and every key carries the [`Dealing`] it
//! came from. A reorg can undo a dealing that was not final; the rule is then that a key is
//! dropped unless the finalized chain commits to the same dealing within
//! [`DEALING_FINALITY_BLOCKS`] best blocks of its assembly. [`NodeClient::dealing_finality`]
//! tells which it is, and secure streams end (fail closed) with a dropped key.

use std::time::Duration;

use crate::{EpochIndex, Error, NodeClient, StreamId};

/// Best blocks after its assembly within which a key's dealing must become final, or the key
/// is dropped. On a healthy chain finality follows within two or three blocks.
pub const DEALING_FINALITY_BLOCKS: u32 = 10;

/// How often [`NodeClient::confirm_dealing`] asks.
const CONFIRM_POLL: Duration = Duration::from_millis(500);

/// The dealing a key was assembled from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dealing {
	/// The stream.
	pub stream: StreamId,
	/// The epoch.
	pub epoch: EpochIndex,
	/// The block that dealt it, in the chain the key was assembled at.
	pub dealt_at: u32,
	/// The best block the key was assembled at.
	pub seen_at: u32,
	/// The dealing's commitments: a fresh dealing of the same epoch never has the same.
	pub(crate) commitments: Vec<[u8; 32]>,
}

/// What the finalized chain says of a [`Dealing`] so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DealingFinality {
	/// The finalized chain commits to this dealing: the key stays usable.
	Final,
	/// Not final yet; the key is dropped if it is not by best block `deadline`.
	Pending {
		/// The last best block by which the dealing must be final.
		deadline: u32,
	},
}

impl NodeClient {
	/// Whether `dealing` is final, still may become final, or (as an error) is dropped.
	///
	/// # Errors
	///
	/// [`Error::DealingDropped`] if the finalized chain has reached the dealing's block with
	/// another dealing of the epoch (or none), or the best chain went
	/// [`DEALING_FINALITY_BLOCKS`] past the key's assembly without finalizing it; transport
	/// errors.
	pub async fn dealing_finality(&self, dealing: &Dealing) -> Result<DealingFinality, Error> {
		let finalized = self.finalized_hash().await?;
		let finalized_number = self.header(Some(finalized)).await?.number;
		let dropped = |reason: String| Error::DealingDropped {
			stream: dealing.stream,
			epoch: dealing.epoch,
			dealt_at: dealing.dealt_at,
			reason,
		};
		if finalized_number >= dealing.dealt_at {
			let view = self.epoch_view(dealing.stream, dealing.epoch, Some(finalized)).await?;
			return match view {
				Some(view) if view.commitments == dealing.commitments => Ok(DealingFinality::Final),
				_ => Err(dropped(format!(
					"the finalized chain (block #{finalized_number}) does not hold this dealing"
				))),
			};
		}
		let deadline = dealing.seen_at.saturating_add(DEALING_FINALITY_BLOCKS);
		let best = self.header(None).await?.number;
		if best > deadline {
			return Err(dropped(format!(
				"it was not final {DEALING_FINALITY_BLOCKS} blocks after the key was assembled \
				 (best block #{best}, finalized #{finalized_number})"
			)));
		}
		Ok(DealingFinality::Pending { deadline })
	}

	/// Waits until `dealing` is final.
	///
	/// # Errors
	///
	/// As [`Self::dealing_finality`]: the key must then not be used.
	pub async fn confirm_dealing(&self, dealing: &Dealing) -> Result<(), Error> {
		while let DealingFinality::Pending { .. } = self.dealing_finality(dealing).await? {
			tokio::time::sleep(CONFIRM_POLL).await;
		}
		Ok(())
	}
}
