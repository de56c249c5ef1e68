#!/usr/bin/env bash
# Installs what is missing (scripts/setup.sh), then builds keyorch-node (debug).
# Extra arguments go to cargo, e.g. `scripts/build.sh --release`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
# shellcheck source=scripts/env.sh
source scripts/env.sh
cargo build --locked -p keyorch-node "$@"
