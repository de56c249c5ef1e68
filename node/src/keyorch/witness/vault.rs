//! Where the witness keeps its shares: one file per (stream, epoch), holding the sealed record
//! exactly as the chain committed to it (sealed to the witness's own key).

use std::path::{Path, PathBuf};

use keyorch_primitives::{SealedShareRecord, WireFormat};

use super::LOG_TARGET;
use crate::keyorch::overlay::hex;

/// Where the witness keeps its state.
pub struct Vault {
	/// The witness's state directory.
	pub dir: PathBuf,
}

impl Vault {
	/// The directory of the shares.
	pub fn shares_dir(&self) -> PathBuf {
		self.dir.join("shares")
	}

	/// The file of the share of `epoch` of `stream`.
	pub fn share_path(&self, stream: &[u8; 32], epoch: u32) -> PathBuf {
		self.shares_dir().join(format!("{}-{epoch}.record", hex(stream)))
	}

	/// The log of nonces in use (see [`super::nonces`]).
	pub fn nonces_path(&self) -> PathBuf {
		self.dir.join("nonces.log")
	}

	/// The nonce file of earlier versions.
	pub fn legacy_nonces_path(&self) -> PathBuf {
		self.dir.join("nonces.scale")
	}

	/// Writes `bytes` to `path` atomically (a crash leaves the old or the new file).
	pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
		use std::{io::Write, os::unix::fs::OpenOptionsExt};
		let temporary = path.with_extension("tmp");
		let mut file = std::fs::OpenOptions::new()
			.write(true)
			.create(true)
			.truncate(true)
			.mode(0o600)
			.open(&temporary)?;
		file.write_all(bytes)?;
		file.sync_all()?;
		std::fs::rename(temporary, path)
	}

	/// The share of `epoch` of `stream`, if one is stored and decodes.
	pub fn load_share(&self, stream: &[u8; 32], epoch: u32) -> Option<SealedShareRecord> {
		let bytes = std::fs::read(self.share_path(stream, epoch)).ok()?;
		SealedShareRecord::decode_exact(&bytes).ok()
	}

	/// The stored shares: each one's stream, epoch and file.
	pub fn shares(&self) -> Vec<([u8; 32], u32, PathBuf)> {
		let Ok(entries) = std::fs::read_dir(self.shares_dir()) else { return Vec::new() };
		entries
			.filter_map(|entry| {
				let path = entry.ok()?.path();
				let name = path.file_name()?.to_str()?.strip_suffix(".record")?;
				let (stream, epoch) = name.rsplit_once('-')?;
				let stream = sp_core::bytes::from_hex(stream).ok()?.try_into().ok()?;
				Some((stream, epoch.parse().ok()?, path))
			})
			.collect()
	}

	/// Deletes the shares of `stream` whose epoch `keep` rejects.
	pub fn delete_shares(&self, stream: &[u8; 32], keep: impl Fn(u32) -> bool) {
		for (_, _, path) in
			self.shares().into_iter().filter(|(held, epoch, _)| held == stream && !keep(*epoch))
		{
			if let Err(error) = std::fs::remove_file(&path) {
				log::warn!(target: LOG_TARGET, "deleting {}: {error}", path.display());
			}
		}
	}
}
