import { backward } from '../tensor/autograd.js';
import { withArena } from '../tensor/arena.js';
import { Adam, type AdamOptions } from '../nn/adam.js';
import { WeightAverage, type WeightAverageState } from '../nn/weight-average.js';
import { Rng } from '../random/rng.js';
import type { AutoregressiveModel } from '../models/model.js';
import type { ImageSet } from '../data/image-set.js';
import { batchLevels, fixedLevels, type BinariseMode } from '../data/levels.js';
import { evaluate, imageNll, natsToBits, type EvalResult } from '../eval/likelihood.js';
import { learningRate, type LrSchedule } from './schedule.js';
import { saveCheckpoint, type DatasetRecord, type TrainPosition } from './checkpoint.js';
import { withDropout } from '../ops/dropout.js';

/** The fixed seed of the test set's binarisation: one draw for every run, so NLLs compare. */
export const TEST_BINARISATION_SEED = 2017;

export interface TrainOptions {
  batchSize: number;
  /** Stop after this many steps / epochs / minutes of training, whichever comes first (at least one). */
  steps?: number;
  epochs?: number;
  minutes?: number;
  lr: number;
  lrSchedule: LrSchedule;
  lrDecay: number;
  warmupSteps: number;
  clipNorm: number;
  weightDecay: number;
  /**
   * Decay of an exponential moving average of the weights (Polyak averaging; 0 = off). With it,
   * evaluation, the checkpoint's model.safetensors and the model left after training are the average.
   */
  ema: number;
  seed: number;
  /** For levels = 2: how intensities become bits. */
  binarise: BinariseMode;
  /** Evaluate on the test set every this many steps (0 = only at the end). */
  evalEvery: number;
  /** Test images used by periodic and final evaluation (0 = all). */
  evalLimit: number;
  /** Seconds between checkpoints. */
  checkpointEverySeconds: number;
  /** The data set as the caller named it, recorded in checkpoints (default: the set's name only). */
  dataset?: DatasetRecord;
}

export const defaultTrainOptions: TrainOptions = {
  batchSize: 32, lr: 1e-3, lrSchedule: 'constant', lrDecay: 1, warmupSteps: 0, clipNorm: 1, weightDecay: 0, ema: 0,
  seed: 0, binarise: 'stochastic', evalEvery: 0, evalLimit: 0, checkpointEverySeconds: 300,
};

/** Where the run is: everything needed to resume exactly (config.json's "training" holds it). */
export type TrainState = TrainPosition;

export interface StepInfo {
  state: TrainState;
  /** Training loss of this step in bits/dim. */
  bitsPerDim: number;
  lr: number;
  gradNorm: number;
  imagesPerSecond: number;
  /** Fraction of the run done, if known. */
  progress: number;
}

export interface TrainHooks {
  onStep?(info: StepInfo): void;
  onEval?(result: EvalResult, state: TrainState): void;
  /** Evaluation progress: images done of total (evaluation of many images takes a while). */
  onEvalProgress?(done: number, total: number): void;
  /** Something the user should know (e.g. the loss is diverging); each kind is said once. */
  onWarning?(message: string): void;
  onCheckpoint?(dir: string, state: TrainState): void;
  /** Polled between steps: return true to stop early (e.g. after SIGINT); a checkpoint is written. */
  shouldStop?(): boolean;
}

export interface TrainResult {
  state: TrainState;
  test: EvalResult | null;
  stoppedEarly: boolean;
}

/** A training loss this many times the uniform guess's log2 L bits/dim earns a divergence warning. */
export const DIVERGENCE_FACTOR = 4;

/** The permutation of training images for an epoch: a pure function of (seed, epoch) for exact resume. */
export function epochOrder(count: number, seed: number, epoch: number): Uint32Array {
  const order = Uint32Array.from({ length: count }, (_, i) => i);
  return new Rng((seed * 1000003 + epoch * 7919 + 1) >>> 0).shuffle(order);
}

function validate(o: TrainOptions): void {
  const bad = (msg: string): never => { throw new Error(`train options: ${msg}`); };
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1 || o.batchSize > 65536) bad(`batch size must be an integer in [1, 65536], got ${o.batchSize}`);
  if (o.steps === undefined && o.epochs === undefined && o.minutes === undefined) bad('give steps, epochs or minutes');
  if (o.steps !== undefined && !(Number.isInteger(o.steps) && o.steps >= 0)) bad(`steps must be a non-negative integer, got ${o.steps}`);
  if (o.epochs !== undefined && !(o.epochs > 0 && Number.isFinite(o.epochs))) bad(`epochs must be positive, got ${o.epochs}`);
  if (o.minutes !== undefined && !(o.minutes > 0 && Number.isFinite(o.minutes))) bad(`minutes must be positive, got ${o.minutes}`);
  if (!(o.lr > 0 && Number.isFinite(o.lr))) bad(`learning rate must be positive, got ${o.lr}`);
  if (!(o.clipNorm >= 0)) bad(`clip norm must be ≥ 0, got ${o.clipNorm}`);
  if (!(o.weightDecay >= 0)) bad(`weight decay must be ≥ 0, got ${o.weightDecay}`);
  if (!(o.ema >= 0 && o.ema < 1)) bad(`ema decay must be in [0, 1), got ${o.ema}`);
  if (!(o.lrDecay > 0 && o.lrDecay <= 1)) bad(`lr decay must be in (0, 1], got ${o.lrDecay}`);
}

