/**
 * The discretised logistic mixture likelihood (PixelCNN++): normalisation, gradients (edge levels,
 * the region where the CDF difference underflows, the log-scale clamp), backend agreement, the
 * autoregressive order with the mixture head, cached = naive sampling, the config and the CLI.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor } from '../src/tensor/tensor.js';
import { backward } from '../src/tensor/autograd.js';
import { Rng } from '../src/random/rng.js';
import { logisticMixtureNll, mixtureLayout, type MixtureLayout } from '../src/ops/index.js';
import { kernels, tryNativeKernels, useBackend } from '../src/backend/index.js';
import { createModel, parseModelConfig, ConfigError, type ModelConfigInput } from '../src/models/index.js';
import { outputChannels, outputFilter } from '../src/models/model.js';
import { sampleNaive } from '../src/sample/naive.js';
import { sampleCached } from '../src/sample/cached.js';
import { saveModel } from '../src/train/model-io.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import { assertAutoregressive } from './causality.js';
import { relativeError } from './helpers.js';

const bin = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'bin', 'pixelcnn.js');

/** One pixel's parameters (filters of a (1, F, 1, 1) output), random: means in ±1.5, log-scales in [−7.5, 1.5]. */
function randomPixel(l: MixtureLayout, rng: Rng): Float32Array {
  const C = l.channels, p = new Float32Array(l.perColour * C);
  for (let i = 0; i < p.length; i++) p[i] = (rng.uniform() * 2 - 1) * 2;
  for (let c = 0; c < C; c++) for (let k = 0; k < l.mixtures; k++) {
    p[outputFilter(l.mean + k, c, C)] = (rng.uniform() * 2 - 1) * 1.5;
    p[outputFilter(l.logScale + k, c, C)] = -7.5 + 9 * rng.uniform();
  }
  return p;
}

/** −ln p of each target pixel (N, C) under the same pixel parameters: one 1×1 image per target. */
function nllOf(pixel: Float32Array, l: MixtureLayout, levels: number, targets: Uint8Array): Float64Array {
  const F = pixel.length, N = targets.length / l.channels;
  const params = new Tensor(new Float32Array(F * N), [N, F, 1, 1]);
  for (let n = 0; n < N; n++) params.data.set(pixel, n * F);
  return logisticMixtureNll(params, targets, levels, l.channels, l.mixtures).nllPerImage;
}

const sumExp = (nll: Float64Array) => nll.reduce((s, v) => s + Math.exp(-v), 0);

test('normalisation: every level of a gray pixel, L = 256 and L = 5, sums to 1 (edges and tails included)', () => {
  const rng = new Rng(3);
  for (const L of [256, 5]) for (const K of [1, 4]) for (let trial = 0; trial < 5; trial++) {
    const l = mixtureLayout(1, K), pixel = randomPixel(l, rng);
    const total = sumExp(nllOf(pixel, l, L, Uint8Array.from({ length: L }, (_, v) => v)));
    assert.ok(Math.abs(total - 1) < 1e-5, `L=${L} K=${K}: Σ p = ${total}`);
  }
});

test('normalisation with coupling (RGB): the joint over all L³ values sums to 1 for L = 5 and 8; at L = 256 Σ_{G,B} p(R, G, B) = p(R)', () => {
  const rng = new Rng(4);
  for (const L of [5, 8]) for (const K of [1, 3]) for (let trial = 0; trial < 3; trial++) {
    const l = mixtureLayout(3, K), pixel = randomPixel(l, rng);
    const all = Uint8Array.from({ length: L ** 3 * 3 }, (_, i) => Math.floor(Math.floor(i / 3) / L ** (2 - (i % 3))) % L);
    const total = sumExp(nllOf(pixel, l, L, all));
    assert.ok(Math.abs(total - 1) < 1e-5, `L=${L} K=${K}: Σ p = ${total}`);
  }
  // L = 256: for R at both edges and inside, the G and B conditionals (coupled to R, and B to G)
  // sum to 1 when p(R, G, B) summed over G and B equals p(R) from the gray layout's first rows.
  const L = 256, K = 3, l = mixtureLayout(3, K), gray = mixtureLayout(1, K);
  const pixel = randomPixel(l, rng);
  // The coupling must matter: coefficients well away from 0.
  for (let k = 0; k < K; k++) for (const [slot, c] of [[l.coeff(0), 1], [l.coeff(0), 2], [l.coeff(1), 2]]) {
    pixel[outputFilter(slot + k, c, 3)] = 1.5 * (k % 2 ? 1 : -1);
  }
  const rOnly = new Float32Array(gray.perColour);
  for (let j = 0; j < gray.perColour; j++) rOnly[j] = pixel[outputFilter(j, 0, 3)];
  for (const R of [0, 100, 255]) {
    const gb = new Uint8Array(L * L * 3);
    for (let i = 0; i < L * L; i++) { gb[3 * i] = R; gb[3 * i + 1] = Math.floor(i / L); gb[3 * i + 2] = i % L; }
    const joint = sumExp(nllOf(pixel, l, L, gb));
    const pR = Math.exp(-nllOf(rOnly, gray, L, Uint8Array.of(R))[0]);
    assert.ok(Math.abs(joint / pR - 1) < 1e-5, `R=${R}: Σ_{G,B} p = ${joint}, p(R) = ${pR}`);
  }
});

