import type { BackendName } from '../backend/index.js';
import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { addBackendOption, addDataOptions, addModelOptions, datasetSpec, floatArg, intArg, modelConfigFromFlags, type DataFlags, type ModelFlags } from './options.js';
import { choice } from './args.js';
import { loadDataset } from '../data/datasets.js';
import { createModel } from '../models/index.js';
import { loadCheckpoint, loadParamsInto, oldDirOf } from '../train/checkpoint.js';
import { train, type TrainState } from '../train/trainer.js';
import { sampleCached } from '../sample/cached.js';
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
  evalEvery: number;
  evalLimit: number;
  checkpointEvery: number;
  resume: boolean;
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
    .option('--minutes <m>', 'stop after m minutes of training (wall clock)', floatArg(0, Infinity, { exclusiveMin: true }))
    .option('--lr <rate>', 'Adam learning rate', floatArg(0, 10, { exclusiveMin: true }), 1e-3)
    .addOption(choice('--lr-schedule <kind>', 'learning-rate schedule', ['constant', 'cosine', 'exp'] as const, 'constant'))
    .option('--lr-decay <f>', 'exp schedule: factor per epoch', floatArg(0, 1, { exclusiveMin: true }), 1)
    .option('--warmup <steps>', 'linear learning-rate warm-up steps', intArg(0), 0)
    .option('--clip <norm>', 'clip the global gradient norm (0 = off)', floatArg(0), 1)
    .option('--weight-decay <w>', 'L2 weight decay', floatArg(0), 0)
    .option('--ema <decay>', 'evaluate, sample and save an exponential moving average of the weights with this decay, e.g. 0.999 (0 = off)',
      floatArg(0, 1, { exclusiveMax: true }), 0)
    .option('--seed <n>', 'seed for initialisation, data order and binarisation', intArg(0, 2 ** 32 - 1), 0)
    .option('--eval-every <steps>', 'evaluate on the test set every n steps (0 = at the end only)', intArg(0), 0)
    .option('--eval-limit <n>', 'test images used for evaluation (0 = all)', intArg(0), 0)
    .option('--checkpoint-every <seconds>', 'seconds between checkpoints', floatArg(1), 120)
    .option('--resume', 'continue from the checkpoint in --out (model, optimiser and data position)', false)
    .option('--samples <n>', 'images in the sample grid written at the end (0 = none)', intArg(0, 1024), 16)
    .option('--no-progress', 'no progress bar')
    .action(async (f: TrainFlags) => runTrain(f));
  return cmd;
}

async function runTrain(f: TrainFlags): Promise<void> {
  if (f.steps === undefined && f.epochs === undefined && f.minutes === undefined) {
    throw new UsageError('say how long to train: --steps, --epochs or --minutes');
  }
  const backend = setupBackend(f);
  const spec = datasetSpec(f, f.seed);
  const trainSet = loadDataset(spec, 'train');
  const testSet = loadDataset(spec, 'test');
  if (trainSet.note) console.error(trainSet.note);

  let model, resumeFrom: Parameters<typeof train>[6];
  if (f.resume && (existsSync(join(f.out, 'config.json')) || existsSync(oldDirOf(f.out)))) {
    const ck = loadCheckpoint(f.out);
    model = createModel(ck.modelConfig);
    loadParamsInto(model, ck.params, f.out);
    const t = ck.training as Partial<TrainState> | undefined;
    if (!t || typeof t.step !== 'number') throw new UsageError(`${f.out}: the checkpoint has no training state to resume from`);
    resumeFrom = {
      state: { step: t.step, epoch: t.epoch ?? 0, indexInEpoch: t.indexInEpoch ?? 0, imagesSeen: t.imagesSeen ?? 0, elapsedSeconds: t.elapsedSeconds ?? 0 },
      optimizer: ck.optimizer ?? null,
      average: ck.average,
    };
    console.error(`resuming ${f.out} at step ${t.step}`);
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
  const progress = new Progress('train', 1000, f.progress);
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
    binarise: f.binarise, evalEvery: f.evalEvery, evalLimit: f.evalLimit, checkpointEverySeconds: f.checkpointEvery,
  }, f.out, {
    onStep: (s) => {
      smoothed = Number.isNaN(smoothed) ? s.bitsPerDim : 0.95 * smoothed + 0.05 * s.bitsPerDim;
      const nats = c.levels === 2 ? ` ${fmt(bitsToNats(smoothed) * c.channels * c.height * c.width, 1)} nats/img` : '';
      progress.update(Math.round(s.progress * 1000),
        `step ${s.state.step}${Number.isFinite(totalFromSteps) ? '/' + totalFromSteps : ''} ep ${fmt(s.state.imagesSeen / trainSet.count, 2)} | ` +
        `${fmt(smoothed)} bits/dim${nats} | ${fmt(s.imagesPerSecond, 1)} img/s`);
    },
    onEval: (r, s) => progress.log(`step ${s.step}: test ${fmt(r.bitsPerDim)} bits/dim` +
      (c.levels === 2 ? `, ${fmt(r.natsPerImage, 2)} nats/image` : '') + ` (${r.images} images)`),
    shouldStop: () => stop,
  }, resumeFrom);
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
    const labels = sampleCached(model, { count: f.samples, seed: f.seed, classes, onProgress: (d, t) => sp.update(d, `${d}/${t} positions`) });
    sp.stop();
    const file = join(f.out, 'samples.png');
    writeSampleGrid(file, labels, f.samples, model, c.height, c.width);
    console.log(`samples: ${file}`);
  }
}
