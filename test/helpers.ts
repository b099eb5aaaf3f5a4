import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsKernels, kernels, tryNativeKernels, tryWasmKernels, useBackend } from '../src/backend/index.js';
import { nativeLoadError } from '../src/backend/native.js';
import { wasmLoadError } from '../src/backend/wasm.js';
import { Tensor } from '../src/tensor/tensor.js';
import { backward } from '../src/tensor/autograd.js';
import { Rng } from '../src/random/rng.js';

/** Random tensor with values in ±[minAbs, 1] (away from ReLU's kink when minAbs > 0). */
export function randomTensor(shape: number[], rng: Rng, opts: { requiresGrad?: boolean; minAbs?: number; scale?: number } = {}): Tensor {
  const t = Tensor.zeros(shape, { requiresGrad: opts.requiresGrad ?? true });
  const minAbs = opts.minAbs ?? 0, scale = opts.scale ?? 1;
  for (let i = 0; i < t.size; i++) {
    const mag = minAbs + (1 - minAbs) * rng.uniform();
    t.data[i] = (rng.uniform() < 0.5 ? -mag : mag) * scale;
  }
  return t;
}

export function randomArray(n: number, rng: Rng, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rng.uniform() * 2 - 1) * scale;
  return a;
}

/**
 * Checks an op's analytical gradients against central finite differences of the scalar
 * loss Σ out · r, computed in float64, at up to `samples` random coordinates of every input.
 */
export function checkGradients(name: string, inputs: Tensor[], f: (...xs: Tensor[]) => Tensor,
                               opts: { eps?: number; rtol?: number; atol?: number; samples?: number; seed?: number } = {}): void {
  const eps = opts.eps ?? 1e-2, rtol = opts.rtol ?? 2e-2, atol = opts.atol ?? 2e-3, samples = opts.samples ?? 12;
  const rng = new Rng(opts.seed ?? 7);
  const out = f(...inputs);
  const r = randomArray(out.size, rng);
  const lossOf = (o: Tensor) => { let s = 0; for (let i = 0; i < o.size; i++) s += o.data[i] * r[i]; return s; };
  for (const x of inputs) x.grad = null;
  backward(out, r);
  for (const [k, x] of inputs.entries()) {
    if (!x.requiresGrad) continue;
    const g = x.grad ?? new Float32Array(x.size);
    const n = Math.min(samples, x.size);
    for (let s = 0; s < n; s++) {
      const i = x.size <= samples ? s : rng.int(x.size);
      const orig = x.data[i];
      x.data[i] = orig + eps; const up = lossOf(f(...inputs));
      x.data[i] = orig - eps; const down = lossOf(f(...inputs));
      x.data[i] = orig;
      const numeric = (up - down) / (2 * eps);
      const err = Math.abs(numeric - g[i]);
      assert.ok(err <= atol + rtol * Math.abs(numeric),
        `${name}: d/d input${k}[${i}] analytical ${g[i]} vs numerical ${numeric} (error ${err})`);
    }
  }
}

/** max |a − b| / max(max |b|, tiny): the agreement measure between two backends. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'lengths differ');
  let maxDiff = 0, maxRef = 0;
  for (let i = 0; i < a.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
    maxRef = Math.max(maxRef, Math.abs(b[i]));
  }
  return maxDiff / Math.max(maxRef, 1e-30);
}

export interface OpTestOptions {
  /** Inputs are random in ±[minAbs, 1]·scale (minAbs > 0 keeps ReLU-like kinks away). */
  minAbs?: number;
  scale?: number;
  seed?: number;
  /** Forward agreement with the js reference: max relative error (see relativeError). */
  rtol?: number;
  /** Finite-difference options (checkGradients). */
  grad?: { eps?: number; rtol?: number; atol?: number; samples?: number };
}

/**
 * An op's whole check as one test (tinygrad's helper_test_op): on the js backend, on the native
 * one when it loads (required with PIXELCNN_REQUIRE_NATIVE=1) and on the wasm one when it loads
 * (required with PIXELCNN_REQUIRE_WASM=1), the forward equals the js
 * reference's and every input's gradient equals central finite differences. `shapes` are the
 * tensor inputs of `f`; any other argument of the op is closed over by `f`.
 */
export function opTest(name: string, shapes: number[][], f: (...xs: Tensor[]) => Tensor, o: OpTestOptions = {}): void {
  const title = `${name} ${shapes.map((s) => `[${s.join(',')}]`).join(' ')}`;
  test(`op ${title}: forward = js reference, gradients = finite differences, every backend`, () => {
    const native = tryNativeKernels();
    if (!native) assert.ok(!process.env.PIXELCNN_REQUIRE_NATIVE, `PIXELCNN_REQUIRE_NATIVE is set but the addon cannot load: ${nativeLoadError()}`);
    const wasm = tryWasmKernels();
    if (!wasm) assert.ok(!process.env.PIXELCNN_REQUIRE_WASM, `PIXELCNN_REQUIRE_WASM is set but the wasm module cannot load: ${wasmLoadError()}`);
    const before = kernels().name;
    let reference: Float32Array | null = null;
    try {
      for (const k of [jsKernels, native, wasm]) {
        if (!k) continue;
        useBackend(k.name);
        const rng = new Rng(o.seed ?? 5);
        const inputs = shapes.map((s) => randomTensor(s, rng, { minAbs: o.minAbs, scale: o.scale }));
        const out = f(...inputs);
        if (!reference) reference = Float32Array.from(out.data);
        else {
          const err = relativeError(out.data, reference);
          assert.ok(err <= (o.rtol ?? 1e-5), `${title}: ${k.name} forward differs from js by ${err}`);
        }
        checkGradients(`${title} (${k.name})`, inputs, f, o.grad);
      }
    } finally {
      useBackend(before);
    }
  });
}

/**
 * Skips a test when the wasm module is unavailable (`available` false), or fails it when
 * PIXELCNN_REQUIRE_WASM=1 asks for wasm. True when skipped.
 */
export function skipWithoutWasm(t: { skip(msg?: string): void }, available: boolean): boolean {
  if (available) return false;
  if (process.env.PIXELCNN_REQUIRE_WASM === '1') assert.fail(`PIXELCNN_REQUIRE_WASM=1 but the wasm module cannot load: ${wasmLoadError()}`);
  t.skip(`wasm module unavailable: ${wasmLoadError()}`);
  return true;
}
