#!/usr/bin/env bash
# The native backend's agreement tests under AddressSanitizer, for every compiled instruction set:
# builds the addon with -fsanitize=address, runs test/native-backend and test/native-isa with the
# compiler's libasan preloaded into node, then rebuilds the normal addon (also on failure).
# An out-of-bounds read or write in a kernel (say, a vector load past a plane's edge that the
# results would never show) stops the run with a report naming the kernel.
# Usage: npm run test:asan
set -euo pipefail
cd "$(dirname "$0")/.."
lib=$(${CXX:-g++} -print-file-name=libasan.so)
if [ ! -e "$lib" ]; then
  echo "test-asan: libasan not found ($lib); install the compiler's AddressSanitizer runtime" >&2
  exit 2
fi
trap 'echo "test-asan: rebuilding the normal addon"; npm run --silent build:native >/dev/null' EXIT
CXXFLAGS="-fsanitize=address -fno-omit-frame-pointer -O1" LDFLAGS="-fsanitize=address" npm run --silent build:native
npx tsc -p tsconfig.json
ASAN_OPTIONS=detect_leaks=0 LD_PRELOAD="$lib" \
  node --test --test-concurrency=1 dist/test/native-backend.test.js dist/test/native-isa.test.js