test('layout: the marginal of colours 0..c depends only on the filters of colour groups 0..c (RGB, L = 5)', () => {
  // With the masks (a group-c filter sees only colours < c of its pixel) this makes the order exact.
  const L = 5, K = 2, l = mixtureLayout(3, K), rng = new Rng(6), pixel = randomPixel(l, rng);
  const all = Uint8Array.from({ length: L ** 3 * 3 }, (_, i) => Math.floor(Math.floor(i / 3) / L ** (2 - (i % 3))) % L);
  /** p of colours 0..c (summing out the later ones), for every value of them. */
  const marginals = (p: Float32Array, c: number) => {
    const nll = nllOf(p, l, L, all), m = new Float64Array(L ** (c + 1));
    for (let i = 0; i < nll.length; i++) m[Math.floor(i / L ** (2 - c))] += Math.exp(-nll[i]);
    return m;
  };
  for (let c = 0; c < 2; c++) {
    const before = marginals(pixel, c), changed = Float32Array.from(pixel);
    for (let f = 0; f < changed.length; f++) if (f % 3 > c) changed[f] += 0.7;  // every filter of a later group
    const after = marginals(changed, c);
    assert.ok(relativeError(after, before) < 1e-6, `colours 0..${c}: changed by ${relativeError(after, before)}`);
    const own = Float32Array.from(pixel);
    for (let f = 0; f < own.length; f++) if (f % 3 === c) own[f] += 0.7;
    assert.ok(relativeError(marginals(own, c), before) > 1e-3, `colour ${c}'s own group matters`);
  }
});

/** Analytical gradient of the mean NLL against central differences in float64 of the nll sum. */
function checkPixelGradients(name: string, pixel: Float32Array, l: MixtureLayout, levels: number, target: Uint8Array, eps = 1e-3): void {
  const C = l.channels, F = pixel.length;
  const params = new Tensor(Float32Array.from(pixel), [1, F, 1, 1], { requiresGrad: true });
  const { loss } = logisticMixtureNll(params, target, levels, C, l.mixtures);
  backward(loss);
  const g = params.grad!;
  const nllAt = (p: Float32Array) => logisticMixtureNll(new Tensor(p, [1, F, 1, 1]), target, levels, C, l.mixtures).nllPerImage[0] / C;
  for (let f = 0; f < F; f++) {
    const up = Float32Array.from(pixel), down = Float32Array.from(pixel);
    up[f] += eps; down[f] -= eps;
    const h = up[f] - down[f];  // as float32 stores it
    const numeric = (nllAt(up) - nllAt(down)) / h;
    const err = Math.abs(numeric - g[f]);
    assert.ok(err <= 1e-4 + 1e-3 * Math.abs(numeric), `${name}: filter ${f}: analytical ${g[f]} vs numerical ${numeric}`);
  }
}

