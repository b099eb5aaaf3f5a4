import type { BackendName } from '../backend/index.js';
import { Command } from 'commander';
import { addBackendOption, floatArg, intArg } from './options.js';
import { sampleNaive, type SampleOptions } from '../sample/naive.js';
import { sampleCached } from '../sample/cached.js';
import type { AutoregressiveModel } from '../models/model.js';
import { Progress } from './progress.js';
import { checkOutputFile, loadModel, setupBackend, writeSampleGrid } from './common.js';
import { UsageError } from './args.js';

interface SampleFlags {
  model: string;
  n: number;
  seed: number;
  temperature: number;
  out: string;
  cols?: number;
  scale: number;
  class?: string;
  naive: boolean;
  progress: boolean;
  backend?: BackendName;
  threads?: number;
}

/**
 * The sampler the CLI uses: cached (incremental, every architecture has one) by default, the
 * straightforward one with --naive.
 */
export function pickSampler(naive: boolean): { sample: (model: AutoregressiveModel, o: SampleOptions) => Uint8Array; name: 'naive' | 'cached' } {
  return naive ? { sample: sampleNaive, name: 'naive' } : { sample: sampleCached, name: 'cached' };
}

/**
 * --class for conditional models: a class index, or 'all' (every class in turn, n images each).
 * Returns the class of every image, or null for unconditional models.
 */
export function classesFor(model: AutoregressiveModel, spec: string | undefined, n: number): Int32Array | null {
  const K = model.config.numClasses;
  if (K === 0) {
    if (spec !== undefined) throw new UsageError(`--class: the model is unconditional (it has no classes)`);
    return null;
  }
  if (spec === undefined) throw new UsageError(`the model is class-conditional (${K} classes): give --class <k|all>`);
  if (spec === 'all') return Int32Array.from({ length: K * n }, (_, i) => Math.floor(i / n));
  if (!/^\d+$/.test(spec.trim()) || Number(spec) >= K) throw new UsageError(`--class must be 'all' or an integer in [0, ${K}), got '${spec}'`);
  return new Int32Array(n).fill(Number(spec));
}

export function sampleCommand(): Command {
  const cmd = new Command('sample').description('generate images from a trained model and write them as a PNG grid');
  cmd.requiredOption('--model <dir>', 'checkpoint directory')
    .option('--n <count>', 'images to generate (per class with --class all)', intArg(1, 4096), 16)
    .option('--seed <n>', 'random seed', intArg(0, 2 ** 32 - 1), 0)
    .option('--temperature <t>', 'softmax temperature (0 = most likely level)', floatArg(0, 100), 1)
    .option('--cols <n>', 'images per row of the grid', intArg(1, 4096))
    .option('--scale <k>', 'grid pixels per image pixel (nearest neighbour: small images stay sharp)', intArg(1, 16), 2)
    .option('--class <k|all>', "class-conditional models: the class to generate, or 'all' (one row of --n images per class)")
    .option('--naive', 'use the straightforward sampler (one full forward pass per pixel and colour) instead of the cached one', false)
    .requiredOption('--out <file.png>', 'output PNG')
    .option('--no-progress', 'no progress bar');
  addBackendOption(cmd);
  cmd.action((f: SampleFlags) => runSample(f));
  return cmd;
}

function runSample(f: SampleFlags): void {
  checkOutputFile('--out', f.out);
  setupBackend(f);
  const { model } = loadModel(f.model);
  const c = model.config;
  const classes = classesFor(model, f.class, f.n);
  const count = classes ? classes.length : f.n;
  const cols = f.class === 'all' ? f.n : f.cols;
  const progress = new Progress('sample', c.channels * c.height * c.width, f.progress);
  const t0 = performance.now();
  const sampler = pickSampler(f.naive);
  const labels = sampler.sample(model, {
    count, seed: f.seed, temperature: f.temperature, classes,
    onProgress: (d, t) => progress.update(d, `${d}/${t} positions`),
  });
  progress.stop();
  writeSampleGrid(f.out, labels, count, model, c.height, c.width, { cols, scale: f.scale });
  console.log(`${count} samples in ${((performance.now() - t0) / 1000).toFixed(1)} s (${sampler.name} sampler): ${f.out}`);
}
