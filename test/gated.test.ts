import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../src/tensor/tensor.js';
import { backward } from '../src/tensor/autograd.js';
import { Rng } from '../src/random/rng.js';
import { GatedPixelCnn, defaultGatedPixelCnnConfig, type GatedPixelCnnConfig } from '../src/models/gated-pixelcnn.js';
import { PixelCnn, defaultPixelCnnConfig } from '../src/models/pixelcnn.js';
import { createModel, type ModelConfigInput } from '../src/models/index.js';
import type { AutoregressiveModel } from '../src/models/model.js';
import { assertAutoregressive, dependencyMap } from './causality.js';
import { checkGradients } from './helpers.js';
import { conv2d } from '../src/ops/index.js';
import { backendName, tryNativeKernels, useBackend } from '../src/backend/index.js';

const tiny = (over: Partial<GatedPixelCnnConfig>): GatedPixelCnnConfig =>
  ({ ...defaultGatedPixelCnnConfig, hidden: 24, outHidden: 24, layers: 2, kernel: 3, firstKernel: 3, levels: 4, height: 5, width: 5, ...over });

/** The model with fixed class labels, for helpers that call forward(x) without classes. */
const withClasses = (model: AutoregressiveModel, classes: Int32Array): AutoregressiveModel =>
  ({ config: model.config, parameters: () => model.parameters(), forward: (x: Tensor) => model.forward(x, classes) });

const randomInput = (shape: number[], seed: number, requiresGrad = false): Tensor => {
  const rng = new Rng(seed), x = Tensor.zeros(shape, { requiresGrad });
  for (let i = 0; i < x.size; i++) x.data[i] = rng.uniform();
  return x;
};

/**
 * Pixel j lies in the gated model's receptive field of pixel i (raster indices on a width-W
 * image), P = firstKernel/2 + (layers − 1)·kernel/2: rows r−1−P … r−1 within P columns either
 * side, and row r up to P columns to the left.
 */
function inGatedField(i: number, j: number, W: number, P: number): boolean {
  const r = Math.floor(i / W), c = i % W, rr = Math.floor(j / W), cc = j % W;
  if (rr === r) return cc < c && cc >= c - P;
  return rr < r && rr >= r - 1 - P && Math.abs(cc - c) <= P;
}

/** Allowed dependencies (earlier pixels in the field, earlier colours at the pixel) that are missing, and forbidden ones present. */
function compareWithField(deps: Uint8Array[], C: number, H: number, W: number, inField: (i: number, j: number) => boolean) {
  const missing: { i: number; c: number; j: number; cc: number }[] = [];
  const extra: { i: number; c: number; j: number; cc: number }[] = [];
  let expected = 0;
  for (let i = 0; i < H * W; i++) for (let c = 0; c < C; c++) {
    for (let j = 0; j < H * W; j++) for (let cc = 0; cc < C; cc++) {
      const want = j === i ? cc < c : j < i && inField(i, j);
      const got = deps[i * C + c][j * C + cc] === 1;
      if (want) expected++;
      if (want && !got) missing.push({ i, c, j, cc });
      if (got && !want) extra.push({ i, c, j, cc });
    }
  }
  return { missing, extra, expected };
}

// ---------------------------------------------------------------------------------------------
// Autoregressive order

for (const [channels, likelihood, numClasses] of [[1, 'softmax', 0], [3, 'softmax', 0], [1, 'sigmoid', 0], [3, 'softmax', 4]] as const) {
  const what = `C=${channels} ${likelihood}${numClasses ? `, conditional (${numClasses} classes)` : ''}`;
  test(`autoregressive order: Gated PixelCNN ${what} 5×5, layers=2`, () => {
    const model = new GatedPixelCnn(tiny({ channels, likelihood, numClasses, levels: likelihood === 'sigmoid' ? 2 : 4, firstKernel: 5 }), 3);
    const m = numClasses ? withClasses(model, Int32Array.of(2)) : model;
    const deps = assertAutoregressive('Gated PixelCNN', m, 5, 5);
    const C = channels, i = 12;
    if (C === 3) {
      assert.equal(deps[i * C + 2][i * C + 0], 1, 'B at pixel 12 reads R at pixel 12');
      assert.equal(deps[i * C + 2][i * C + 1], 1, 'B at pixel 12 reads G at pixel 12');
      assert.equal(deps[i * C + 1][i * C + 0], 1, 'G at pixel 12 reads R at pixel 12');
    }
    assert.equal(deps[i * C][11 * C], 1, 'pixel 12 reads the pixel to its left');
    assert.equal(deps[i * C][7 * C], 1, 'pixel 12 reads the pixel above');
    assert.equal(deps[i * C][9 * C], 1, 'pixel 12 (row 2, col 2) reads row 1, col 4 (upper right)');
  });
}

