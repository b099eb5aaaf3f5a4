/**
 * The training worker: trains a residual PixelCNN on the binarised MNIST digits shipped with the
 * page (assets/mnist-train.bin, mnist-test.bin: src/data/packed-images.ts) with the project's own
 * training step (TrainRun, src/train/run.ts: the loss of src/eval/likelihood.ts, Adam, the
 * schedule) on the wasm backend, so the page stays responsive. It reports every step's loss, the
 * test bits/dim now and then, and a grid of samples every few seconds; on 'stop' it evaluates once
 * more and hands back the checkpoint (encodeCheckpoint: the files `pixelcnn train` writes).
 */
import { createModel } from '../src/models/index.js';
import { unpackBinaryImages, PAGE_MNIST } from '../src/data/packed-images.js';
import type { ImageSet } from '../src/data/image-set.js';
import { TrainRun } from '../src/train/run.js';
import { encodeCheckpoint, newGeneration } from '../src/train/checkpoint-format.js';
import { TRAIN_PRESETS, type BackendInfo, type FromTrainWorker, type ToTrainWorker } from './protocol.js';
import { startBackend } from './worker-common.js';
import { sampleCached } from '../src/sample/cached.js';

/** Test bits/dim every this many steps (and at the end). */
const EVAL_EVERY = 200;
/** A new sample grid at most this often (sampling pauses training). */
const SAMPLE_EVERY_MS = 8000;
const SAMPLES = 16;
const SAMPLE_SEED = 1;

const backend: Promise<BackendInfo> = startBackend();
let running = false;
let stopRequested = false;

function post(msg: FromTrainWorker, transfer: Transferable[] = []): void {
  self.postMessage(msg, { transfer });
}

async function fetchImages(file: string, name: string): Promise<ImageSet> {
  const url = new URL(file, self.location.href);
  let r: Response;
  try {
    r = await fetch(url);
  } catch (e) {
    throw new Error(`Could not fetch assets/${file}: ${(e as Error).message}`);
  }
  if (!r.ok) throw new Error(`Could not fetch assets/${file}: HTTP ${r.status} ${r.statusText}`.trim());
  return unpackBinaryImages(new Uint8Array(await r.arrayBuffer()), `assets/${file}`, name);
}

async function train(msg: Extract<ToTrainWorker, { type: 'start' }>): Promise<void> {
  const preset = TRAIN_PRESETS[msg.preset];
  if (!preset) throw new Error(`unknown model '${String(msg.preset)}'`);
  const [info, trainSet, testSet] = await Promise.all([
    backend, fetchImages('mnist-train.bin', 'mnist:train'), fetchImages('mnist-test.bin', 'mnist:test'),
  ]);
  const model = createModel({
    arch: 'pixelcnn', channels: 1, levels: 2, likelihood: 'softmax', height: trainSet.height, width: trainSet.width, numClasses: 0,
    hidden: preset.hidden, outHidden: preset.outHidden, blocks: preset.blocks,
  }, msg.seed);
  const run = new TrainRun(model, trainSet, testSet, {
    batchSize: msg.batchSize, lr: msg.lr, seed: msg.seed, evalEvery: EVAL_EVERY,
    // As `pixelcnn train` records MNIST limited to the shipped images.
    dataset: { name: 'mnist', dataDir: null, colour: null, binarise: 'stochastic', limit: PAGE_MNIST.train.images },
  }, { unbounded: true });
  let parameters = 0;
  for (const p of model.parameters().values()) parameters += p.size;
  post({ type: 'started', backend: info, parameters, trainImages: trainSet.count, testImages: testSet.count });

  const evaluate = () => {
    const r = run.evaluate();
    if (r) post({ type: 'eval', step: run.state.step, bitsPerDim: r.bitsPerDim, natsPerImage: r.natsPerImage, images: r.images });
  };
  const samples = () => {
    const labels = sampleCached(model, { count: SAMPLES, seed: SAMPLE_SEED, temperature: 1 });
    post({ type: 'samples', step: run.state.step, count: SAMPLES, labels }, [labels.buffer]);
  };
  samples(); // what the untrained model draws: noise
  let lastSamples = performance.now();
  while (!stopRequested) {
    const s = run.step();
    if (!Number.isFinite(s.bitsPerDim)) throw new Error(`training diverged at step ${s.state.step}: the loss is ${s.bitsPerDim} (lower the learning rate)`);
    post({ type: 'step', step: s.state.step, epoch: s.state.epoch, bitsPerDim: s.bitsPerDim, imagesPerSecond: s.imagesPerSecond, elapsedSeconds: run.elapsed() });
    if (s.state.step % EVAL_EVERY === 0) evaluate();
    if (performance.now() - lastSamples >= SAMPLE_EVERY_MS) {
      samples();
      lastSamples = performance.now();
    }
    // Let 'stop' in between steps.
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
  }
  if (run.state.step > 0) {
    if (run.lastMetrics?.step !== run.state.step) evaluate();
    samples();
  }
  const files = encodeCheckpoint(run.checkpointContents(), newGeneration(), 'the trained model');
  const weights = files.model.buffer as ArrayBuffer;
  post({ type: 'stopped', step: run.state.step, configText: files.config, weights }, [weights]);
}

self.onmessage = async (e: MessageEvent<ToTrainWorker>) => {
  const msg = e.data;
  if (msg.type === 'stop') {
    stopRequested = true;
    return;
  }
  if (running) return;
  running = true;
  stopRequested = false;
  try {
    await train(msg);
  } catch (err) {
    post({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  }
  // One run per worker: the page starts a fresh worker for the next (a fresh arena and backend state).
};
