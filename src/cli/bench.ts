import { Command } from 'commander';
import { addBackendOption, addModelOptions, intArg, modelConfigFromFlags, type ModelFlags } from './options.js';
import { createModel } from '../models/index.js';
import { Adam } from '../nn/adam.js';
import { Rng } from '../nn/rng.js';
import { backward } from '../tensor/autograd.js';
import { withArena } from '../tensor/arena.js';
import { imageNll } from '../eval/likelihood.js';
import { setupBackend } from './common.js';

interface BenchFlags extends ModelFlags {
  batch: number;
  steps: number;
  warmupSteps: number;
  channels: number;
  size: number;
  json: boolean;
  backend?: 'js' | 'native';
  threads?: number;
}

export function benchCommand(): Command {
  const cmd = new Command('bench').description('measure training throughput of a model configuration on random data');
  addModelOptions(cmd);
  addBackendOption(cmd);
  cmd.option('--batch <n>', 'batch size', intArg(1, 65536), 32)
    .option('--steps <n>', 'timed training steps', intArg(1), 20)
    .option('--warmup-steps <n>', 'untimed steps first', intArg(0), 2)
    .option('--channels <c>', 'colours (1 or 3)', intArg(1, 3), 1)
    .option('--size <s>', 'image height and width', intArg(1, 1024), 28)
    .option('--json', 'print one JSON object', false)
    .action((f: BenchFlags) => runBench(f));
  return cmd;
}

function runBench(f: BenchFlags): void {
  if (f.channels !== 1 && f.channels !== 3) throw new Error(`--channels must be 1 or 3, got ${f.channels}`);
  const backend = setupBackend(f);
  const model = createModel(modelConfigFromFlags(f, { channels: f.channels, height: f.size, width: f.size, numClasses: 0 }), 1);
  const c = model.config, rng = new Rng(1);
  const targets = Uint8Array.from({ length: f.batch * c.channels * f.size * f.size }, () => rng.int(c.levels));
  const adam = new Adam(model.parameters());
  const step = () => withArena(() => {
    const { loss } = imageNll(model, targets, f.batch, f.size, f.size);
    adam.zeroGrad();
    backward(loss);
    adam.step();
  });
  for (let i = 0; i < f.warmupSteps; i++) step();
  const t0 = performance.now();
  for (let i = 0; i < f.steps; i++) step();
  const seconds = (performance.now() - t0) / 1000;
  const result = {
    config: c, batch: f.batch, steps: f.steps, seconds,
    train_images_per_s: (f.batch * f.steps) / seconds, seconds_per_step: seconds / f.steps, backend,
  };
  if (f.json) console.log(JSON.stringify(result));
  else console.log(`${backend}: ${result.train_images_per_s.toFixed(1)} images/s (${(result.seconds_per_step * 1000).toFixed(0)} ms/step, batch ${f.batch})`);
}
