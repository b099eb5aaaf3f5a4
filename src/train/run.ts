/**
 * The training step of the project, with no file system: a TrainRun holds a model, its data, Adam
 * (and a weight average), and the position of the run, and takes one step at a time (forward,
 * loss through src/eval/likelihood.ts, backward, Adam, the schedule of ./schedule.ts). `train()`
 * in ./trainer.ts drives it from Node (time budget, hooks, checkpoint directories); the page of
 * `pixelcnn serve` drives it from its training worker (web/train-worker.ts) and downloads what
 * checkpointContents() holds through encodeCheckpoint (./checkpoint-format.ts). No Node imports:
 * the web bundle includes this module.
 */
import { backward } from '../tensor/autograd.js';
import { withArena } from '../tensor/arena.js';
import { Adam, type AdamOptions, type AdamState } from '../nn/adam.js';
import { WeightAverage, type WeightAverageState } from '../nn/weight-average.js';
import { Rng } from '../random/rng.js';
import type { AutoregressiveModel } from '../models/model.js';
import type { ImageSet } from '../data/image-set.js';
import { batchLevels, fixedLevels, type BinariseMode } from '../data/levels.js';
import { evaluate, imageNll, natsToBits, type EvalResult } from '../eval/likelihood.js';
import { learningRate, type LrSchedule } from './schedule.js';
import type { CheckpointContents, DatasetRecord, TrainPosition } from './checkpoint-format.js';
import { withDropout } from '../ops/dropout.js';
import { mirrorImage } from '../data/flip.js';

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
  /** Mirror each training image left to right with probability 1/2 (a pure function of seed and step). */
  flip: boolean;
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
  seed: 0, binarise: 'stochastic', flip: false, evalEvery: 0, evalLimit: 0, checkpointEverySeconds: 300,
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

/** What a run resumes from: a checkpoint's state and optimizer (and weight average). */
export interface TrainResume {
  state: TrainState;
  optimizer: AdamState | null;
  average?: WeightAverageState | null;
}

/** A training loss this many times the uniform guess's log2 L bits/dim earns a divergence warning. */
export const DIVERGENCE_FACTOR = 4;

/** The permutation of training images for an epoch: a pure function of (seed, epoch) for exact resume. */
export function epochOrder(count: number, seed: number, epoch: number): Uint32Array {
  const order = Uint32Array.from({ length: count }, (_, i) => i);
  return new Rng((seed * 1000003 + epoch * 7919 + 1) >>> 0).shuffle(order);
}

function validate(o: TrainOptions, unbounded: boolean): void {
  const bad = (msg: string): never => { throw new Error(`train options: ${msg}`); };
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1 || o.batchSize > 65536) bad(`batch size must be an integer in [1, 65536], got ${o.batchSize}`);
  if (!unbounded && o.steps === undefined && o.epochs === undefined && o.minutes === undefined) bad('give steps, epochs or minutes');
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
 * One training run of `model` on `trainSet` with Adam, a step at a time. The run's length (steps,
 * epochs, minutes) sets `totalSteps` and `budgetSeconds`, which the caller's loop checks (and the
 * schedule's progress reads); `unbounded` allows none of them (the page trains until stopped).
 * `resume` continues from a checkpoint's state and optimizer (and weight average: then the model
 * holds the checkpoint's averaged parameters, and the live weights come from `resume.average`).
 */
export class TrainRun {
  readonly options: TrainOptions;
  readonly adam: Adam;
  readonly average: WeightAverage | null = null;
  readonly state: TrainState;
  /** Steps the run ends after (Infinity when bounded by time only, or unbounded). */
  readonly totalSteps: number;
  /** Seconds of training the run ends after (Infinity when none). */
  readonly budgetSeconds: number;
  /** The latest evaluation's metrics: they travel with every checkpoint written after it. */
  lastMetrics: Record<string, number> | undefined;

  private readonly testLabels: Uint8Array | null;
  private readonly testCount: number;
  private readonly targets: Uint8Array;
  private readonly indices: Uint32Array;
  private readonly classes: Int32Array;
  private order: Uint32Array;
  private readonly started: number;
  private warnedDivergence = false;
  private readonly onWarning: ((message: string) => void) | undefined;

