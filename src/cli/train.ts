import type { BackendName } from '../backend/index.js';
import { Command, type Option } from 'commander';
import { join, resolve } from 'node:path';
import { addBackendOption, addDataOptions, addModelOptions, datasetSpec, floatArg, intArg, modelConfigFromFlags, withRecordedData, type DataFlags, type ModelFlags } from './options.js';
import { choice } from './args.js';
import { loadDataset } from '../data/datasets.js';
import { createModel } from '../models/index.js';
import {
  CONFIG_FILE, CheckpointError, checkCheckpointTarget, checkpointExists, loadCheckpoint, type DatasetRecord, type LoadedCheckpoint,
} from '../train/checkpoint.js';
import { modelFromCheckpoint } from '../train/model-io.js';
import { train } from '../train/trainer.js';
import type { TrainOptions } from '../train/run.js';
import { pickSampler } from './sample.js';
import { Progress } from './progress.js';
import { bitsToNats } from '../eval/likelihood.js';
import { fmt, setupBackend, writeSampleGrid } from './common.js';
import { UsageError } from './args.js';

interface TrainFlags extends DataFlags, ModelFlags {
  out: string;
  batch: number;
  steps?: number;
  epochs?: number;
  minutes?: number;
  lr: number;
  lrSchedule: 'constant' | 'cosine' | 'exp';
  lrDecay: number;
  warmup: number;
  clip: number;
  weightDecay: number;
  ema: number;
  seed: number;
  flip: boolean;
  evalEvery: number;
  evalLimit: number;
  checkpointEvery: number;
  resume: boolean;
  force: boolean;
  samples: number;
  progress: boolean;
  backend?: BackendName;
  threads?: number;
}

export function trainCommand(): Command {
  const cmd = new Command('train').description('train a model; reports test bits/dim and writes a checkpoint and a sample grid');
  addDataOptions(cmd);
  addModelOptions(cmd);
  addBackendOption(cmd);
  cmd
    .requiredOption('--out <dir>', 'checkpoint directory (config.json, model.safetensors, optimizer state, samples.png)')
    .option('--batch <n>', 'batch size', intArg(1, 65536), 32)
    .option('--steps <n>', 'stop after n optimiser steps', intArg(0))
    .option('--epochs <n>', 'stop after n epochs (fractions allowed)', floatArg(0, Infinity, { exclusiveMin: true }))
    .option('--minutes <m>', 'stop after m minutes of training (wall clock; the final test evaluation comes after: bound it with --eval-limit)', floatArg(0, Infinity, { exclusiveMin: true }))
    .option('--lr <rate>', 'Adam learning rate', floatArg(0, 10, { exclusiveMin: true }), 1e-3)
    .addOption(choice('--lr-schedule <kind>', 'learning-rate schedule', ['constant', 'cosine', 'exp'] as const, 'constant'))
    .option('--lr-decay <f>', 'exp schedule: factor per epoch', floatArg(0, 1, { exclusiveMin: true }), 1)
    .option('--warmup <steps>', 'linear learning-rate warm-up steps', intArg(0), 0)
    .option('--clip <norm>', 'clip the global gradient norm (0 = off)', floatArg(0), 1)
    .option('--weight-decay <w>', 'L2 weight decay', floatArg(0), 0)
    .option('--ema <decay>', 'evaluate, sample and save an exponential moving average of the weights with this decay, e.g. 0.999 (0 = off)',
      floatArg(0, 1, { exclusiveMax: true }), 0)
    .option('--seed <n>', 'seed for initialisation, data order and binarisation', intArg(0, 2 ** 32 - 1), 0)
    .option('--flip', 'augment: mirror each training image left to right with probability 1/2 (for data whose mirror image is as likely, e.g. emoji, not digits)', false)
    .option('--eval-every <steps>', 'evaluate on the test set every n steps (0 = at the end only)', intArg(0), 0)
    .option('--eval-limit <n>', 'test images used for evaluation (0 = all)', intArg(0), 0)
    .option('--checkpoint-every <seconds>', 'seconds between checkpoints', floatArg(1), 120)
    .option('--resume', 'continue from the checkpoint in --out (model, optimiser, data set and position); model, data and training flags left out take the checkpoint\'s values (the budget too, unless --steps, --epochs or --minutes is given)', false)
    .option('--force', 'replace the checkpoint already in --out with a new model', false)
    .option('--samples <n>', 'images in the sample grid written at the end (0 = none)', intArg(0, 1024), 16)
    .option('--no-progress', 'no progress bar')
    .action(async (f: TrainFlags, c: Command) => runTrain(f, (name) => c.getOptionValueSource(name) === 'cli', c.options));
  return cmd;
}

