#!/usr/bin/env bash
# The main command: set up, build, and start a keyorch development chain on this machine.
# RPC on ws://127.0.0.1:9944 (polkadot.js: Settings → custom endpoint). Ctrl-C stops it.
# Extra arguments go to keyorch-node, e.g. `scripts/dev.sh --rpc-port 9955`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh
exec "$KEYORCH_NODE_BIN" --dev --tmp --database paritydb --rpc-cors all "$@"
