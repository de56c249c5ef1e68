//! Cryptographic primitives of keyorch.
//!
//! keyorch gives two applications — the *initiator* and the *provider* of a data
//! stream — a fresh AES-256 key per stream and epoch. This crate is the protocol
//! glue around well-kept primitive crates:
//!
//! | step | module | primitives |
//! |---|---|---|
//! | dealing: secret, Feldman VSS shares, commitments | [`vss`] | Ristretto255 (`curve25519-dalek`), interoperable with `vsss-rs` |
//! | sealing a share to its holder | [`sealed`] | X25519 (`x25519-dalek`) → HKDF-SHA256 → AES-256-GCM |
//! | assembly and stream keys | [`vss`], [`stream`] | Lagrange interpolation, HKDF-SHA256 |
//! | share release by witnesses | [`release`] | sr25519 (`schnorrkel`, `b"substrate"` context) |
//! | secure stream framing | [`frame`] | AES-256-GCM in place |
//! | on-chain / DHT records | [`metadata`], [`sealed`], [`vss`] | SCALE (`parity-scale-codec`, `scale-info`), BLAKE2b-256 |
//!
//! # Holders
//!
//! A dealing for `n` holders produces one share per holder. Holder indices are
//! 1-based and fixed by role: index [`INITIATOR_INDEX`] (1) is the initiator,
//! [`PROVIDER_INDEX`] (2) the provider and [`FIRST_WITNESS_INDEX`] (3) onwards the
//! witnesses, in the order the chain selected them. The share of holder `i` is the
//! evaluation of the dealing polynomial at `x = i`.
//!
//! # Randomness
//!
//! Nothing in this crate draws randomness by itself: every random value comes from
//! a 32-byte seed supplied by the caller (OS randomness in a node or client, the
//! off-chain worker's `random_seed` in the runtime), expanded with ChaCha20. The
//! crate therefore builds for `wasm32v1-none` without `getrandom`.
//!
//! # Secrets
//!
//! Every type holding secret material ([`vss::HolderShare`], [`vss::StreamSecret`],
//! [`stream::StreamKeys`], [`keys::EncryptionSecret`], the frame ciphers) is
//! zeroized when dropped and prints a redaction instead of its bytes through
//! `Debug`.
//!
//! # Wire formats
//!
//! Every type that leaves a process is SCALE-encoded and starts with a
//! [`WireVersion`] byte; decoders reject unknown versions and never panic on
//! arbitrary input. [`WireFormat::decode_exact`] decodes a whole buffer and maps
//! every failure to [`Error::Malformed`]. Secure-stream frames have their own
//! fixed binary layout, described in [`frame`].
//!
//! # Example
//!
//! ```
//! use keyorch_primitives::frame::{HEADER_LEN, TAG_LEN};
//! use keyorch_primitives::{combine, deal, DealContext, Direction, EncryptionSecret};
//!
//! # fn main() -> Result<(), keyorch_primitives::Error> {
//! // Initiator, provider and one witness; any two shares rebuild the key.
//! let secrets: Vec<_> = [[1u8; 32], [2; 32], [3; 32]]
//!     .into_iter()
//!     .map(EncryptionSecret::from_bytes)
//!     .collect();
//! let keys: Vec<_> = secrets.iter().map(|s| s.public_key()).collect();
//! let context = DealContext { stream_id: [0xab; 32], epoch: 0 };
//!
//! // Orchestrator: `seed` comes from a CSPRNG.
//! let dealing = deal(&[0x42; 32], &context, 2, &keys)?;
//!
//! // Initiator (index 1) and provider (index 2) open and verify their shares.
//! let shares = [0usize, 1]
//!     .iter()
//!     .map(|&i| {
//!         let share = dealing.records[i].open(&secrets[i], &context, i as u8 + 1)?;
//!         share.verify(&dealing.commitments)?;
//!         Ok(share)
//!     })
//!     .collect::<Result<Vec<_>, keyorch_primitives::Error>>()?;
//! let keys = combine(&shares, &dealing.commitments)?.derive_keys(None);
//! println!("key fingerprint {}", keys.fingerprint());
//!
//! // One frame from the initiator to the provider, sealed and opened in place.
//! let session = [7u8; 16];
//! let mut sender = keys.sender(Direction::InitiatorToProvider, session);
//! let mut receiver = keys.receiver(Direction::InitiatorToProvider, session);
//! let mut buf = [0u8; HEADER_LEN + 5 + TAG_LEN];
//! buf[HEADER_LEN..HEADER_LEN + 5].copy_from_slice(b"hello");
//! let len = sender.seal_in_place(&mut buf, 5)?;
//! assert_eq!(receiver.open_in_place(&mut buf[..len])?, b"hello");
//! # Ok(())
//! # }
//! ```
#![cfg_attr(not(feature = "std"), no_std)]
// Denied, not forbidden: `frame_cipher` wipes ring's key, which takes one `unsafe` block.
#![deny(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

extern crate alloc;

pub mod domain;
pub mod error;
pub mod frame;
mod frame_cipher;
pub mod keys;
pub mod message;
pub mod metadata;
pub mod release;
mod rng;
mod seal;
pub mod sealed;
pub mod stream;
pub mod vss;
mod wire;

pub use error::{Error, MetadataError, Result};
pub use frame::{FrameHeader, FrameReceiver, FrameSender, SessionId};
pub use keys::{EncryptionPublicKey, EncryptionSecret};
pub use message::MessageHeader;
pub use metadata::{Permissions, RotationPolicy, StreamMetadata};
pub use release::{ReleaseTerms, SealedShareAnswer, ShareReleaseRequest};
pub use sealed::{offchain_record_key, record_dht_key, record_hash, SealedShareRecord};
pub use stream::{Direction, KeyFingerprint, StreamKeys};
pub use vss::{combine, deal, Commitments, DealContext, Dealing, HolderShare, StreamSecret};
pub use wire::{WireFormat, WireVersion};

/// Identifier of a stream, as assigned by the chain.
pub type StreamId = [u8; 32];

/// A 32-byte account identifier (`AccountId32`; for sr25519 accounts, the public key).
pub type AccountId = [u8; 32];

/// 1-based index of a share holder in a dealing (see the crate documentation).
pub type HolderIndex = u8;

/// Holder index of the stream's initiator.
pub const INITIATOR_INDEX: HolderIndex = 1;

/// Holder index of the stream's provider.
pub const PROVIDER_INDEX: HolderIndex = 2;

/// Holder index of the first witness; witness `k` (0-based) has index `3 + k`.
pub const FIRST_WITNESS_INDEX: HolderIndex = 3;

/// Largest number of holders in one dealing (holder indices are `1..=255`).
pub const MAX_HOLDERS: usize = 255;

/// Smallest accepted threshold.
///
/// A threshold of 1 would hand the whole secret to every holder, witnesses
/// included, which keyorch never allows: witnesses must not be able to read a
/// stream.
pub const MIN_THRESHOLD: usize = 2;
