import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/random/rng.js';
import { Tensor } from '../src/tensor/tensor.js';
import { backward } from '../src/tensor/autograd.js';
import * as ops from '../src/ops/index.js';
import { pixelCnnMask } from '../src/nn/masks.js';
import { checkGradients, randomTensor } from './helpers.js';

const rng = new Rng(11);

for (const [x, w, mask] of [
  [[1, 1, 4, 5], [2, 1, 1, 1], null],
  [[2, 3, 5, 4], [4, 3, 3, 3], null],
  [[2, 3, 6, 6], [5, 3, 7, 7], 'A'],
  [[1, 4, 5, 5], [6, 4, 3, 3], 'B'],
  [[2, 3, 4, 4], [3, 3, 1, 1], 'B'],
] as const) {
  for (const withBias of [true, false]) {
    test(`conv2d gradient x=[${x}] w=[${w}] mask=${mask ?? 'none'} bias=${withBias}`, () => {
      const m = mask ? pixelCnnMask(mask, w[0], w[1], w[2], w[3], 3) : null;
      const inputs = [randomTensor([...x], rng), randomTensor([...w], rng), ...(withBias ? [randomTensor([w[0]], rng)] : [])];
      checkGradients('conv2d', inputs, (xx, ww, bb) => ops.conv2d(xx, ww, bb ?? null, m));
    });
  }
}

for (const [x, w, mask] of [
  [[2, 3, 5, 4], [4, 3, 3, 3], 'B'],
  [[2, 4, 4, 4], [3, 4, 1, 1], null],
] as const) {
  test(`conv2d of relu(x), fused, gradient x=[${x}] w=[${w}] mask=${mask ?? 'none'}`, () => {
    const m = mask ? pixelCnnMask(mask, w[0], w[1], w[2], w[3], 1) : null;
    const inputs = [randomTensor([...x], rng, { minAbs: 0.05 }), randomTensor([...w], rng), randomTensor([w[0]], rng)];
    checkGradients('relu+conv2d', inputs, (xx, ww, bb) => ops.conv2d(xx, ww, bb, m, { relu: true }), { eps: 1e-3 });
    // and it equals the unfused composition
    const fused = ops.conv2d(inputs[0], inputs[1], inputs[2], m, { relu: true });
    const plain = ops.conv2d(ops.relu(inputs[0]), inputs[1], inputs[2], m);
    assert.deepEqual(fused.data, plain.data);
  });
}

// A residual fused into the convolution hands its gradient over after the convolution has read
// it: with a residual that is a leaf, a fresh intermediate, an intermediate that already has a
// gradient, and the convolution's own input (whose later consumers then write into that buffer).
test('conv2d with a residual: gradients, and equal to conv + add', () => {
  const m = pixelCnnMask('B', 3, 3, 3, 3, 1);
  const w = randomTensor([3, 3, 3, 3], rng), b = randomTensor([3], rng);
  const x = randomTensor([2, 3, 4, 4], rng, { minAbs: 0.1 }), r = randomTensor([2, 3, 4, 4], rng);
  checkGradients('residual leaf', [x, w, b, r], (xx, ww, bb, rr) => ops.conv2d(xx, ww, bb, m, { relu: true, residual: rr }), { eps: 1e-3 });
  checkGradients('residual chain', [x, w], (xx, ww) => {
    const s = ops.tanh(xx);  // read only by the next conv, as its input and its residual
    const t = ops.conv2d(s, ww, null, m, { relu: true, residual: s });
    const y1 = ops.conv2d(t, ww, null, m, { relu: true, residual: t });   // residual = own input
    const y2 = ops.conv2d(y1, ww, null, m, { relu: true, residual: y1 });
    const y3 = ops.conv2d(y2, ww, null, m, { residual: ops.mul(t, t) });  // fresh intermediate
    return ops.add(ops.add(y3, y2), ops.relu(y1));                        // y1, y2: more consumers
  }, { eps: 1e-3 });
  const fused = ops.conv2d(x, w, b, m, { residual: r });
  const plain = ops.add(r, ops.conv2d(x, w, b, m));
  for (let i = 0; i < fused.size; i++) assert.ok(Math.abs(fused.data[i] - plain.data[i]) <= 1e-6 * (1 + Math.abs(plain.data[i])));
  assert.throws(() => ops.conv2d(x, w, b, m, { residual: randomTensor([2, 3, 4, 5], rng) }), /residual \[2, 3, 4, 5\] does not match the output \[2, 3, 4, 4\]/);
});

