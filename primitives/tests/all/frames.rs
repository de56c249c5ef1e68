//! Secure-stream frames.

use keyorch_primitives::frame::{HEADER_LEN, MAX_PAYLOAD_LEN, TAG_LEN};
use keyorch_primitives::{
	combine, Direction, Error, FrameHeader, FrameReceiver, FrameSender, StreamKeys,
};
use proptest::prelude::*;

use super::Fixture;

const SESSION: [u8; 16] = [0x11; 16];

fn keys() -> StreamKeys {
	let fixture = Fixture::simple(3, 2);
	combine(&fixture.shares(), &fixture.dealing.commitments).expect("combines").derive_keys(None)
}

fn pair() -> (FrameSender, FrameReceiver) {
	let keys = keys();
	(
		keys.sender(Direction::InitiatorToProvider, SESSION),
		keys.receiver(Direction::InitiatorToProvider, SESSION),
	)
}

fn seal(sender: &mut FrameSender, payload: &[u8]) -> Vec<u8> {
	let mut buf = vec![0u8; HEADER_LEN + payload.len() + TAG_LEN];
	buf[HEADER_LEN..HEADER_LEN + payload.len()].copy_from_slice(payload);
	let len = sender.seal_in_place(&mut buf, payload.len()).expect("seals");
	assert_eq!(len, buf.len());
	buf
}

#[test]
fn round_trip() {
	let (mut sender, mut receiver) = pair();
	for (sequence, len) in [0usize, 1, 15, 16, 17, 1024, 65536].into_iter().enumerate() {
		let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
		let mut frame = seal(&mut sender, &payload);
		let header = FrameHeader::parse(&frame).expect("header parses");
		assert_eq!(header.sequence, sequence as u64);
		assert_eq!(header.frame_len(), frame.len());
		assert_eq!(header.direction, Direction::InitiatorToProvider);
		if len > 0 {
			assert_ne!(&frame[HEADER_LEN..HEADER_LEN + len], &payload[..]);
		}
		assert_eq!(receiver.open_in_place(&mut frame).expect("opens"), &payload[..]);
	}
	assert_eq!(sender.next_sequence(), 7);
	assert_eq!(receiver.next_sequence(), 7);
}

#[test]
fn seal_in_a_larger_buffer() {
	let (mut sender, mut receiver) = pair();
	let mut buf = vec![0u8; 4096];
	buf[HEADER_LEN..HEADER_LEN + 5].copy_from_slice(b"hello");
	let len = sender.seal_in_place(&mut buf, 5).expect("seals");
	assert_eq!(len, HEADER_LEN + 5 + TAG_LEN);
	// The receiver wants exactly one frame.
	assert_eq!(receiver.open_in_place(&mut buf.clone()).err(), Some(Error::Malformed));
	assert_eq!(receiver.open_in_place(&mut buf[..len]).expect("opens"), b"hello");
}

#[test]
fn replay_and_reorder_are_rejected() {
	let (mut sender, mut receiver) = pair();
	let first = seal(&mut sender, b"one");
	let second = seal(&mut sender, b"two");
	let third = seal(&mut sender, b"three");

	assert_eq!(
		receiver.open_in_place(&mut second.clone()).err(),
		Some(Error::FrameOutOfOrder { expected: 0, got: 1 })
	);
	assert_eq!(receiver.open_in_place(&mut first.clone()).expect("opens"), b"one");
	assert_eq!(
		receiver.open_in_place(&mut first.clone()).err(),
		Some(Error::FrameReplayed { expected: 1, got: 0 })
	);
	assert_eq!(
		receiver.open_in_place(&mut third.clone()).err(),
		Some(Error::FrameOutOfOrder { expected: 1, got: 2 })
	);
	assert_eq!(receiver.open_in_place(&mut second.clone()).expect("opens"), b"two");
	assert_eq!(receiver.open_in_place(&mut third.clone()).expect("opens"), b"three");
}

#[test]
fn truncation_is_rejected() {
	let (mut sender, mut receiver) = pair();
	let frame = seal(&mut sender, b"a payload of some length");
	for len in 0..frame.len() {
		let mut truncated = frame[..len].to_vec();
		assert_eq!(
			receiver.open_in_place(&mut truncated).err(),
			Some(Error::FrameTruncated),
			"length {len}"
		);
	}
	// A truncated frame whose length field is rewritten to match is forged.
	let mut shortened = frame[..frame.len() - 1].to_vec();
	let new_len = (shortened.len() - HEADER_LEN - TAG_LEN) as u32;
	shortened[30..34].copy_from_slice(&new_len.to_be_bytes());
	assert_eq!(receiver.open_in_place(&mut shortened).err(), Some(Error::FrameForged));
	assert_eq!(receiver.next_sequence(), 0);
	assert!(receiver.open_in_place(&mut frame.clone()).is_ok());
}

