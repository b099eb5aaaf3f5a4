// The stride-2 convolutions (src/ops/conv2d-stride2.ts) equal what PixelCNN++ composed before
// them from the stride-1 'same' conv2d: a strided convolution is the full-resolution one kept at
// the even rows and columns, a transposed one the full-resolution convolution of the
// zero-interleaved input with the weight flipped and its inputs and outputs swapped. Forward
// and every gradient, on every backend that loads, odd and even sizes, with and without masks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../src/tensor/tensor.js';
import { backward, result } from '../src/tensor/autograd.js';
import { Rng } from '../src/random/rng.js';
import { conv2d, conv2dStride2, conv2dTranspose2, placeKernel, type ConvMask } from '../src/ops/index.js';
import { liveTaps, pixelCnnMask } from '../src/nn/masks.js';
import { jsKernels, kernels, tryNativeKernels, tryWasmKernels, useBackend } from '../src/backend/index.js';
import { randomArray, randomTensor } from './helpers.js';

/** x (B, C, H, W) → (B, C, ⌈H/2⌉, ⌈W/2⌉): the even rows and columns (the old subsample2). */
function subsample(x: Tensor): Tensor {
  const [B, C, H, W] = x.shape, h = Math.ceil(H / 2), w = Math.ceil(W / 2);
  const at = (p: number, i: number, j: number): [number, number] => [(p * h + i) * w + j, p * H * W + 2 * i * W + 2 * j];
  const y = new Float32Array(B * C * h * w);
  for (let p = 0; p < B * C; p++) for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) { const [d, s] = at(p, i, j); y[d] = x.data[s]; }
  return result(y, [B, C, h, w], [x], (out) => {
    const d = x.gradBuffer();
    for (let p = 0; p < B * C; p++) for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) { const [o, s] = at(p, i, j); d[s] += out.grad![o]; }
  });
}

/** x (B, C, h, w) → (B, C, H, W): x at the even rows and columns, zero elsewhere (the old upsample2). */
function upsample(x: Tensor, H: number, W: number): Tensor {
  const [B, C, h, w] = x.shape;
  const at = (p: number, i: number, j: number): [number, number] => [p * H * W + 2 * i * W + 2 * j, (p * h + i) * w + j];
  const y = new Float32Array(B * C * H * W);
  for (let p = 0; p < B * C; p++) for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) { const [d, s] = at(p, i, j); y[d] = x.data[s]; }
  return result(y, [B, C, H, W], [x], (out) => {
    const d = x.gradBuffer();
    for (let p = 0; p < B * C; p++) for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) { const [o, s] = at(p, i, j); d[s] += out.grad![o]; }
  });
}

/** A (A, B, kh, kw) mask as the flipped (B, A, kh, kw) one of the equivalent correlation. */
function flippedMask(m: ConvMask, A: number, Bd: number, kh: number, kw: number): ConvMask {
  const K = kh * kw, values = new Float32Array(m.values.length);
  for (let a = 0; a < A; a++) for (let b = 0; b < Bd; b++) for (let t = 0; t < K; t++) {
    values[(b * A + a) * K + K - 1 - t] = m.values[(a * Bd + b) * K + t];
  }
  return { values, taps: liveTaps(values, K) };
}

/** A kh×kw window at (top, left) of a KH×KW kernel, as the model's shifted convolutions use. */
function windowMask(O: number, I: number, KH: number, KW: number, kh: number, kw: number, top: number, left: number): ConvMask {
  const values = new Float32Array(O * I * KH * KW);
  for (let j = 0; j < O * I; j++) for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) values[(j * KH + top + ky) * KW + left + kx] = 1;
  return { values, taps: liveTaps(values, KH * KW) };
}

/** The output and every input's gradient of Σ f(inputs) · r. */
function run(inputs: Tensor[], f: () => Tensor, seed: number): Float32Array[] {
  for (const t of inputs) t.grad = null;
  const out = f();
  backward(out, randomArray(out.size, new Rng(seed)));
  return [Float32Array.from(out.data), ...inputs.map((t) => Float32Array.from(t.grad!))];
}

