import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mirrorImage } from '../src/data/flip.js';
import { PixelCnn, defaultPixelCnnConfig } from '../src/models/pixelcnn.js';
import { TrainRun, type TrainOptions } from '../src/train/run.js';
import type { ImageSet } from '../src/data/image-set.js';
import { Rng } from '../src/random/rng.js';

test('mirrorImage reverses every row of every plane, in place, and only at its offset', () => {
  // Two planes of 2×3 after one value that is not part of the image.
  const px = Uint8Array.from([99, 1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16, 77]);
  mirrorImage(px, 1, 2, 2, 3);
  assert.deepEqual(Array.from(px), [99, 3, 2, 1, 6, 5, 4, 13, 12, 11, 16, 15, 14, 77]);
  mirrorImage(px, 1, 2, 2, 3);
  assert.deepEqual(Array.from(px), [99, 1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16, 77]);
  const even = Uint8Array.from([1, 2, 3, 4]);
  mirrorImage(even, 0, 1, 1, 4);
  assert.deepEqual(Array.from(even), [4, 3, 2, 1]);
});

const H = 6, W = 6, C = 3;
/** Images with a bar in one column (asymmetric) or in a column and its mirror (symmetric). */
function bars(count: number, symmetric: boolean): ImageSet {
  const rng = new Rng(7), pixels = new Uint8Array(count * C * H * W);
  for (let n = 0; n < count; n++) {
    const col = rng.int(W), v = 128 + rng.int(128);
    for (let c = 0; c < C; c++) {
      for (let y = 0; y < H; y++) {
        pixels[((n * C + c) * H + y) * W + col] = v;
        if (symmetric) pixels[((n * C + c) * H + y) * W + W - 1 - col] = v;
      }
    }
  }
  return { name: 'bars', count, channels: C, height: H, width: W, pixels, labels: null, numClasses: 0 };
}

/** The parameters after `steps` steps of a small model (same initialisation every time). */
function trained(set: ImageSet, flip: boolean, steps: number, seed = 3): Map<string, number[]> {
  const model = new PixelCnn({ ...defaultPixelCnnConfig, channels: C, hidden: 8, outHidden: 8, blocks: 1, levels: 8, height: H, width: W }, 1);
  const o: Partial<TrainOptions> & Pick<TrainOptions, 'batchSize'> = { batchSize: 4, lr: 3e-3, seed, steps, flip };
  const run = new TrainRun(model, set, null, o);
  while (!run.finished) run.step();
  return new Map([...model.parameters()].map(([k, p]) => [k, Array.from(p.data)]));
}

test('--flip: a no-op on mirror-symmetric images, a change on others, reproducible given the seed', () => {
  const sym = bars(16, true), asym = bars(16, false);
  assert.deepEqual(trained(sym, true, 6), trained(sym, false, 6), 'symmetric images: flipping changes nothing');
  const flipped = trained(asym, true, 6);
  assert.notDeepEqual(flipped, trained(asym, false, 6), 'asymmetric images: flipping changes what is learnt');
  assert.deepEqual(flipped, trained(asym, true, 6), 'the same seed flips the same images');
  assert.notDeepEqual(flipped, trained(asym, true, 6, 4), 'another seed flips others');
});