test('conv2d gradient: masked weights get exactly zero gradient', () => {
  const m = pixelCnnMask('A', 4, 3, 3, 3, 3);
  const x = randomTensor([1, 3, 4, 4], rng), w = randomTensor([4, 3, 3, 3], rng);
  backward(ops.sum(ops.conv2d(x, w, null, m)));
  for (let i = 0; i < w.size; i++) if (m.values[i] === 0) assert.equal(w.grad![i], 0);
});

const unary = { relu: ops.relu, tanh: ops.tanh, sigmoid: ops.sigmoid } as const;
for (const [name, f] of Object.entries(unary)) {
  test(`${name} gradient x=[2,3,4,5]`, () => {
    checkGradients(name, [randomTensor([2, 3, 4, 5], rng, { minAbs: 0.05 })], f, { eps: 1e-3 });
  });
}

test('add and mul gradients x=[2,3,4,4]', () => {
  checkGradients('add', [randomTensor([2, 3, 4, 4], rng), randomTensor([2, 3, 4, 4], rng)], ops.add);
  checkGradients('mul', [randomTensor([2, 3, 4, 4], rng), randomTensor([2, 3, 4, 4], rng)], ops.mul);
});

test('add: a tensor used twice gets both contributions', () => {
  const a = randomTensor([1, 1, 2, 2], rng);
  backward(ops.sum(ops.add(a, a)));
  assert.deepEqual(Array.from(a.grad!), [2, 2, 2, 2]);
});

// Intermediate gradients are written, not accumulated, by their first contribution (conv
// backward-data and ReLU overwrite a fresh buffer, add hands its buffer over): an intermediate
// read by several ops, in every order, must still get the sum of all contributions.
test('an intermediate used by conv, relu and add (twice, and with itself) gets every contribution', () => {
  const w = randomTensor([3, 3, 3, 3], rng);
  const x = randomTensor([2, 3, 4, 4], rng, { minAbs: 0.1 });
  checkGradients('shared intermediate', [x, w], (xx, ww) => {
    const m = ops.mul(xx, xx), n = ops.tanh(xx);
    const a = ops.add(ops.relu(m), ops.add(m, m));            // adopt, then accumulate into itself
    const b = ops.add(ops.conv2d(m, ww, null), ops.relu(n));  // conv writes m's 4th contribution
    const c = ops.add(ops.conv2d(n, ww, null), n);            // n: conv first, then add
    return ops.add(ops.add(a, b), c);
  });
});

test('concatChannels, sliceChannels, splitChannels gradients', () => {
  checkGradients('concat', [randomTensor([2, 2, 3, 3], rng), randomTensor([2, 3, 3, 3], rng)], (a, b) => ops.concatChannels([a, b]));
  checkGradients('slice', [randomTensor([2, 5, 3, 3], rng)], (a) => ops.sliceChannels(a, 1, 3));
  checkGradients('split', [randomTensor([2, 4, 3, 3], rng)], (a) => { const [p, q] = ops.splitChannels(a, [1, 3]); return ops.concatChannels([q, p]); });
});

test('shift and addChannelBias gradients', () => {
  checkGradients('shift down', [randomTensor([2, 2, 4, 5], rng)], (a) => ops.shift(a, 1, 0));
  checkGradients('shift right', [randomTensor([2, 2, 4, 5], rng)], (a) => ops.shift(a, 0, 2));
  checkGradients('addChannelBias', [randomTensor([2, 3, 4, 4], rng), randomTensor([2, 3], rng)], ops.addChannelBias);
});

test('shift moves rows down with zero fill', () => {
  const x = Tensor.from([1, 2, 3, 4, 5, 6], [1, 1, 3, 2], { requiresGrad: false });
  assert.deepEqual(Array.from(ops.shift(x, 1, 0).data), [0, 0, 1, 2, 3, 4]);
  assert.deepEqual(Array.from(ops.shift(x, 0, 1).data), [0, 1, 0, 3, 0, 5]);
});

test('gate (fused tanh(f)·σ(g)) gradient x=[2,6,3,4] and value', () => {
  checkGradients('gate', [randomTensor([2, 6, 3, 4], rng)], ops.gate);
  const x = randomTensor([1, 4, 1, 2], rng, { requiresGrad: false });
  const y = ops.gate(x);
  for (let c = 0; c < 2; c++) for (let p = 0; p < 2; p++) {
    const f = x.data[c * 2 + p], g = x.data[(c + 2) * 2 + p];
    assert.ok(Math.abs(y.data[c * 2 + p] - Math.tanh(f) / (1 + Math.exp(-g))) < 1e-6);
  }
  assert.deepEqual(y.shape, [1, 2, 1, 2]);
});

