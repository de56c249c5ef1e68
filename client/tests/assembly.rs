//! Key assembly against mock keyorch nodes on 127.0.0.1: a chain node serving the ledger
//! (`state_call`) and sealed records, and witness nodes that answer honestly, slowly, with
//! refusals or with garbage. The real node and witness service are tested in `tests/`.

use std::{collections::HashMap, sync::Arc, time::Duration};

use codec::{Decode, Encode};
use jsonrpsee::{
	server::{Server, ServerHandle},
	types::{ErrorObjectOwned, Params},
	RpcModule,
};
use keyorch_client::{
	AccountId, EndedBy, EpochView, Error, HolderRole, HolderView, Identity, NodeClient,
	Permissions, Refusal, Signer, StreamId, StreamPolicy, StreamStatus, StreamView, Tombstone,
	WitnessEndpoint, WitnessFailure,
};
use keyorch_primitives::{
	combine, deal, record_dht_key, DealContext, Dealing, EncryptionPublicKey, HolderShare,
	SealedShareAnswer, ShareReleaseRequest, WireFormat,
};
use sp_core::{Bytes, H256};
use sp_runtime::traits::Header as _;

/// The block every mock read is at: the best block, and the finalized one.
const FINALIZED: u32 = 10;
const STREAM: H256 = H256::repeat_byte(0x42);

/// The parties: initiator, provider, then three witnesses (holder indexes 1 to 5).
const SEEDS: [&str; 5] = ["//Alice", "//Bob", "//Charlie", "//Dave", "//Ferdie"];

fn party(index: usize) -> Identity {
	Identity::dev(SEEDS[index]).unwrap()
}

fn account(index: usize) -> AccountId {
	party(index).signer().account_id()
}

/// What the mock chain node serves.
#[derive(Clone)]
struct Chain {
	view: Option<StreamView>,
	epoch: EpochView,
	tombstone: Option<Tombstone>,
	records: HashMap<H256, Vec<u8>>,
}

/// One dealing of epoch 0 with threshold 3 over the five parties, and the chain showing it.
fn dealt() -> (Dealing, Chain) {
	let context = DealContext { stream_id: STREAM.0, epoch: 0 };
	let keys: Vec<EncryptionPublicKey> =
		(0..5).map(|index| party(index).encryption_public_key()).collect();
	let dealing = deal(&[9; 32], &context, 3, &keys).unwrap();
	let holders = (0..5)
		.map(|index| HolderView {
			account: account(index),
			role: match index {
				0 => HolderRole::Initiator,
				1 => HolderRole::Provider,
				_ => HolderRole::Witness,
			},
			x25519_public_key: Some(keys[index].0),
		})
		.collect();
	let view = StreamView {
		id: STREAM,
		status: StreamStatus::Live,
		holders,
		data_type: b"text/plain".to_vec(),
		permissions: Permissions(Permissions::READ),
		policy: StreamPolicy { witness_count: 3, threshold: 3, rotation: Default::default() },
		requested_at: 2,
		expires_at: 600,
		selection_seed: vec![0; 32],
		current_epoch: Some(0),
		pending_epoch: None,
		total_bytes: 0,
		bytes_since_rotation: 0,
	};
	let epoch = EpochView {
		epoch: 0,
		commitments: dealing.commitments.points.to_vec(),
		record_hashes: dealing.record_hashes(),
		dealt_at: 3,
		dealt_by: sp_core::sr25519::Public::from_raw([0; 32]).into(),
	};
	let records = dealing
		.records
		.iter()
		.zip(1..)
		.map(|(record, index)| (H256(record_dht_key(&context, index)), record.encode()))
		.collect();
	(dealing.clone(), Chain { view: Some(view), epoch, tombstone: None, records })
}

/// The share of holder `index` (1-based) of `dealing`.
fn share(dealing: &Dealing, index: u8) -> HolderShare {
	let context = DealContext { stream_id: STREAM.0, epoch: 0 };
	dealing.records[usize::from(index) - 1]
		.open(party(usize::from(index) - 1).encryption_secret(), &context, index)
		.unwrap()
}

fn refusal(code: i32, data: Option<&str>) -> ErrorObjectOwned {
	ErrorObjectOwned::owned(code, "refused", data)
}

async fn serve(module: RpcModule<()>) -> (String, ServerHandle) {
	let server = Server::builder().build("127.0.0.1:0").await.unwrap();
	let url = format!("ws://{}", server.local_addr().unwrap());
	(url, server.start(module))
}

