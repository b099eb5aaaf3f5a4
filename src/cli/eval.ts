import type { BackendName } from '../backend/index.js';
import { Command } from 'commander';
import { addBackendOption, addDataOptions, datasetSpec, intArg, withRecordedData, type DataFlags } from './options.js';
import { choice, UsageError } from './args.js';
import { loadDataset } from '../data/datasets.js';
import { fixedLevels } from '../data/levels.js';
import { evaluate, evaluateMarginal, type MarginalResult } from '../eval/likelihood.js';
import { TEST_BINARISATION_SEED } from '../train/trainer.js';
import { Progress } from './progress.js';
import { fmt, loadModel, setupBackend } from './common.js';

interface EvalFlags extends DataFlags {
  model: string;
  split: 'train' | 'test';
  batch: number;
  json: boolean;
  liveWeights: boolean;
  marginal: boolean;
  progress: boolean;
  backend?: BackendName;
  threads?: number;
}

export function evalCommand(): Command {
  const cmd = new Command('eval').description('exact negative log-likelihood of a data split: bits/dim (and nats/image for binary models)');
  cmd.requiredOption('--model <dir>', 'checkpoint directory');
  addDataOptions(cmd);
  addBackendOption(cmd);
  cmd
    .addOption(choice('--split <name>', 'which split', ['train', 'test'] as const, 'test'))
    .option('--batch <n>', 'batch size', intArg(1, 65536), 64)
    .option('--json', 'print one JSON object', false)
    .option('--live-weights', 'for a model trained with --ema: evaluate the live training weights instead of their average', false)
    .option('--marginal', 'class-conditional models: also the likelihood without the labels, −log Σ_y p(y) p(x|y) with p(y) ' +
      'uniform over the K classes (an unconditional figure, comparable with unconditional models), and the accuracy of the ' +
      'model as a classifier, argmax_y p(x|y); K more forward passes per image', false)
    .option('--no-progress', 'no progress bar')
    .addHelpText('after', '\nData flags left out (--dataset, --colour, --binarise, --data-dir) take the values the checkpoint was trained ' +
      'with (config.json training.dataset), else the defaults above.')
    .action((f: EvalFlags, c: Command) => runEval(f, (name) => c.getOptionValueSource(name) === 'cli'));
  return cmd;
}

function runEval(flags: EvalFlags, given: (name: string) => boolean): void {
  const backend = setupBackend(flags);
  const { model, training } = loadModel(flags.model, { live: flags.liveWeights });
  // Its own data by default (a --limit of training is not the test protocol: not taken).
  const f = withRecordedData(flags, given, training?.dataset, ['dataset', 'colour', 'binarise', 'size']);
  const c = model.config;
  // The same colouring seed as training is not needed: colouring is a function of (seed, split).
  const set = loadDataset(datasetSpec(f, 0), f.split);
  if (set.channels !== c.channels || set.height !== c.height || set.width !== c.width) {
    throw new UsageError(`data ${set.name} has ${set.channels}×${set.height}×${set.width} images, the model expects ${c.channels}×${c.height}×${c.width}` +
      (set.channels !== c.channels ? ` (try --colour ${c.channels === 3 ? 'rgb or coloured' : 'gray'})` : ''));
  }
  if (f.marginal && c.numClasses === 0) throw new UsageError(`--marginal needs a class-conditional model; ${f.model} is unconditional`);
  const classes = c.numClasses > 0 ? set.labels : null;
  if (c.numClasses > 0 && !classes) throw new UsageError(`data ${set.name} has no class labels; the model in ${f.model} is class-conditional (${c.numClasses} classes)`);
  const labels = fixedLevels(set, { levels: c.levels, binarise: c.levels === 2 ? f.binarise : undefined }, TEST_BINARISATION_SEED);
  const progress = new Progress('eval', set.count, f.progress && !f.json);
  const t0 = performance.now();
  const r = evaluate(model, labels, set.count, c.height, c.width, {
    batchSize: f.batch, classes,
    onBatch: (d, t) => progress.update(d, `${d}/${t} images`),
  });
  progress.stop();
  let marginal: MarginalResult | undefined;
  if (f.marginal && classes) {
    const p = new Progress('marginal', set.count, f.progress && !f.json);
    marginal = evaluateMarginal(model, labels, set.count, c.height, c.width, classes, {
      batchSize: f.batch, onBatch: (d, t) => p.update(d, `${d}/${t} images × ${c.numClasses} classes`),
    });
    p.stop();
  }
  const seconds = (performance.now() - t0) / 1000;
  const out: Record<string, unknown> = {
    model: f.model, ...(f.liveWeights ? { weights: 'live' } : {}), dataset: set.name, images: r.images, dims_per_image: r.dimsPerImage, bits_per_dim: r.bitsPerDim,
  };
  if (c.levels === 2) { out.nats_per_image = r.natsPerImage; out.binarise = f.binarise; }
  if (marginal) {
    out.marginal_bits_per_dim = marginal.bitsPerDim;
    if (c.levels === 2) out.marginal_nats_per_image = marginal.natsPerImage;
    out.classification_accuracy = marginal.accuracy;
  }
  out.seconds = seconds;
  out.backend = backend;
  if (f.json) console.log(JSON.stringify(out));
  else {
    console.log(`${set.name}: ${r.images} images, ${fmt(r.bitsPerDim)} bits/dim` +
      (c.levels === 2 ? `, ${fmt(r.natsPerImage, 2)} nats/image (${f.binarise} binarisation)` : '') +
      (marginal ? `; without labels ${fmt(marginal.bitsPerDim)} bits/dim` + (c.levels === 2 ? `, ${fmt(marginal.natsPerImage, 2)} nats/image` : '') +
        `; as a classifier ${fmt(100 * marginal.accuracy, 2)}% correct` : '') + ` in ${fmt(seconds, 1)} s`);
  }
}