function close(got: Float32Array[], want: Float32Array[], what: string): void {
  const names = ['output', 'd x', 'd w', 'd bias'];
  for (const [k, g] of got.entries()) {
    assert.equal(g.length, want[k].length, `${what}: ${names[k]} length`);
    for (let i = 0; i < g.length; i++) {
      assert.ok(Math.abs(g[i] - want[k][i]) <= 1e-5, `${what}: ${names[k]}[${i}] ${g[i]} vs ${want[k][i]}`);
    }
  }
}

const backends = () => [jsKernels, tryNativeKernels(), tryWasmKernels()].filter((k) => k !== null);

// H × W → ⌈H/2⌉ × ⌈W/2⌉: the model's 28 → 14 → 7, odd sizes and non-square ones.
const SIZES: [number, number][] = [[28, 28], [14, 14], [7, 7], [5, 5], [6, 5], [1, 2]];
const I = 5, O = 6;
// [name, KH, KW, mask of (O, I, KH, KW) or null]
const KERNELS: [string, number, number, ConvMask | null][] = [
  ['3×3', 3, 3, null],
  ['3×3, the model\'s 2×3 window', 3, 3, windowMask(O, I, 3, 3, 2, 3, 0, 0)],
  ['3×3, the model\'s 2×2 window at (1, 1) (a transposed one\'s)', 3, 3, windowMask(O, I, 3, 3, 2, 2, 1, 1)],
  ['3×3 mask B (colours)', 3, 3, pixelCnnMask('B', O, I, 3, 3, 1)],
  ['1×3', 1, 3, null],
  ['5×5 mask A', 5, 5, pixelCnnMask('A', O, I, 5, 5, 1)],
];

for (const [H, W] of SIZES) {
  const h = Math.ceil(H / 2), w = Math.ceil(W / 2);
  test(`conv2dStride2 and conv2dTranspose2 equal subsample2∘conv2d and conv2d∘upsample2 (${H}×${W} ↔ ${h}×${w}), forward and gradients, every backend`, () => {
    const before = kernels().name;
    try {
      for (const k of backends()) {
        useBackend(k.name);
        for (const [name, KH, KW, mask] of KERNELS) {
          const rng = new Rng(H * 31 + W);
          const what = `${k.name} ${name} ${H}×${W}`;
          // Strided: w (O, I, KH, KW).
          const x = randomTensor([2, I, H, W], rng), ws = randomTensor([O, I, KH, KW], rng), b = randomTensor([O], rng);
          close(run([x, ws, b], () => conv2dStride2(x, ws, b, mask), 1),
            run([x, ws, b], () => subsample(conv2d(x, ws, b, mask)), 1), `stride 2 ${what}`);
          // Transposed: w (O, I, KH, KW) in ConvTranspose2d's layout (inputs O, outputs I);
          // the old form flipped and swapped it (placeKernel's transposed placement).
          const low = randomTensor([2, O, h, w], rng), wt = randomTensor([O, I, KH, KW], rng), bt = randomTensor([I], rng);
          const flipped = mask ? flippedMask(mask, O, I, KH, KW) : null;
          close(run([low, wt, bt], () => conv2dTranspose2(low, wt, bt, mask, H, W), 2),
            run([low, wt, bt], () => conv2d(upsample(low, H, W), placeKernel(wt, KH, KW, 0, 0, true), bt, flipped), 2),
            `transposed ${what}`);
        }
      }
    } finally {
      useBackend(before);
    }
  });
}

test('conv2dTranspose2: a target size the input is not the stride-2 image of is one error naming both', () => {
  const x = Tensor.zeros([1, 2, 4, 4]), w = Tensor.zeros([2, 3, 3, 3]);
  assert.throws(() => conv2dTranspose2(x, w, null, null, 9, 8), /^Error: conv2dTranspose2: cannot upsample \[1, 2, 4, 4\] to 9×8 \(need ⌈H\/2⌉ = 4, ⌈W\/2⌉ = 4\)$/);
  assert.throws(() => conv2dStride2(x, Tensor.zeros([3, 3, 3, 3]), null), /conv2dStride2: input channels differ/);
});
