/**
 * The wasm backend's threads (native/src/wasm.cc's pool over shared memory, worker_threads in
 * Node): 2 and 3 threads give results bit-identical to 1 for convolutions, the stride-2 kernels,
 * GEMM, a gated PixelCNN's and a PixelCNN++'s forward and backward, and the cached sampler; with
 * more threads than tasks; across memory growth; and one thread, correctly, without shared memory.
 * Skipped when the module does not load, unless PIXELCNN_REQUIRE_WASM=1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { skipWithoutWasm } from './helpers.js';
import { readFileSync } from 'node:fs';
import { useBackend, type Conv2dDims, type Kernels } from '../src/backend/index.js';
import { instantiateWasm, loadWasmAddon, wasmKernels, type WasmAddon } from '../src/backend/wasm.js';
import { nodeWasmThreads, wasmFile } from '../src/backend/wasm-file.js';
import { backward } from '../src/tensor/autograd.js';
import { imageNll } from '../src/eval/likelihood.js';
import { GatedPixelCnn, defaultGatedPixelCnnConfig } from '../src/models/gated-pixelcnn.js';
import { PixelCnnPlusPlus, defaultPixelCnnPlusPlusConfig } from '../src/models/pixelcnn-plus-plus.js';
import { PixelCnn, defaultPixelCnnConfig } from '../src/models/pixelcnn.js';
import type { AutoregressiveModel } from '../src/models/model.js';
import { sampleCached } from '../src/sample/cached.js';

const shared = loadWasmAddon();

/** A module instance of its own with `threads` threads, started and running. */
async function instance(threads: number, shared?: boolean): Promise<WasmAddon> {
  const addon = instantiateWasm(readFileSync(wasmFile()), { spawn: nodeWasmThreads().spawn, threads, shared });
  await addon.threadsReady();
  return addon;
}

const rand = (n: number, seed: number, scale = 0.5) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed * 78.233) * scale);

/** Every kernel output of the agreement cases, on k. */
function kernelCases(k: Kernels): Float32Array[] {
  const outs: Float32Array[] = [];
  for (const [B, I, O, H, W, K] of [[3, 16, 24, 28, 28, 3], [2, 7, 5, 9, 11, 5], [1, 3, 2, 4, 4, 3]]) {
    const d: Conv2dDims = { batch: B, inChannels: I, outChannels: O, height: H, width: W, kernelH: K, kernelW: K };
    const taps = Int32Array.from({ length: (K * K + 1) >> 1 }, (_, i) => i);
    const x = rand(B * I * H * W, 1), w = rand(O * I * K * K, 2), bias = rand(O, 3), dout = rand(B * O * H * W, 4);
    const out = new Float32Array(B * O * H * W), dx = new Float32Array(x.length), dw = new Float32Array(w.length), db = new Float32Array(O);
    k.conv2dForward(out, x, w, bias, d, taps, rand(out.length, 5), true);
    k.conv2dBackwardData(dx, dout, w, d, taps, 0, rand(x.length, 6));
    k.conv2dBackwardFilter(dw, db, dout, x, d, taps, true);
    outs.push(out, dx, dw, db);
    // Stride 2: the output (and dout) on the half grid.
    const half = B * O * Math.ceil(H / 2) * Math.ceil(W / 2), d2 = rand(half, 7);
    const out2 = new Float32Array(half), dx2 = new Float32Array(x.length), dw2 = new Float32Array(w.length), db2 = new Float32Array(O);
    const all = Int32Array.from({ length: K * K }, (_, i) => i);
    k.conv2dStride2Forward(out2, x, w, bias, d, all, 0);
    k.conv2dStride2BackwardData(dx2, d2, w, d, all, 0);
    k.conv2dStride2BackwardFilter(dw2, db2, d2, x, d, all);
    outs.push(out2, dx2, dw2, db2);
  }
  for (const [m, n, kk] of [[130, 90, 70], [3, 2, 5]]) {
    const c = new Float32Array(m * n);
    k.gemm(false, true, m, n, kk, rand(m * kk, 8), rand(n * kk, 9), c, 0);
    outs.push(c);
  }
  return outs;
}

function assertSame(got: Float32Array[], want: Float32Array[], what: string): void {
  assert.equal(got.length, want.length);
  for (let i = 0; i < got.length; i++) {
    assert.ok(Buffer.from(got[i].buffer, got[i].byteOffset, got[i].byteLength).equals(Buffer.from(want[i].buffer, want[i].byteOffset, want[i].byteLength)),
      `${what}: output ${i} differs`);
  }
}

test('wasm threads: 2 and 3 threads give the 1-thread results bit for bit (conv2d, stride 2, gemm)', async (t) => {
  if (skipWithoutWasm(t, !!shared)) return;
  const one = kernelCases(wasmKernels(await instance(1)));
  for (const n of [2, 3]) {
    const addon = await instance(n);
    assert.equal(addon.getThreads(), n);
    // A worker reports ready just before it enters its loop (where it is counted).
    while (addon.runningThreads() < n) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(addon.runningThreads(), n, 'every worker runs');
    assertSame(kernelCases(wasmKernels(addon)), one, `${n} threads`);
  }
});

