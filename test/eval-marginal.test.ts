/**
 * `pixelcnn eval --marginal`: the likelihood of a class-conditional model without the labels,
 * −ln Σ_y p(y) p(x|y) with p(y) = 1/K, and its accuracy as a classifier, argmax_y p(x|y).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createModel, type ModelConfigInput } from '../src/models/index.js';
import { evaluate, evaluateMarginal, logProb } from '../src/eval/likelihood.js';
import { Rng } from '../src/random/rng.js';

const bin = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'bin', 'pixelcnn.js');
const dir = mkdtempSync(join(tmpdir(), 'pixelcnn-marginal-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 600_000 });

const K = 3, H = 5, W = 5, L = 4;

/** A conditional model whose output depends on the class (the class embedding starts at zero). */
function conditionalModel(arch: 'gated' | 'pixelcnn++') {
  const m = createModel({
    arch, channels: 1, levels: L, height: H, width: W, numClasses: K,
    ...(arch === 'gated' ? { hidden: 6, outHidden: 6, layers: 2 } : { filters: 6, resnets: 1, dropout: 0, likelihood: 'logistic-mixture', mixtures: 2 }),
  } as ModelConfigInput, 1);
  const rng = new Rng(7);
  for (const p of m.parameters().values()) for (let i = 0; i < p.size; i++) p.data[i] += 0.3 * (rng.uniform() - 0.5);
  return m;
}

test('evaluateMarginal is −ln of the class-averaged likelihood, and its accuracy is argmax_y p(x|y)', () => {
  for (const arch of ['gated', 'pixelcnn++'] as const) {
    const m = conditionalModel(arch);
    const n = 11, dims = H * W, rng = new Rng(3);
    const labels = Uint8Array.from({ length: n * dims }, () => Math.floor(rng.uniform() * L));
    const classes = Uint8Array.from({ length: n }, (_, i) => i % K);
    // Reference: one logProb pass per class, combined here in float64.
    const perClass = Array.from({ length: K }, (_, y) => logProb(m, labels, n, { classes: new Uint8Array(n).fill(y) }).natsPerImage);
    let total = 0, correct = 0;
    for (let i = 0; i < n; i++) {
      const nll = perClass.map((a) => a[i]);
      total += -Math.log(nll.reduce((s, v) => s + Math.exp(-v) / K, 0));
      if (nll.indexOf(Math.min(...nll)) === classes[i]) correct++;
    }
    const r = evaluateMarginal(m, labels, n, H, W, classes, { batchSize: 4 });
    assert.ok(Math.abs(r.natsPerImage - total / n) < 1e-9 * total / n, `${arch}: ${r.natsPerImage} vs ${total / n}`);
    assert.equal(r.accuracy, correct / n, arch);
    assert.equal(r.images, n);
    // The classes must matter in this model, or the check above proves little.
    assert.ok(perClass[0].some((v, i) => Math.abs(v - perClass[1][i]) > 1e-3), `${arch}: the class changes nothing`);
    // p(x) ≥ p(x | y_true) / K: the unlabelled figure is at most ln K nats per image above the labelled one.
    const cond = evaluate(m, labels, n, H, W, { classes });
    assert.ok(r.natsPerImage <= cond.natsPerImage + Math.log(K) + 1e-9, arch);
  }
});

test('evaluateMarginal refuses an unconditional model', () => {
  const m = createModel({ arch: 'gated', levels: L, height: H, width: W, hidden: 4, outHidden: 4, layers: 1 } as ModelConfigInput);
  assert.throws(() => evaluateMarginal(m, new Uint8Array(H * W), 1, H, W, new Uint8Array(1)), /not class-conditional/);
});

test('pixelcnn eval --marginal: the figures in --json, the text line, and a one-line error for an unconditional model', () => {
  const cond = join(dir, 'cond'), plain = join(dir, 'plain');
  const common = ['--dataset', 'mnist', '--limit', '32', '--levels', '2', '--arch', 'gated', '--hidden', '4', '--out-hidden', '4',
    '--layers', '1', '--batch', '16', '--steps', '2', '--samples', '0', '--no-progress'];
  let t = cli('train', ...common, '--conditional', '--out', cond);
  assert.equal(t.status, 0, t.stderr);
  t = cli('train', ...common, '--out', plain);
  assert.equal(t.status, 0, t.stderr);

  const e = cli('eval', '--model', cond, '--limit', '12', '--marginal', '--json');
  assert.equal(e.status, 0, e.stderr);
  const r = JSON.parse(e.stdout) as Record<string, number>;
  assert.equal(r.images, 12);
  assert.ok(r.classification_accuracy >= 0 && r.classification_accuracy <= 1);
  assert.ok(Number.isInteger(Math.round(r.classification_accuracy * 12 * 1e6) / 1e6), 'accuracy is a count of 12 images');
  assert.ok(r.marginal_bits_per_dim > 0 && r.marginal_bits_per_dim <= r.bits_per_dim + Math.log2(10) / 784 + 1e-9);
  assert.ok(Math.abs(r.marginal_nats_per_image - r.marginal_bits_per_dim * Math.LN2 * 784) < 1e-6 * r.marginal_nats_per_image);

  const text = cli('eval', '--model', cond, '--limit', '4', '--marginal', '--no-progress');
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /without labels \d+\.\d+ bits\/dim, \d+\.\d+ nats\/image; as a classifier \d+\.\d+% correct/);

  // A folder of PNGs without class subfolders has no labels for the conditional model.
  const pngs = join(dir, 'pngs');
  mkdirSync(pngs);
  for (let i = 0; i < 3; i++) {
    const png = new PNG({ width: 28, height: 28, colorType: 0, inputColorType: 0 });
    png.data = Buffer.alloc(28 * 28, i * 100);
    writeFileSync(join(pngs, `${i}.png`), PNG.sync.write(png, { colorType: 0, inputColorType: 0 }));
  }
  const unlabelled = cli('eval', '--model', cond, '--dataset', 'png', '--data-dir', pngs, '--binarise', 'threshold');
  assert.notEqual(unlabelled.status, 0);
  assert.equal(unlabelled.stderr.trim().split('\n').length, 1, unlabelled.stderr);
  assert.match(unlabelled.stderr, /has no class labels; the model in .*cond is class-conditional \(10 classes\)/);

  const bad = cli('eval', '--model', plain, '--limit', '4', '--marginal');
  assert.notEqual(bad.status, 0);
  assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
  assert.match(bad.stderr, /--marginal needs a class-conditional model; .*plain is unconditional/);
});
