import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor } from '../src/tensor/tensor.js';
import { WeightAverage } from '../src/nn/weight-average.js';
import { PixelCnn, defaultPixelCnnConfig, type PixelCnnConfig } from '../src/models/pixelcnn.js';
import { train, type TrainOptions, type TrainState } from '../src/train/trainer.js';
import { evaluate } from '../src/eval/likelihood.js';
import { fixedLevels } from '../src/data/levels.js';
import { loadCheckpoint, loadParamsInto } from '../src/train/checkpoint.js';
import { decodeSafetensors, encodeSafetensors } from '../src/train/safetensors.js';
import type { ImageSet } from '../src/data/image-set.js';
import { Rng } from '../src/random/rng.js';

const params = (...values: number[][]) =>
  new Map(values.map((v, i) => [`p${i}`, Tensor.from(v, [v.length])] as const));

test('weight average: warm-up decay min(d, (1+t)/(10+t)) and the update rule, in float32', () => {
  const ps = params([1, 2], [-4]);
  const avg = new WeightAverage(ps, 0.5);
  const expect = [[1, 2], [-4]].map((v) => Float64Array.from(v));
  const live = [[3, 5], [0], [7, -1], [2], [0.5, 0.25], [8]];
  for (let t = 0; t < 3; t++) {
    const d = Math.min(0.5, (1 + t) / (10 + t));
    assert.equal(avg.currentDecay(), d);
    ps.get('p0')!.data.set(live[2 * t]);
    ps.get('p1')!.data.set(live[2 * t + 1]);
    avg.update();
    for (let k = 0; k < 2; k++) {
      const e = expect[k], w = live[2 * t + k];
      for (let i = 0; i < e.length; i++) e[i] = Math.fround(Math.fround(d * e[i]) + Math.fround((1 - d) * w[i]));
      assert.deepEqual(Array.from(avg.shadow.get(`p${k}`)!), Array.from(e).map(Math.fround), `t=${t} p${k}`);
    }
  }
  assert.equal(avg.updates, 3);
  assert.equal(avg.currentDecay(), 4 / 13, 'still warming up');
  avg.updates = 8;
  assert.equal(avg.currentDecay(), 0.5, 'after the warm-up the decay is the configured one');
});

test('weight average: swap exchanges average and live weights, twice is the identity', () => {
  const ps = params([1, 2, 3]);
  const avg = new WeightAverage(ps, 0.9);
  ps.get('p0')!.data.set([10, 20, 30]);
  avg.update();
  const a = Array.from(avg.shadow.get('p0')!);
  avg.swap();
  assert.deepEqual(Array.from(ps.get('p0')!.data), a);
  assert.deepEqual(Array.from(avg.shadow.get('p0')!), [10, 20, 30]);
  avg.swap();
  assert.deepEqual(Array.from(ps.get('p0')!.data), [10, 20, 30]);
  assert.deepEqual(Array.from(avg.shadow.get('p0')!), a);
});

test('weight average: bad decay or resume state is refused with a message', () => {
  for (const d of [0, 1, -0.5, NaN]) assert.throws(() => new WeightAverage(params([1]), d), /decay must be in \(0, 1\)/);
  assert.throws(() => WeightAverage.resume(params([1, 2]), { decay: 0.9, updates: 1, live: new Map([['p0', new Float32Array(3)]]) }),
    /live weights for 'p0' have 3 values, the parameter has 2/);
});

// ---- training with an average --------------------------------------------------------------------

const cfg: PixelCnnConfig = { ...defaultPixelCnnConfig, hidden: 8, outHidden: 8, blocks: 1, levels: 4, height: 6, width: 6 };
const opts = (over: Partial<TrainOptions> = {}): Partial<TrainOptions> & Pick<TrainOptions, 'batchSize'> =>
  ({ batchSize: 4, lr: 1e-2, seed: 3, ema: 0.8, checkpointEverySeconds: 1e9, ...over });

function noise(count: number, seed: number): ImageSet {
  const rng = new Rng(seed), pixels = new Uint8Array(count * 36);
  for (let i = 0; i < pixels.length; i++) pixels[i] = rng.int(256);
  return { name: `noise:${seed}`, count, channels: 1, height: 6, width: 6, pixels, labels: null, numClasses: 0 };
}

const values = (m: Map<string, { data: Float32Array }>) => new Map([...m].map(([k, v]) => [k, Array.from(v.data)]));