test('wasm threads: more threads than a kernel has tasks', async (t) => {
  if (skipWithoutWasm(t, !!shared)) return;
  const k1 = wasmKernels(await instance(1)), k8 = wasmKernels(await instance(8));
  const d: Conv2dDims = { batch: 1, inChannels: 1, outChannels: 2, height: 3, width: 3, kernelH: 3, kernelW: 3 };
  const taps = Int32Array.from([0, 1, 2, 3, 4]);
  const run = (k: Kernels) => {
    const out = new Float32Array(18), dw = new Float32Array(18), c = new Float32Array(4);
    k.conv2dForward(out, rand(9, 1), rand(18, 2), null, d, taps);
    k.conv2dBackwardFilter(dw, null, rand(18, 3), rand(9, 4), d, taps);
    k.gemm(false, false, 2, 2, 2, rand(4, 5), rand(4, 6), c, 0);
    return [out, dw, c];
  };
  assertSame(run(k8), run(k1), '8 threads');
});

test('wasm threads: the memory grows during a threaded run and the results stay those of 1 thread', async (t) => {
  if (skipWithoutWasm(t, !!shared)) return;
  const a1 = await instance(1), a2 = await instance(2);
  const k1 = wasmKernels(a1), k2 = wasmKernels(a2);
  const conv = (k: Kernels, B: number, H: number) => {
    const d: Conv2dDims = { batch: B, inChannels: 4, outChannels: 4, height: H, width: H, kernelH: 3, kernelW: 3 };
    const out = new Float32Array(B * 4 * H * H);
    k.conv2dForward(out, rand(out.length, 1), rand(144, 2), rand(4, 3), d, Int32Array.from([0, 1, 2, 3, 4]));
    return out;
  };
  assertSame([conv(k2, 1, 8)], [conv(k1, 1, 8)], 'small');
  const before = a2.memoryBytes();
  // 2 × 16 MiB of input and output: more than the module's initial 16 MiB.
  assertSame([conv(k2, 64, 128)], [conv(k1, 64, 128)], 'after growth');
  assert.ok(a2.memoryBytes() > before, `the memory grew (${before} → ${a2.memoryBytes()} bytes)`);
  assertSame([conv(k2, 1, 8)], [conv(k1, 1, 8)], 'small again');
});

test('wasm threads: without shared memory the module runs one thread, with the same results', async (t) => {
  if (skipWithoutWasm(t, !!shared)) return;
  const one = kernelCases(wasmKernels(await instance(1)));
  const addon = await instance(3, false);
  assert.equal(addon.sharedMemory(), false);
  assert.equal(addon.getThreads(), 1);
  addon.setThreads(4);
  assert.equal(addon.getThreads(), 1, 'setThreads cannot add threads without shared memory');
  assert.equal(addon.runningThreads(), 1);
  assertSame(kernelCases(wasmKernels(addon)), one, 'unshared');
  assert.equal((await instance(1)).sharedMemory(), true);
});

test('wasm threads: setThreads takes 1 to 1024', (t) => {
  if (skipWithoutWasm(t, !!shared)) return;
  assert.throws(() => shared!.setThreads(0), /wasm threads must be an integer from 1 to 1024, got 0/);
  assert.throws(() => shared!.setThreads(1025), RangeError);
  assert.throws(() => shared!.setThreads(1.5), RangeError);
});

/** The loss and every parameter gradient of one forward and backward of `model` on the wasm backend. */
function forwardBackward(model: AutoregressiveModel, batch: number): Float32Array[] {
  const { channels: C, height: H, width: W, levels: L } = model.config;
  const targets = Uint8Array.from({ length: batch * C * H * W }, (_, i) => (i * 7 + (i >> 3)) % L);
  for (const [, p] of model.parameters()) p.grad?.fill(0);
  const { loss } = imageNll(model, targets, batch, H, W);
  backward(loss);
  return [Float32Array.from(loss.data), ...[...model.parameters()].map(([, p]) => Float32Array.from(p.grad!))];
}

/** f's results with the backend's own module at 1, 2 and 3 threads (as --threads sets them). */
function perThreadCount<T>(f: () => T): T[] {
  useBackend('wasm');
  const before = shared!.getThreads();
  try {
    return [1, 2, 3].map((n) => { shared!.setThreads(n); return f(); });
  } finally {
    shared!.setThreads(before);
  }
}

test('wasm threads: a gated PixelCNN and a PixelCNN++ train the same (forward and backward) at 1, 2 and 3 threads', (t) => {
  if (skipWithoutWasm(t, !!shared)) return;
  const gated = new GatedPixelCnn({ ...defaultGatedPixelCnnConfig, channels: 1, levels: 4, height: 10, width: 9, hidden: 12, outHidden: 12, layers: 3 }, 1);
  const plus = new PixelCnnPlusPlus({ ...defaultPixelCnnPlusPlusConfig, channels: 3, levels: 16, likelihood: 'logistic-mixture', mixtures: 2, filters: 8, resnets: 1, dropout: 0, height: 8, width: 8 }, 2);
  for (const [what, model] of [['gated', gated], ['pixelcnn++', plus]] as const) {
    const [one, two, three] = perThreadCount(() => forwardBackward(model, 3));
    assertSame(two, one, `${what}, 2 threads`);
    assertSame(three, one, `${what}, 3 threads`);
  }
});

test('wasm threads: the cached sampler draws the same images for a seed at 1, 2 and 3 threads', (t) => {
  if (skipWithoutWasm(t, !!shared)) return;
  const model = new PixelCnn({ ...defaultPixelCnnConfig, channels: 1, levels: 4, height: 9, width: 9, hidden: 16, outHidden: 16, blocks: 2 }, 3);
  const [one, two, three] = perThreadCount(() => sampleCached(model, { count: 9, temperature: 1, seed: 5 }));
  assert.deepEqual(two, one);
  assert.deepEqual(three, one);
});