test('gradients = finite differences: edge levels, the underflow region, tiny bins, the log-scale clamp (gray and RGB)', () => {
  const L = 256, set = (p: Float32Array, l: MixtureLayout, slot: number, c: number, v: number) => { p[outputFilter(slot, c, l.channels)] = v; };
  for (const C of [1, 3]) {
    const l = mixtureLayout(C, 2), rng = new Rng(11 + C);
    const base = () => {
      const p = randomPixel(l, rng);
      for (let c = 0; c < C; c++) for (let k = 0; k < 2; k++) set(p, l, l.logScale + k, c, -1 + k);
      return p;
    };
    const all = (v: number) => new Uint8Array(C).fill(v);
    // Edge levels with the means inside and outside [−1, 1].
    for (const v of [0, L - 1]) checkPixelGradients(`C=${C} level ${v}`, base(), l, L, all(v));
    const far = base();
    for (let c = 0; c < C; c++) { set(far, l, l.mean, c, 1.3); set(far, l, l.mean + 1, c, -1.2); }
    checkPixelGradients(`C=${C} edges, means outside`, far, l, L, all(0));
    // Underflow: an inner level 60 scales from the means (σ(a) − σ(b) is 0 in float64 there).
    const tail = base();
    for (let c = 0; c < C; c++) for (let k = 0; k < 2; k++) { set(tail, l, l.mean + k, c, -0.9); set(tail, l, l.logScale + k, c, -4); }
    checkPixelGradients(`C=${C} underflow`, tail, l, L, all(200), 1e-4);
    // Bins far narrower than the scale (e^−s·2δ below the small-d switch), and a clamped log-scale (no gradient).
    const wide = base();
    for (let c = 0; c < C; c++) { set(wide, l, l.logScale, c, 14); set(wide, l, l.logScale + 1, c, -8); }
    checkPixelGradients(`C=${C} tiny bins, clamp`, wide, l, L, all(128));
  }
  // The clamp passes no gradient below −7.
  const l = mixtureLayout(1, 1), p = Float32Array.of(0.1, -8, 0);
  const t = new Tensor(p, [1, 3, 1, 1], { requiresGrad: true });
  backward(logisticMixtureNll(t, Uint8Array.of(130), 256, 1, 1).loss);
  assert.equal(t.grad![outputFilter(l.logScale, 0, 1)], 0);
});

test('the underflow region: finite, and equal to the closed form −b + log(1 − e^−(a−b)) of the far tail', () => {
  // One component, mean −1, log-scale −5 (scale e^−5), level 200 of 256: the bin's edges a, b are
  // ~140 scales above the mean, where σ(a) − σ(b) rounds to 0.
  const L = 256, x = (2 * 200) / 255 - 1, delta = 1 / 255, u = Math.exp(5);
  const a = u * (x + 1 + delta), b = u * (x + 1 - delta);
  assert.equal(1 / (1 + Math.exp(-a)) - 1 / (1 + Math.exp(-b)), 0);
  const nll = logisticMixtureNll(new Tensor(Float32Array.of(-1, -5, 0), [1, 3, 1, 1]), Uint8Array.of(200), L, 1, 1).nllPerImage[0];
  const expected = b - Math.log(-Math.expm1(-(a - b)));
  assert.ok(Number.isFinite(nll) && Math.abs(nll - expected) < 1e-9 * expected, `${nll} vs ${expected}`);
  // And where the plain difference is still accurate, the op agrees with it.
  const near = logisticMixtureNll(new Tensor(Float32Array.of(0.5, -2, 0), [1, 3, 1, 1]), Uint8Array.of(200), L, 1, 1).nllPerImage[0];
  const s = Math.exp(2), sig = (z: number) => 1 / (1 + Math.exp(-z));
  const direct = -Math.log(sig(s * (x - 0.5 + delta)) - sig(s * (x - 0.5 - delta)));
  assert.ok(Math.abs(near - direct) < 1e-9, `${near} vs ${direct}`);
});