test('sum and mean gradients', () => {
  checkGradients('sum', [randomTensor([3, 4], rng)], ops.sum);
  checkGradients('mean', [randomTensor([3, 4], rng)], ops.mean);
});

for (const [levels, channels] of [[2, 1], [4, 3], [256, 1]]) {
  test(`softmaxCrossEntropy gradient logits=[2,${levels * channels},3,3] L=${levels} C=${channels}`, () => {
    const targets = Uint8Array.from({ length: 2 * channels * 9 }, () => rng.int(levels));
    const logits = randomTensor([2, levels * channels, 3, 3], rng, { scale: 3 });
    checkGradients('softmaxCrossEntropy', [logits], (z) => ops.softmaxCrossEntropy(z, targets, levels, channels).loss,
      // The loss is a float32 scalar: a large step keeps the difference above its rounding.
      { eps: levels > 4 ? 0.5 : 1e-2, atol: levels > 4 ? 2e-6 : 1e-5, rtol: 5e-2 });
  });
}

test('sigmoidCrossEntropy gradient logits=[2,3,3,3]', () => {
  const targets = Uint8Array.from({ length: 54 }, () => rng.int(2));
  checkGradients('sigmoidCrossEntropy', [randomTensor([2, 3, 3, 3], rng, { scale: 3 })],
    (z) => ops.sigmoidCrossEntropy(z, targets).loss, { atol: 1e-5 });
});

// With the loss as the root (seed 1) the kernel's gradient buffer becomes the logits' gradient
// as is; any other seed scales it. Both paths must agree.
test('softmaxCrossEntropy of an intermediate: seed 1 (buffer handed over) and seed 2 (scaled) agree', () => {
  const x = randomTensor([2, 3, 4, 4], rng), w = randomTensor([4 * 2, 3, 1, 1], rng);
  const targets = Uint8Array.from({ length: 2 * 2 * 16 }, (_, i) => (i * 7) % 4);
  const grads = [1, 2].map((seed) => {
    w.grad = null;
    const { loss } = ops.softmaxCrossEntropy(ops.conv2d(x, w, null), targets, 4, 2);
    backward(loss, Float32Array.of(seed));
    return Float32Array.from(w.grad!);
  });
  for (let i = 0; i < w.size; i++) assert.ok(Math.abs(grads[1][i] - 2 * grads[0][i]) <= 1e-6 * (1 + Math.abs(grads[1][i])), `w.grad[${i}]`);
  assert.ok(grads[0].some((v) => v !== 0));
});

test('softmaxCrossEntropy of all-zero logits is ln L nats per dimension', () => {
  const L = 4, C = 3;
  const { loss, nllPerImage } = ops.softmaxCrossEntropy(Tensor.zeros([2, L * C, 5, 5]), new Uint8Array(2 * C * 25).fill(3), L, C);
  assert.ok(Math.abs(loss.data[0] - Math.log(L)) < 1e-6);
  assert.ok(Math.abs(nllPerImage[0] - C * 25 * Math.log(L)) < 1e-9 * C * 25);
});

test('bad input: errors name the op and the shapes', () => {
  const x = Tensor.zeros([1, 3, 4, 4]), w = Tensor.zeros([2, 4, 3, 3]);
  assert.throws(() => ops.conv2d(x, w, null), /conv2d: input channels differ: x=\[1, 3, 4, 4\] w=\[2, 4, 3, 3\]/);
  assert.throws(() => ops.conv2d(x, Tensor.zeros([2, 3, 2, 2]), null), /conv2d: kernel must have odd/);
  assert.throws(() => ops.conv2d(Tensor.zeros([3, 4, 4]), w, null), /conv2d: x must have rank 4, got \[3, 4, 4\]/);
  assert.throws(() => ops.add(Tensor.zeros([1, 2]), Tensor.zeros([2, 1])), /add: shapes differ: \[1, 2\] vs \[2, 1\]/);
  assert.throws(() => ops.conv2d(x, { data: [1] } as unknown as Tensor, null), /conv2d: w must be a Tensor/);
  assert.throws(() => ops.softmaxCrossEntropy(Tensor.zeros([1, 8, 2, 2]), new Uint8Array(4), 4, 1), /need 4·1 = 4 channels/);
  assert.throws(() => ops.softmaxCrossEntropy(Tensor.zeros([1, 4, 2, 2]), new Uint8Array(4).fill(9), 4, 1), /target 9 at index 0 is not below levels=4/);
  assert.throws(() => new Tensor(new Float32Array(3), [2, 2]), /data length 3 does not match shape \[2, 2\]/);
});
