// PixelCNN++ (src/models/pixelcnn-plus-plus.ts): the shifted and strided convolutions against the
// reference code's definitions, the autoregressive order and receptive field, gradients,
// parameters, dropout's scope, class conditioning, the config and the CLI end to end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { Tensor } from '../src/tensor/tensor.js';
import { backward, noGrad } from '../src/tensor/autograd.js';
import { Rng } from '../src/random/rng.js';
import { conv2d, conv2dStride2, conv2dTranspose2, placeKernel, withDropout } from '../src/ops/index.js';
import { PixelCnnPlusPlus, defaultPixelCnnPlusPlusConfig, type PixelCnnPlusPlusConfig } from '../src/models/pixelcnn-plus-plus.js';
import { ConfigError, createModel, type ModelConfigInput } from '../src/models/index.js';
import { backendName, useBackend } from '../src/backend/index.js';
import { train } from '../src/train/trainer.js';
import { loadCheckpoint, saveCheckpoint } from '../src/train/checkpoint.js';
import type { ImageSet } from '../src/data/image-set.js';
import { dependencyMap } from './causality.js';
import { checkGradients, randomTensor } from './helpers.js';

const tiny = (over: Partial<PixelCnnPlusPlusConfig> = {}): PixelCnnPlusPlusConfig =>
  ({ ...defaultPixelCnnPlusPlusConfig, filters: 4, resnets: 1, dropout: 0, levels: 4, height: 8, width: 8, ...over });

/**
 * Runs fn on the js backend: the dependency maps take one forward and backward per pixel and
 * colour of tiny tensors, where the js kernels are several times faster than the native ones'
 * task dispatch (the native backend's agreement is the op tests' business).
 */
function onJs<T>(fn: () => T): T {
  const before = backendName();
  useBackend('js');
  try { return fn(); } finally { useBackend(before); }
}

const randomInput = (shape: number[], seed: number, requiresGrad = false): Tensor => {
  const rng = new Rng(seed), x = Tensor.zeros(shape, { requiresGrad });
  for (let i = 0; i < x.size; i++) x.data[i] = rng.uniform();
  return x;
};

// ---------------------------------------------------------------------------------------------
// The composed convolutions equal the reference code's (openai/pixel-cnn nn.py) definitions

/**
 * The reference's shifted convolution written out: pad `padTop` rows above and `padLeft` columns
 * left (and the same right for the 2×3 filter), a VALID correlation with stride s.
 */
function referenceShiftedConv(x: Tensor, w: Tensor, b: Tensor, stride: number): Float32Array {
  const [B, I, H, W] = x.shape, [O, , kh, kw] = w.shape;
  const padTop = kh - 1, padLeft = kw === 3 ? 1 : kw - 1, padRight = kw === 3 ? 1 : 0;
  const Ho = Math.floor((H + padTop - kh) / stride) + 1, Wo = Math.floor((W + padLeft + padRight - kw) / stride) + 1;
  const y = new Float32Array(B * O * Ho * Wo);
  for (let n = 0; n < B; n++) for (let o = 0; o < O; o++) for (let r = 0; r < Ho; r++) for (let c = 0; c < Wo; c++) {
    let s = b.data[o];
    for (let i = 0; i < I; i++) for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) {
      const yy = r * stride + ky - padTop, xx = c * stride + kx - padLeft;
      if (yy >= 0 && yy < H && xx >= 0 && xx < W) s += x.data[((n * I + i) * H + yy) * W + xx] * w.data[((o * I + i) * kh + ky) * kw + kx];
    }
    y[((n * O + o) * Ho + r) * Wo + c] = s;
  }
  return y;
}

/**
 * The reference's shifted transposed convolution: out[2i + ky, 2j + kx] += x[i, j] · w[i→o, ky, kx]
 * (ConvTranspose2d layout (I, O, kh, kw)), cropped to rows [0, H) and columns [1, W + 1) for the
 * 2×3 filter, [0, W) for the 2×2 one.
 */