test('native = js reference: NLL and gradients of a 2×(12K)×7×7 RGB batch and a gray one', (t) => {
  const native = tryNativeKernels();
  if (!native) { t.skip('native addon not built'); return; }
  const before = kernels().name;
  try {
    for (const [C, K, L] of [[3, 5, 256], [1, 10, 16]]) {
      const l = mixtureLayout(C, K), F = l.perColour * C, rng = new Rng(9), S = 49;
      const data = new Float32Array(2 * F * S);
      for (let b = 0; b < 2; b++) for (let s = 0; s < S; s++) {
        const p = randomPixel(l, rng);
        for (let f = 0; f < F; f++) data[(b * F + f) * S + s] = p[f];
      }
      const targets = Uint8Array.from({ length: 2 * C * S }, (_, i) => (i % 7 === 0 ? 0 : i % 11 === 0 ? L - 1 : rng.int(L)));
      const run = (name: 'js' | 'native') => {
        useBackend(name);
        const p = new Tensor(Float32Array.from(data), [2, F, 7, 7], { requiresGrad: true });
        const r = logisticMixtureNll(p, targets, L, C, K);
        backward(r.loss);
        return { nll: r.nllPerImage, grad: Float32Array.from(p.grad!) };
      };
      const js = run('js'), nat = run('native');
      assert.ok(relativeError(nat.nll, js.nll) < 1e-12, `C=${C}: nll ${nat.nll} vs ${js.nll}`);
      assert.ok(relativeError(nat.grad, js.grad) < 1e-6, `C=${C}: gradients differ by ${relativeError(nat.grad, js.grad)}`);
    }
  } finally {
    useBackend(before);
  }
});

test('the op and the native binding refuse bad input with one message', () => {
  const p = new Tensor(new Float32Array(24), [1, 24, 1, 1]);
  assert.throws(() => logisticMixtureNll(p, Uint8Array.of(0, 0, 0), 2, 3, 2), /logisticMixtureNll: levels must be an integer in \[3, 256\], got 2/);
  assert.throws(() => logisticMixtureNll(p, Uint8Array.of(0, 0, 0), 5, 3, 3), /params \[1, 24, 1, 1\] need 36 channels for 3 mixtures of 3 colours/);
  assert.throws(() => logisticMixtureNll(p, Uint8Array.of(0, 5, 0), 5, 3, 2), /target 5 at index 1 is not below levels=5/);
  const native = tryNativeKernels();
  if (native) {
    const l = mixtureLayout(1, 2), table = Int32Array.of(5, 0, 2);
    assert.throws(() => native.logisticMixtureNll(new Float64Array(1), null, new Float32Array(6), Uint8Array.of(0), table, 1, 6, 1, 1, 2, 5, -7, 1),
      /table\[0\] = 5: its 2 components are not all among the 6 filters/);
    assert.equal(l.perColour, 6);
  }
});

const tinyModel = (arch: 'pixelcnn' | 'gated', C: 1 | 3, seed = 0) => createModel({
  arch, channels: C, levels: 16, likelihood: 'logistic-mixture', mixtures: 3, hidden: arch === 'pixelcnn' ? 12 : 9,
  outHidden: 9, height: 5, width: 5, ...(arch === 'pixelcnn' ? { blocks: 1 } : { layers: 2 }),
} as ModelConfigInput, seed);

test('autoregressive order with the mixture head: pixelcnn and gated, C = 1 and 3', () => {
  for (const arch of ['pixelcnn', 'gated'] as const) for (const C of [1, 3] as const) {
    const m = tinyModel(arch, C);
    assert.equal(outputChannels(m.config), C === 1 ? 9 : 36);
    assertAutoregressive(`${arch} C=${C} mixture`, m, 4, 4);
  }
});

test('sampling: cached = naive images for a seed (temperatures 1, 0.7, 0), levels in range, completion at pixel boundaries', () => {
  for (const arch of ['pixelcnn', 'gated'] as const) for (const C of [1, 3] as const) {
    const m = tinyModel(arch, C, 5);
    for (const temperature of [1, 0.7, 0]) {
      const o = { count: 3, seed: 4, temperature };
      const naive = sampleNaive(m, o), cached = sampleCached(m, o);
      assert.deepEqual(cached, naive, `${arch} C=${C} T=${temperature}`);
      assert.ok(naive.every((v) => v < 16));
      if (temperature === 1) assert.ok(new Set(naive).size > 3, `${arch} C=${C}: samples vary`);
    }
    const given = { labels: sampleNaive(m, { count: 2, seed: 1 }), observed: 7 * C };
    assert.deepEqual(sampleCached(m, { count: 2, seed: 2, given }), sampleNaive(m, { count: 2, seed: 2, given }));
    if (C === 3) {
      assert.throws(() => sampleNaive(m, { count: 2, given: { ...given, observed: 7 } }),
        /with the logistic-mixture likelihood the observed prefix must be whole pixels \(a multiple of 3 positions\), got 7/);
    }
  }
});

