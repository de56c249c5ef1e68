//! The nonces of answered share requests, kept until their requests expire so that no request
//! is answered twice, across restarts too.
//!
//! An append-only log of 36-byte entries (nonce, last valid block), each synced before its
//! answer leaves, and a map in memory. The log is rewritten only when most of its entries have
//! expired, so its size follows the nonces still live, never the requests ever answered, and a
//! request costs one append. Only authorized requests reach it (see `release`).

use std::{
	collections::BTreeMap,
	fs::{File, OpenOptions},
	io::{self, Write},
	os::unix::fs::OpenOptionsExt,
	path::{Path, PathBuf},
};

use codec::Decode;
use keyorch_runtime::BlockNumber;

/// Bytes of one log entry: the nonce and its last valid block (little-endian).
const ENTRY_LEN: usize = 32 + 4;

/// Entries the log may hold before it is rewritten without the expired ones, at least.
const COMPACT_ABOVE: usize = 4096;

/// Nonces in use, with the last block their request is valid at.
pub struct NonceLog {
	path: PathBuf,
	file: File,
	live: BTreeMap<[u8; 32], BlockNumber>,
	/// Entries in the file, expired ones included.
	logged: usize,
}

fn open_append(path: &Path) -> io::Result<File> {
	OpenOptions::new().create(true).append(true).mode(0o600).open(path)
}

fn entry(nonce: &[u8; 32], until: BlockNumber) -> [u8; ENTRY_LEN] {
	let mut bytes = [0u8; ENTRY_LEN];
	bytes[..32].copy_from_slice(nonce);
	bytes[32..].copy_from_slice(&until.to_le_bytes());
	bytes
}

impl NonceLog {
	/// Opens the log at `path` (created if missing) with the nonces still live at block `now`.
	/// `legacy` is the file earlier versions rewrote whole per request (a SCALE map): its nonces
	/// are taken over and it is deleted.
	pub fn open(path: PathBuf, legacy: &Path, now: BlockNumber) -> io::Result<Self> {
		let bytes = match std::fs::read(&path) {
			Ok(bytes) => bytes,
			Err(error) if error.kind() == io::ErrorKind::NotFound => Vec::new(),
			Err(error) => return Err(error),
		};
		let mut live = BTreeMap::new();
		// A torn last entry (a crash mid-append) is dropped: its request was never answered.
		for chunk in bytes.chunks_exact(ENTRY_LEN) {
			let nonce: [u8; 32] = chunk[..32].try_into().expect("32 bytes");
			let until = BlockNumber::from_le_bytes(chunk[32..].try_into().expect("4 bytes"));
			live.insert(nonce, until);
		}
		let torn = bytes.len() % ENTRY_LEN != 0;
		let legacy_nonces = std::fs::read(legacy)
			.ok()
			.and_then(|bytes| BTreeMap::<[u8; 32], BlockNumber>::decode(&mut &bytes[..]).ok());
		let migrated = legacy_nonces.is_some();
		live.extend(legacy_nonces.unwrap_or_default());
		live.retain(|_, until| *until >= now);
		let file = open_append(&path)?;
		let mut log = Self { path, file, live, logged: bytes.len() / ENTRY_LEN };
		if torn || migrated {
			log.rewrite()?;
		}
		if migrated {
			std::fs::remove_file(legacy)?;
		}
		Ok(log)
	}

	/// Nonces held (live at the last call).
	#[cfg(test)]
	pub fn len(&self) -> usize {
		self.live.len()
	}

	/// Records `nonce` as used until block `until`, durably; `false` if it is in use already.
	pub fn record(
		&mut self,
		nonce: [u8; 32],
		until: BlockNumber,
		now: BlockNumber,
	) -> io::Result<bool> {
		self.live.retain(|_, live_until| *live_until >= now);
		if self.live.contains_key(&nonce) {
			return Ok(false);
		}
		self.file.write_all(&entry(&nonce, until))?;
		self.file.sync_data()?;
		self.live.insert(nonce, until);
		self.logged += 1;
		if self.logged > COMPACT_ABOVE.max(2 * self.live.len()) {
			self.rewrite()?;
		}
		Ok(true)
	}

	/// Writes the live nonces to a new log and puts it in place atomically.
	fn rewrite(&mut self) -> io::Result<()> {
		let temporary = self.path.with_extension("tmp");
		let mut file = OpenOptions::new()
			.write(true)
			.create(true)
			.truncate(true)
			.mode(0o600)
			.open(&temporary)?;
		let bytes: Vec<u8> =
			self.live.iter().flat_map(|(nonce, until)| entry(nonce, *until)).collect();
		file.write_all(&bytes)?;
		file.sync_all()?;
		std::fs::rename(&temporary, &self.path)?;
		self.file = open_append(&self.path)?;
		self.logged = self.live.len();
		Ok(())
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use codec::Encode;

	fn open(dir: &Path, now: BlockNumber) -> NonceLog {
		NonceLog::open(dir.join("nonces.log"), &dir.join("nonces.scale"), now).expect("opens")
	}

	#[test]
	fn a_nonce_is_refused_until_it_expires_across_restarts() {
		let dir = tempfile::tempdir().unwrap();
		let mut log = open(dir.path(), 0);
		assert!(log.record([1; 32], 10, 0).unwrap());
		assert!(!log.record([1; 32], 10, 5).unwrap());
		assert!(log.record([2; 32], 3, 0).unwrap());
		drop(log);
		let mut log = open(dir.path(), 5);
		assert_eq!(log.len(), 1, "nonce 2 expired at block 3");
		assert!(!log.record([1; 32], 10, 5).unwrap());
		assert!(log.record([1; 32], 20, 11).unwrap(), "free again once expired");
	}

	#[test]
	fn the_log_grows_with_live_nonces_only() {
		let dir = tempfile::tempdir().unwrap();
		let mut log = open(dir.path(), 0);
		for i in 0..3 * COMPACT_ABOVE as u32 {
			let mut nonce = [0u8; 32];
			nonce[..4].copy_from_slice(&i.to_le_bytes());
			// Each valid for 10 blocks, one block per request.
			assert!(log.record(nonce, i + 10, i).unwrap());
		}
		let size = std::fs::metadata(dir.path().join("nonces.log")).unwrap().len() as usize;
		assert!(size <= (COMPACT_ABOVE + 1) * ENTRY_LEN, "{size} bytes");
		assert!(log.len() <= 11);
	}

	#[test]
	fn a_torn_entry_is_dropped_and_the_legacy_file_taken_over() {
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("nonces.log");
		let mut bytes = entry(&[7; 32], 50).to_vec();
		bytes.extend_from_slice(&[9; 20]);
		std::fs::write(&path, &bytes).unwrap();
		let legacy = BTreeMap::from([([8u8; 32], 60u32)]);
		std::fs::write(dir.path().join("nonces.scale"), legacy.encode()).unwrap();
		let mut log = open(dir.path(), 0);
		assert_eq!(log.len(), 2);
		assert!(!dir.path().join("nonces.scale").exists());
		assert_eq!(std::fs::metadata(&path).unwrap().len() as usize, 2 * ENTRY_LEN);
		assert!(!log.record([8; 32], 60, 1).unwrap());
		assert!(log.record([9; 32], 60, 1).unwrap());
	}
}
