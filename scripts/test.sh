#!/usr/bin/env bash
# The whole test suite: set up, build, check formatting, unit tests and the integration
# tests that start real keyorch-node processes on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh
if cargo fmt --version >/dev/null 2>&1; then
	cargo fmt --all -- --check
fi
cargo test --locked --workspace --no-fail-fast -- --test-threads 2