// ---------------------------------------------------------------------------------------------
// Receptive field: no blind spot, nothing cut off

test('no blind spot: 4-layer Gated PixelCNN on 7×7 reads every earlier pixel; the residual PixelCNN of the same depth misses part of the upper right', (t) => {
  const H = 7, W = 7;
  // Same depth and kernels: 7×7 first layer, then three 3×3 layers, so P = 3 + 3 = 6 covers the image.
  const gated = new GatedPixelCnn(tiny({ layers: 4, firstKernel: 7, kernel: 3, height: H, width: W }), 1);
  const pixelcnn = new PixelCnn({ ...defaultPixelCnnConfig, hidden: 24, outHidden: 24, blocks: 3, levels: 4, height: H, width: W }, 1);
  const all = () => true; // every earlier pixel
  const g = compareWithField(dependencyMap(gated, H, W), 1, H, W, all);
  const p = compareWithField(dependencyMap(pixelcnn, H, W), 1, H, W, all);
  t.diagnostic(`gated: ${g.expected - g.missing.length}/${g.expected} earlier-pixel dependencies present, ${g.missing.length} missing`);
  t.diagnostic(`pixelcnn: ${p.expected - p.missing.length}/${p.expected} earlier-pixel dependencies present, ${p.missing.length} missing`);
  assert.deepEqual(g.extra, [], 'gated: no dependence on later pixels');
  assert.deepEqual(g.missing, [], 'gated: every earlier pixel is read');
  assert.deepEqual(p.extra, [], 'pixelcnn: no dependence on later pixels');
  assert.ok(p.missing.length > 0, 'pixelcnn: the blind spot exists');
  // Every pixel the PixelCNN misses is above and to the right (its blind spot), all of which the gated model reads.
  for (const { i, j } of p.missing) {
    const r = Math.floor(i / W), c = i % W, rr = Math.floor(j / W), cc = j % W;
    assert.ok(rr < r && cc > c, `pixelcnn misses pixel (${rr}, ${cc}) for (${r}, ${c}), outside the upper right`);
  }
  // The blind spot of pixel (4, 0): (3, 4..6), (2, 5..6), (1, 6).
  const missedBy40 = p.missing.filter((m) => m.i === 4 * W).map((m) => [Math.floor(m.j / W), m.j % W]);
  assert.deepEqual(missedBy40, [[1, 6], [2, 5], [2, 6], [3, 4], [3, 5], [3, 6]]);
});

for (const layers of [1, 2, 3, 4]) {
  test(`nothing cut off: ${layers}-layer Gated PixelCNN (C=3, 7×7, kernels 3) reads exactly its receptive field, earlier colours of the pixel and the row above`, () => {
    const H = 7, W = 7, C = 3, P = 1 + (layers - 1);
    // 12 filters per colour: with 8, the odd seed has all of one colour's head ReLUs dead at a pixel.
    const model = new GatedPixelCnn(tiny({ channels: 3, layers, height: H, width: W, hidden: 36, outHidden: 36 }), 10 + layers);
    const deps = dependencyMap(model, H, W);
    // Spelled out: earlier colours at the pixel (the R → G link survives layer 0's type-A mask)
    // and the row directly above at this depth.
    for (const i of [24, 36]) {
      assert.equal(deps[i * C + 1][i * C + 0], 1, `G at pixel ${i} reads R`);
      assert.equal(deps[i * C + 2][i * C + 0], 1, `B at pixel ${i} reads R`);
      assert.equal(deps[i * C + 2][i * C + 1], 1, `B at pixel ${i} reads G`);
      for (let c = 0; c < C; c++) for (let cc = 0; cc < C; cc++) {
        assert.equal(deps[i * C + c][(i - W) * C + cc], 1, `colour ${c} at pixel ${i} reads colour ${cc} directly above`);
      }
    }
    const { missing, extra } = compareWithField(deps, C, H, W, (i, j) => inGatedField(i, j, W, P));
    assert.deepEqual(extra, [], 'no dependence outside the receptive field or on later pixels / colours');
    assert.deepEqual(missing, [], 'every pixel and earlier colour in the receptive field is read');
  });
}

