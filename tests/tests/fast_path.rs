//! The fast path on the four-validator network: 20 streams, each one's key assembled on both
//! sides as soon as its epoch is in the best chain. Every key is assembled, both sides' keys
//! agree, keys do come before their dealing is final, and every dealing then becomes final
//! (the client would drop a key whose dealing did not). The figures come from
//! `keyorch-figures assembly --local`, not from this test.

use std::time::Duration;

use keyorch_client::{DealingFinality, WitnessEndpoint};
use keyorch_tests::{
	fast_path::key_on_both_sides, local_network_with_witnesses, parties::Party, VALIDATORS,
};

const WITNESSES: [&str; 2] = ["//Dave", "//Eve"];

const STREAMS: usize = 20;

/// Long enough for finality to pass a dealing on a healthy network.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn twenty_streams_get_their_keys_on_both_sides_before_finality() {
	let nodes = local_network_with_witnesses(&WITNESSES).await;
	let client = nodes[0].client().await;
	let provider_client = nodes[VALIDATORS.len() - 1].client().await;
	let initiator = Party::new("//Ferdie//stash");
	let provider = Party::new("//Alice//stash");
	initiator.register(&client, false).await;
	provider.register(&client, false).await;
	for seed in WITNESSES {
		Party::dev(seed).register(&client, true).await;
	}
	let endpoints: Vec<_> =
		nodes[VALIDATORS.len()..].iter().map(|node| WitnessEndpoint::new(node.ws_url())).collect();

	let mut streams = Vec::new();
	for _ in 0..STREAMS {
		let keys = key_on_both_sides(
			(&initiator, &client),
			(&provider, &provider_client),
			WITNESSES.len() as u32,
			&endpoints,
		)
		.await;
		streams.push(keys);
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
