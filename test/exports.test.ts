import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as api from '../src/index.js';

test('public exports snapshot (an accidental API change fails here)', () => {
  assert.deepEqual(Object.keys(api).sort(), [
    'ARCHS', 'Adam', 'CheckpointError', 'ConfigError', 'Conv2dLayer', 'DATASET_NAMES', 'DataError', 'GatedPixelCnn', 'PixelCnn', 'PixelCnnPlusPlus', 'Rng', 'Tensor', 'WeightAverage',
    'backendName', 'backward', 'batchLevels', 'binariseStochastic', 'binariseThreshold', 'bitsPerDim', 'centreConnectivity',
    'createModel', 'decodeSafetensors', 'defaultAdamOptions', 'defaultGatedPixelCnnConfig', 'defaultPixelCnnConfig', 'defaultPixelCnnPlusPlusConfig',
    'defaultTrainOptions', 'encodeGrid', 'encodeSafetensors', 'evaluate', 'evaluateMarginal', 'fixedLevels', 'jsKernels', 'kernels',
    'levelsToPixels', 'levelsToUnit', 'loadCheckpoint', 'loadDataset', 'loadModel', 'logProb', 'noGrad', 'ops',
    'parseModelConfig', 'pixelCnnMask', 'quantise', 'quantisePixels', 'sampleCached', 'sampleNaive', 'saveCheckpoint', 'saveModel',
    'spatialMask', 'train', 'useBackend', 'withArena',
  ]);
});

test('library round trip: build, save, load, sample, logProb agrees with evaluate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pixelcnn-api-'));
  try {
    const model = api.createModel({ ...api.defaultPixelCnnConfig, hidden: 8, outHidden: 8, blocks: 1, levels: 4, height: 5, width: 4 }, 3);
    api.saveModel(join(dir, 'm'), model, { test_bits_per_dim: 1.5 });
    const { model: loaded, metrics } = api.loadModel(join(dir, 'm'));
    assert.equal(metrics?.test_bits_per_dim, 1.5);
    const images = api.sampleCached(loaded, { count: 3, seed: 2 });
    assert.equal(images.length, 3 * 20);
    const lp = api.logProb(loaded, images, 3, { batchSize: 2 });
    const ev = api.evaluate(loaded, images, 3, 5, 4, { batchSize: 3 });
    const meanNats = lp.natsPerImage.reduce((s, v) => s + v, 0) / 3;
    assert.ok(Math.abs(meanNats - ev.natsPerImage) < 1e-9 * meanNats);
    assert.ok(Math.abs(lp.bitsPerDim[0] - lp.natsPerImage[0] / 20 / Math.LN2) < 1e-12);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