// ---------------------------------------------------------------------------------------------
// Class conditioning

test('conditioning: different classes give different logits; bad or missing labels are errors', () => {
  const model = new GatedPixelCnn(tiny({ numClasses: 3 }), 2);
  const x = randomInput([2, 1, 5, 5], 4);
  const a = model.forward(x, Int32Array.of(0, 1)).data, b = model.forward(x, Int32Array.of(1, 0)).data;
  const half = a.length / 2;
  assert.notDeepEqual(a.subarray(0, half), b.subarray(0, half), 'image 0: class 0 vs class 1');
  assert.notDeepEqual(a.subarray(half), b.subarray(half), 'image 1: class 1 vs class 0');
  // Each image's logits depend on its own label only: image 0 alone with class 1 matches the batch.
  const x0 = new Tensor(x.data.slice(0, 25), [1, 1, 5, 5]);
  assert.deepEqual(Array.from(model.forward(x0, Int32Array.of(1)).data), Array.from(b.subarray(0, half)));
  assert.throws(() => model.forward(x), /class-conditional \(3 classes\)/);
  assert.throws(() => model.forward(x, null), /class-conditional/);
  assert.throws(() => model.forward(x, Int32Array.of(0)), /1 class labels for a batch of 2/);
  assert.throws(() => model.forward(x, Int32Array.of(0, 3)), /class 3 outside \[0, 3\)/);
});

test('conditioning: an unconditional model has no class parameters and ignores labels', () => {
  const model = new GatedPixelCnn(tiny({ numClasses: 0 }), 2);
  assert.ok(![...model.parameters().keys()].some((k) => k.startsWith('cond.')));
  const x = randomInput([2, 1, 5, 5], 4);
  const ref = Array.from(model.forward(x, null).data);
  assert.deepEqual(Array.from(model.forward(x).data), ref);
  assert.deepEqual(Array.from(model.forward(x, Int32Array.of(7, 123)).data), ref);
});

test('conditioning: the gradient reaches the embedding rows of the used classes only', () => {
  const K = 5, model = new GatedPixelCnn(tiny({ numClasses: K, layers: 3 }), 2);
  const x = randomInput([2, 1, 5, 5], 4);
  const logits = model.forward(x, Int32Array.of(3, 1));
  const seed = new Float32Array(logits.size);
  const rng = new Rng(9);
  for (let i = 0; i < seed.length; i++) seed[i] = rng.uniform() - 0.5;
  backward(logits, seed);
  const D = 2 * 24;
  for (let l = 0; l < 3; l++) {
    const e = model.parameters().get(`cond.${l}.weight`)!;
    assert.deepEqual(e.shape, [K, D]);
    for (let k = 0; k < K; k++) {
      const row = e.grad!.subarray(k * D, (k + 1) * D);
      const nonZero = row.filter((v) => v !== 0).length;
      if (k === 1 || k === 3) assert.ok(nonZero > D / 2, `cond.${l}.weight row ${k} (used) gets a gradient (${nonZero}/${D} non-zero)`);
      else assert.equal(nonZero, 0, `cond.${l}.weight row ${k} (unused) gets no gradient`);
    }
  }
});

test('Gated PixelCNN gradients match finite differences (input, vertical, horizontal, v2h, embedding)', () => {
  const model = new GatedPixelCnn(tiny({ channels: 3, numClasses: 3, hidden: 6, outHidden: 6, layers: 2, height: 4, width: 4, firstKernel: 3 }), 5);
  const p = model.parameters();
  const x = randomInput([2, 3, 4, 4], 8, true);
  const names = ['vstack.0.conv.weight', 'vstack.1.conv.bias', 'hstack.0.conv.weight', 'hstack.1.conv.weight', 'hstack.1.v2h.weight', 'hstack.0.res.weight', 'cond.0.weight', 'cond.1.weight'];
  const classes = Int32Array.of(2, 0);
  checkGradients('gated', [x, ...names.map((n) => p.get(n)!)], (xx) => model.forward(xx, classes), { eps: 2e-3, samples: 10 });
});

// ---------------------------------------------------------------------------------------------
// Parameters and config

