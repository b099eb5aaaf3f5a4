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
