#!/usr/bin/env bash
# Starts a four-validator local network (Alice, Bob, Charlie, Ferdie) and two witness nodes
# (Dave, Eve) on 127.0.0.1, RPC on ports 9944-9949, logs in ./local-testnet/*.log. Ctrl-C stops
# them all. Four validators, so that finality goes on with any one of them down.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh
dir=${LOCAL_TESTNET_DIR:-$PWD/local-testnet}
mkdir -p "$dir"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait' EXIT INT TERM
start() { # name index role-arguments...
	local name=$1 i=$2
	shift 2
	"$KEYORCH_NODE_BIN" --chain local "$@" \
		--base-path "$dir/$name" --database paritydb \
		--port $((30333 + i)) --rpc-port $((9944 + i)) --prometheus-port $((9615 + i)) \
		--node-key "$(printf '%064x' $((i + 1)))" --dht-port $((30433 + i)) \
		${overlay:+--dht-bootnode "$overlay"} \
		--bootnodes "/ip4/127.0.0.1/tcp/30333/p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp" \
		--rpc-cors all >"$dir/$name.log" 2>&1 &
	pids+=($!)
	echo "started $name: ws://127.0.0.1:$((9944 + i)), log $dir/$name.log"
}
# Alice's overlay address, once her RPC answers: the others join the overlay through it.
overlay_address() {
	for _ in $(seq 1 120); do
		local answer
		answer=$(curl -s -H 'Content-Type: application/json' \
			-d '{"id":1,"jsonrpc":"2.0","method":"keyorch_status","params":[]}' \
			http://127.0.0.1:9944 || true)
		if [[ $answer =~ \"listenAddrs\":\[\"([^\"]+)\" ]]; then
			echo "${BASH_REMATCH[1]}"
			return
		fi
		sleep 1
	done
	echo "Alice's RPC did not answer; see $dir/alice.log" >&2
	exit 1
}
overlay=
start alice 0 --alice --validator
overlay=$(overlay_address)
start bob 1 --bob --validator
start charlie 2 --charlie --validator
start ferdie 3 --ferdie --validator
start dave 4 --witness //Dave
start eve 5 --witness //Eve
wait