test('Gated PixelCNN parameter names and PyTorch layouts', () => {
  const m = new GatedPixelCnn(tiny({ channels: 3, numClasses: 10, layers: 2, firstKernel: 7, kernel: 3 }));
  const p = m.parameters();
  assert.deepEqual([...p.keys()], [
    'vstack.0.conv.weight', 'vstack.0.conv.bias', 'vstack.1.conv.weight', 'vstack.1.conv.bias',
    'hstack.0.conv.weight', 'hstack.0.conv.bias', 'hstack.0.v2h.weight', 'hstack.0.v2h.bias',
    'hstack.0.res.weight', 'hstack.0.res.bias', 'hstack.0.skip.weight', 'hstack.0.skip.bias',
    'hstack.1.conv.weight', 'hstack.1.conv.bias', 'hstack.1.v2h.weight', 'hstack.1.v2h.bias',
    'hstack.1.skip.weight', 'hstack.1.skip.bias',
    'cond.0.weight', 'cond.1.weight',
    'out1.weight', 'out1.bias', 'out2.weight', 'out2.bias',
  ]);
  const shapes: Record<string, number[]> = {
    'vstack.0.conv.weight': [48, 3, 7, 7], 'vstack.1.conv.weight': [48, 24, 3, 3],
    'hstack.0.conv.weight': [48, 3, 1, 7], 'hstack.1.conv.weight': [48, 24, 1, 3],
    'hstack.0.v2h.weight': [48, 48, 1, 1], 'hstack.0.res.weight': [24, 24, 1, 1], 'hstack.1.skip.weight': [24, 24, 1, 1],
    'cond.0.weight': [10, 48], 'out1.weight': [24, 24, 1, 1], 'out2.weight': [12, 24, 1, 1], 'out2.bias': [12],
  };
  for (const [k, s] of Object.entries(shapes)) assert.deepEqual(p.get(k)!.shape, s, k);
  for (const [k, t] of p) assert.equal(t.name, k);
});

