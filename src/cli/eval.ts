import type { BackendName } from '../backend/index.js';
import { Command } from 'commander';
import { addBackendOption, addDataOptions, datasetSpec, intArg, withRecordedData, type DataFlags } from './options.js';
import { choice, UsageError } from './args.js';
import { loadDataset } from '../data/datasets.js';
import { fixedLevels } from '../data/levels.js';
import { evaluate } from '../eval/likelihood.js';
import { TEST_BINARISATION_SEED } from '../train/trainer.js';
import { Progress } from './progress.js';
import { fmt, loadModel, setupBackend } from './common.js';

interface EvalFlags extends DataFlags {
  model: string;
  split: 'train' | 'test';
  batch: number;
  json: boolean;
  liveWeights: boolean;
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
  const f = withRecordedData(flags, given, training?.dataset, ['dataset', 'colour', 'binarise']);
  const c = model.config;
  // The same colouring seed as training is not needed: colouring is a function of (seed, split).
  const set = loadDataset(datasetSpec(f, 0), f.split);
  if (set.channels !== c.channels || set.height !== c.height || set.width !== c.width) {
    throw new UsageError(`data ${set.name} has ${set.channels}×${set.height}×${set.width} images, the model expects ${c.channels}×${c.height}×${c.width}` +
      (set.channels !== c.channels ? ` (try --colour ${c.channels === 3 ? 'rgb or coloured' : 'gray'})` : ''));
  }
  const labels = fixedLevels(set, { levels: c.levels, binarise: c.levels === 2 ? f.binarise : undefined }, TEST_BINARISATION_SEED);
  const progress = new Progress('eval', set.count, f.progress && !f.json);
  const t0 = performance.now();
  const r = evaluate(model, labels, set.count, c.height, c.width, {
    batchSize: f.batch, classes: c.numClasses > 0 ? set.labels : null,
    onBatch: (d, t) => progress.update(d, `${d}/${t} images`),
  });
  progress.stop();
  const seconds = (performance.now() - t0) / 1000;
  const out: Record<string, unknown> = {
    model: f.model, ...(f.liveWeights ? { weights: 'live' } : {}), dataset: set.name, images: r.images, dims_per_image: r.dimsPerImage, bits_per_dim: r.bitsPerDim,
  };
  if (c.levels === 2) { out.nats_per_image = r.natsPerImage; out.binarise = f.binarise; }
  out.seconds = seconds;
  out.backend = backend;
  if (f.json) console.log(JSON.stringify(out));
  else {
    console.log(`${set.name}: ${r.images} images, ${fmt(r.bitsPerDim)} bits/dim` +
      (c.levels === 2 ? `, ${fmt(r.natsPerImage, 2)} nats/image (${f.binarise} binarisation)` : '') + ` in ${fmt(seconds, 1)} s`);
  }
}
