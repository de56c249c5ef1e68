#!/usr/bin/env bash
# Builds the crate without `std` for wasm32v1-none, as the runtime does, and
# checks that no `getrandom` is in that dependency graph.
# Uses the toolchain scripts/setup.sh prepared.
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=../scripts/env.sh
source ../scripts/env.sh
if cargo tree --target wasm32v1-none -p keyorch-primitives --no-default-features \
    -e normal --prefix none | grep -E '^getrandom v'; then
    echo "error: getrandom is in the no_std dependency graph" >&2
    exit 1
fi
cargo build -p keyorch-primitives --target wasm32v1-none --no-default-features "$@"