/** Model flags and the config field each sets (--conditional: numClasses > 0). */
const MODEL_FLAGS = [
  ['arch', '--arch', 'arch'], ['levels', '--levels', 'levels'], ['likelihood', '--likelihood', 'likelihood'],
  ['hidden', '--hidden', 'hidden'], ['outHidden', '--out-hidden', 'outHidden'], ['blocks', '--blocks', 'blocks'],
  ['layers', '--layers', 'layers'], ['kernel', '--kernel', 'kernel'], ['firstKernel', '--first-kernel', 'firstKernel'],
  ['weightNorm', '--weight-norm', 'weightNorm'],
] as const satisfies readonly (readonly [keyof ModelFlags, string, string])[];

/** Training flags and the option each is recorded as in config.json's "training.options". */
const TRAINING_FLAGS = [
  ['batch', 'batchSize'], ['lr', 'lr'], ['lrSchedule', 'lrSchedule'], ['lrDecay', 'lrDecay'], ['warmup', 'warmupSteps'],
  ['clip', 'clipNorm'], ['weightDecay', 'weightDecay'], ['ema', 'ema'], ['seed', 'seed'], ['flip', 'flip'],
  ['evalEvery', 'evalEvery'], ['evalLimit', 'evalLimit'], ['checkpointEvery', 'checkpointEverySeconds'],
] as const satisfies readonly (readonly [keyof TrainFlags, keyof TrainOptions])[];
/** The budget: taken from the checkpoint as a whole, and only when none of it is given. */
const BUDGET_FLAGS = [['steps', 'steps'], ['epochs', 'epochs'], ['minutes', 'minutes']] as const satisfies readonly (readonly [keyof TrainFlags, keyof TrainOptions])[];

/**
 * --resume: the model and data flags the user gave must agree with the checkpoint (an error names
 * both values); the ones left out take the checkpoint's values, and so do the training flags left
 * out, so that an interrupted run continues as it was started. Recorded values go through the
 * flags' own parsers. Returns the flags to train with and the training flags taken (for the log).
 */
function resumeFlags(f: TrainFlags, given: (name: string) => boolean, ck: LoadedCheckpoint, options: readonly Option[]): { flags: TrainFlags; taken: string[] } {
  const where = `the checkpoint in ${f.out}`;
  const hint = 'leave the flag out to continue it, or train a new model with --force';
  const mc = ck.modelConfig, fields = new Map<string, unknown>(Object.entries(mc));
  for (const [name, flag, key] of MODEL_FLAGS) {
    if (!given(name)) continue;
    if (!fields.has(key)) throw new UsageError(`${flag} ${f[name]} contradicts ${where} (a ${mc.arch} model, which has no ${key}); ${hint}`);
    if (fields.get(key) !== f[name]) throw new UsageError(`${flag} ${f[name]} contradicts ${where} (${key} ${String(fields.get(key))}); ${hint}`);
  }
  const conditional = typeof mc.numClasses === 'number' && mc.numClasses > 0;
  if (given('conditional') && f.conditional !== conditional) {
    throw new UsageError(`--conditional contradicts ${where} (an unconditional model); ${hint}`);
  }
  const out = withRecordedData(f, given, ck.training?.dataset, undefined, (flag, value, recorded) => {
    if (value !== recorded) throw new UsageError(`${flag} ${String(value)} contradicts ${where} (trained with ${flag} ${String(recorded)}); ${hint}`);
  });

  const recorded = ck.training?.options ?? {};
  const taken: string[] = [];
  const budgetGiven = BUDGET_FLAGS.some(([name]) => given(name));
  for (const [name, key] of [...TRAINING_FLAGS, ...(budgetGiven ? [] : BUDGET_FLAGS)]) {
    if (given(name) || recorded[key] === undefined) continue;
    const option = options.find((o) => o.attributeName() === name);
    if (!option) throw new Error(`train: no option for ${name}`);
    const value = recorded[key];
    const field = `${join(ck.dir, CONFIG_FILE)}: "training.options.${key}"`;
    let parsed: unknown;
    if (option.isBoolean()) {
      if (typeof value !== 'boolean') throw new CheckpointError(`${field} is ${JSON.stringify(value)}, not true or false`);
      parsed = value;
    } else {
      if (typeof value !== 'number' && typeof value !== 'string') throw new CheckpointError(`${field} is ${JSON.stringify(value)}, not a value of ${option.long}`);
      try {
        parsed = option.parseArg ? option.parseArg(String(value), undefined) : String(value);
      } catch (e) {
        throw new CheckpointError(`${field} is ${JSON.stringify(value)}: ${(e as Error).message}`);
      }
    }
    if (parsed === out[name]) continue;
    Object.assign(out, { [name]: parsed });
    taken.push(option.isBoolean() ? `${option.long}` : `${option.long} ${String(parsed)}`);
  }
  return { flags: out, taken };
}