#[test]
fn every_bit_flip_is_rejected() {
	let (mut sender, mut receiver) = pair();
	let frame = seal(&mut sender, b"flip me");
	for bit in 0..frame.len() * 8 {
		let mut flipped = frame.clone();
		flipped[bit / 8] ^= 1 << (bit % 8);
		let error = receiver.open_in_place(&mut flipped).expect_err("a flipped frame is rejected");
		if bit / 8 >= HEADER_LEN {
			assert_eq!(error, Error::FrameForged, "bit {bit}");
		}
	}
	// The receiver's state is unchanged by rejected frames.
	assert_eq!(receiver.open_in_place(&mut frame.clone()).expect("opens"), b"flip me");
}

#[test]
fn wrong_direction_session_or_epoch_is_rejected() {
	let keys = keys();
	let mut sender = keys.sender(Direction::InitiatorToProvider, SESSION);
	let frame = seal(&mut sender, b"to the provider");

	let mut wrong_direction = keys.receiver(Direction::ProviderToInitiator, SESSION);
	assert_eq!(wrong_direction.open_in_place(&mut frame.clone()).err(), Some(Error::WrongContext));
	// Relabelled as the other direction, it fails under the other key.
	let mut relabelled = frame.clone();
	relabelled[1] = Direction::ProviderToInitiator as u8;
	assert_eq!(wrong_direction.open_in_place(&mut relabelled).err(), Some(Error::FrameForged));

	let mut other_session = keys.receiver(Direction::InitiatorToProvider, [0x22; 16]);
	assert_eq!(other_session.open_in_place(&mut frame.clone()).err(), Some(Error::WrongContext));
	let mut resessioned = frame.clone();
	resessioned[2..18].copy_from_slice(&[0x22; 16]);
	assert_eq!(other_session.open_in_place(&mut resessioned).err(), Some(Error::FrameForged));

	// Keys of another epoch.
	let fixture = Fixture::new([7; 32], super::context(1, 1), 3, 2);
	let other_epoch = combine(&fixture.shares(), &fixture.dealing.commitments)
		.expect("combines")
		.derive_keys(None);
	let mut receiver = other_epoch.receiver(Direction::InitiatorToProvider, SESSION);
	assert_eq!(receiver.open_in_place(&mut frame.clone()).err(), Some(Error::WrongContext));
	let mut re_epoched = frame.clone();
	re_epoched[18..22].copy_from_slice(&1u32.to_be_bytes());
	assert_eq!(receiver.open_in_place(&mut re_epoched).err(), Some(Error::FrameForged));
}

#[test]
fn sender_checks_its_buffer() {
	let (mut sender, _) = pair();
	let mut small = [0u8; HEADER_LEN + 10];
	assert_eq!(
		sender.seal_in_place(&mut small, 10),
		Err(Error::BufferTooSmall {
			needed: HEADER_LEN + 10 + TAG_LEN,
			available: HEADER_LEN + 10
		})
	);
	assert_eq!(
		sender.seal_in_place(&mut small, MAX_PAYLOAD_LEN + 1),
		Err(Error::FrameTooLarge { len: MAX_PAYLOAD_LEN + 1 })
	);
	assert_eq!(sender.next_sequence(), 0);
}

#[test]
fn header_parse_limits() {
	let (mut sender, _) = pair();
	let frame = seal(&mut sender, b"x");
	let mut bad_version = frame.clone();
	bad_version[0] = 2;
	assert_eq!(FrameHeader::parse(&bad_version), Err(Error::Malformed));
	let mut bad_direction = frame.clone();
	bad_direction[1] = 2;
	assert_eq!(FrameHeader::parse(&bad_direction), Err(Error::Malformed));
	let mut too_large = frame.clone();
	too_large[30..34].copy_from_slice(&u32::MAX.to_be_bytes());
	assert_eq!(
		FrameHeader::parse(&too_large),
		Err(Error::FrameTooLarge { len: u32::MAX as usize })
	);
	let header = FrameHeader::parse(&frame).expect("parses");
	assert_eq!(&header.to_bytes()[..], &frame[..HEADER_LEN]);
}

#[test]
fn both_directions_use_different_keys() {
	let keys = keys();
	let mut forward = keys.sender(Direction::InitiatorToProvider, SESSION);
	let mut backward = keys.sender(Direction::ProviderToInitiator, SESSION);
	let a = seal(&mut forward, b"same payload");
	let b = seal(&mut backward, b"same payload");
	assert_ne!(a[HEADER_LEN..], b[HEADER_LEN..]);
}

proptest! {
	#[test]
	fn arbitrary_frames_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
		let (_, mut receiver) = pair();
		let mut bytes = bytes;
		let _ = FrameHeader::parse(&bytes);
		prop_assert!(receiver.open_in_place(&mut bytes).is_err());
	}
}
