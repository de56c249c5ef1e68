#!/usr/bin/env bash
# keyorch end to end, on one machine: a dev chain with a witness, three registered parties, a
# stream whose key rotates every 8 MiB, a 32 MiB file sent from the provider (Charlie) to the
# initiator (Bob) over TCP, the TCP connection cut mid-transfer and the session resumed over a
# Unix socket, the received file's hash checked, the stream revoked — and the timeline of it all.
#
# Ports: RPC $DEMO_RPC_PORT (default 9950), transfer $DEMO_TCP_PORT and $DEMO_WS_PORT (7950,
# 7951). Everything else lives in a temporary directory, removed at the end (kept with
# DEMO_KEEP=1).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh >/dev/null
# shellcheck source=scripts/env.sh
source scripts/env.sh

rpc_port=${DEMO_RPC_PORT:-9950}
tcp_port=${DEMO_TCP_PORT:-7950}
ws_port=${DEMO_WS_PORT:-7951}
work=$(mktemp -d)
url="ws://127.0.0.1:$rpc_port"
pids=()
cleanup() {
	kill "${pids[@]}" 2>/dev/null || true
	wait 2>/dev/null || true
	if [[ -z ${DEMO_KEEP:-} ]]; then rm -rf "$work"; else echo "kept $work"; fi
}
trap cleanup EXIT

started=$(date +%s.%N)
step() { printf '[%7.2fs] %s\n' "$(echo "$(date +%s.%N) - $started" | bc)" "$*"; }
keyorch() { "$KEYORCH_CLI_BIN" --url "$url" "$@"; }

step "starting a dev chain with Dave's witness service (log: $work/node.log)"
"$KEYORCH_NODE_BIN" --dev --base-path "$work/node" --database paritydb --rpc-port "$rpc_port" \
	--port 0 --dht-port 0 --no-prometheus --no-telemetry --no-mdns --witness //Dave \
	>"$work/node.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 120); do
	if curl -s -H 'Content-Type: application/json' \
		-d '{"id":1,"jsonrpc":"2.0","method":"system_health","params":[]}' \
		"http://127.0.0.1:$rpc_port" | grep -q '"result"'; then
		break
	fi
	sleep 0.5
done

step "registering Bob (initiator), Charlie (provider) and Dave (witness)"
keyorch --dev-seed //Bob register >/dev/null
keyorch --dev-seed //Charlie register >/dev/null
keyorch --dev-seed //Dave register >/dev/null
keyorch --dev-seed //Dave witness register >/dev/null
charlie=$(keyorch --dev-seed //Charlie keys show | awk '/account hex/ {print $3}')

step "Bob requests a stream from Charlie: 1 witness, threshold 2, a new key every 8 MiB"
stream=$(keyorch --dev-seed //Bob request --provider "$charlie" --witnesses 1 --threshold 2 \
	--duration 1200 --rotate-bytes 8388608 --data-type application/octet-stream 2>/dev/null)
step "stream $stream"

head -c 33554432 /dev/urandom >"$work/sent.bin"
step "Charlie sends a 32 MiB file at 6 MB/s; Bob cuts the TCP connection after 12 MB"
keyorch --dev-seed //Charlie send "$stream" --file "$work/sent.bin" --rate 6000000 \
	--listen "tcp:127.0.0.1:$tcp_port" --listen "unix:$work/transfer.sock" \
	--listen "ws:127.0.0.1:$ws_port" --witness-url "$url" >/dev/null 2>"$work/send.log" &
sender=$!
pids+=($sender)
sleep 1
received=$(keyorch --dev-seed //Bob receive "$stream" --out "$work/received.bin" \
	--connect "tcp:127.0.0.1:$tcp_port" --connect "unix:$work/transfer.sock" \
	--connect "ws:127.0.0.1:$ws_port" --witness-url "$url" --cut-after 12000000 \
	2>"$work/receive.log")
wait "$sender"

sent_hash=$(sha256sum "$work/sent.bin" | cut -d' ' -f1)
received_hash=$(echo "$received" | awk '{print $2}')
if [[ $sent_hash == "$received_hash" ]]; then
	step "received file's SHA-256 matches: $received_hash"
else
	step "MISMATCH: sent $sent_hash, received $received_hash"
	exit 1
fi

step "Bob revokes the stream"
keyorch --dev-seed //Bob revoke "$stream" --reason "demo over" >/dev/null
if keyorch --dev-seed //Bob key "$stream" --witness-url "$url" >/dev/null 2>"$work/key.log"; then
	step "UNEXPECTED: the key is still released"
	exit 1
fi
step "the key is no longer released: $(grep '^error' "$work/key.log")"

echo
echo "--- Charlie (provider, send) ---"
cat "$work/send.log"
echo "--- Bob (initiator, receive) ---"
cat "$work/receive.log"
echo
keyorch status "$stream"
