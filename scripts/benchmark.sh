#!/usr/bin/env bash
# Measures the weights of pallet-keyorch and writes them to pallets/keyorch/src/weights.rs.
#
# Builds keyorch-node with the `runtime-benchmarks` feature (debug) in a target directory of its
# own, so that the normal build is not recompiled, then runs `keyorch-node benchmark pallet`.
# The runtime is always built as optimized wasm and runs compiled (wasmtime), so a debug node
# measures what a release node would; the node-side crates the runtime calls into for storage
# and hashing (host functions) are optimized in every debug build (the workspace's Cargo.toml).
#
# Settings (environment):
#   KEYORCH_BENCH_TARGET_DIR  target directory (default ~/.cache/keyorch/bench-target)
#   STEPS, REPEAT             benchmark steps per component and repetitions (default 20, 10)
#   JOBS                      cargo -j for the node and its wasm runtime (default: cargo's)
#   SKIP_BUILD=1              use the node already built there
# Extra arguments go to `benchmark pallet`, e.g. `--extrinsic request_stream`.
# The raw measurements are kept in $KEYORCH_BENCH_TARGET_DIR/pallet_keyorch.json. (Rendering
# weights.rs from them with `--json-input` loses the proof sizes: the file has no storage info.)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${KEYORCH_BENCH_TARGET_DIR:-$HOME/.cache/keyorch/bench-target}"
# shellcheck source=scripts/env.sh
source scripts/env.sh
node="$CARGO_TARGET_DIR/debug/keyorch-node"

jobs=()
if [[ -n "${JOBS:-}" ]]; then
	jobs=(-j "$JOBS")
	export CARGO_BUILD_JOBS="$JOBS" WASM_BUILD_CARGO_ARGS="-j $JOBS"
fi
# frame-benchmarking-cli's wasm test runtime (for `benchmark storage`, which keyorch-node does not
# support) cannot be built here: the wasm builder looks for it in this workspace's metadata, which
# lists the optional frame-benchmarking-cli only with the feature on. Without it, the crate
# still compiles (its `WASM_BINARY` is `None`).
export SKIP_FRAME_STORAGE_ACCESS_TEST_RUNTIME_WASM_BUILD=1

if [[ "${SKIP_BUILD:-}" != 1 ]]; then
	bash scripts/setup.sh >/dev/null
	cargo build --locked "${jobs[@]}" -p keyorch-node --features runtime-benchmarks
fi

"$node" benchmark pallet \
	--chain dev \
	--pallet pallet_keyorch \
	--extrinsic '*' \
	--steps "${STEPS:-20}" \
	--repeat "${REPEAT:-10}" \
	--wasm-execution compiled \
	--json-file "$CARGO_TARGET_DIR/pallet_keyorch.json" \
	--output pallets/keyorch/src/weights.rs \
	--template scripts/frame-weight-template.hbs \
	"$@"
