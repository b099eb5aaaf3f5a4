/**
 * The page's Train panel without the page: the training digits it ships (src/data/packed-images.ts,
 * as scripts/build-web.mjs packs them), the browser-safe training step (TrainRun, src/train/run.ts)
 * on the wasm backend, and the checkpoint bytes it downloads (encodeCheckpoint), which the CLI's
 * loadCheckpoint reads back into the same model. The page itself: test/browser.test.ts.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMnist } from '../src/data/mnist.js';
import { fixedLevels } from '../src/data/levels.js';
import { DataError, firstImages } from '../src/data/image-set.js';
import { PAGE_MNIST, packBinaryImages, packPageMnist, unpackBinaryImages } from '../src/data/packed-images.js';
import { createModel } from '../src/models/index.js';
import { TrainRun, TEST_BINARISATION_SEED } from '../src/train/run.js';
import { CONFIG_FILE, MODEL_FILE, encodeCheckpoint, loadCheckpoint, newGeneration } from '../src/train/checkpoint.js';
import { modelFromCheckpoint } from '../src/train/model-io.js';
import { modelInput } from '../src/eval/likelihood.js';
import { noGrad } from '../src/tensor/autograd.js';
import { backendName, tryWasmKernels, useBackend } from '../src/backend/index.js';
import { skipWithoutWasm } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'pixelcnn-page-train-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('the page\'s digits: packed bits round trip, the test images are the ones pixelcnn eval reads', () => {
  const labels = Uint8Array.from({ length: 3 * 5 * 7 }, (_, i) => (i * 7919) % 3 === 0 ? 1 : 0);
  const packed = packBinaryImages(labels, 3, 5, 7);
  assert.equal(packed.length, 12 + Math.ceil(105 / 8));
  const set = unpackBinaryImages(packed, 'x.bin', 'x');
  assert.deepEqual([set.count, set.channels, set.height, set.width], [3, 1, 5, 7]);
  assert.deepEqual(set.pixels, labels.map((v) => v * 255));
  assert.throws(() => unpackBinaryImages(packed.subarray(0, packed.length - 1), 'x.bin', 'x'),
    (e: Error) => e instanceof DataError && /^x\.bin: 25 bytes, but 3 images of 5×7 take 26: truncated or corrupt$/.test(e.message));
  assert.throws(() => unpackBinaryImages(new Uint8Array(20), 'y.bin', 'y'), /^DataError: y\.bin: not a packed binary image file \(it does not start with "PCNB"\)$/);

  // The test digits are the first ones of `pixelcnn eval`'s binarisation of the test split.
  assert.equal(PAGE_MNIST.test.seed, TEST_BINARISATION_SEED);
  const test = loadMnist('test');
  const shipped = unpackBinaryImages(packPageMnist(test, 'test'), 'mnist-test.bin', 'mnist:test');
  assert.equal(shipped.count, PAGE_MNIST.test.images);
  const evalLabels = fixedLevels(test, { levels: 2, binarise: 'stochastic' }, TEST_BINARISATION_SEED);
  assert.deepEqual(shipped.pixels, evalLabels.subarray(0, shipped.count * 784).map((v) => v * 255));
  // 98 bytes a digit.
  assert.equal(packPageMnist(firstImages(test, 10), 'test').length, 12 + 10 * 98);
});

test('the browser-safe training step on the wasm backend lowers the loss on the shipped digits; its checkpoint bytes load with loadCheckpoint', (t) => {
  if (skipWithoutWasm(t, !!tryWasmKernels())) return;
  const previous = backendName();
  useBackend('wasm');
  try {
    const trainSet = unpackBinaryImages(packPageMnist(loadMnist('train'), 'train'), 'mnist-train.bin', 'mnist:train');
    const testSet = unpackBinaryImages(packPageMnist(loadMnist('test'), 'test'), 'mnist-test.bin', 'mnist:test');
    assert.equal(trainSet.count, PAGE_MNIST.train.images);
    // The page's tiny model (web/protocol.ts TRAIN_PRESETS), as the training worker builds it.
    const model = createModel({
      arch: 'pixelcnn', channels: 1, levels: 2, likelihood: 'softmax', height: 28, width: 28, numClasses: 0,
      hidden: 16, outHidden: 16, blocks: 1,
    }, 0);
    const run = new TrainRun(model, trainSet, testSet, { batchSize: 16, lr: 2e-3, evalLimit: 100 }, { unbounded: true });
    const before = run.evaluate()!;
    const losses: number[] = [];
    for (let i = 0; i < 40; i++) losses.push(run.step().bitsPerDim);
    const after = run.evaluate()!;
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    t.diagnostic(`wasm: training loss ${mean(losses.slice(0, 5)).toFixed(3)} → ${mean(losses.slice(-5)).toFixed(3)} bits/dim in 40 steps; test ${before.bitsPerDim.toFixed(3)} → ${after.bitsPerDim.toFixed(3)}`);
    assert.ok(mean(losses.slice(-5)) < 0.8 * mean(losses.slice(0, 5)), `the training loss did not fall: ${losses.map((v) => v.toFixed(3)).join(' ')}`);
    assert.ok(after.bitsPerDim < before.bitsPerDim, `test bits/dim ${before.bitsPerDim} → ${after.bitsPerDim}`);

    // The page's download: the two files, put in a directory as the user would.
    const files = encodeCheckpoint(run.checkpointContents(), newGeneration(), 'the trained model');
    const ckDir = mkdtempSync(join(dir, 'from-page-'));
    writeFileSync(join(ckDir, CONFIG_FILE), files.config);
    writeFileSync(join(ckDir, MODEL_FILE), files.model);
    const ck = loadCheckpoint(ckDir);
    assert.equal(ck.training?.step, 40);
    assert.deepEqual(ck.training?.dataset, { name: 'mnist:train', dataDir: null, colour: null, binarise: null, limit: null });
    assert.equal(ck.metrics?.test_bits_per_dim, after.bitsPerDim);
    const loaded = modelFromCheckpoint(ck);
    // The same logits as the model in memory, bit for bit (same backend, same weights).
    const x = modelInput(fixedLevels(firstImages(testSet, 4), { levels: 2 }, 0), 4, model, 28, 28);
    const [want, got] = noGrad(() => [model.forward(x, null).data.slice(), loaded.forward(x, null).data.slice()]);
    assert.deepEqual(got, want);
  } finally {
    useBackend(previous);
  }
});
