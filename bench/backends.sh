#!/usr/bin/env bash
# The backends side by side on one model: alternates `pixelcnn bench --json --backend B` over the
# backends ROUNDS times (one thread each: the wasm backend has one) and prints, per backend, the
# median over rounds of the images/s of each round's fastest step. Extra flags go to the bench
# (e.g. --sample --batches 16 for the cached sampler instead of training).
# Usage: bench/backends.sh ROUNDS "BENCH FLAGS" [BACKENDS...]   (default: native wasm js)
#   bench/backends.sh 3 "--levels 2 --hidden 32 --out-hidden 64 --blocks 24 --batch 32 --steps 5"
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 ROUNDS \"BENCH FLAGS\" [BACKENDS...]" >&2
  exit 2
fi
rounds=$1 flags=$2
shift 2
backends=("$@")
[ ${#backends[@]} -gt 0 ] || backends=(native wasm js)
cli="$(dirname "$0")/../bin/pixelcnn.js"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for _ in $(seq "$rounds"); do
  for b in "${backends[@]}"; do
    # shellcheck disable=SC2086
    node "$cli" bench --json --backend "$b" --threads 1 $flags | tail -1 | node -e '
      let s = ""; process.stdin.on("data", (c) => (s += c)).on("end", () => {
        const r = JSON.parse(s);
        // training: batch / fastest step; sampling: the cached sampler at the first batch size
        const v = r.step_ms_min ? r.batch / (r.step_ms_min / 1000) : r.results[0].cached_images_per_s;
        console.log(process.argv[1], v);
      });' "$b" >> "$out"
  done
done
for b in "${backends[@]}"; do
  awk -v b="$b" '$1 == b { print $2 }' "$out" | sort -n | awk -v b="$b" \
    '{ a[NR] = $1 } END { printf "%-8s median %.1f images/s  (%d rounds, fastest %.1f)\n", b, a[int((NR + 1) / 2)], NR, a[NR] }'
done
