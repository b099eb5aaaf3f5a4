import { Command } from 'commander';
import { addBackendOption, floatArg, intArg } from './options.js';
import { sampleNaive } from '../sample/naive.js';
import { Progress } from './progress.js';
import { loadModel, setupBackend, writeSampleGrid } from './common.js';

interface SampleFlags {
  model: string;
  n: number;
  seed: number;
  temperature: number;
  out: string;
  cols?: number;
  progress: boolean;
  backend?: 'js' | 'native';
  threads?: number;
}

export function sampleCommand(): Command {
  const cmd = new Command('sample').description('generate images from a trained model and write them as a PNG grid');
  cmd.requiredOption('--model <dir>', 'checkpoint directory')
    .option('--n <count>', 'images to generate', intArg(1, 4096), 16)
    .option('--seed <n>', 'random seed', intArg(0, 2 ** 32 - 1), 0)
    .option('--temperature <t>', 'softmax temperature (0 = most likely level)', floatArg(0, 100), 1)
    .option('--cols <n>', 'images per row of the grid', intArg(1, 4096))
    .requiredOption('--out <file.png>', 'output PNG')
    .option('--no-progress', 'no progress bar');
  addBackendOption(cmd);
  cmd.action((f: SampleFlags) => runSample(f));
  return cmd;
}

function runSample(f: SampleFlags): void {
  setupBackend(f);
  const { model } = loadModel(f.model);
  const c = model.config;
  const progress = new Progress('sample', c.channels * c.height * c.width, f.progress);
  const t0 = performance.now();
  const labels = sampleNaive(model, { count: f.n, seed: f.seed, temperature: f.temperature, onProgress: (d, t) => progress.update(d, `${d}/${t} positions`) });
  progress.stop();
  writeSampleGrid(f.out, labels, f.n, model, c.height, c.width, f.cols);
  console.log(`${f.n} samples in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${f.out}`);
}
