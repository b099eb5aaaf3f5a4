#!/bin/bash
# Usage: scripts/compare-gated.sh <dataset> <levels> <minutes>: PixelCNN and Gated PixelCNN side by side, one thread each.
cd "$(dirname "$0")/.." && mkdir -p runs/cmp
ds=${1:?usage: scripts/compare-gated.sh <dataset> <levels> <minutes>}; L=${2:?levels}; M=${3:?minutes}
common="--dataset $ds --levels $L --batch 32 --lr 3e-3 --lr-schedule cosine --warmup 200 --minutes $M --seed 1 --no-progress --samples 16 --eval-limit 0"
PIXELCNN_THREADS=1 node bin/pixelcnn.js train $common --arch pixelcnn --hidden 64 --out-hidden 64 --blocks 7 --out runs/cmp/$ds-$L-pixelcnn > runs/cmp/$ds-$L-pixelcnn.log 2>&1 &
GATED=${GATED:---hidden 32 --out-hidden 64 --layers 5}  # the gated configuration (env GATED overrides)
PIXELCNN_THREADS=1 node bin/pixelcnn.js train $common --arch gated $GATED --out runs/cmp/$ds-$L-gated > runs/cmp/$ds-$L-gated.log 2>&1 &
wait
