/**
 * `train()`: a TrainRun (./run.ts, the training step shared with the page) driven from Node, with
 * a time budget, progress hooks, periodic evaluation and checkpoint directories.
 */
import type { AutoregressiveModel } from '../models/model.js';
import type { ImageSet } from '../data/image-set.js';
import type { EvalResult } from '../eval/likelihood.js';
import { TrainRun, type TrainOptions, type TrainResume, type TrainState, type StepInfo } from './run.js';
import { saveCheckpoint } from './checkpoint.js';

// The run's types and constants are this module's as well (its callers import them from here).
export {
  DIVERGENCE_FACTOR, TEST_BINARISATION_SEED, defaultTrainOptions, epochOrder,
  type StepInfo, type TrainOptions, type TrainResume, type TrainState,
} from './run.js';

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

/**
 * Trains `model` on `trainSet` with Adam, writing checkpoints to `outDir` (every
 * checkpointEverySeconds, on stop, and at the end with the test metrics).
 * `resume` continues from a checkpoint's state and optimizer (and weight average: then the model
 * holds the checkpoint's averaged parameters, and the live weights come from `resume.average`).
 * With options.ema > 0 the model holds the averaged weights when this returns.
 */
export async function train(model: AutoregressiveModel, trainSet: ImageSet, testSet: ImageSet | null,
                            options: Partial<TrainOptions> & Pick<TrainOptions, 'batchSize'>, outDir: string,
                            hooks: TrainHooks = {}, resume?: TrainResume): Promise<TrainResult> {
  const run = new TrainRun(model, trainSet, testSet, options, { resume, onWarning: hooks.onWarning });
  const o = run.options, state = run.state;
  let lastCheckpoint = performance.now() / 1000;
  let stoppedEarly = false;
  const runEval = (): EvalResult | null => run.evaluate(hooks.onEvalProgress);
  const checkpoint = (metrics = run.lastMetrics) => {
    run.withAveraged(() => saveCheckpoint(outDir, run.checkpointContents(metrics)));
    lastCheckpoint = performance.now() / 1000;
    hooks.onCheckpoint?.(outDir, state);
  };

  while (!run.finished) {
    if (hooks.shouldStop?.()) { stoppedEarly = true; break; }
    const info = run.step();
    if (!Number.isFinite(info.bitsPerDim)) {
      throw new Error(`training diverged at step ${state.step}: the loss is ${info.bitsPerDim}; nothing more is saved (the last checkpoint in ${outDir} is kept)`);
    }
    hooks.onStep?.(info);
    if (o.evalEvery > 0 && state.step % o.evalEvery === 0 && state.step < run.totalSteps) {
      const r = runEval();
      if (r) hooks.onEval?.(r, state);
    }
    if (performance.now() / 1000 - lastCheckpoint >= o.checkpointEverySeconds) checkpoint();
    // Let signals and timers run between steps.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  state.elapsedSeconds = run.elapsed();
  const test = stoppedEarly ? null : runEval();
  if (test) hooks.onEval?.(test, state);
  checkpoint();
  run.average?.swap(); // leave the averaged weights in the model (sampling, export)
  return { state, test, stoppedEarly };
}