test('Gated PixelCNN masks: vertical taps are the rows up to the centre, horizontal taps the left half, type A only in layer 0', () => {
  const m = new GatedPixelCnn(tiny({ channels: 3, layers: 2, firstKernel: 5, kernel: 3, hidden: 7 }));
  assert.deepEqual(Array.from(m.layers[0].vconv.mask!.taps), [...Array(15).keys()]); // rows 0..2 of 5×5
  assert.deepEqual(Array.from(m.layers[1].vconv.mask!.taps), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(Array.from(m.layers[0].hconv.mask!.taps), [0, 1, 2]);
  assert.deepEqual(Array.from(m.layers[1].hconv.mask!.taps), [0, 1]);
  // Centre tap of the horizontal convs: filter o has colour (o mod h) mod C (h = 7, not divisible by C).
  const centre = (layer: number, o: number, i: number) => {
    const { mask, weight } = m.layers[layer].hconv;
    const [, I, , KW] = weight.shape;
    return mask!.values[(o * I + i) * KW + (KW >> 1)];
  };
  for (const o of [0, 1, 2, 7, 8, 9, 13]) {
    const co = (o % 7) % 3;
    for (let i = 0; i < 3; i++) assert.equal(centre(0, o, i), i < co ? 1 : 0, `layer 0 filter ${o} input ${i}`);
    for (let i = 0; i < 7; i++) assert.equal(centre(1, o, i), i % 3 <= co ? 1 : 0, `layer 1 filter ${o} input ${i}`);
  }
});

test('Gated PixelCNN config validation names the field; createModel builds it', () => {
  assert.throws(() => new GatedPixelCnn(tiny({ kernel: 4 })), /kernel must be an odd integer/);
  assert.throws(() => new GatedPixelCnn(tiny({ firstKernel: 1 })), /firstKernel must be an odd integer/);
  assert.throws(() => new GatedPixelCnn(tiny({ layers: 0 })), /layers must be an integer in \[1, 256\]/);
  assert.throws(() => new GatedPixelCnn(tiny({ channels: 3, hidden: 2 })), /hidden must be an integer in \[3, 4096\]/);
  assert.throws(() => new GatedPixelCnn(tiny({ likelihood: 'sigmoid', levels: 4 })), /sigmoid likelihood needs levels = 2/);
  const untyped: unknown = { ...tiny({}), arch: 'nope' };
  assert.throws(() => createModel(untyped as ModelConfigInput), /unknown model architecture 'nope' \(known: pixelcnn, gated, pixelcnn\+\+\)/);
  const m = createModel({ ...tiny({ numClasses: 10 }) }, 1);
  assert.ok(m instanceof GatedPixelCnn);
  const x = randomInput([1, 1, 5, 5], 1);
  assert.deepEqual(m.forward(x, Int32Array.of(3)).shape, [1, 4, 5, 5]);
  assert.deepEqual(createModel({ ...tiny({ likelihood: 'sigmoid', levels: 2 }) }).forward(x).shape, [1, 1, 5, 5]);
});

// ---------------------------------------------------------------------------------------------
// Backends

test('Gated PixelCNN: the horizontal 1×k convolution on the active backend equals the js reference', () => {
  const m = new GatedPixelCnn(tiny({ channels: 3, layers: 2, firstKernel: 5 }), 4);
  const x = randomInput([2, 3, 5, 6], 3);
  const hc = m.layers[0].hconv;
  // The 1×k reference on the js backend (one-row kernels once crashed the native padding).
  const before = backendName();
  let want: Tensor;
  try { useBackend('js'); want = conv2d(x, hc.weight, hc.bias, hc.mask); } finally { useBackend(before); }
  const got = hc.forward(x);
  assert.deepEqual(got.shape, want.shape);
  for (let i = 0; i < got.size; i++) assert.ok(Math.abs(got.data[i] - want.data[i]) < 1e-5, `output ${i}: ${got.data[i]} vs ${want.data[i]}`);
});

test('Gated PixelCNN: native and js backends agree on logits and gradients', (t) => {
  if (!tryNativeKernels()) { t.skip('native backend unavailable'); return; }
  const m = new GatedPixelCnn(tiny({ channels: 3, numClasses: 3, layers: 3, firstKernel: 5, height: 6, width: 7 }), 4);
  const run = () => {
    const x = randomInput([2, 3, 6, 7], 3, true);
    const y = m.forward(x, Int32Array.of(1, 2));
    for (const p of m.parameters().values()) p.grad = null;
    backward(y, Float32Array.from({ length: y.size }, (_, i) => Math.sin(i)));
    return { y: Float32Array.from(y.data), dx: Float32Array.from(x.grad!), dw: m.parameters().get('hstack.1.conv.weight')!.grad!.slice() };
  };
  const before = backendName();
  try {
    useBackend('js'); const a = run();
    useBackend('native'); const b = run();
    for (const k of ['y', 'dx', 'dw'] as const) {
      for (let i = 0; i < a[k].length; i++) assert.ok(Math.abs(a[k][i] - b[k][i]) <= 1e-4 * (1 + Math.abs(a[k][i])), `${k}[${i}]: js ${a[k][i]} vs native ${b[k][i]}`);
    }
  } finally { useBackend(before); }
});

test('Gated PixelCNN forward observer: the documented names in order, the tensors the forward computes, logits unchanged', () => {
  const m = new GatedPixelCnn(tiny({ channels: 3, layers: 3, numClasses: 2 }), 5);
  const x = randomInput([2, 3, 5, 5], 6), classes = Int32Array.of(1, 0);
  const seen = new Map<string, Tensor>();
  const logits = m.forward(x, classes, (name, t) => seen.set(name, t));
  const layer = (l: number, last: boolean) => [`vstack.${l}.conv`, `hstack.${l}.conv`, `hstack.${l}.v2h`, `hstack.${l}.gate`,
    `hstack.${l}.skip`, ...(last ? [] : [`vstack.${l}.gate`, `hstack.${l}.res`])];
  assert.deepEqual([...seen.keys()], [...layer(0, false), ...layer(1, false), ...layer(2, true), 'out1', 'out2']);
  assert.equal(seen.get('out2'), logits);
  assert.deepEqual(m.forward(x, classes).data, logits.data);
  const l1 = m.layers[1];
  assert.deepEqual(l1.vconv.forward(seen.get('vstack.0.gate')!).data, seen.get('vstack.1.conv')!.data);
  assert.deepEqual(l1.res!.forward(seen.get('hstack.1.gate')!, false, seen.get('hstack.0.res')!).data, seen.get('hstack.1.res')!.data);
  assert.deepEqual(m.out1.forward(seen.get('hstack.2.skip')!, true).data, seen.get('out1')!.data);
});
