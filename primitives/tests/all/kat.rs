//! Known answers from fixed seeds: a change to the wire format, the key schedule
//! or the randomness expansion fails here.

use codec::Encode;
use keyorch_primitives::frame::{HEADER_LEN, TAG_LEN};
use keyorch_primitives::{combine, record_dht_key, record_hash, Direction};

use super::{context, Fixture};

fn fixture() -> Fixture {
	Fixture::new([0x42; 32], context(0xab, 3), 4, 3)
}

#[test]
fn known_answers() {
	let fixture = fixture();
	let dealing = &fixture.dealing;
	let commitments: Vec<String> = dealing.commitments.points.iter().map(hex::encode).collect();
	let record = &dealing.records[1];
	let secret = combine(&fixture.shares(), &dealing.commitments).expect("combines");
	let keys = secret.derive_keys(None);
	let mut sender = keys.sender(Direction::ProviderToInitiator, [0x5e; 16]);
	let mut frame = [0u8; HEADER_LEN + 5 + TAG_LEN];
	frame[HEADER_LEN..HEADER_LEN + 5].copy_from_slice(b"hello");
	sender.seal_in_place(&mut frame, 5).expect("seals");

	assert_eq!(
		commitments,
		[
			"8e0ff4f6ef0990968279bca2baae056e1fca3227ad45b3ebd81dc2f4bdcaca5d",
			"7e2f6f4bb409b960fda34796e03e0c7a9d36e457fcef38394b84aefa1bb6db35",
			"92ed8f1b5f18cb60410a7d3dce4ca7bc4f7c7f270bf99fa0fa007fcf1386de48",
		]
	);
	assert_eq!(
		hex::encode(record.encode()),
		concat!(
			"01",                                                               // version
			"abababababababababababababababababababababababababababababababab", // stream
			"03000000",                                                         // epoch
			"02",                                                               // holder
			"3f74f0c75b228dc26ffa061e89fcf9dc5284233810b52251430e9ae01475931b", // ephemeral
			"e468262801ded58671b82d799a3ae03a72663e91c2877d7bec811f3cf9b5a7b7", // ciphertext
			"760729d67ea4a578d57c0dd999311c88",                                 // tag
		)
	);
	assert_eq!(
		hex::encode(record_hash(record)),
		"070edb6c404c7553aef0c3612bde22e77798469fbdb163045e9e1aac720b6212"
	);
	assert_eq!(
		hex::encode(record_dht_key(&fixture.context, 2)),
		"5d3d06b21992e84667301a60e0b0a5134b26f9861256142b53d4d0475320602b"
	);
	assert_eq!(keys.fingerprint().to_string(), "3c268afa85f62f08");
	assert_eq!(secret.derive_keys(Some(b"exporter")).fingerprint().to_string(), "c7b186e668936c6b");
	assert_eq!(
		hex::encode(frame),
		concat!(
			"01",                               // version
			"01",                               // direction: provider to initiator
			"5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e", // session
			"00000003",                         // epoch
			"0000000000000000",                 // sequence
			"00000005",                         // payload length
			"5711f524db",                       // ciphertext
			"af5f62dab784cdc67e996314118d7de2", // tag
		)
	);
}
