#!/usr/bin/env bash
# Whole-step A/B of two or more builds on a shared, noisy machine: alternates `pixelcnn bench
# --json` of each build ROUNDS times and prints, per build, the fastest step of all rounds and the
# median over rounds of each round's fastest step (step_ms_min), the figure least moved by other
# tenants. A build is a directory holding bin/, dist/, build/ and package.json (a copy of the
# tree after `npm install`, e.g. `cp -r bin dist build package.json /tmp/ab-old` and a symlink
# to node_modules).
# Usage: bench/ab-builds.sh ROUNDS "BENCH FLAGS" DIR1 DIR2 [...]
#   bench/ab-builds.sh 8 "--levels 2 --hidden 48 --out-hidden 64 --blocks 12 --steps 10" /tmp/ab-old .
#   bench/ab-builds.sh 8 "--levels 256 --hidden 128 --out-hidden 32 --blocks 7 --steps 5" /tmp/ab-old .
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 ROUNDS \"BENCH FLAGS\" DIR1 DIR2 [...]" >&2
  exit 2
fi
rounds=$1 flags=$2
shift 2
for d in "$@"; do
  [ -f "$d/bin/pixelcnn.js" ] || { echo "ab-builds: $d/bin/pixelcnn.js not found" >&2; exit 2; }
done
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for _ in $(seq "$rounds"); do
  for d in "$@"; do
    # shellcheck disable=SC2086
    ms=$(node "$d/bin/pixelcnn.js" bench --json $flags | tail -1 | node -e \
      'let s="";process.stdin.on("data",c=>s+=c).on("end",()=>console.log(JSON.parse(s).step_ms_min))')
    echo "$d $ms" >> "$out"
  done
done
for d in "$@"; do
  awk -v d="$d" '$1 == d { print $2 }' "$out" | sort -n | awk -v d="$d" \
    '{ a[NR] = $1 } END { printf "%-24s fastest %.1f ms  median of per-round fastest %.1f ms  (%d rounds)\n", d, a[1], a[int((NR + 1) / 2)], NR }'
done
