//! Benchmarks: dealing, opening, assembly, and frame throughput against raw
//! AES-256-GCM.

use std::hint::black_box;

use aes_gcm::aead::{AeadInPlace, KeyInit, Nonce};
use aes_gcm::Aes256Gcm;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use keyorch_primitives::frame::{HEADER_LEN, TAG_LEN};
use keyorch_primitives::{
	combine, deal, DealContext, Dealing, Direction, EncryptionPublicKey, EncryptionSecret,
	HolderShare,
};

const CONTEXT: DealContext = DealContext { stream_id: [0xab; 32], epoch: 0 };

/// Holder counts, each with threshold ⌈2n/3⌉: (3, 2), (10, 7), (50, 34).
const SIZES: [(usize, u8); 3] = [(3, 2), (10, 7), (50, 34)];

fn holders(n: usize) -> (Vec<EncryptionSecret>, Vec<EncryptionPublicKey>) {
	let secrets: Vec<_> = (0..n)
		.map(|i| {
			let mut bytes = [0x5a; 32];
			bytes[1..9].copy_from_slice(&(i as u64).to_le_bytes());
			EncryptionSecret::from_bytes(bytes)
		})
		.collect();
	let keys = secrets.iter().map(EncryptionSecret::public_key).collect();
	(secrets, keys)
}

fn open_all(dealing: &Dealing, secrets: &[EncryptionSecret]) -> Vec<HolderShare> {
	dealing
		.records
		.iter()
		.zip(secrets)
		.map(|(record, secret)| record.open(secret, &CONTEXT, record.holder_index).expect("opens"))
		.collect()
}

fn dealing(c: &mut Criterion) {
	let mut group = c.benchmark_group("vss");
	for (n, t) in SIZES {
		let (secrets, keys) = holders(n);
		group.bench_with_input(BenchmarkId::new("deal", n), &n, |b, _| {
			b.iter(|| deal(black_box(&[7; 32]), &CONTEXT, t, &keys).expect("deals"))
		});

		let dealing = deal(&[7; 32], &CONTEXT, t, &keys).expect("deals");
		let (record, secret) = (&dealing.records[n - 1], &secrets[n - 1]);
		group.bench_with_input(BenchmarkId::new("open+verify", n), &n, |b, _| {
			b.iter(|| {
				let share = record.open(secret, &CONTEXT, record.holder_index).expect("opens");
				share.verify(&dealing.commitments).expect("verifies");
				share
			})
		});

		let shares = open_all(&dealing, &secrets);
		let used = &shares[..usize::from(t)];
		group.bench_with_input(BenchmarkId::new("combine", t), &t, |b, _| {
			b.iter(|| combine(black_box(used), &dealing.commitments).expect("combines"))
		});
	}
	group.finish();
}

fn frames(c: &mut Criterion) {
	let (secrets, keys) = holders(3);
	let dealing = deal(&[7; 32], &CONTEXT, 2, &keys).expect("deals");
	let stream_keys = combine(&open_all(&dealing, &secrets), &dealing.commitments)
		.expect("combines")
		.derive_keys(None);
	let raw = Aes256Gcm::new(&[0x11; 32].into());

	let mut group = c.benchmark_group("frame");
	for size in [1 << 10, 16 << 10, 64 << 10] {
		group.throughput(Throughput::Bytes(size as u64));

		let mut sender = stream_keys.sender(Direction::InitiatorToProvider, [1; 16]);
		let mut receiver = stream_keys.receiver(Direction::InitiatorToProvider, [1; 16]);
		let mut buf = vec![0x42u8; HEADER_LEN + size + TAG_LEN];
		group.bench_with_input(BenchmarkId::new("framed seal+open", size), &size, |b, _| {
			b.iter(|| {
				let len = sender.seal_in_place(&mut buf, size).expect("seals");
				receiver.open_in_place(&mut buf[..len]).expect("opens").len()
			})
		});

		let nonce = Nonce::<Aes256Gcm>::default();
		let mut payload = vec![0x42u8; size];
		group.bench_with_input(BenchmarkId::new("raw aes-gcm", size), &size, |b, _| {
			b.iter(|| {
				let tag =
					raw.encrypt_in_place_detached(&nonce, &[], &mut payload).expect("encrypts");
				raw.decrypt_in_place_detached(&nonce, &[], &mut payload, &tag).expect("decrypts");
				payload.len()
			})
		});
	}
	group.finish();
}

criterion_group!(benches, dealing, frames);
criterion_main!(benches);
