#!/usr/bin/env bash
# Installs what is missing (scripts/setup.sh), then builds keyorch-node and the rest of the
# workspace (debug).
# Extra arguments go to cargo, e.g. `scripts/build.sh --release`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
# shellcheck source=scripts/env.sh
source scripts/env.sh
# The whole workspace, with the same features `cargo test --workspace` unifies, so the tests
# reuse this build (keyorch-node included) instead of compiling a second variant.
cargo build --locked --workspace "$@"
