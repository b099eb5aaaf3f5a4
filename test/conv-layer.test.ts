import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Conv2dLayer } from '../src/nn/conv-layer.js';
import { Rng } from '../src/random/rng.js';

const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

test('Conv2dLayer: k×k with a PixelCNN mask or kh×kw with a keep predicate; fan_in counts live taps for predicates only', () => {
  const I = 40, O = 30;
  // PixelCNN type B 3×3: 5 live taps, but initialised like the full 3×3 Conv2d.
  const b = new Conv2dLayer('b', I, O, 3, new Rng(1), { type: 'B', colours: 1 });
  assert.deepEqual(b.weight.shape, [O, I, 3, 3]);
  assert.deepEqual(Array.from(b.mask!.taps), [0, 1, 2, 3, 4]);
  const boundB = 1 / Math.sqrt(I * 9);
  assert.ok(maxAbs(b.weight.data) <= boundB && maxAbs(b.weight.data) > 0.95 * boundB);
  // 1×5 keeping the left half and the centre: 3 live taps, initialised like a 1×3 Conv2d.
  const row = new Conv2dLayer('row', I, O, [1, 5], new Rng(1), (_o, _i, ky, kx) => ky === 0 && kx <= 2);
  assert.deepEqual(row.weight.shape, [O, I, 1, 5]);
  assert.deepEqual(Array.from(row.mask!.taps), [0, 1, 2]);
  const boundRow = 1 / Math.sqrt(I * 3);
  assert.ok(maxAbs(row.weight.data) <= boundRow && maxAbs(row.weight.data) > 0.95 * boundRow);
  assert.ok(maxAbs(row.bias.data) <= boundRow);
  // A mask that keeps everything is dropped, and fan_in is then the whole kernel.
  const all = new Conv2dLayer('all', I, O, [3, 5], new Rng(1), () => true);
  assert.equal(all.mask, null);
  assert.ok(maxAbs(all.weight.data) <= 1 / Math.sqrt(I * 15));
  assert.equal(new Conv2dLayer('one', I, O, 1, new Rng(1), { type: 'B', colours: 1 }).mask, null);
});