  constructor(readonly model: AutoregressiveModel, readonly trainSet: ImageSet, readonly testSet: ImageSet | null,
              options: Partial<TrainOptions> & Pick<TrainOptions, 'batchSize'>,
              opts: { resume?: TrainResume; unbounded?: boolean; onWarning?: (message: string) => void } = {}) {
    const o: TrainOptions = { ...defaultTrainOptions, ...options };
    validate(o, opts.unbounded ?? false);
    this.options = o;
    this.onWarning = opts.onWarning;
    const { channels: C, height: H, width: W } = model.config;
    if (trainSet.channels !== C || trainSet.height !== H || trainSet.width !== W) {
      throw new Error(`train: data ${trainSet.name} has ${trainSet.channels}×${trainSet.height}×${trainSet.width} images, the model expects ${C}×${H}×${W}`);
    }
    if (trainSet.count === 0) throw new Error(`train: ${trainSet.name} holds no images`);
    const resume = opts.resume;
    const adamOpts: Partial<AdamOptions> = { lr: o.lr, clipNorm: o.clipNorm, weightDecay: o.weightDecay };
    this.adam = new Adam(model.parameters(), adamOpts);
    if (resume?.optimizer) this.adam.loadState(resume.optimizer);
    if (resume?.average) {
      // The checkpoint's parameters are the average: the live weights go back into the model, and
      // training without --ema simply continues from them.
      const decay = o.ema > 0 ? o.ema : resume.average.decay;
      const resumed = WeightAverage.resume(model.parameters(), { ...resume.average, decay });
      if (o.ema > 0) this.average = resumed;
    } else if (o.ema > 0) {
      this.average = new WeightAverage(model.parameters(), o.ema);
    }
    this.state = resume ? { ...resume.state } : { step: 0, epoch: 0, indexInEpoch: 0, imagesSeen: 0, elapsedSeconds: 0 };

    this.testCount = testSet ? (o.evalLimit > 0 ? Math.min(o.evalLimit, testSet.count) : testSet.count) : 0;
    this.testLabels = testSet && this.testCount > 0
      ? fixedLevels(testSet, this.levelOptions(), TEST_BINARISATION_SEED).subarray(0, this.testCount * C * H * W)
      : null;
    const B = o.batchSize, N = trainSet.count;
    this.totalSteps = Math.min(o.steps ?? Infinity, o.epochs !== undefined ? Math.ceil(o.epochs * (N / B)) : Infinity);
    this.budgetSeconds = o.minutes !== undefined ? o.minutes * 60 : Infinity;
    this.targets = new Uint8Array(B * C * H * W);
    this.indices = new Uint32Array(B);
    this.classes = new Int32Array(B);
    this.order = epochOrder(N, o.seed, this.state.epoch);
    this.started = performance.now() / 1000 - this.state.elapsedSeconds;
  }

  private levelOptions() {
    const L = this.model.config.levels;
    return { levels: L, binarise: L === 2 ? this.options.binarise : undefined };
  }

  /** Seconds of the run so far (a resumed run's earlier time included). */
  elapsed(): number {
    return performance.now() / 1000 - this.started;
  }

  /** Whether the run's steps or time budget are spent. */
  get finished(): boolean {
    return this.state.step >= this.totalSteps || this.elapsed() >= this.budgetSeconds;
  }

  /** Runs fn with the averaged weights in the model (the live ones otherwise), then swaps back. */
  withAveraged<T>(fn: () => T): T {
    this.average?.swap();
    try { return fn(); } finally { this.average?.swap(); }
  }

