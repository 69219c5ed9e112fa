#!/usr/bin/env bash
# Both sides of README's CPU comparison in one run, on the same checkpoint and the same file:
#   1. the Python reference miner's pipeline (OpenCV + transformers' CLIPModel in torch, batch
#      32), in a venv this script makes (PyPI: torch 2.5.1, transformers 4.46.3, OpenCV);
#   2. `chronoseek model bench` (image and text towers alone) and `chronoseek bench` (cold and
#      cached search) with the release binary, at `--precision f32` and `q8`.
# The checkpoint is generated with our seeded-weights code in the shape of
# openai/clip-vit-base-patch32 (same compute; its answers mean nothing); the video is a
# 2-minute 640x360 H.264 file made by ffmpeg.
#
#   cargo build --release && scripts/reference-bench.sh [OUT_DIR]
#
# Environment: B (the chronoseek binary), REFBENCH_VENV (venv folder, default
# ~/.cache/chronoseek-refbench/venv), SHARED (../shared).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${B:-${CARGO_TARGET_DIR:-$HOME/.cache/chronoseek-target}/release/chronoseek}
SHARED=${SHARED:-../shared}
VENV=${REFBENCH_VENV:-$HOME/.cache/chronoseek-refbench/venv}
OUT=${1:-$HOME/.cache/chronoseek-refbench/run}
mkdir -p "$OUT"

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q torch==2.5.1 transformers==4.46.3 opencv-python-headless==4.10.0.84 \
        numpy==1.26.4 pillow safetensors
fi
model="$OUT/vit-b-32-random"
[ -f "$model/model.safetensors" ] || "$B" -q model init-random --shape vit-b-32 --seed 32 --out "$model" >/dev/null
video="$OUT/two-minutes-640x360.mp4"
[ -f "$video" ] || ffmpeg -loglevel error -y -f lavfi -i "testsrc2=size=640x360:rate=30" -t 120 \
    -c:v libx264 -pix_fmt yuv420p -g 60 "$video"

echo "== reference (torch $("$VENV/bin/python" -c 'import torch; print(torch.__version__)'), $(nproc) cores)" >&2
"$VENV/bin/python" scripts/reference_bench.py --model "$model" --bpe "$SHARED/model/bpe_simple_vocab_16e6.txt.gz" \
    --video "$video" --batch 1,8,32 | tee "$OUT/reference.json"
for precision in f32 q8; do
    echo "== chronoseek model bench ($precision)" >&2
    "$B" --model-dir "$model" --precision "$precision" model bench --batch 1,8,32 | tee "$OUT/chronoseek-model-$precision.txt"
    echo "== chronoseek bench ($precision; cold and cached search, the reference's sampling plan)" >&2
    "$B" --model-dir "$model" --precision "$precision" --sampling adaptive bench --video "$video" \
        --query "a man jumps into the pool" --cold-runs 2 --runs 20 | tee "$OUT/chronoseek-bench-$precision.txt"
done
