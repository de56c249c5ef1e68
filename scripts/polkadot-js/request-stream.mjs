// Requests a keyorch stream with polkadot.js, as an application in JavaScript would:
// connects to a node, checks the keyorch pallet in its metadata, registers Alice (initiator),
// Bob (provider) and Charlie (witness) with fresh X25519 keys, submits `request_stream` signed
// by Alice and reads the stream back from storage.
//
//   npm ci && node request-stream.mjs [ws://127.0.0.1:9944]
//
// Prints one JSON line with the stream id and what the chain holds for it; exits non-zero
// with a one-line error if anything fails.
import { ApiPromise, Keyring, WsProvider } from '@polkadot/api';
import { randomBytes } from 'node:crypto';

const url = process.argv[2] ?? 'ws://127.0.0.1:9944';
const TIMEOUT_MS = 60_000;

function fail(message) {
  console.error(`error: ${message}`);
  process.exit(1);
}

// Signs and submits `tx`; resolves with its events once in a block, rejects with the pallet
// error if the chain refused it.
function submit(api, tx, signer, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: not in a block after ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    tx.signAndSend(signer, ({ status, events, dispatchError }) => {
      if (dispatchError) {
        clearTimeout(timer);
        const reason = dispatchError.isModule
          ? (({ section, name }) => `${section}.${name}`)(api.registry.findMetaError(dispatchError.asModule))
          : dispatchError.toString();
        reject(new Error(`${what}: refused by the chain: ${reason}`));
      } else if (status.isInBlock || status.isFinalized) {
        clearTimeout(timer);
        resolve(events);
      } else if (status.isInvalid || status.isDropped || status.isUsurped) {
        clearTimeout(timer);
        reject(new Error(`${what}: transaction ${status.type}`));
      }
    }).catch((e) => { clearTimeout(timer); reject(new Error(`${what}: ${e.message}`)); });
  });
}

const provider = new WsProvider(url, 1000, {}, TIMEOUT_MS);
const api = await ApiPromise.create({ provider, throwOnConnect: true }).catch((e) =>
  fail(`cannot connect to ${url}: ${e.message}`));

try {
  const pallet = api.runtimeMetadata.asLatest.pallets.find((p) => p.name.toString() === 'Keyorch');
  if (!pallet || !api.tx.keyorch?.requestStream || !api.query.keyorch?.streams) {
    fail(`the node at ${url} has no keyorch pallet in its metadata`);
  }

  const keyring = new Keyring({ type: 'sr25519' });
  const [alice, bob, charlie] = ['//Alice', '//Bob', '//Charlie'].map((uri) => keyring.addFromUri(uri));
  for (const [who, name] of [[alice, 'Alice'], [bob, 'Bob'], [charlie, 'Charlie']]) {
    await submit(api, api.tx.keyorch.registerParticipant(randomBytes(32)), who, `register ${name}`);
  }
  await submit(api, api.tx.keyorch.registerWitness(), charlie, 'register Charlie as witness');

  const events = await submit(
    api,
    api.tx.keyorch.requestStream(
      bob.address,
      { dataType: 'text/plain', permissions: 1, duration: 100 },
      { witnessCount: 1, threshold: 2, rotation: { everyBlocks: null, everyBytes: null } },
    ),
    alice,
    'request_stream',
  );
  const requested = events.find(({ event }) => api.events.keyorch.StreamRequested.is(event));
  if (!requested) fail('request_stream was included but emitted no StreamRequested event');
  const streamId = requested.event.data.stream.toHex();

  const stream = await api.query.keyorch.streams(streamId);
  if (stream.isNone) fail(`stream ${streamId} is not in storage`);
  const info = stream.unwrap();
  console.log(JSON.stringify({
    stream: streamId,
    initiator: info.initiator.toString(),
    provider: info.provider.toString(),
    witnesses: info.witnesses.map((w) => w.toString()),
    threshold: info.policy.threshold.toNumber(),
    status: info.status.toString(),
    expiresAt: info.expiresAt.toNumber(),
  }));
} catch (e) {
  fail(e.message);
} finally {
  await api.disconnect();
}
