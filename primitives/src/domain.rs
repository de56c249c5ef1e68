//! Domain-separation labels.
//!
//! Every hash, key derivation and signature in keyorch is bound to one of these
//! labels, so a value computed for one purpose can never be accepted for another.
//! They are part of the wire format: an implementation in another language must
//! use them byte for byte.

/// HKDF salt that expands the caller's dealing seed into the dealing RNG seed.
pub const DEAL_RNG: &[u8] = b"keyorch/v1/deal-rng";

/// HKDF salt that expands a witness's seed into the RNG sealing its answer.
pub const ANSWER_RNG: &[u8] = b"keyorch/v1/answer-rng";

/// Sealing label for a dealt share (orchestrator → holder).
pub const SEAL_DEALT_SHARE: &[u8] = b"keyorch/v1/seal/dealt-share";

/// Sealing label for a released share (witness → initiator or provider).
pub const SEAL_SHARE_ANSWER: &[u8] = b"keyorch/v1/seal/share-answer";

/// HKDF salt deriving the two directional stream keys from the stream secret.
pub const STREAM_KEY: &[u8] = b"keyorch/v1/stream-key";

/// HKDF info prefix deriving a per-session frame key from a directional key.
pub const FRAME_KEY: &[u8] = b"keyorch/v1/frame-key";

/// HKDF info prefix deriving the key of sealed messages from a directional key.
pub const MESSAGE_KEY: &[u8] = b"keyorch/v1/message-key";

/// Hash prefix of the public fingerprint of a pair of stream keys.
pub const KEY_FINGERPRINT: &[u8] = b"keyorch/v1/key-fingerprint";

/// Hash prefix of the DHT key of a sealed share record.
pub const DHT_RECORD_KEY: &[u8] = b"keyorch/v1/dht-record";

/// Key prefix of a sealed record in a node's persistent off-chain storage; the DHT key of
/// the record follows it.
pub const OFFCHAIN_RECORD: &[u8] = b"keyorch/v1/record/";

/// Prefix of the message signed in a share release request.
pub const RELEASE_REQUEST: &[u8] = b"keyorch/v1/share-release-request";

/// schnorrkel signing context used by Substrate's sr25519 (`sp_core::sr25519`),
/// so that account keys of a Substrate keystore sign release requests.
pub const SR25519_SIGNING_CONTEXT: &[u8] = b"substrate";
