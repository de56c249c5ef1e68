#!/usr/bin/env bash
# Fuzzes every decoder that takes input from the network, an RPC or the chain (the bodies are
# in fuzz/src/lib.rs) with libFuzzer through cargo-fuzz, each target for RUNS iterations
# (default 1,000,000), and prints per target the iterations, the coverage reached and the
# time taken. A crash stops the script and leaves its input under fuzz/libfuzzer/artifacts/:
# add it to the smoke test in fuzz/src/lib.rs as a regression test.
#
#   scripts/fuzz.sh [RUNS] [TARGET…]
#
# Not part of CI, which runs the same bodies on random and mutated inputs (`cargo test -p
# keyorch-fuzz`). Builds in its own target directory ($CARGO_TARGET_DIR/fuzz), which needs no
# wasm toolchain, with the stable compiler (RUSTC_BOOTSTRAP for cargo-fuzz's -Z flags).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/env.sh
source scripts/env.sh
runs=${1:-1000000}
shift || true
if ! cargo fuzz --version >/dev/null 2>&1; then
	echo "[fuzz] installing cargo-fuzz" >&2
	cargo install --locked cargo-fuzz >&2
fi
export RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$CARGO_TARGET_DIR/fuzz"
corpus=fuzz/libfuzzer/corpus
cargo run --quiet -p keyorch-fuzz --example seeds -- "$corpus"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	mapfile -t targets < <(cargo fuzz list --fuzz-dir fuzz/libfuzzer)
fi
printf '%-14s %10s %8s %8s %8s\n' target runs cov ft seconds
for target in "${targets[@]}"; do
	log=$(mktemp)
	started=$(date +%s)
	cargo fuzz run --fuzz-dir fuzz/libfuzzer --sanitizer none --release "$target" \
		"$corpus/$target" -- -runs="$runs" -max_len=4096 >"$log" 2>&1 || {
		cat "$log" >&2
		echo "[fuzz] $target failed; its input is under fuzz/libfuzzer/artifacts/$target/" >&2
		exit 1
	}
	done_line=$(grep -E '^#[0-9]+.*DONE' "$log" | tail -1)
	cov=$(sed -nE 's/.*cov: ([0-9]+).*/\1/p' <<<"$done_line")
	ft=$(sed -nE 's/.*ft: ([0-9]+).*/\1/p' <<<"$done_line")
	printf '%-14s %10s %8s %8s %8s\n' "$target" "$runs" "${cov:-?}" "${ft:-?}" \
		"$(($(date +%s) - started))"
	rm -f "$log"
done
