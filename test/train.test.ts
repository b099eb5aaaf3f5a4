import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PixelCnn, defaultPixelCnnConfig, type PixelCnnConfig } from '../src/models/pixelcnn.js';
import { evaluate, bitsPerDim } from '../src/eval/likelihood.js';
import { train, type TrainOptions } from '../src/train/trainer.js';
import { loadCheckpoint, loadParamsInto } from '../src/train/checkpoint.js';
import type { ImageSet } from '../src/data/image-set.js';
import { Rng } from '../src/random/rng.js';

const cfg = (over: Partial<PixelCnnConfig> = {}): PixelCnnConfig =>
  ({ ...defaultPixelCnnConfig, hidden: 8, outHidden: 8, blocks: 1, levels: 4, height: 6, width: 6, ...over });

/** Small synthetic images: vertical bars of random brightness (learnable structure). */
function bars(count: number, channels: 1 | 3, seed: number): ImageSet {
  const rng = new Rng(seed), H = 6, W = 6, pixels = new Uint8Array(count * channels * H * W);
  for (let n = 0; n < count; n++) {
    const col = rng.int(W), v = 128 + rng.int(128);
    for (let c = 0; c < channels; c++) for (let y = 0; y < H; y++) pixels[((n * channels + c) * H + y) * W + col] = v;
  }
  return { name: `bars:${seed}`, count, channels, height: H, width: W, pixels, labels: null, numClasses: 0 };
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'pixelcnn-train-'));
}

for (const [levels, channels, likelihood] of [[4, 1, 'softmax'], [256, 3, 'softmax'], [2, 1, 'sigmoid'], [2, 3, 'softmax']] as const) {
  test(`bits/dim of all-zero logits is log2 L: L=${levels} C=${channels} ${likelihood}`, () => {
    const model = new PixelCnn(cfg({ levels, channels, likelihood }), 1);
    for (const name of ['out2.weight', 'out2.bias']) model.parameters().get(name)!.data.fill(0);
    const set = bars(5, channels, 2);
    const labels = new Uint8Array(set.pixels.length).map((_, i) => i % levels);
    const r = evaluate(model, labels, 5, 6, 6, { batchSize: 2 });
    assert.ok(Math.abs(r.bitsPerDim - Math.log2(levels)) < 1e-6, `${r.bitsPerDim} vs ${Math.log2(levels)}`);
    assert.ok(Math.abs(r.natsPerImage - channels * 36 * Math.log(levels)) < 1e-4);
    assert.equal(r.dimsPerImage, channels * 36);
  });
}

test('bitsPerDim divides once by images · dims and by ln 2', () => {
  assert.equal(bitsPerDim(784 * Math.LN2 * 10, 10, 784), 1);
  assert.throws(() => bitsPerDim(1, 0, 784), /need images > 0/);
});

const opts = (over: Partial<TrainOptions> = {}): Partial<TrainOptions> & Pick<TrainOptions, 'batchSize'> =>
  ({ batchSize: 4, lr: 3e-3, seed: 3, checkpointEverySeconds: 1e9, ...over });

test('training lowers the test NLL on learnable data (C=1, L=4)', async () => {
  const dir = tmp();
  try {
    const model = new PixelCnn(cfg(), 2);
    const trainSet = bars(64, 1, 1), testSet = bars(16, 1, 9);
    const before = (await train(new PixelCnn(cfg(), 2), trainSet, testSet, opts({ steps: 0 }), join(dir, 'a'))).test!;
    const after = (await train(model, trainSet, testSet, opts({ steps: 60 }), join(dir, 'b'))).test!;
    assert.ok(after.bitsPerDim < before.bitsPerDim - 0.2, `before ${before.bitsPerDim}, after ${after.bitsPerDim}`);
    const ck = loadCheckpoint(join(dir, 'b'));
    assert.equal(ck.metrics?.test_bits_per_dim, after.bitsPerDim);
    assert.equal((ck.training as { step: number }).step, 60);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('resume: 5 steps + checkpoint + 5 steps equals 10 steps exactly (stochastic binarisation, C=3)', async () => {
  const dir = tmp();
  try {
    const c = cfg({ levels: 2, channels: 3 });
    const trainSet = bars(12, 3, 4);
    const straight = new PixelCnn(c, 5);
    await train(straight, trainSet, null, opts({ steps: 10 }), join(dir, 'straight'));
    const first = new PixelCnn(c, 5);
    await train(first, trainSet, null, opts({ steps: 5 }), join(dir, 'split'));
    const ck = loadCheckpoint(join(dir, 'split'));
    const resumed = new PixelCnn(c, 99);
    loadParamsInto(resumed, ck.params, 'split');
    const t = ck.training as unknown as { step: number; epoch: number; indexInEpoch: number; imagesSeen: number; elapsedSeconds: number };
    await train(resumed, trainSet, null, opts({ steps: 10 }), join(dir, 'split'), {}, { state: t, optimizer: ck.optimizer });
    for (const [name, p] of straight.parameters()) {
      assert.deepEqual(Array.from(resumed.parameters().get(name)!.data), Array.from(p.data), `parameter ${name}`);
    }
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('train rejects data of the wrong shape and nonsense options', async () => {
  const model = new PixelCnn(cfg(), 1);
  await assert.rejects(train(model, bars(4, 3, 1), null, opts({ steps: 1 }), '/nonexistent/x'), /data bars:1 has 3×6×6 images, the model expects 1×6×6/);
  await assert.rejects(train(model, bars(4, 1, 1), null, { batchSize: 0, steps: 1 }, '/nonexistent/x'), /batch size must be an integer/);
  await assert.rejects(train(model, bars(4, 1, 1), null, { batchSize: 2 }, '/nonexistent/x'), /give steps, epochs or minutes/);
});