/// A chain node serving `chain`.
async fn chain_node(chain: Chain) -> (String, ServerHandle) {
	let chain = Arc::new(chain);
	let mut module = RpcModule::new(());
	for head in ["chain_getFinalizedHead", "chain_getBlockHash"] {
		module
			.register_method(head, |_, _, _| Ok::<_, ErrorObjectOwned>(H256::repeat_byte(0xf1)))
			.unwrap();
	}
	module
		.register_method("chain_getHeader", |_, _, _| {
			Ok::<_, ErrorObjectOwned>(keyorch_client::Header::new(
				FINALIZED,
				Default::default(),
				Default::default(),
				Default::default(),
				Default::default(),
			))
		})
		.unwrap();
	let ledger = chain.clone();
	module
		.register_method("state_call", move |params: Params, _, _| {
			let (function, args, _at): (String, Bytes, H256) = params.parse()?;
			Ok::<_, ErrorObjectOwned>(Bytes(match function.as_str() {
				"KeyorchApi_stream" => ledger.view.encode(),
				"KeyorchApi_tombstone" => ledger.tombstone.encode(),
				"KeyorchApi_epoch" => {
					let (_, epoch) = <(StreamId, u32)>::decode(&mut &args[..]).unwrap();
					(epoch == ledger.epoch.epoch).then(|| ledger.epoch.clone()).encode()
				},
				other => return Err(refusal(-32000, Some(other))),
			}))
		})
		.unwrap();
	module
		.register_method("keyorch_getRecord", move |params: Params, _, _| {
			let key: H256 = params.one()?;
			chain.records.get(&key).cloned().map(Bytes).ok_or_else(|| refusal(7001, None))
		})
		.unwrap();
	serve(module).await
}

