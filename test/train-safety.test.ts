/** The trainer keeps a good checkpoint from a diverged run, and reports evaluation progress. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PixelCnn, defaultPixelCnnConfig } from '../src/models/pixelcnn.js';
import { train } from '../src/train/trainer.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import type { ImageSet } from '../src/data/image-set.js';

const root = mkdtempSync(join(tmpdir(), 'pixelcnn-train-safety-'));
after(() => rmSync(root, { recursive: true, force: true }));

const images = (count: number): ImageSet => ({
  name: 'ramp', count, channels: 1, height: 4, width: 4, labels: null, numClasses: 0,
  pixels: Uint8Array.from({ length: count * 16 }, (_, i) => (i * 37) % 256),
});
const model = () => new PixelCnn({ ...defaultPixelCnnConfig, hidden: 4, outHidden: 4, blocks: 1, levels: 4, height: 4, width: 4 }, 1);

test('train: non-finite weights at the end stop the run with an error and keep the previous checkpoint', async () => {
  const out = join(root, 'nan');
  const m = model();
  await train(m, images(8), null, { batchSize: 4, steps: 2 }, out);
  const before = readFileSync(join(out, 'config.json'), 'utf8');
  // The last step leaves a NaN in the weights (as a diverging update would).
  await assert.rejects(train(m, images(8), null, { batchSize: 4, steps: 2 }, out, {
    onStep: (s) => { if (s.state.step === 2) m.parameters().get('out1.bias')!.data[1] = NaN; },
  }), (e: Error) => e.message === `${out}: not saved: parameter 'out1.bias' holds a non-finite value (NaN at index 1); training diverged (the checkpoint there is unchanged)`);
  assert.equal(readFileSync(join(out, 'config.json'), 'utf8'), before);
  assert.equal(loadCheckpoint(out).training!.step, 2);
  assert.deepEqual(readdirSync(root).filter((e) => e.includes('pixelcnn-')), []);

  // NaN weights before a step: the loss is NaN and the run stops at once, nothing written.
  await assert.rejects(train(m, images(8), null, { batchSize: 4, steps: 5 }, out, {
    onStep: (s) => { if (s.state.step === 1) m.parameters().get('out2.bias')!.data[0] = Infinity; },
  }), /^Error: training diverged at step 2: the loss is (NaN|Infinity); nothing more is saved \(the last checkpoint in .* is kept\)$/);
  assert.equal(readFileSync(join(out, 'config.json'), 'utf8'), before);
});

test('train: the evaluation reports its progress in batches', async () => {
  const seen: [number, number][] = [];
  const r = await train(model(), images(8), images(10), { batchSize: 4, steps: 1 }, join(root, 'eval'), {
    onEvalProgress: (done, total) => seen.push([done, total]),
  });
  assert.equal(r.test!.images, 10);
  assert.deepEqual(seen, [[4, 10], [8, 10], [10, 10]]);
});
