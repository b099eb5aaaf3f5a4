import type { BackendName } from '../backend/index.js';
import { Command } from 'commander';
import { addBackendOption, addModelOptions, intArg, modelConfigFromFlags, type ModelFlags } from './options.js';
import { UsageError } from './args.js';
import { createModel } from '../models/index.js';
import { Adam } from '../nn/adam.js';
import { Rng } from '../random/rng.js';
import { backward } from '../tensor/autograd.js';
import { withArena } from '../tensor/arena.js';
import { imageNll } from '../eval/likelihood.js';
import { withDropout } from '../ops/index.js';
import { setupBackend } from './common.js';
import { sampleCached } from '../sample/cached.js';
import { sampleNaive } from '../sample/naive.js';

interface BenchFlags extends ModelFlags {
  batch: number;
  steps: number;
  warmupSteps: number;
  channels: number;
  size: number;
  classes: number;
  json: boolean;
  sample: boolean;
  naivePositions: number;
  batches: string;
  backend?: BackendName;
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
    .option('--classes <k>', 'with --conditional: classes of the random labels', intArg(2, 65536), 10)
    .option('--json', 'print one JSON object', false)
    .option('--sample', 'measure sampling instead: images/s of the cached and the naive sampler', false)
    .option('--naive-positions <n>', 'with --sample: positions the naive sampler is timed over, rounded up to whole pixels (then extrapolated)', intArg(1), 4)
    .option('--batches <list>', 'with --sample: batch sizes, comma-separated', '1,16,64')
    .action((f: BenchFlags, c: Command) => {
      if (c.getOptionValueSource('classes') === 'cli' && !f.conditional) throw new UsageError('--classes needs --conditional (an unconditional model has no classes)');
      return f.sample ? runSampleBench(f) : runBench(f);
    });
  return cmd;
}

/** The model the flags describe, on random-data shapes: --channels, --size, --classes with --conditional. */
function benchModel(f: BenchFlags) {
  if (f.channels !== 1 && f.channels !== 3) throw new Error(`--channels must be 1 or 3, got ${f.channels}`);
  return createModel(modelConfigFromFlags(f, { channels: f.channels, height: f.size, width: f.size, numClasses: f.classes }), 1);
}

/** Random class labels for a batch of a conditional model, null for an unconditional one. */
function randomClasses(numClasses: number, count: number, rng: Rng): Int32Array | null {
  return numClasses > 0 ? Int32Array.from({ length: count }, () => rng.int(numClasses)) : null;
}

function runBench(f: BenchFlags): void {
  const backend = setupBackend(f);
  const model = benchModel(f);
  const c = model.config, rng = new Rng(1);
  const targets = Uint8Array.from({ length: f.batch * c.channels * f.size * f.size }, () => rng.int(c.levels));
  const classes = randomClasses(c.numClasses, f.batch, rng);
  const adam = new Adam(model.parameters());
  const step = () => withArena(() => {
    const { loss } = withDropout(rng, () => imageNll(model, targets, f.batch, f.size, f.size, classes));
    adam.zeroGrad();
    backward(loss);
    adam.step();
  });
  for (let i = 0; i < f.warmupSteps; i++) step();
  // Each step is timed too: on a shared machine the fastest steps are the least disturbed, so the
  // minimum and median step time compare two builds better than the mean does.
  const stepMs: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < f.steps; i++) {
    const ts = performance.now();
    step();
    stepMs.push(performance.now() - ts);
  }
  const seconds = (performance.now() - t0) / 1000;
  stepMs.sort((a, b) => a - b);
  const result = {
    config: c, batch: f.batch, steps: f.steps, seconds,
    train_images_per_s: (f.batch * f.steps) / seconds, seconds_per_step: seconds / f.steps,
    step_ms_min: stepMs[0] ?? NaN, step_ms_median: stepMs[Math.floor(stepMs.length / 2)] ?? NaN, backend,
  };
  if (f.json) console.log(JSON.stringify(result));
  else {
    console.log(`${backend}: ${result.train_images_per_s.toFixed(1)} images/s (${(result.seconds_per_step * 1000).toFixed(0)} ms/step, ` +
      `fastest ${result.step_ms_min.toFixed(0)} ms, median ${result.step_ms_median.toFixed(0)} ms; batch ${f.batch})`);
  }
}

/**
 * Sampling throughput on random weights: the cached sampler over whole images, the naive one over
 * the last --naive-positions positions (a completion of everything before them, so each timed
 * position costs one full forward pass as in plain sampling), extrapolated to C·H·W positions.
 */
function runSampleBench(f: BenchFlags): void {
  const batches = f.batches.split(',').map((v) => Number(v.trim()));
  if (batches.some((b) => !Number.isInteger(b) || b < 1 || b > 4096)) throw new Error(`--batches must be a comma-separated list of integers in [1, 4096], got '${f.batches}'`);
  const backend = setupBackend(f);
  const model = benchModel(f);
  // Whole pixels (the mixture likelihood draws its component at a pixel's first colour).
  const c = model.config, total = c.channels * f.size * f.size;
  const N = Math.min(Math.ceil(f.naivePositions / c.channels) * c.channels, total);
  const rng = new Rng(2);
  sampleCached(model, { count: 1, seed: 0, classes: randomClasses(c.numClasses, 1, rng), given: { labels: new Uint8Array(total), observed: total - c.channels } }); // warm-up
  const results = batches.map((B) => {
    const classes = randomClasses(c.numClasses, B, rng);
    let t0 = performance.now();
    sampleCached(model, { count: B, seed: 1, classes });
    const cachedSeconds = (performance.now() - t0) / 1000;
    const labels = Uint8Array.from({ length: B * total }, () => rng.int(c.levels));
    t0 = performance.now();
    sampleNaive(model, { count: B, seed: 1, classes, given: { labels, observed: total - N } });
    const naiveMeasured = (performance.now() - t0) / 1000, naiveSeconds = (naiveMeasured * total) / N;
    const r = {
      batch: B,
      cached_images_per_s: B / cachedSeconds, cached_seconds: cachedSeconds,
      naive_images_per_s: B / naiveSeconds, naive_seconds_extrapolated: naiveSeconds,
      naive_seconds_measured: naiveMeasured, naive_positions_measured: N,
      speedup: naiveSeconds / cachedSeconds,
    };
    if (!f.json) {
      console.log(`batch ${B}: cached ${r.cached_images_per_s.toFixed(2)} images/s, naive ${r.naive_images_per_s.toFixed(4)} images/s (×${r.speedup.toFixed(0)})`);
    }
    return r;
  });
  const note = `naive: measured over ${N} of ${total} positions and extrapolated; cached: whole images`;
  if (f.json) console.log(JSON.stringify({ mode: 'sample', config: c, backend, size: f.size, note, results }));
  else console.log(`${backend}; ${note}`);
}