/// How a mock witness node behaves.
#[derive(Clone)]
enum Behaviour {
	/// Releases its share, sealed to the requester.
	Honest,
	/// Answers after 30 s.
	Slow,
	/// Refuses with this code and data.
	Refuses(i32, Option<&'static str>),
	/// Answers bytes that are no sealed answer.
	Garbage,
}

/// A witness node serving `witness` (`None`: no witness service) with `share`.
async fn witness_node(
	witness: Option<AccountId>,
	share: HolderShare,
	behaviour: Behaviour,
) -> (String, ServerHandle) {
	let mut module = RpcModule::new(());
	let served = witness.clone();
	module
		.register_method("keyorch_status", move |_, _, _| {
			serde_json::json!({
				"witness": served.as_ref().map(|account| sp_core::bytes::to_hex(account.as_ref(), false)),
				"recordsHeld": 1,
				"overlayPeers": 0,
				"sharesHeld": 1,
				"requestsServed": 0,
				"requestsRefused": 0,
				"somethingNew": true,
			})
		})
		.unwrap();
	module
		.register_async_method("keyorch_requestShare", move |params, _, _| {
			let (witness, share, behaviour) = (witness.clone(), share.clone(), behaviour.clone());
			async move {
				let Bytes(bytes) = params.one()?;
				let request =
					ShareReleaseRequest::decode_exact(&bytes).map_err(|_| refusal(7008, None))?;
				let witness = witness.ok_or_else(|| refusal(7010, None))?;
				request.check(witness.as_ref(), FINALIZED).map_err(|_| refusal(7006, None))?;
				match behaviour {
					Behaviour::Honest => {},
					Behaviour::Slow => tokio::time::sleep(Duration::from_secs(30)).await,
					Behaviour::Refuses(code, data) => return Err(refusal(code, data)),
					Behaviour::Garbage => return Ok(Bytes(vec![1, 2, 3])),
				}
				// The requester's key, as the witness reads it on chain.
				let requester = (0..2)
					.find(|&index| <[u8; 32]>::from(account(index)) == request.terms.requester)
					.ok_or_else(|| refusal(7004, None))?;
				let key = party(requester).encryption_public_key();
				let answer = SealedShareAnswer::seal(&[5; 32], &share, &request, &key).unwrap();
				Ok::<_, ErrorObjectOwned>(Bytes(answer.encode()))
			}
		})
		.unwrap();
	serve(module).await
}

/// A URL nothing listens on.
fn closed_url() -> String {
	let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
	format!("ws://{}", listener.local_addr().unwrap())
}

#[tokio::test]
async fn initiator_and_provider_assemble_the_same_key_past_slow_and_dead_witnesses() {
	let (dealing, chain) = dealt();
	let commitments = dealing.commitments.clone();
	let expected =
		combine(&[share(&dealing, 1), share(&dealing, 2), share(&dealing, 3)], &commitments)
			.unwrap()
			.derive_keys(None)
			.fingerprint();
	let (url, _chain) = chain_node(chain).await;
	let (slow, _s) = witness_node(Some(account(2)), share(&dealing, 3), Behaviour::Slow).await;
	let (dave, _d) = witness_node(Some(account(3)), share(&dealing, 4), Behaviour::Honest).await;
	let (ferdie, _f) = witness_node(Some(account(4)), share(&dealing, 5), Behaviour::Honest).await;
	let client = NodeClient::connect(&url).await.unwrap();

	// Two witness shares are needed and asked for at a time: the dead node fails at once, the
	// slow one is left behind once Dave and Ferdie have answered.
	let endpoints: Vec<WitnessEndpoint> =
		[&slow, &closed_url(), &dave, &ferdie].map(|url| WitnessEndpoint::new(url.as_str())).into();
	let started = std::time::Instant::now();
	let initiator = client.assemble_key(&party(0), STREAM, None, &endpoints).await.unwrap();
	assert!(started.elapsed() < Duration::from_secs(4), "waited for the slow witness");
	assert_eq!((initiator.epoch, initiator.holder_index, initiator.block), (0, 1, FINALIZED));
	assert_eq!(initiator.keys.fingerprint(), expected);
	let mut used = initiator.witnesses.clone();
	used.sort();
	let mut expected_witnesses = vec![account(3), account(4)];
	expected_witnesses.sort();
	assert_eq!(used, expected_witnesses);
	assert_eq!(initiator.skipped.len(), 1, "{:?}", initiator.skipped);
	assert!(matches!(initiator.skipped[0].failure, WitnessFailure::Unreachable(_)));
	assert!(!format!("{initiator:?}").contains("keys: ["), "Debug shows no key bytes");

	// The provider, with endpoints whose accounts are known, gets the same key.
	let known = [
		WitnessEndpoint::with_account(dave.as_str(), account(3)),
		WitnessEndpoint::with_account(ferdie.as_str(), account(4)),
	];
	let provider = client.assemble_key(&party(1), STREAM, Some(0), &known).await.unwrap();
	assert_eq!(provider.holder_index, 2);
	assert_eq!(provider.keys.fingerprint(), expected);

	// Discovery maps URLs to witness accounts.
	let (found, failed) = WitnessEndpoint::discover(&[dave.clone(), closed_url()]).await;
	assert_eq!(found, [WitnessEndpoint::with_account(dave, account(3))]);
	assert_eq!(failed.len(), 1);
}

#[tokio::test]
async fn too_few_good_witnesses_fail_with_every_reason() {
	let (dealing, chain) = dealt();
	let (url, _chain) = chain_node(chain).await;
	let (slow, _s) = witness_node(Some(account(2)), share(&dealing, 3), Behaviour::Slow).await;
	let (garbage, _g) =
		witness_node(Some(account(3)), share(&dealing, 4), Behaviour::Garbage).await;
	let (no_share, _n) =
		witness_node(Some(account(4)), share(&dealing, 5), Behaviour::Refuses(7009, None)).await;
	let (no_service, _x) = witness_node(None, share(&dealing, 5), Behaviour::Honest).await;
	let eve = Identity::dev("//Eve").unwrap().signer().account_id();
	let (stranger, _e) =
		witness_node(Some(eve.clone()), share(&dealing, 5), Behaviour::Honest).await;
	let endpoints: Vec<WitnessEndpoint> = [&slow, &garbage, &no_share, &no_service, &stranger]
		.map(|url| WitnessEndpoint::new(url.as_str()))
		.into();
	let client = NodeClient::connect(&url).await.unwrap();
	match client.assemble_key(&party(0), STREAM, None, &endpoints).await {
		Err(Error::NotEnoughWitnesses { have, needed, witnesses }) => {
			assert_eq!((have, needed), (1, 3));
			let reason = |url: &String| {
				witnesses
					.iter()
					.find(|report| &report.url == url)
					.map(|report| report.failure.clone())
			};
			assert_eq!(reason(&slow), Some(WitnessFailure::TimedOut { seconds: 5 }));
			assert!(matches!(reason(&garbage), Some(WitnessFailure::BadAnswer(_))));
			assert_eq!(reason(&no_share), Some(WitnessFailure::Refused(Refusal::NoShare)));
			assert_eq!(reason(&no_service), Some(WitnessFailure::NoWitnessService));
			assert_eq!(reason(&stranger), Some(WitnessFailure::NotSelected(eve)));
		},
		other => panic!("expected NotEnoughWitnesses, got {other:?}"),
	}
}

#[tokio::test]
async fn a_witness_saying_the_stream_ended_ends_an_assembly_that_falls_short() {
	let (dealing, chain) = dealt();
	let (url, _chain) = chain_node(chain).await;
	let (revoked, _r) = witness_node(
		Some(account(2)),
		share(&dealing, 3),
		Behaviour::Refuses(7003, Some("revoked")),
	)
	.await;
	let (dave, _d) = witness_node(Some(account(3)), share(&dealing, 4), Behaviour::Honest).await;
	let client = NodeClient::connect(&url).await.unwrap();
	let endpoints = [WitnessEndpoint::new(revoked), WitnessEndpoint::new(dave)];
	match client.assemble_key(&party(0), STREAM, None, &endpoints).await {
		Err(Error::StreamEnded { status }) => assert_eq!(status, "revoked"),
		other => panic!("expected StreamEnded, got {other:?}"),
	}
}

/// `assemble_key` for `identity` against a chain node serving `chain`, with no witness.
async fn assemble_with(chain: Chain, identity: &Identity, epoch: Option<u32>) -> Error {
	let (url, _chain) = chain_node(chain).await;
	let client = NodeClient::connect(&url).await.unwrap();
	client.assemble_key(identity, STREAM, epoch, &[]).await.expect_err("assembly fails")
}

#[tokio::test]
async fn the_chain_and_the_records_are_checked_before_any_witness_is_asked() {
	let (_, chain) = dealt();

	let eve = Identity::dev("//Eve").unwrap();
	let error = assemble_with(chain.clone(), &eve, None).await;
	assert!(matches!(error, Error::NotParticipant { .. }), "{error:?}");
	let witness = assemble_with(chain.clone(), &party(2), None).await;
	assert!(matches!(witness, Error::NotParticipant { .. }), "witnesses assemble nothing");

	let other_key = Identity::with_new_encryption_key(Signer::from_uri("//Alice").unwrap());
	let error = assemble_with(chain.clone(), &other_key, None).await;
	assert!(matches!(error, Error::WrongEncryptionKey { .. }), "{error:?}");

	let error = assemble_with(chain.clone(), &party(0), Some(1)).await;
	assert!(matches!(error, Error::EpochNotDealt { epoch: 1 }), "{error:?}");
	let mut undealt = chain.clone();
	undealt.view.as_mut().unwrap().current_epoch = None;
	undealt.view.as_mut().unwrap().pending_epoch = Some(0);
	let error = assemble_with(undealt, &party(0), None).await;
	assert!(matches!(error, Error::EpochNotDealt { epoch: 0 }), "{error:?}");

	// Alice's record swapped for Bob's: its hash is not the one on chain.
	let context = DealContext { stream_id: STREAM.0, epoch: 0 };
	let mut swapped = chain.clone();
	let bob_record = swapped.records[&H256(record_dht_key(&context, 2))].clone();
	swapped.records.insert(H256(record_dht_key(&context, 1)), bob_record);
	let error = assemble_with(swapped, &party(0), None).await;
	assert!(matches!(error, Error::RecordHashMismatch { .. }), "{error:?}");

	let mut lost = chain.clone();
	lost.records.clear();
	let error = assemble_with(lost, &party(0), None).await;
	assert!(matches!(error, Error::RecordNotFound { .. }), "{error:?}");

	let mut closed = chain.clone();
	closed.view = None;
	closed.tombstone = Some(Tombstone {
		initiator: account(0),
		provider: account(1),
		status: StreamStatus::Closed,
		final_epoch: Some(0),
		ended_by: EndedBy::Provider,
		ended_at: 9,
	});
	let error = assemble_with(closed, &party(0), None).await;
	assert!(matches!(&error, Error::StreamEnded { status } if status == "closed"), "{error:?}");

	let mut unknown = chain;
	unknown.view = None;
	let error = assemble_with(unknown, &party(0), None).await;
	assert!(matches!(error, Error::UnknownStream { .. }), "{error:?}");
}
