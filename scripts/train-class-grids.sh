#!/bin/bash
# Class-conditional Gated PixelCNNs for the README's grids, one thread each, side by side.
cd "$(dirname "$0")/.." && mkdir -p runs/cmp
M=${1:?usage: scripts/train-class-grids.sh <minutes>}
common="--arch gated --conditional --hidden 32 --out-hidden 64 --layers 5 --batch 32 --lr 3e-3 --lr-schedule cosine --warmup 200 --minutes $M --seed 1 --no-progress --samples 0 --eval-limit 0"
PIXELCNN_THREADS=1 node bin/pixelcnn.js train $common --dataset mnist --levels 2 --out runs/cmp/cond-mnist-2 > runs/cmp/cond-mnist-2.log 2>&1 &
PIXELCNN_THREADS=1 node bin/pixelcnn.js train $common --dataset fashion-mnist --levels 4 --out runs/cmp/cond-fashion-4 > runs/cmp/cond-fashion-4.log 2>&1 &
wait
for m in cond-mnist-2 cond-fashion-4; do
  node bin/pixelcnn.js sample --model runs/cmp/$m --class all --n 10 --seed 1 --out runs/cmp/$m-classes.png >> runs/cmp/$m.log 2>&1
done
