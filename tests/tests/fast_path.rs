//! The fast path on the four-validator network: 20 streams, each one's key assembled on both
//! sides as soon as its epoch is in the best chain. Every key is assembled, both sides' keys
//! agree, keys do come before their dealing is final, and every dealing then becomes final
//! (the client would drop a key whose dealing did not). The figures come from
//! `keyorch-figures assembly --local`, not from this test.

use std::time::Duration;

use keyorch_client::DealingFinality;
use keyorch_tests::{fast_path::Parties, local_network_with_witnesses, VALIDATORS};

const WITNESSES: [&str; 2] = ["//Dave", "//Eve"];

const STREAMS: usize = 20;

/// Long enough for finality to pass a dealing on a healthy network.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn twenty_streams_get_their_keys_on_both_sides_before_finality() {
	let nodes = local_network_with_witnesses(&WITNESSES).await;
	let client = nodes[0].client().await;
	let provider_client = nodes[VALIDATORS.len() - 1].client().await;
	let parties = Parties::register(&client, &WITNESSES, &nodes[VALIDATORS.len()..]).await;

	let mut streams = Vec::new();
	for _ in 0..STREAMS {
		streams.push(parties.key_on_both_sides(&client, &provider_client).await);
	}
	let early = streams.iter().filter(|keys| keys.before_final).count();
	println!("{STREAMS} keys on both sides; {early} assembled before their dealing was final");
	assert!(early > 0, "no key came before its dealing was final: the fast path is not taken");

	for keys in &streams {
		let confirmed = client.confirm_dealing(&keys.initiator.dealing);
		let confirmed = tokio::time::timeout(CONFIRM_TIMEOUT, confirmed).await;
		confirmed.expect("an answer in time").expect("the dealing becomes final");
		let finality = provider_client.dealing_finality(&keys.provider.dealing).await;
		assert_eq!(finality.expect("read"), DealingFinality::Final);
	}
}
