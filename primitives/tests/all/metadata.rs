//! Stream metadata and SCALE wire types.

use codec::{Decode, Encode, MaxEncodedLen};
use keyorch_primitives::{
	Error, MetadataError, Permissions, RotationPolicy, StreamMetadata, WireFormat, WireVersion,
};

fn metadata() -> StreamMetadata {
	StreamMetadata {
		version: WireVersion::V1,
		data_type: b"application/json".to_vec().try_into().expect("short"),
		permissions: Permissions::READ.union(Permissions::WRITE),
		duration_blocks: 14_400,
		provider: [0x42; 32],
		witness_count: 3,
		threshold: 3,
		rotation: RotationPolicy { every_blocks: Some(600), every_bytes: Some(1 << 30) },
	}
}

#[test]
fn valid_metadata_round_trips() {
	let metadata = metadata();
	assert_eq!(metadata.validate(), Ok(()));
	assert_eq!(metadata.holder_count(), 5);
	let bytes = metadata.encode();
	assert_eq!(bytes[0], 1, "leading version byte");
	assert!(bytes.len() <= StreamMetadata::max_encoded_len());
	assert_eq!(StreamMetadata::decode_exact(&bytes), Ok(metadata));
}

#[test]
fn inconsistent_metadata_is_rejected() {
	let check = |change: fn(&mut StreamMetadata), error: Error| {
		let mut metadata = metadata();
		change(&mut metadata);
		assert_eq!(metadata.validate(), Err(error));
	};
	check(|m| m.threshold = 1, Error::ThresholdOutOfRange { threshold: 1, holders: 5 });
	check(|m| m.threshold = 6, Error::ThresholdOutOfRange { threshold: 6, holders: 5 });
	check(|m| m.witness_count = 254, Error::TooManyHolders { holders: 256 });
	check(|m| m.duration_blocks = 0, MetadataError::ZeroDuration.into());
	check(|m| m.permissions = Permissions::NONE, MetadataError::NoPermissions.into());
	check(|m| m.rotation.every_blocks = Some(0), MetadataError::ZeroRotationInterval.into());
	check(|m| m.rotation.every_bytes = Some(0), MetadataError::ZeroRotationInterval.into());
}

#[test]
fn permissions_reject_unknown_bits() {
	assert_eq!(Permissions::from_bits(3), Some(Permissions::ALL));
	assert_eq!(Permissions::from_bits(4), None);
	assert!(Permissions::ALL.contains(Permissions::READ));
	assert!(!Permissions::READ.contains(Permissions::WRITE));
	assert_eq!(Permissions::ALL.bits(), 3);
	assert!(Permissions::decode(&mut &[4u8][..]).is_err());
	assert_eq!(Permissions::decode(&mut &[2u8][..]).ok(), Some(Permissions::WRITE));
}

#[test]
fn unknown_versions_and_trailing_bytes_are_rejected() {
	let mut bytes = metadata().encode();
	bytes[0] = 2;
	assert_eq!(StreamMetadata::decode_exact(&bytes), Err(Error::Malformed));
	bytes[0] = 0;
	assert_eq!(StreamMetadata::decode_exact(&bytes), Err(Error::Malformed));
	let mut trailing = metadata().encode();
	trailing.push(0);
	assert_eq!(StreamMetadata::decode_exact(&trailing), Err(Error::Malformed));
	// A 65-byte data type, one over the bound: the data type follows the
	// version byte as a compact length and the bytes.
	let valid = metadata().encode();
	let type_len = metadata().data_type.len();
	let mut too_long = valid[..1].to_vec();
	too_long.extend(vec![b'a'; 65].encode());
	too_long.extend(&valid[2 + type_len..]);
	assert_eq!(StreamMetadata::decode_exact(&too_long), Err(Error::Malformed));
}