function referenceShiftedDeconv(x: Tensor, w: Tensor, b: Tensor, H: number, W: number): Float32Array {
  const [B, I, h, wd] = x.shape, [, O, kh, kw] = w.shape, crop = kw === 3 ? 1 : 0;
  const y = new Float32Array(B * O * H * W);
  for (let n = 0; n < B; n++) for (let o = 0; o < O; o++) {
    for (let p = 0; p < H * W; p++) y[(n * O + o) * H * W + p] = b.data[o];
    for (let i = 0; i < I; i++) for (let r = 0; r < h; r++) for (let c = 0; c < wd; c++) {
      for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) {
        const yy = 2 * r + ky, xx = 2 * c + kx - crop;
        if (yy < H && xx >= 0 && xx < W) y[((n * O + o) * H + yy) * W + xx] += x.data[((n * I + i) * h + r) * wd + c] * w.data[((i * O + o) * kh + ky) * kw + kx];
      }
    }
  }
  return y;
}

const close = (a: ArrayLike<number>, b: ArrayLike<number>, what: string) => {
  assert.equal(a.length, b.length, `${what}: lengths`);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-5, `${what}: [${i}] ${a[i]} vs ${b[i]}`);
};

for (const [H, W] of [[6, 6], [5, 7]]) {
  test(`shifted convs as placed 3×3 convs: 2×3 and 2×2, stride 1 (conv2d) and 2 (conv2dStride2), and the transposed ones (conv2dTranspose2) equal the reference definitions (${H}×${W})`, () => {
    const rng = new Rng(4);
    const x = randomTensor([2, 3, H, W], rng), b = randomTensor([5], rng);
    for (const kw of [3, 2]) {
      const w = randomTensor([5, 3, 2, kw], rng);
      const full = conv2d(x, placeKernel(w, 3, 3, 0, 0), b, null);
      close(full.data, referenceShiftedConv(x, w, b, 1), `2×${kw} stride 1`);
      const strided = conv2dStride2(x, placeKernel(w, 3, 3, 0, 0), b, null);
      assert.deepEqual(strided.shape, [2, 5, Math.ceil(H / 2), Math.ceil(W / 2)]);
      close(strided.data, referenceShiftedConv(x, w, b, 2), `2×${kw} stride 2`);
      // Transposed, from the strided size back to H × W; weight (I, O, 2, kw), placed unflipped
      // where the model places it (the window mirrored: rows 1..2, columns 3 − kw..2).
      const low = randomTensor([2, 3, Math.ceil(H / 2), Math.ceil(W / 2)], rng), wt = randomTensor([3, 5, 2, kw], rng);
      const up = conv2dTranspose2(low, placeKernel(wt, 3, 3, 1, 3 - kw), b, null, H, W);
      close(up.data, referenceShiftedDeconv(low, wt, b, H, W), `2×${kw} transposed`);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Autoregressive order and receptive field

for (const channels of [1, 3] as const) {
  test(`autoregressive order: PixelCNN++ C=${channels} 8×8 (resolutions 8, 4, 2), resnets=2: every earlier pixel and nothing else, colours of a pixel independent`, () => {
    const H = 8, W = 8, C = channels;
    const model = new PixelCnnPlusPlus(tiny({ channels, resnets: 2 }), 5);
    const deps = onJs(() => dependencyMap(model, H, W));
    const extra: string[] = [], missing: string[] = [];
    for (let i = 0; i < H * W; i++) for (let c = 0; c < C; c++) for (let j = 0; j < H * W; j++) for (let cc = 0; cc < C; cc++) {
      // No colour of pixel i is read (the softmax head's colours are independent given the past);
      // every colour of every earlier pixel is (at this depth the field covers the image).
      const want = j < i, got = deps[i * C + c][j * C + cc] === 1;
      if (got && !want) extra.push(`colour ${c} of pixel ${i} reads colour ${cc} of pixel ${j}`);
      if (want && !got) missing.push(`colour ${c} of pixel ${i} misses colour ${cc} of pixel ${j}`);
    }
    assert.deepEqual(extra, [], 'no dependence on the pixel itself or later ones');
    assert.deepEqual(missing, [], 'nothing allowed is cut off');
  });
}

test('receptive field at resnets=1 on 8×8: no later pixel read; out of reach are the far edges of odd rows only', () => {
  const H = 8, W = 8;
  const deps = onJs(() => dependencyMap(new PixelCnnPlusPlus(tiny({ resnets: 1 }), 3), H, W));
  const missing: [number, number][] = [];
  for (let i = 0; i < H * W; i++) for (let j = 0; j < H * W; j++) {
    assert.ok(!(j >= i && deps[i][j]), `pixel ${i} reads pixel ${j}`);
    if (j < i && !deps[i][j]) missing.push([i, j]);
  }
  // Odd rows only: there, column 0 does not reach 7 columns right in the row above, and column 7
  // not 7 columns left in its own row. An even row 2r′ is the first of its 2×2 blocks of the
  // 4×4 resolution, whose ul sees every pixel before (2r′, 2c′): the row above and its own row's
  // start are reached that way.
  const expected: [number, number][] = [];
  for (let r = 1; r < H; r += 2) expected.push([r * W, r * W - 1], [r * W + 7, r * W]);
  assert.deepEqual(missing, expected.sort((a, b) => a[0] - b[0] || a[1] - b[1]));
});

// ---------------------------------------------------------------------------------------------
// Gradients, parameters, observer

test('gradients of the whole model (C=3, conditional, dropout on) match finite differences for every kind of parameter', () => {
  const model = new PixelCnnPlusPlus(tiny({ channels: 3, numClasses: 3, dropout: 0.3, height: 5, width: 6, levels: 3 }), 2);
  const x = randomInput([2, 3, 5, 6], 8, true), classes = Int32Array.of(2, 0);
  const params = model.parameters();
  const picked = ['u_init.conv.weight', 'ul_init.0.conv.weight', 'ul_init.1.conv.bias', 'up_layers.0.ul_stream.0.nin_skip.weight',
    'up_layers.1.u_stream.0.conv_out.conv.weight', 'downsize_ul_stream.0.conv.weight', 'upsize_u_stream.1.deconv.weight',
    'upsize_ul_stream.0.deconv.bias', 'down_layers.2.ul_stream.1.conv_input.conv.weight', 'down_layers.0.u_stream.0.cond.weight', 'nin_out.weight']
    .map((k) => { const p = params.get(k); assert.ok(p, k); return p; });
  // The same dropout masks in every evaluation: a fresh Rng of one seed per forward.
  const f = () => withDropout(new Rng(11), () => model.forward(x, classes));
  onJs(() => checkGradients('PixelCNN++', [x, ...picked], f, { eps: 1e-2, rtol: 3e-2, atol: 3e-3, samples: 6 }));
});

test('parameters: PyTorch-port names and shapes, every one distinct and in the forward', () => {
  const F = 4, C = 3, K = 5, L = 4;
  const model = new PixelCnnPlusPlus(tiny({ channels: C, numClasses: K, filters: F, resnets: 1, levels: L }), 1);
  const shapes = new Map([...model.parameters()].map(([k, v]) => [k, v.shape.join('x')]));
  const want: [string, string][] = [
    ['u_init.conv.weight', `${F}x${C + 1}x2x3`], ['ul_init.0.conv.weight', `${F}x${C + 1}x1x3`], ['ul_init.1.conv.weight', `${F}x${C + 1}x2x1`],
    ['up_layers.0.u_stream.0.conv_input.conv.weight', `${F}x${2 * F}x2x3`], ['up_layers.0.u_stream.0.conv_out.conv.weight', `${2 * F}x${2 * F}x2x3`],
    ['up_layers.0.ul_stream.0.conv_input.conv.weight', `${F}x${2 * F}x2x2`], ['up_layers.0.ul_stream.0.nin_skip.weight', `${F}x${2 * F}x1x1`],
    ['down_layers.0.u_stream.0.nin_skip.weight', `${F}x${2 * F}x1x1`], ['down_layers.1.ul_stream.1.nin_skip.weight', `${F}x${4 * F}x1x1`],
    ['down_layers.2.ul_stream.1.cond.weight', `${K}x${2 * F}`], ['downsize_u_stream.1.conv.weight', `${F}x${F}x2x3`],
    ['downsize_ul_stream.0.conv.weight', `${F}x${F}x2x2`], ['upsize_u_stream.0.deconv.weight', `${F}x${F}x2x3`],
    ['upsize_ul_stream.1.deconv.weight', `${F}x${F}x2x2`], ['nin_out.weight', `${L * C}x${F}x1x1`], ['nin_out.bias', `${L * C}`],
  ];
  for (const [k, s] of want) assert.equal(shapes.get(k), s, k);
  assert.equal(shapes.has('up_layers.0.u_stream.0.nin_skip.weight'), false, 'the up pass u blocks have no shortcut');
  assert.equal(shapes.has('down_layers.0.u_stream.1.conv_input.conv.weight'), false, 'the coarsest down stage has R blocks');
  assert.equal(shapes.has('down_layers.1.u_stream.1.conv_input.conv.weight'), true, 'the other down stages have R + 1');
  // Blocks: up 3·R per stream, down R + 2(R + 1); 3 tensors (4 with cond) + nin_skip's 2 where present.
  const count = (prefix: string) => [...shapes.keys()].filter((k) => k.startsWith(prefix) && k.endsWith('conv_input.conv.weight')).length;
  assert.equal(count('up_layers.'), 6);
  assert.equal(count('down_layers.'), 10);
  // Every parameter gets a gradient from one forward (none is dead).
  const x = randomInput([1, C, 8, 8], 2);
  const logits = model.forward(x, Int32Array.of(1));
  const seed = new Float32Array(logits.size).fill(1);
  backward(logits, seed);
  for (const [k, p] of model.parameters()) assert.ok(p.grad && p.grad.some((v) => v !== 0), `${k} gets no gradient`);
});

test('weight normalisation: weight_g (n, 1, 1, 1) per slice of axis 0 (a transposed conv\'s input filter) and weight_v; the same initial function; gradients', () => {
  const F = 3, C = 3;
  const over = { channels: 3 as const, numClasses: 2, filters: F, resnets: 1, height: 5, width: 6, levels: 3 };
  const model = new PixelCnnPlusPlus(tiny({ ...over, weightNorm: true }), 2);
  const params = model.parameters();
  const shape = (k: string) => params.get(k)?.shape.join('x');
  assert.equal(shape('u_init.conv.weight_g'), `${F}x1x1x1`);
  assert.equal(shape('u_init.conv.weight_v'), `${F}x${C + 1}x2x3`);
  assert.equal(shape('up_layers.0.ul_stream.0.nin_skip.weight_g'), `${F}x1x1x1`);
  assert.equal(shape('upsize_u_stream.0.deconv.weight_v'), `${F}x${F}x2x3`);
  assert.equal(shape('nin_out.weight_g'), `${C * 3}x1x1x1`);
  assert.equal(shape('down_layers.0.u_stream.0.cond.weight'), `2x${2 * F}`, 'the class embedding is not a convolution');
  assert.deepEqual([...params.keys()].filter((k) => k.endsWith('.weight') && !k.endsWith('cond.weight')), []);
  // g = ‖v‖ at init and v = the plain model's weight: the same function as without normalisation.
  const plain = new PixelCnnPlusPlus(tiny(over), 2);
  const x = randomInput([2, C, 5, 6], 8, true), classes = Int32Array.of(1, 0);
  const a = noGrad(() => model.forward(x, classes)), b = noGrad(() => plain.forward(x, classes));
  for (let i = 0; i < a.size; i++) assert.ok(Math.abs(a.data[i] - b.data[i]) <= 1e-5 * (1 + Math.abs(b.data[i])), `logit ${i}: ${a.data[i]} vs ${b.data[i]}`);
  // A transposed conv normalises per input filter: scaling input filter i's slice of v changes
  // nothing, and g[i] scales exactly that slice of the effective weight.
  const up = model.upsizeU[1], v = params.get('upsize_u_stream.1.deconv.weight_v')!, g = params.get('upsize_u_stream.1.deconv.weight_g')!;
  const before = Float32Array.from(up.weight.data), len = v.size / F;
  for (let j = len; j < 2 * len; j++) v.data[j] *= 3;
  g.data[2] *= 2;
  const after = up.weight.data;
  for (let j = 0; j < v.size; j++) {
    const want = before[j] * (j >= 2 * len ? 2 : 1);
    assert.ok(Math.abs(after[j] - want) <= 1e-6 * (1 + Math.abs(want)), `weight ${j}: ${after[j]} vs ${want}`);
  }
  const picked = ['u_init.conv.weight_g', 'u_init.conv.weight_v', 'up_layers.0.ul_stream.0.nin_skip.weight_v', 'upsize_u_stream.1.deconv.weight_g',
    'upsize_ul_stream.0.deconv.weight_v', 'down_layers.2.ul_stream.1.conv_out.conv.weight_g', 'nin_out.weight_v'].map((k) => params.get(k)!);
  onJs(() => checkGradients('PixelCNN++ weight-normalised', [x, ...picked], () => model.forward(x, classes), { eps: 1e-2, rtol: 3e-2, atol: 3e-3, samples: 6 }));
});

test('forward observer: init, every block, the resampling layers and the logits, by parameter prefix; logits unchanged', () => {
  const model = new PixelCnnPlusPlus(tiny({ resnets: 1 }), 4);
  const x = randomInput([2, 1, 8, 8], 3);
  const names: string[] = [], shapes: string[] = [];
  const seen = noGrad(() => model.forward(x, null, (n, t) => { names.push(n); shapes.push(`${n} ${t.shape.join('x')}`); }));
  const plain = noGrad(() => model.forward(x));
  assert.deepEqual(Array.from(seen.data), Array.from(plain.data));
  assert.deepEqual(names.slice(0, 4), ['u_init', 'ul_init', 'up_layers.0.u_stream.0', 'up_layers.0.ul_stream.0']);
  assert.ok(shapes.includes('downsize_u_stream.0 2x4x4x4'), shapes.join(', '));
  assert.ok(shapes.includes('downsize_ul_stream.1 2x4x2x2'));
  assert.ok(shapes.includes('down_layers.0.ul_stream.0 2x4x2x2'));
  assert.ok(shapes.includes('upsize_u_stream.0 2x4x4x4'));
  assert.ok(shapes.includes('upsize_ul_stream.1 2x4x8x8'));
  assert.equal(names[names.length - 1], 'nin_out');
  assert.equal(names.length, 2 + 2 * 3 + 4 + 2 * (1 + 2 + 2) + 4 + 1);
  for (const n of names) if (n !== 'u_init' && n !== 'ul_init') {
    const prefix = n === 'nin_out' ? 'nin_out' : n;
    assert.ok([...model.parameters().keys()].some((k) => k.startsWith(prefix + '.')), `${n} is a parameter prefix`);
  }
});

// ---------------------------------------------------------------------------------------------
// Dropout: training scope only

test('dropout acts only inside withDropout while gradients are recorded, reproducibly per seed', () => {
  const model = new PixelCnnPlusPlus(tiny({ dropout: 0.5, resnets: 1 }), 6);
  const x = randomInput([2, 1, 8, 8], 1);
  const plain = Array.from(model.forward(x).data);
  assert.deepEqual(Array.from(noGrad(() => model.forward(x)).data), plain, 'a plain forward never drops');
  assert.deepEqual(Array.from(withDropout(new Rng(1), () => noGrad(() => model.forward(x))).data), plain, 'noGrad never drops');
  const a = Array.from(withDropout(new Rng(1), () => model.forward(x)).data);
  const b = Array.from(withDropout(new Rng(1), () => model.forward(x)).data);
  const c = Array.from(withDropout(new Rng(2), () => model.forward(x)).data);
  assert.notDeepEqual(a, plain, 'training drops');
  assert.deepEqual(a, b, 'same seed, same masks');
  assert.notDeepEqual(a, c, 'another seed, other masks');
  const none = new PixelCnnPlusPlus(tiny({ dropout: 0, resnets: 1 }), 6);
  assert.deepEqual(Array.from(withDropout(new Rng(1), () => none.forward(x)).data), Array.from(none.forward(x).data), 'dropout 0: no change');
});

test('the trainer runs its steps with dropout on (the same step without dropout moves the weights elsewhere), reproducibly', async () => {
  const root = mkdtempSync(join(tmpdir(), 'pixelcnn-pp-train-'));
  try {
    const rng = new Rng(3);
    const set: ImageSet = { name: 'tiny', count: 4, channels: 1, height: 6, width: 6, pixels: Uint8Array.from({ length: 144 }, () => rng.int(256)), labels: null, numClasses: 0 };
    const after = async (dropoutP: number, out: string) => {
      const m = new PixelCnnPlusPlus(tiny({ dropout: dropoutP, height: 6, width: 6 }), 1);
      await train(m, set, null, { batchSize: 2, steps: 1, seed: 5, checkpointEverySeconds: 1e9 }, join(root, out));
      return Array.from(m.parameters().get('up_layers.0.u_stream.0.conv_input.conv.weight')!.data);
    };
    const none = await after(0, 'a'), dropped = await after(0.5, 'b'), again = await after(0.5, 'c');
    assert.notDeepEqual(dropped, none);
    assert.deepEqual(dropped, again);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------------------
// Class conditioning, config

test('conditioning: different classes give different logits, each image reads its own label; bad labels are errors', () => {
  const model = new PixelCnnPlusPlus(tiny({ numClasses: 3 }), 2);
  const x = randomInput([2, 1, 8, 8], 4);
  const a = model.forward(x, Int32Array.of(0, 1)).data, b = model.forward(x, Int32Array.of(1, 0)).data;
  const half = a.length / 2;
  assert.notDeepEqual(a.subarray(0, half), b.subarray(0, half));
  const x0 = new Tensor(x.data.slice(0, 64), [1, 1, 8, 8]);
  close(model.forward(x0, Int32Array.of(1)).data, b.subarray(0, half), 'image 0 alone');
  assert.throws(() => model.forward(x), /PixelCNN\+\+: the model is class-conditional \(3 classes\)/);
  assert.throws(() => model.forward(x, Int32Array.of(0)), /1 class labels for a batch of 2/);
  assert.throws(() => model.forward(x, Int32Array.of(0, 3)), /class 3 outside \[0, 3\)/);
  assert.ok(![...new PixelCnnPlusPlus(tiny(), 2).parameters().keys()].some((k) => k.includes('cond')));
});

test('config: createModel fills defaults; bad values and keys are errors naming the key', () => {
  const m = createModel({ arch: 'pixelcnn++', filters: 8 });
  assert.ok(m instanceof PixelCnnPlusPlus);
  assert.deepEqual(m.config, { ...defaultPixelCnnPlusPlusConfig, filters: 8 });
  const cases: [unknown, RegExp][] = [
    [{ arch: 'pixelcnn++', dropout: 1 }, /dropout must be a number in \[0, 0\.95\], got 1/],
    [{ arch: 'pixelcnn++', dropout: '0.1' }, /dropout must be a number in \[0, 0\.95\], got "0\.1"/],
    [{ arch: 'pixelcnn++', filters: 0 }, /filters must be an integer in \[1, 4096\], got 0/],
    [{ arch: 'pixelcnn++', resnets: -1 }, /resnets must be an integer in \[0, 64\], got -1/],
    [{ arch: 'pixelcnn++', resnet: 2 }, /unknown key 'resnet' in the PixelCNN\+\+ config \(did you mean 'resnets'\?\)/],
    [{ arch: 'pixelcnn++', hidden: 2 }, /unknown key 'hidden' in the PixelCNN\+\+ config/],
    [{ arch: 'pixelcnn++', likelihood: 'sigmoid', levels: 4 }, /the sigmoid likelihood needs levels = 2/],
  ];
  for (const [raw, re] of cases) {
    assert.throws(() => createModel(raw as ModelConfigInput), (e: Error) => e instanceof ConfigError && re.test(e.message), JSON.stringify(raw));
  }
  // resnets = 0 is a valid (shallow) network; the sigmoid head has C outputs.
  const s = createModel({ arch: 'pixelcnn++', filters: 4, resnets: 0, levels: 2, likelihood: 'sigmoid', height: 6, width: 6 });
  assert.deepEqual(s.forward(randomInput([1, 1, 6, 6], 1)).shape, [1, 1, 6, 6]);
});

// ---------------------------------------------------------------------------------------------
// CLI: train → eval → sample on a folder of small PNGs

const bin = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'bin', 'pixelcnn.js');
function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 600_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('CLI: train --arch pixelcnn++ → eval → sample and complete (cached sampler) on 8×8 PNGs; bad flags name the flag', () => {
  const root = mkdtempSync(join(tmpdir(), 'pixelcnn-pp-'));
  try {
    const data = join(root, 'png');
    mkdirSync(data);
    for (let n = 0; n < 12; n++) {
      const png = new PNG({ width: 8, height: 8, colorType: 0, inputColorType: 0, bitDepth: 8 });
      for (let p = 0; p < 64; p++) png.data[p] = ((p * 37 + n * 11) % 7) * 36;
      writeFileSync(join(data, `${n}.png`), PNG.sync.write(png, { colorType: 0, inputColorType: 0, bitDepth: 8 }));
    }
    const model = join(root, 'model');
    const t = cli('train', '--arch', 'pixelcnn++', '--dataset', 'png', '--data-dir', data, '--levels', '8', '--filters', '4',
      '--resnets', '1', '--dropout', '0.2', '--batch', '4', '--steps', '3', '--samples', '1', '--no-progress', '--out', model);
    assert.equal(t.code, 0, t.err);
    assert.match(t.out, /test bits\/dim: \d+\.\d+/);
    assert.doesNotMatch(t.err, /note:/);
    const config = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8')) as { model: Record<string, unknown> };
    assert.deepEqual(config.model, { arch: 'pixelcnn++', channels: 1, levels: 8, likelihood: 'softmax', mixtures: 10, height: 8, width: 8, numClasses: 0, filters: 4, resnets: 1, dropout: 0.2, weightNorm: false });

    const e = cli('eval', '--model', model, '--dataset', 'png', '--data-dir', data, '--split', 'test', '--json');
    assert.equal(e.code, 0, e.err);
    const r = JSON.parse(e.out.trim()) as { bits_per_dim: number; dims_per_image: number };
    assert.equal(r.dims_per_image, 64);
    assert.ok(r.bits_per_dim > 0 && r.bits_per_dim < 10);

    const out = join(root, 's.png');
    const s = cli('sample', '--model', model, '--n', '3', '--seed', '2', '--no-progress', '--out', out);
    assert.equal(s.code, 0, s.err);
    assert.doesNotMatch(s.err, /note:/);
    assert.match(s.out, /3 samples in .* \(cached sampler\)/);
    assert.ok(PNG.sync.read(readFileSync(out)).width >= 24);

    const done = join(root, 'c.png');
    const c = cli('complete', '--model', model, '--dataset', 'png', '--data-dir', data, '--count', '1', '--rows', '4', '--samples', '2', '--no-progress', '--out', done);
    assert.equal(c.code, 0, c.err);
    assert.match(c.out, /completion\(s\) of the last 4 rows in .* \(cached sampler, /);

    for (const [flag, value, re] of [['--dropout', '1', /--dropout/], ['--filters', '0', /--filters must be an integer in \[1, 4096\], got 0/],
      ['--resnets', 'x', /--resnets/]] as const) {
      const bad = cli('train', '--arch', 'pixelcnn++', '--dataset', 'png', '--data-dir', data, flag, value, '--steps', '1', '--out', join(root, 'bad'));
      assert.notEqual(bad.code, 0, `${flag} ${value}`);
      assert.match(bad.err, re);
      assert.doesNotMatch(bad.err, /\n\s+at /, 'no stack trace');
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('CLI: train --arch pixelcnn++ --weight-norm records it and writes weight_g / weight_v; eval, sample and complete read it; misuse is one line', () => {
  const root = mkdtempSync(join(tmpdir(), 'pixelcnn-pp-wn-'));
  try {
    const data = join(root, 'png');
    mkdirSync(data);
    for (let n = 0; n < 8; n++) {
      const png = new PNG({ width: 6, height: 6, colorType: 0, inputColorType: 0, bitDepth: 8 });
      for (let p = 0; p < 36; p++) png.data[p] = ((p * 13 + n * 5) % 4) * 85;
      writeFileSync(join(data, `${n}.png`), PNG.sync.write(png, { colorType: 0, inputColorType: 0, bitDepth: 8 }));
    }
    const model = join(root, 'model');
    const common = ['--arch', 'pixelcnn++', '--dataset', 'png', '--data-dir', data, '--levels', '4', '--filters', '3', '--resnets', '0', '--dropout', '0'];
    const t = cli('train', ...common, '--weight-norm', '--batch', '4', '--steps', '2', '--samples', '0', '--no-progress', '--out', model);
    assert.equal(t.code, 0, t.err);
    const config = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8')) as { model: Record<string, unknown> };
    assert.equal(config.model.weightNorm, true);
    const names = [...loadCheckpoint(model).params.keys()];
    assert.ok(names.includes('upsize_ul_stream.0.deconv.weight_g') && names.includes('nin_out.weight_v'), names.join(' '));
    assert.ok(!names.some((n) => n.endsWith('.weight')), 'no plain weights');

    const e = cli('eval', '--model', model, '--dataset', 'png', '--data-dir', data, '--split', 'test', '--json');
    assert.equal(e.code, 0, e.err);
    assert.ok((JSON.parse(e.out.trim()) as { bits_per_dim: number }).bits_per_dim > 0);
    const s = cli('sample', '--model', model, '--n', '2', '--seed', '1', '--no-progress', '--out', join(root, 's.png'));
    assert.equal(s.code, 0, s.err);
    assert.match(s.out, /2 samples in .* \(cached sampler\)/);
    const c = cli('complete', '--model', model, '--dataset', 'png', '--data-dir', data, '--count', '1', '--rows', '3', '--samples', '1', '--no-progress', '--out', join(root, 'c.png'));
    assert.equal(c.code, 0, c.err);

    // A direction v with a zero slice (w = g · v/‖v‖ undefined) is refused on loading, naming the file.
    const ck = loadCheckpoint(model), zero = join(root, 'zero');
    const params = new Map([...ck.params].map(([n, t]) => [n, new Tensor(Float32Array.from(t.data), t.shape, { name: n })]));
    params.get('u_init.conv.weight_v')!.data.fill(0, 0, 2 * 2 * 3);
    saveCheckpoint(zero, { modelConfig: ck.modelConfig, params });
    const z = cli('eval', '--model', zero, '--dataset', 'png', '--data-dir', data, '--split', 'test');
    assert.equal(z.code, 1);
    assert.match(z.err.trim().split('\n').pop()!, /^pixelcnn: error: .*zero[/\\]model\.safetensors: parameter 'u_init\.conv\.weight_v' is zero in slice 0 of its first axis/);

    const gated = cli('train', '--arch', 'gated', '--dataset', 'png', '--data-dir', data, '--weight-norm', '--steps', '1', '--out', join(root, 'bad'));
    assert.equal(gated.code, 1, gated.err);
    assert.equal(gated.err.trim().split('\n').pop(), 'pixelcnn: error: --weight-norm needs --arch pixelcnn++ (the gated model has no weight normalisation)');
    const plain = join(root, 'plain');
    assert.equal(cli('train', ...common, '--batch', '4', '--steps', '1', '--samples', '0', '--no-progress', '--out', plain).code, 0);
    const resume = cli('train', ...common, '--weight-norm', '--resume', '--steps', '2', '--out', plain);
    assert.notEqual(resume.code, 0);
    assert.match(resume.err, /--weight-norm true contradicts the checkpoint in .* \(weightNorm false\)/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