test('sampling draws levels with the likelihood\'s probabilities (1×1 gray image, many draws)', () => {
  // A 1×1 image: the model's output is its biases alone, so p(level) is known exactly.
  const m = createModel({ arch: 'pixelcnn', levels: 5, likelihood: 'logistic-mixture', mixtures: 2, hidden: 2, outHidden: 1, blocks: 0, height: 1, width: 1 });
  const out2 = m.parameters().get('out2.weight')!, bias = m.parameters().get('out2.bias')!;
  out2.data.fill(0);
  bias.data.set([-0.5, 0.6, -1, -1.5, 0.3, -0.2]);  // means, log-scales, logits (mixtureLayout)
  const probs = Array.from({ length: 5 }, (_, v) => Math.exp(-logisticMixtureNll(new Tensor(Float32Array.from(bias.data), [1, 6, 1, 1]), Uint8Array.of(v), 5, 1, 2).nllPerImage[0]));
  const n = 20000, counts = new Array(5).fill(0);
  for (const v of sampleCached(m, { count: n, seed: 8 })) counts[v]++;
  for (let v = 0; v < 5; v++) {
    const sd = Math.sqrt(probs[v] * (1 - probs[v]) / n);
    assert.ok(Math.abs(counts[v] / n - probs[v]) < 5 * sd + 1e-9, `level ${v}: ${counts[v] / n} vs ${probs[v]}`);
  }
});

test('sampling draws RGB values with the likelihood\'s joint probabilities, coupling included (1×1 image, L = 5)', () => {
  // A 1×1 RGB image: the output is the biases alone, and G and B depend on R (and G) only through
  // the mixture's coupling coefficients, which the sampler must apply as the likelihood does.
  const L = 5;
  const m = createModel({ arch: 'pixelcnn', channels: 3, levels: L, likelihood: 'logistic-mixture', mixtures: 2, hidden: 6, outHidden: 3, blocks: 0, height: 1, width: 1 });
  const out2 = m.parameters().get('out2.weight')!, bias = m.parameters().get('out2.bias')!;
  out2.data.fill(0);
  for (let i = 0; i < bias.size; i++) bias.data[i] = Math.sin(i * 1.7 + 0.3) * 1.2;
  const F = outputChannels(m.config), p = new Float64Array(L * L * L);
  for (let v = 0; v < p.length; v++) {
    const rgb = Uint8Array.of(Math.floor(v / (L * L)), Math.floor(v / L) % L, v % L);
    p[v] = Math.exp(-logisticMixtureNll(new Tensor(Float32Array.from(bias.data), [1, F, 1, 1]), rgb, L, 3, 2).nllPerImage[0]);
  }
  for (const [name, draw, n] of [['cached', sampleCached, 60000], ['naive', sampleNaive, 6000]] as const) {
    const s = draw(m, { count: n, seed: 3 }), counts = new Float64Array(p.length);
    for (let i = 0; i < n; i++) counts[(s[3 * i] * L + s[3 * i + 1]) * L + s[3 * i + 2]]++;
    for (let v = 0; v < p.length; v++) {
      const sd = Math.sqrt(p[v] * (1 - p[v]) / n);
      assert.ok(Math.abs(counts[v] / n - p[v]) < 5 * sd + 1e-9, `${name}: (R, G, B) = ${Math.floor(v / (L * L))}, ${Math.floor(v / L) % L}, ${v % L}: ${counts[v] / n} vs ${p[v]}`);
    }
  }
});

