import { test } from 'node:test';
import assert from 'node:assert/strict';
import { centreConnectivity, pixelCnnMask, spatialMask } from '../src/nn/masks.js';
import { Rng } from '../src/random/rng.js';
import { Tensor } from '../src/tensor/tensor.js';
import { conv2d } from '../src/ops/conv2d.js';
import { noGrad } from '../src/tensor/autograd.js';
import { randomTensor, relativeError } from './helpers.js';

const rows = (m: Float32Array, cols: number) =>
  Array.from({ length: m.length / cols }, (_, r) => Array.from(m.subarray(r * cols, (r + 1) * cols)));

test('colour mask A, 4 input and 7 output filters, C=3: the worked example', () => {
  assert.deepEqual(rows(centreConnectivity('A', 7, 4, 3), 4),
    [[0, 0, 0, 0], [1, 0, 0, 1], [1, 1, 0, 1], [0, 0, 0, 0], [1, 0, 0, 1], [1, 1, 0, 1], [0, 0, 0, 0]]);
});

test('colour mask B, 4 input and 7 output filters, C=3: the worked example', () => {
  assert.deepEqual(rows(centreConnectivity('B', 7, 4, 3), 4),
    [[1, 0, 0, 1], [1, 1, 0, 1], [1, 1, 1, 1], [1, 0, 0, 1], [1, 1, 0, 1], [1, 1, 1, 1], [1, 0, 0, 1]]);
});

test('7×7 type-A spatial mask, C=1, and its 24 live taps', () => {
  const m = pixelCnnMask('A', 1, 1, 7, 7, 1);
  assert.deepEqual(rows(m.values, 7), [
    [1, 1, 1, 1, 1, 1, 1],
    [1, 1, 1, 1, 1, 1, 1],
    [1, 1, 1, 1, 1, 1, 1],
    [1, 1, 1, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0],
  ]);
  assert.equal(m.taps.length, 24);
  assert.deepEqual(Array.from(m.taps), Array.from({ length: 24 }, (_, i) => i));
});

test('3×3 type-B mask, C=1: 5 live taps, centre kept', () => {
  const m = pixelCnnMask('B', 1, 1, 3, 3, 1);
  assert.deepEqual(Array.from(m.values), [1, 1, 1, 1, 1, 0, 0, 0, 0]);
  assert.deepEqual(Array.from(m.taps), [0, 1, 2, 3, 4]);
  assert.deepEqual(Array.from(spatialMask(3, 3)), [1, 1, 1, 1, 1, 0, 0, 0, 0]);
});

test('7×7 type-A mask, C=3, 4→7 filters: centre tap is the colour matrix, other taps spatial', () => {
  const m = pixelCnnMask('A', 7, 4, 7, 7, 3);
  const centre = new Float32Array(28);
  for (let oi = 0; oi < 28; oi++) {
    centre[oi] = m.values[oi * 49 + 24];
    for (let t = 0; t < 49; t++) if (t !== 24) assert.equal(m.values[oi * 49 + t], t < 24 ? 1 : 0);
  }
  assert.deepEqual(Array.from(centre), Array.from(centreConnectivity('A', 7, 4, 3)));
  assert.equal(m.taps.length, 25, 'the centre is live for some colour pairs');
});

for (const [type, k, colours] of [['A', 7, 1], ['B', 3, 1], ['A', 5, 3], ['B', 3, 3], ['B', 1, 3]] as const) {
  test(`masked conv equals dense conv with the mask multiplied in: type ${type} ${k}×${k} colours=${colours}`, () => {
    const rng = new Rng(3);
    const x = randomTensor([2, 6, 6, 5], rng, { requiresGrad: false });
    const w = randomTensor([9, 6, k, k], rng, { requiresGrad: false });
    const b = randomTensor([9], rng, { requiresGrad: false });
    const mask = pixelCnnMask(type, 9, 6, k, k, colours);
    const wMasked = new Tensor(w.data.map((v, i) => v * mask.values[i]), w.shape);
    noGrad(() => {
      const masked = conv2d(x, w, b, mask);
      const dense = conv2d(x, wMasked, b, null);
      assert.ok(relativeError(masked.data, dense.data) < 1e-6);
    });
  });
}