async function runTrain(flags: TrainFlags, given: (name: string) => boolean, options: readonly Option[]): Promise<void> {
  if (flags.resume && flags.force) throw new UsageError('--resume continues the checkpoint in --out and --force replaces it: give one of them');
  // Before any work: a save must be possible, and an existing model is never replaced unasked.
  checkCheckpointTarget(flags.out);
  const exists = checkpointExists(flags.out);
  if (exists && !flags.resume && !flags.force) {
    throw new UsageError(`${flags.out} already holds a checkpoint; continue it with --resume, or replace it with --force`);
  }
  const ck = flags.resume && exists ? loadCheckpoint(flags.out) : null;
  const { flags: f, taken } = ck ? resumeFlags(flags, given, ck, options) : { flags, taken: [] };
  if (f.steps === undefined && f.epochs === undefined && f.minutes === undefined) {
    throw new UsageError(`say how long to train: --steps, --epochs or --minutes${ck ? ` (the checkpoint in ${f.out} records none)` : ''}`);
  }
  const backend = setupBackend(f);
  const spec = datasetSpec(f, f.seed);
  const trainSet = loadDataset(spec, 'train');
  const testSet = loadDataset(spec, 'test');
  if (trainSet.note) console.error(trainSet.note);
  const dataset: DatasetRecord = {
    name: f.dataset, dataDir: f.dataDir === undefined ? null : resolve(f.dataDir), colour: f.colour ?? null,
    binarise: f.binarise ?? null, limit: f.limit ?? null, ...(f.size !== undefined ? { size: f.size } : {}),
  };

  let model, resumeFrom: Parameters<typeof train>[6];
  if (ck) {
    const t = ck.training;
    if (!t) throw new UsageError(`${f.out}: the checkpoint has no training state to resume from`);
    if (t.indexInEpoch > trainSet.count) {
      throw new CheckpointError(`${join(ck.dir, CONFIG_FILE)}: "training.indexInEpoch" is ${t.indexInEpoch}, beyond the ${trainSet.count} images of ${trainSet.name}`);
    }
    model = modelFromCheckpoint(ck);
    resumeFrom = {
      state: { step: t.step, epoch: t.epoch, indexInEpoch: t.indexInEpoch, imagesSeen: t.imagesSeen, elapsedSeconds: t.elapsedSeconds },
      optimizer: ck.optimizer ?? null,
      average: ck.average,
    };
    console.error(`resuming ${f.out} at step ${t.step}${taken.length > 0 ? `; continuing its ${taken.join(' ')}` : ''}`);
  } else {
    model = createModel(modelConfigFromFlags(f, trainSet), f.seed);
  }
  const c = model.config;
  if (c.numClasses > 0 && (!trainSet.labels || !testSet.labels || trainSet.numClasses !== c.numClasses)) {
    throw new UsageError(`the model is class-conditional (${c.numClasses} classes) but ${trainSet.name} has ${trainSet.labels ? `${trainSet.numClasses} classes` : 'no labels'}`);
  }
  const nParams = [...model.parameters().values()].reduce((s, p) => s + p.size, 0);
  console.error(`${c.arch}: ${c.channels}×${c.height}×${c.width}, ${c.levels} levels${c.numClasses > 0 ? `, ${c.numClasses} classes` : ''}, ${nParams.toLocaleString('en')} parameters; ` +
    `data ${trainSet.name} (${trainSet.count}) / ${testSet.name} (${testSet.count}); backend ${backend}`);

  const totalFromSteps = f.steps ?? Infinity;
  let progress = new Progress('train', 1000, f.progress);
  // Evaluations get their own bar; the training bar comes back after a periodic one.
  let evalBar: Progress | null = null, restartTrainBar = false;
  let stop = false;
  const onSignal = () => {
    if (stop) process.exit(130);
    stop = true;
    progress.log('stopping after this step; writing a checkpoint (Ctrl-C again to quit at once)');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let smoothed = NaN;
  const result = await train(model, trainSet, testSet, {
    batchSize: f.batch, steps: f.steps, epochs: f.epochs, minutes: f.minutes, lr: f.lr, lrSchedule: f.lrSchedule,
    lrDecay: f.lrDecay, warmupSteps: f.warmup, clipNorm: f.clip, weightDecay: f.weightDecay, ema: f.ema, seed: f.seed,
    binarise: f.binarise, flip: f.flip, evalEvery: f.evalEvery, evalLimit: f.evalLimit, checkpointEverySeconds: f.checkpointEvery, dataset,
  }, f.out, {
    onStep: (s) => {
      if (restartTrainBar) { progress = new Progress('train', 1000, f.progress); restartTrainBar = false; }
      smoothed = Number.isNaN(smoothed) ? s.bitsPerDim : 0.95 * smoothed + 0.05 * s.bitsPerDim;
      const nats = c.levels === 2 ? ` ${fmt(bitsToNats(smoothed) * c.channels * c.height * c.width, 1)} nats/img` : '';
      progress.update(Math.round(s.progress * 1000),
        `step ${s.state.step}${Number.isFinite(totalFromSteps) ? '/' + totalFromSteps : ''} ep ${fmt(s.state.imagesSeen / trainSet.count, 2)} | ` +
        `loss (running avg) ${fmt(smoothed)} bits/dim${nats} | ${fmt(s.imagesPerSecond, 1)} img/s`);
    },
    onEvalProgress: (done, total) => {
      if (!evalBar) { progress.stop(); evalBar = new Progress('eval', total, f.progress); }
      evalBar.update(done, `${done}/${total} test images`);
      if (done >= total) { evalBar.stop(); evalBar = null; restartTrainBar = true; }
    },
    onEval: (r, s) => progress.log(`step ${s.step}: test ${fmt(r.bitsPerDim)} bits/dim` +
      (c.levels === 2 ? `, ${fmt(r.natsPerImage, 2)} nats/image` : '') + ` (${r.images} images)`),
    onWarning: (message) => progress.log(message),
    shouldStop: () => stop,
  }, resumeFrom).finally(() => { evalBar?.stop(); progress.stop(); });
  progress.stop();
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);

  const s = result.state;
  console.log(`trained ${s.step} steps (${fmt(s.imagesSeen / trainSet.count, 2)} epochs) in ${fmt(s.elapsedSeconds, 1)} s; checkpoint ${f.out}`);
  if (result.test) {
    console.log(`test bits/dim: ${fmt(result.test.bitsPerDim)}` +
      (c.levels === 2 ? `  test NLL: ${fmt(result.test.natsPerImage, 2)} nats/image` : '') + `  (${result.test.images} images)`);
  }
  if (result.stoppedEarly) { process.exitCode = 130; return; }
  if (f.samples > 0) {
    const sp = new Progress('sample', c.channels * c.height * c.width, f.progress);
    // Class-conditional models: the grid cycles through the classes.
    const classes = c.numClasses > 0 ? Int32Array.from({ length: f.samples }, (_, i) => i % c.numClasses) : null;
    const labels = pickSampler(false).sample(model, { count: f.samples, seed: f.seed, classes, onProgress: (d, t) => sp.update(d, `${d}/${t} positions`) });
    sp.stop();
    const file = join(f.out, 'samples.png');
    writeSampleGrid(file, labels, f.samples, model, c.height, c.width);
    console.log(`samples: ${file}`);
  }
}