test('config: mixtures is optional in config.json (default 10), K only with the mixture likelihood, L ≥ 3', () => {
  const root = mkdtempSync(join(tmpdir(), 'pixelcnn-mixture-'));
  try {
    const dir = join(root, 'old');
    saveModel(dir, createModel({ arch: 'pixelcnn', levels: 4, hidden: 4, outHidden: 4, blocks: 0, height: 4, width: 4 }));
    const path = join(dir, 'config.json');
    const c = JSON.parse(readFileSync(path, 'utf8')) as { model: Record<string, unknown> };
    assert.equal(c.model.mixtures, 10);
    delete c.model.mixtures;  // as written before the field existed
    writeFileSync(path, JSON.stringify(c));
    assert.equal(loadCheckpoint(dir).modelConfig.mixtures, 10);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const m = createModel({ arch: 'gated', channels: 3, likelihood: 'logistic-mixture', mixtures: 4, hidden: 6, outHidden: 6, layers: 1 });
  assert.equal(outputChannels(m.config), 48);
  const cases: [unknown, RegExp][] = [
    [{ arch: 'pixelcnn', mixtures: 5 }, /mixtures applies only to the logistic-mixture likelihood, not likelihood 'softmax'/],
    [{ arch: 'pixelcnn', likelihood: 'logistic-mixture', levels: 2 }, /the logistic-mixture likelihood needs levels ≥ 3, got 2 \(for binary images use likelihood softmax or sigmoid\)/],
    [{ arch: 'gated', likelihood: 'logistic-mixture', mixtures: 0 }, /mixtures must be an integer in \[1, 64\], got 0/],
    [{ arch: 'gated', likelihood: 'logistic-mixture', mixtures: 65 }, /mixtures must be an integer in \[1, 64\], got 65/],
  ];
  for (const [raw, re] of cases) {
    assert.throws(() => parseModelConfig(raw, { defaults: true }), (e: Error) => e instanceof ConfigError && re.test(e.message), JSON.stringify(raw));
  }
});

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 600_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('CLI: train → eval → sample with --likelihood logistic-mixture --levels 16 on a few MNIST images', () => {
  const root = mkdtempSync(join(tmpdir(), 'pixelcnn-mixture-cli-'));
  try {
    const model = join(root, 'm');
    const t = cli('train', '--dataset', 'mnist', '--limit', '32', '--levels', '16', '--likelihood', 'logistic-mixture', '--mixtures', '3',
      '--hidden', '8', '--out-hidden', '8', '--blocks', '1', '--batch', '8', '--steps', '3', '--samples', '2', '--no-progress', '--out', model);
    assert.equal(t.code, 0, t.err);
    assert.match(t.out, /test bits\/dim: \d+\.\d+/);
    const cfg = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8')) as { model: { likelihood: string; mixtures: number } };
    assert.deepEqual([cfg.model.likelihood, cfg.model.mixtures], ['logistic-mixture', 3]);
    const e = cli('eval', '--model', model, '--dataset', 'mnist', '--split', 'test', '--limit', '16', '--json');
    assert.equal(e.code, 0, e.err);
    const r = JSON.parse(e.out.trim()) as { bits_per_dim: number; images: number };
    assert.equal(r.images, 16);
    assert.ok(r.bits_per_dim > 0 && r.bits_per_dim < 8, `${r.bits_per_dim}`);
    for (const naive of [[], ['--naive']]) {
      const s = cli('sample', '--model', model, '--n', '2', '--seed', '1', ...naive, '--no-progress', '--out', join(root, `s${naive.length}.png`));
      assert.equal(s.code, 0, s.err);
    }
    assert.deepEqual(readFileSync(join(root, 's0.png')), readFileSync(join(root, 's1.png')));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('CLI: a bad mixture flag is one line naming it', () => {
  const cases: [string[], RegExp][] = [
    [['--likelihood', 'logistic-mixture', '--levels', '2'], /the logistic-mixture likelihood needs --levels ≥ 3, got 2 \(for binary images use --likelihood softmax or sigmoid\)/],
    [['--mixtures', '4'], /--mixtures applies only to the logistic-mixture likelihood, not --likelihood 'softmax'/],
    [['--likelihood', 'logistic-mixture', '--mixtures', '0'], /--mixtures.*expected an integer in \[1, 64\], got '0'/],
    [['--likelihood', 'gauss'], /Allowed choices are softmax, sigmoid, logistic-mixture/],
  ];
  for (const [flags, re] of cases) {
    const r = spawnSync(process.execPath, [bin, 'bench', '--steps', '1', '--size', '4', '--batch', '1', ...flags], { encoding: 'utf8', timeout: 120_000 });
    assert.notEqual(r.status, 0, flags.join(' '));
    assert.match(r.stderr, re, flags.join(' '));
    assert.equal(r.stderr.trim().split('\n').filter((l) => !l.startsWith('(add --help')).length, 1, r.stderr);
  }
});