  /**
   * One step on the next batch of the epoch's order. A non-finite loss is not stepped on: its
   * bitsPerDim comes back non-finite, and the caller stops the run (saying where its last good
   * checkpoint is). A loss far above the uniform guess's warns once (onWarning).
   */
  step(): StepInfo {
    const o = this.options, state = this.state, set = this.trainSet;
    const { height: H, width: W, levels: L } = this.model.config;
    const B = o.batchSize, N = set.count;
    const totalSteps = this.totalSteps, budget = this.budgetSeconds;
    const t0 = performance.now();
    for (let b = 0; b < B; b++) {
      if (state.indexInEpoch >= N) { state.epoch++; state.indexInEpoch = 0; this.order = epochOrder(N, o.seed, state.epoch); }
      this.indices[b] = this.order[state.indexInEpoch++];
      this.classes[b] = set.labels ? set.labels[this.indices[b]] : 0;
    }
    // A fresh binarisation per use of an image; a pure function of (seed, step) for exact resume.
    batchLevels(set, this.indices, this.levelOptions(), new Rng((o.seed * 2654435761 + state.step * 40503 + 17) >>> 0), this.targets);
    if (o.flip) {
      const flips = new Rng((o.seed * 2166136261 + state.step * 16777619 + 29) >>> 0), C = this.model.config.channels;
      for (let b = 0; b < B; b++) if (flips.uniform() < 0.5) mirrorImage(this.targets, b * C * H * W, C, H, W);
    }
    const epochProgress = state.imagesSeen / N;
    const progress = Number.isFinite(totalSteps) ? state.step / totalSteps : Number.isFinite(budget) ? this.elapsed() / budget : null;
    const lr = learningRate({ lr: o.lr, schedule: o.lrSchedule, decayPerEpoch: o.lrDecay, warmupSteps: o.warmupSteps }, state.step, epochProgress, progress);
    const conditional = this.model.config.numClasses > 0;
    // Activations and their gradients are recycled between steps (nothing escapes the scope).
    const { lossNats, gradNorm } = withArena(() => {
      // Dropout (models that have it) is on for this forward only, its masks a pure function of (seed, step).
      const dropRng = new Rng((o.seed * 2246822519 + state.step * 3266489917 + 101) >>> 0);
      const { loss } = withDropout(dropRng, () => imageNll(this.model, this.targets, B, H, W, conditional ? this.classes : null));
      // A non-finite loss is never stepped on: the check below stops the run.
      if (!Number.isFinite(loss.data[0])) return { lossNats: loss.data[0], gradNorm: NaN };
      this.adam.zeroGrad();
      backward(loss);
      const norm = this.adam.step(lr);
      this.average?.update();
      return { lossNats: loss.data[0], gradNorm: norm };
    });
    state.step++;
    state.imagesSeen += B;
    const seconds = (performance.now() - t0) / 1000;
    const bits = natsToBits(lossNats);
    if (Number.isFinite(bits) && !this.warnedDivergence && bits > DIVERGENCE_FACTOR * Math.log2(L)) {
      this.warnedDivergence = true;
      this.onWarning?.(`warning: the training loss is ${bits.toFixed(1)} bits/dim at step ${state.step}, far above the ${Math.log2(L).toFixed(2)} bits/dim of a uniform guess over ${L} levels: training is diverging (lower the learning rate or clip the gradient norm)`);
    }
    return {
      state, bitsPerDim: bits, lr, gradNorm, imagesPerSecond: B / seconds,
      // A step that ends past the time budget still reports 100%, not more.
      progress: Math.min(1, Math.max(Number.isFinite(totalSteps) ? state.step / totalSteps : 0, Number.isFinite(budget) ? this.elapsed() / budget : 0)),
    };
  }

  /**
   * The test set's exact likelihood (its first evalLimit images, one fixed binarisation), with the
   * averaged weights when there are; null without a test set. Recorded as lastMetrics.
   */
  evaluate(onBatch?: (done: number, total: number) => void): EvalResult | null {
    const set = this.testSet, labels = this.testLabels;
    if (!set || !labels) return null;
    const { height: H, width: W, numClasses } = this.model.config;
    // The training batch size: evaluation reuses the step's recycled buffers (bounded memory).
    const r = this.withAveraged(() => evaluate(this.model, labels, this.testCount, H, W, {
      batchSize: this.options.batchSize, classes: numClasses > 0 ? set.labels : null, onBatch,
    }));
    this.lastMetrics = { test_bits_per_dim: r.bitsPerDim, test_nats_per_image: r.natsPerImage, test_images: r.images, step: this.state.step };
    return r;
  }

  /**
   * What a checkpoint of the run holds now (metrics: the latest evaluation's by default). With a
   * weight average, the parameters are the average and the live weights ride along; so the
   * contents are to be encoded (encodeCheckpoint, saveCheckpoint) inside withAveraged.
   */
  checkpointContents(metrics = this.lastMetrics): CheckpointContents {
    this.state.elapsedSeconds = this.elapsed();
    const { dataset, ...options } = this.options;
    const average = this.average;
    return {
      modelConfig: { ...this.model.config },
      params: this.model.parameters(),
      training: {
        ...this.state, options: { ...options },
        dataset: dataset ?? { name: this.trainSet.name, dataDir: null, colour: null, binarise: null, limit: null },
      },
      metrics,
      optimizer: this.adam.state,
      average: average ? { decay: average.decay, updates: average.updates, live: average.shadow } : undefined,
    };
  }
}