/**
 * Trains `model` on `trainSet` with Adam, writing checkpoints to `outDir` (every
 * checkpointEverySeconds, on stop, and at the end with the test metrics).
 * `resume` continues from a checkpoint's state and optimizer (and weight average: then the model
 * holds the checkpoint's averaged parameters, and the live weights come from `resume.average`).
 * With options.ema > 0 the model holds the averaged weights when this returns.
 */
export async function train(model: AutoregressiveModel, trainSet: ImageSet, testSet: ImageSet | null,
                            options: Partial<TrainOptions> & Pick<TrainOptions, 'batchSize'>, outDir: string,
                            hooks: TrainHooks = {}, resume?: { state: TrainState; optimizer: Adam['state'] | null; average?: WeightAverageState | null }): Promise<TrainResult> {
  const o: TrainOptions = { ...defaultTrainOptions, ...options };
  validate(o);
  const { channels: C, levels: L, height: H, width: W } = model.config;
  if (trainSet.channels !== C || trainSet.height !== H || trainSet.width !== W) {
    throw new Error(`train: data ${trainSet.name} has ${trainSet.channels}×${trainSet.height}×${trainSet.width} images, the model expects ${C}×${H}×${W}`);
  }
  if (trainSet.count === 0) throw new Error(`train: ${trainSet.name} holds no images`);
  const levelOpts = { levels: L, binarise: L === 2 ? o.binarise : undefined };
  const adamOpts: Partial<AdamOptions> = { lr: o.lr, clipNorm: o.clipNorm, weightDecay: o.weightDecay };
  const adam = new Adam(model.parameters(), adamOpts);
  if (resume?.optimizer) adam.loadState(resume.optimizer);
  let average: WeightAverage | null = null;
  if (resume?.average) {
    // The checkpoint's parameters are the average: the live weights go back into the model, and
    // training without --ema simply continues from them.
    const decay = o.ema > 0 ? o.ema : resume.average.decay;
    const resumed = WeightAverage.resume(model.parameters(), { ...resume.average, decay });
    if (o.ema > 0) average = resumed;
  } else if (o.ema > 0) {
    average = new WeightAverage(model.parameters(), o.ema);
  }
  const state: TrainState = resume ? { ...resume.state } : { step: 0, epoch: 0, indexInEpoch: 0, imagesSeen: 0, elapsedSeconds: 0 };

  const testCount = testSet ? (o.evalLimit > 0 ? Math.min(o.evalLimit, testSet.count) : testSet.count) : 0;
  const testLabels = testSet && testCount > 0 ? fixedLevels(testSet, levelOpts, TEST_BINARISATION_SEED).subarray(0, testCount * C * H * W) : null;
  const conditional = model.config.numClasses > 0;
  // Runs fn with the averaged weights in the model (the live ones otherwise), then swaps back.
  const withAveraged = <T>(fn: () => T): T => {
    average?.swap();
    try { return fn(); } finally { average?.swap(); }
  };
  // The training batch size: evaluation reuses the step's recycled buffers (bounded memory).
  const runEval = (): EvalResult | null => testLabels && testSet
    ? withAveraged(() => evaluate(model, testLabels, testCount, H, W, {
      batchSize: o.batchSize, classes: conditional ? testSet.labels : null, onBatch: hooks.onEvalProgress,
    }))
    : null;

  const B = o.batchSize, N = trainSet.count, size = C * H * W;
  const stepsPerEpoch = N / B;
  const totalSteps = Math.min(o.steps ?? Infinity, o.epochs !== undefined ? Math.ceil(o.epochs * stepsPerEpoch) : Infinity);
  const budget = o.minutes !== undefined ? o.minutes * 60 : Infinity;
  const targets = new Uint8Array(B * size);
  const indices = new Uint32Array(B);
  const classes = new Int32Array(B);
  let order = epochOrder(N, o.seed, state.epoch);
  const started = performance.now() / 1000 - state.elapsedSeconds;
  let lastCheckpoint = performance.now() / 1000;
  let stoppedEarly = false, warnedDivergence = false;
  const elapsed = () => performance.now() / 1000 - started;

  // The latest evaluation travels with every checkpoint written after it.
  let lastMetrics: Record<string, number> | undefined;
  const metricsOf = (r: EvalResult) => ({ test_bits_per_dim: r.bitsPerDim, test_nats_per_image: r.natsPerImage, test_images: r.images, step: state.step });
  const checkpoint = (metrics = lastMetrics) => {
    state.elapsedSeconds = elapsed();
    // With an average, model.safetensors gets the average and the live weights ride along.
    const { dataset, ...options } = o;
    withAveraged(() => saveCheckpoint(outDir, {
      modelConfig: { ...model.config },
      params: model.parameters(),
      training: {
        ...state, options: { ...options },
        dataset: dataset ?? { name: trainSet.name, dataDir: null, colour: null, binarise: null, limit: null },
      },
      metrics,
      optimizer: adam.state,
      average: average ? { decay: average.decay, updates: average.updates, live: average.shadow } : undefined,
    }));
    lastCheckpoint = performance.now() / 1000;
    hooks.onCheckpoint?.(outDir, state);
  };

  while (state.step < totalSteps && elapsed() < budget) {
    if (hooks.shouldStop?.()) { stoppedEarly = true; break; }
    const t0 = performance.now();
    for (let b = 0; b < B; b++) {
      if (state.indexInEpoch >= N) { state.epoch++; state.indexInEpoch = 0; order = epochOrder(N, o.seed, state.epoch); }
      indices[b] = order[state.indexInEpoch++];
      classes[b] = trainSet.labels ? trainSet.labels[indices[b]] : 0;
    }
    // A fresh binarisation per use of an image; a pure function of (seed, step) for exact resume.
    batchLevels(trainSet, indices, levelOpts, new Rng((o.seed * 2654435761 + state.step * 40503 + 17) >>> 0), targets);
    const epochProgress = state.imagesSeen / N;
    const progress = Number.isFinite(totalSteps) ? state.step / totalSteps : Number.isFinite(budget) ? elapsed() / budget : null;
    const lr = learningRate({ lr: o.lr, schedule: o.lrSchedule, decayPerEpoch: o.lrDecay, warmupSteps: o.warmupSteps }, state.step, epochProgress, progress);
    // Activations and their gradients are recycled between steps (nothing escapes the scope).
    const { lossNats, gradNorm } = withArena(() => {
      // Dropout (models that have it) is on for this forward only, its masks a pure function of (seed, step).
      const dropRng = new Rng((o.seed * 2246822519 + state.step * 3266489917 + 101) >>> 0);
      const { loss } = withDropout(dropRng, () => imageNll(model, targets, B, H, W, conditional ? classes : null));
      // A non-finite loss is never stepped on: the check below stops the run.
      if (!Number.isFinite(loss.data[0])) return { lossNats: loss.data[0], gradNorm: NaN };
      adam.zeroGrad();
      backward(loss);
      const norm = adam.step(lr);
      average?.update();
      return { lossNats: loss.data[0], gradNorm: norm };
    });
    state.step++;
    state.imagesSeen += B;
    const seconds = (performance.now() - t0) / 1000;
    const bits = natsToBits(lossNats);
    if (!Number.isFinite(bits)) {
      throw new Error(`training diverged at step ${state.step}: the loss is ${bits}; nothing more is saved (the last checkpoint in ${outDir} is kept)`);
    }
    if (!warnedDivergence && bits > DIVERGENCE_FACTOR * Math.log2(L)) {
      warnedDivergence = true;
      hooks.onWarning?.(`warning: the training loss is ${bits.toFixed(1)} bits/dim at step ${state.step}, far above the ${Math.log2(L).toFixed(2)} bits/dim of a uniform guess over ${L} levels: training is diverging (lower the learning rate or clip the gradient norm)`);
    }
    hooks.onStep?.({
      state, bitsPerDim: bits, lr, gradNorm, imagesPerSecond: B / seconds,
      // A step that ends past the time budget still reports 100%, not more.
      progress: Math.min(1, Math.max(Number.isFinite(totalSteps) ? state.step / totalSteps : 0, Number.isFinite(budget) ? elapsed() / budget : 0)),
    });
    if (o.evalEvery > 0 && state.step % o.evalEvery === 0 && state.step < totalSteps) {
      const r = runEval();
      if (r) { lastMetrics = metricsOf(r); hooks.onEval?.(r, state); }
    }
    if (performance.now() / 1000 - lastCheckpoint >= o.checkpointEverySeconds) checkpoint();
    // Let signals and timers run between steps.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  state.elapsedSeconds = elapsed();
  const test = stoppedEarly ? null : runEval();
  if (test) hooks.onEval?.(test, state);
  checkpoint(test ? metricsOf(test) : lastMetrics);
  average?.swap(); // leave the averaged weights in the model (sampling, export)
  return { state, test, stoppedEarly };
}
