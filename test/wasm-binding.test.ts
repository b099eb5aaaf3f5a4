/**
 * The wasm binding (src/backend/wasm.ts) copies only the prefix of an array that a kernel uses:
 * gemm gets the caller's whole scratch from the cached samplers, and a call must not move (or
 * stage) more than m·k, k·n and m·n values, nor touch c past m·n.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { skipWithoutWasm } from './helpers.js';
import { instantiateWasm, loadWasmAddon, wasmKernels } from '../src/backend/wasm.js';
import { wasmFile } from '../src/backend/wasm-file.js';
import { jsKernels } from '../src/backend/js/index.js';

const available = !!loadWasmAddon();
const rand = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed * 78.233));

test('wasm binding: gemm on arrays longer than its operands gives the exact-length result and leaves c past m·n alone', (t) => {
  if (skipWithoutWasm(t, available)) return;
  const k = wasmKernels(instantiateWasm(readFileSync(wasmFile()), { shared: false }));
  const [m, n, depth, extra] = [5, 7, 3, 11];
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      for (const beta of [0, 1] as const) {
        const a = rand(m * depth, 1), b = rand(depth * n, 2), c0 = rand(m * n, 3);
        const want = c0.slice();
        jsKernels.gemm(transA, transB, m, n, depth, a, b, want, beta);
        // The operands at the front of longer arrays; c's tail holds values that must survive.
        const longA = new Float32Array(a.length + extra), longB = new Float32Array(b.length + extra);
        longA.set(a); longA.fill(1e30, a.length);
        longB.set(b); longB.fill(-1e30, b.length);
        const longC = new Float32Array(c0.length + extra).fill(42);
        longC.set(c0);
        k.gemm(transA, transB, m, n, depth, longA, longB, longC, beta);
        const what = `transA ${transA}, transB ${transB}, beta ${beta}`;
        for (let i = 0; i < m * n; i++) assert.ok(Math.abs(longC[i] - want[i]) <= 1e-5 * (1 + Math.abs(want[i])), `${what}: c[${i}] ${longC[i]} ≠ ${want[i]}`);
        assert.deepEqual([...longC.subarray(m * n)], new Array(extra).fill(42), `${what}: c past m·n`);
      }
    }
  }
});

test('wasm binding: gemm given a 64 MiB scratch for a 2×2 product stages only the product (the memory does not grow)', (t) => {
  if (skipWithoutWasm(t, available)) return;
  const addon = instantiateWasm(readFileSync(wasmFile()), { shared: false });
  const k = wasmKernels(addon);
  const small = () => {
    const c = new Float32Array(4);
    k.gemm(false, false, 2, 2, 2, Float32Array.of(1, 2, 3, 4), Float32Array.of(5, 6, 7, 8), c, 0);
    return c;
  };
  assert.deepEqual([...small()], [19, 22, 43, 50]);
  const before = addon.memoryBytes();
  const scratch = new Float32Array(16 << 20); // 64 MiB, four times the module's initial memory
  scratch.set([1, 2, 3, 4, 5, 6, 7, 8]);
  const c = new Float32Array(16 << 20);
  k.gemm(false, false, 2, 2, 2, scratch, scratch.subarray(4), c, 0);
  assert.deepEqual([...c.subarray(0, 4)], [19, 22, 43, 50]);
  assert.equal(addon.memoryBytes(), before, `the memory grew from ${before} to ${addon.memoryBytes()} bytes`);
});

test('wasm binding: an array kept resident is copied once and passed as that copy until released; outputs are never resident', (t) => {
  if (skipWithoutWasm(t, available)) return;
  const addon = instantiateWasm(readFileSync(wasmFile()), { shared: false });
  const k = wasmKernels(addon);
  assert.equal(typeof k.keepResident, 'function');
  const a = Float32Array.of(1, 2, 3, 4), b = Float32Array.of(5, 6, 7, 8);
  const product = () => { const c = new Float32Array(4); k.gemm(false, false, 2, 2, 2, a, b, c, 0); return [...c]; };
  const release = k.keepResident!([b]);
  assert.deepEqual(product(), [19, 22, 43, 50]);
  // The caller broke its promise: the kernel still sees the copy made when b was kept resident.
  b[0] = 100;
  assert.deepEqual(product(), [19, 22, 43, 50]);
  release();
  assert.deepEqual(product(), [19 + 95, 22, 43 + 3 * 95, 50], 'released: b is copied per call again');
  // An output kept resident is still written back to the caller's array.
  const c = new Float32Array(4);
  const releaseC = k.keepResident!([c]);
  k.gemm(false, false, 2, 2, 2, Float32Array.of(1, 0, 0, 1), Float32Array.of(1, 2, 3, 4), c, 0);
  assert.deepEqual([...c], [1, 2, 3, 4]);
  releaseC();
  // Keeping and releasing frees the copies: the memory does not grow over many rounds.
  const big = new Float32Array(1 << 20);
  k.keepResident!([big])();
  const before = addon.memoryBytes();
  for (let i = 0; i < 50; i++) k.keepResident!([big])();
  assert.equal(addon.memoryBytes(), before);
});
