#!/usr/bin/env bash
# Load on a release miner, as README's Performance section reports it: a dev chain, the bundled
# tiny model, a fixture video served on 127.0.0.1, then `chronoseek bench --endpoint` twice —
# one sentence again and again (cached queries), and a new sentence per request (new queries).
#
#   cargo build --release && scripts/load-bench.sh [CONCURRENCY] [REQUESTS]
set -euo pipefail
cd "$(dirname "$0")/.."
B=${B:-${CARGO_TARGET_DIR:-$HOME/.cache/chronoseek-target}/release/chronoseek}
C=${1:-64}
N=${2:-5000}
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
vport=$(free_port)
python3 -m http.server --bind 127.0.0.1 --directory data/fixtures/videos "$vport" >/dev/null 2>&1 &
pids+=($!)
chain="file:$dir/chain.json"
"$B" chain init-local --network "$chain" --miners 1 --validator-hotkey //load-bench >/dev/null
mport=$(free_port)
"$B" --store "$dir/store" --model-dir data/fixtures/models/chronoseek-tiny-clip -q miner \
    --network "$chain" --host 127.0.0.1 --port "$mport" --no-serve-axon --allow-private-video-urls &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$mport/health" >/dev/null && break; sleep 0.2; done
video="http://127.0.0.1:$vport/scenes.mp4"
for mode in "" --new-queries; do
    "$B" bench --endpoint "http://127.0.0.1:$mport" --hotkey-uri //load-bench --video "$video" \
        --query "a red screen" --concurrency "$C" --requests "$N" $mode
done
