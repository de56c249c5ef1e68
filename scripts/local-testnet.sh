#!/usr/bin/env bash
# Starts a three-validator local network (Alice, Bob, Charlie) on 127.0.0.1, RPC on ports
# 9944, 9945 and 9946, logs in ./local-testnet/*.log. Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh
dir=${LOCAL_TESTNET_DIR:-$PWD/local-testnet}
mkdir -p "$dir"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait' EXIT INT TERM
start() { # name index
	local name=$1 i=$2
	"$KEYORCH_NODE_BIN" --chain local "--$name" --validator \
		--base-path "$dir/$name" --database paritydb \
		--port $((30333 + i)) --rpc-port $((9944 + i)) --prometheus-port $((9615 + i)) \
		--node-key "$(printf '%064x' $((i + 1)))" \
		--bootnodes "/ip4/127.0.0.1/tcp/30333/p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp" \
		--rpc-cors all >"$dir/$name.log" 2>&1 &
	pids+=($!)
	echo "started $name: ws://127.0.0.1:$((9944 + i)), log $dir/$name.log"
}
start alice 0
start bob 1
start charlie 2
wait