test('train with --ema: evaluation, checkpoint and returned model are the average; live weights are kept for resume', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pixelcnn-ema-'));
  try {
    const trainSet = noise(16, 1), testSet = noise(8, 2);
    const plain = new PixelCnn(cfg, 4);
    await train(plain, trainSet, null, opts({ steps: 6, ema: 0 }), join(dir, 'plain'));
    const model = new PixelCnn(cfg, 4);
    const r = await train(model, trainSet, testSet, opts({ steps: 6 }), join(dir, 'ema'));
    const ck = loadCheckpoint(join(dir, 'ema'));
    assert.ok(ck.average, 'the checkpoint holds the live weights');
    assert.equal(ck.average.updates, 6);
    assert.equal(ck.average.decay, 0.8);
    // Live weights are exactly those of the same run without an average.
    for (const [name, p] of plain.parameters()) assert.deepEqual(Array.from(ck.average.live.get(name)!), Array.from(p.data), name);
    // model.safetensors and the returned model hold the average, which differs from the live weights.
    for (const [name, p] of model.parameters()) {
      assert.deepEqual(Array.from(ck.params.get(name)!.data), Array.from(p.data), name);
    }
    assert.notDeepEqual(values(model.parameters()), values(plain.parameters()));
    // The reported test NLL is that of the averaged model.
    const labels = fixedLevels(testSet, { levels: 4 }, 2017);
    const direct = evaluate(model, labels, 8, 6, 6, { batchSize: 64 });
    assert.equal(r.test!.bitsPerDim, direct.bitsPerDim);
    assert.equal(loadCheckpoint(join(dir, 'plain')).average, null, 'no average without --ema');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('train with --ema: 3 steps + resume + 3 steps equals 6 steps exactly (average and live weights)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pixelcnn-ema-'));
  try {
    const trainSet = noise(10, 5);
    const straight = new PixelCnn(cfg, 6);
    await train(straight, trainSet, null, opts({ steps: 6 }), join(dir, 'straight'));
    await train(new PixelCnn(cfg, 6), trainSet, null, opts({ steps: 3 }), join(dir, 'split'));
    const ck = loadCheckpoint(join(dir, 'split'));
    const resumed = new PixelCnn(cfg, 99);
    loadParamsInto(resumed, ck.params, 'split');
    await train(resumed, trainSet, null, opts({ steps: 6 }), join(dir, 'split'), {},
      { state: ck.training as unknown as TrainState, optimizer: ck.optimizer, average: ck.average });
    assert.deepEqual(values(resumed.parameters()), values(straight.parameters()), 'averaged weights');
    const a = loadCheckpoint(join(dir, 'straight')).average!, b = loadCheckpoint(join(dir, 'split')).average!;
    assert.equal(b.updates, 6);
    for (const [name, w] of a.live) assert.deepEqual(Array.from(b.live.get(name)!), Array.from(w), `live ${name}`);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('checkpoint: a damaged weight average in optimizer.safetensors is named in the error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pixelcnn-ema-'));
  try {
    const out = join(dir, 'ck');
    await train(new PixelCnn(cfg, 1), noise(8, 1), null, opts({ steps: 2 }), out);
    const file = join(out, 'optimizer.safetensors');
    const original = decodeSafetensors(readFileSync(file), 'opt');
    const rewrite = (edit: (t: typeof original.tensors, m: Record<string, string>) => void) => {
      const tensors = new Map(original.tensors), metadata = { ...original.metadata };
      edit(tensors, metadata);
      writeFileSync(file, encodeSafetensors(tensors, metadata));
    };
    rewrite((t) => t.delete('w.out2.bias'));
    assert.throws(() => loadCheckpoint(out), /optimizer\.safetensors: holds a weight average but no live weights w\.out2\.bias/);
    rewrite((_, m) => { m.average_decay = '1.5'; });
    assert.throws(() => loadCheckpoint(out), /"average_decay" must be a number in \(0, 1\), got "1.5"/);
    rewrite((_, m) => { delete m.average_updates; });
    assert.throws(() => loadCheckpoint(out), /"average_updates" must be a non-negative integer/);
    rewrite((t) => { t.set('w.out2.bias', { shape: [1], data: new Float32Array(1) }); });
    assert.throws(() => loadCheckpoint(out), /'w\.out2\.bias' has 1 values, parameter 'out2\.bias' has 4/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
