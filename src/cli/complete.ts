import type { BackendName } from '../backend/index.js';
import { Command } from 'commander';
import { addBackendOption, addMaxImagePixelsOption, floatArg, intArg } from './options.js';
import { choice, UsageError } from './args.js';
import { Progress } from './progress.js';
import { checkOutputFile, loadModel, setupBackend } from './common.js';
import { pickSampler } from './sample.js';
import { DATASET_NAMES, loadDataset, type DatasetName } from '../data/datasets.js';
import { EMOJI_SIZES } from '../data/emoji.js';
import { grayToRgb, rgbToGray } from '../data/colour.js';
import type { ImageSet } from '../data/image-set.js';
import { readPngHeader, readPngImages } from '../data/png.js';
import { quantisePixels } from '../data/quantise.js';
import { binariseThreshold } from '../data/binarise.js';
import type { BaseModelConfig } from '../models/model.js';
import { encodeGrid, levelsToPixels } from '../sample/png-grid.js';
import { writeFileAtomic } from '../train/atomic-write.js';

interface CompleteFlags {
  model: string;
  input?: string[];
  dataset?: DatasetName;
  dataDir?: string;
  index: number;
  count: number;
  rows: number;
  samples: number;
  seed: number;
  temperature: number;
  class?: number;
  out: string;
  naive: boolean;
  progress: boolean;
  backend?: BackendName;
  threads?: number;
  maxImagePixels: number;
}

export function completeCommand(): Command {
  const cmd = new Command('complete').description(
    'image completion: keep the top rows of images and sample the rest; writes a grid with one row per image: ' +
    'original, occluded (unobserved part gray), then the completions');
  cmd.requiredOption('--model <dir>', 'checkpoint directory')
    .option('--input <files...>', 'PNG images of the model\'s size (alpha composited over black, then converted to its channels: gray by luma, or gray tiled to RGB)')
    .addOption(choice('--dataset <name>', 'take the images from a data set\'s test split instead', DATASET_NAMES))
    .option('--data-dir <path>', 'directory of the data files (as for train)')
    .option('--index <n>', 'first image of the data set', intArg(0), 0)
    .option('--count <k>', 'images from the data set', intArg(1, 1024), 1)
    .requiredOption('--rows <k>', 'observed rows at the top, in [0, height)', intArg(0))
    .option('--samples <s>', 'completions per image', intArg(1, 256), 4)
    .option('--seed <n>', 'random seed', intArg(0, 2 ** 32 - 1), 0)
    .option('--temperature <t>', 'softmax temperature (0 = most likely level)', floatArg(0, 100), 1)
    .option('--class <k>', 'class-conditional models: the class (default: the data set\'s label)', intArg(0))
    .option('--naive', 'use the straightforward sampler instead of the cached one', false)
    .requiredOption('--out <file.png>', 'output PNG grid')
    .option('--no-progress', 'no progress bar');
  cmd.addHelpText('after', '\nLevels come from the data pipeline: quantisePixels for L > 2, and for L = 2 thresholding at 0.5 (binariseThreshold: intensity ≥ 128 → 1), the deterministic form of binarisation.');
  addBackendOption(cmd);
  addMaxImagePixelsOption(cmd);
  cmd.action((f: CompleteFlags) => runComplete(f));
  return cmd;
}

/**
 * Level labels (N, C, H, W) of 8-bit images for a model, as training sees them: quantisePixels,
 * or for L = 2 the threshold at 0.5 (binariseThreshold; training's default stochastic
 * binarisation is random, the threshold is its deterministic counterpart).
 * The images must have the model's channels and size.
 */
export function imagesToLevels(set: ImageSet, config: BaseModelConfig): Uint8Array {
  if (set.channels !== config.channels) throw new UsageError(`${set.name} has ${set.channels} channel(s), the model expects ${config.channels}`);
  if (set.height !== config.height || set.width !== config.width) {
    throw new UsageError(`${set.name} is ${set.width}×${set.height}, the model expects ${config.width}×${config.height}`);
  }
  return config.levels === 2 ? binariseThreshold(set.pixels) : quantisePixels(set.pixels, config.levels);
}

/** Labels with the unobserved part (after `observed` raster positions) shown as mid-gray pixels. */
function occluded(pixels: Uint8Array, n: number, C: number, HW: number, observed: number): Uint8Array {
  const out = Uint8Array.from(pixels);
  for (let b = 0; b < n; b++) for (let pos = observed; pos < C * HW; pos++) out[(b * C + (pos % C)) * HW + Math.floor(pos / C)] = 128;
  return out;
}

function runComplete(f: CompleteFlags): void {
  const backend = setupBackend(f);
  const { model } = loadModel(f.model);
  const c = model.config, C = c.channels, H = c.height, W = c.width, HW = H * W;
  if (f.rows < 0 || f.rows >= H) throw new UsageError(`--rows must be in [0, ${H}) for this ${W}×${H} model, got ${f.rows}`);
  if (!!f.input === !!f.dataset) throw new UsageError('give either --input FILE.png... or --dataset NAME');

  let set: ImageSet;
  checkOutputFile('--out', f.out);
  if (f.input) {
    for (const file of f.input) {
      const h = readPngHeader(file, { maxPixels: f.maxImagePixels });
      if (h.width !== W || h.height !== H) throw new UsageError(`${file} is ${h.width}×${h.height}, the model expects ${W}×${H}`);
    }
    set = readPngImages(f.input, { channels: C === 1 ? 1 : 3, maxPixels: f.maxImagePixels, name: 'input' });
  } else {
    // Emoji come in the model's size (when it is one the data set has).
    const side = f.dataset === 'emoji' && EMOJI_SIZES.includes(W) && W === H ? W : undefined;
    const all = loadDataset({ name: f.dataset!, path: f.dataDir, maxImagePixels: f.maxImagePixels, size: side }, 'test');
    if (all.width !== W || all.height !== H) throw new UsageError(`--dataset ${f.dataset}: its images are ${all.width}×${all.height}, the model expects ${W}×${H}`);
    if (f.index + f.count > all.count) throw new UsageError(`--index ${f.index} --count ${f.count}: ${all.name} has ${all.count} images`);
    const size = all.channels * all.height * all.width;
    set = {
      ...all, count: f.count,
      pixels: all.pixels.slice(f.index * size, (f.index + f.count) * size),
      labels: all.labels ? all.labels.slice(f.index, f.index + f.count) : null,
    };
    if (set.channels !== C) set = C === 1 ? rgbToGray(set) : grayToRgb(set);
  }
  const K = set.count, S = f.samples, N = K * S;
  const originals = imagesToLevels(set, c);

  let classes: Int32Array | null = null;
  if (c.numClasses > 0) {
    const per = f.class !== undefined ? new Int32Array(K).fill(f.class) : set.labels ? Int32Array.from(set.labels) : null;
    if (!per) throw new UsageError(`the model is class-conditional (${c.numClasses} classes): give --class <k>`);
    for (const k of per) if (k >= c.numClasses) throw new UsageError(`class ${k} is not below the model's ${c.numClasses} classes`);
    classes = Int32Array.from({ length: N }, (_, i) => per[Math.floor(i / S)]);
  } else if (f.class !== undefined) {
    throw new UsageError('--class: the model is unconditional (it has no classes)');
  }

  const size = C * HW, observed = f.rows * W * C;
  const given = new Uint8Array(N * size);
  for (let i = 0; i < N; i++) given.set(originals.subarray(Math.floor(i / S) * size, (Math.floor(i / S) + 1) * size), i * size);
  const progress = new Progress('complete', size - observed, f.progress);
  const t0 = performance.now();
  const sampler = pickSampler(f.naive);
  const labels = sampler.sample(model, {
    count: N, seed: f.seed, temperature: f.temperature, classes, given: { labels: given, observed },
    onProgress: (d, t) => progress.update(d, `${d}/${t} positions`),
  });
  progress.stop();

  // Grid rows: original, occluded, S completions.
  const cols = S + 2, orig = levelsToPixels(originals, c.levels), done = levelsToPixels(labels, c.levels);
  const occ = occluded(orig, K, C, HW, observed);
  const grid = new Uint8Array(K * cols * size);
  for (let k = 0; k < K; k++) {
    const row = k * cols;
    grid.set(orig.subarray(k * size, (k + 1) * size), row * size);
    grid.set(occ.subarray(k * size, (k + 1) * size), (row + 1) * size);
    grid.set(done.subarray(k * S * size, (k + 1) * S * size), (row + 2) * size);
  }
  writeFileAtomic(f.out, encodeGrid(grid, K * cols, C, H, W, { cols }));
  console.log(`${K} image(s) × ${S} completion(s) of the last ${H - f.rows} rows in ${((performance.now() - t0) / 1000).toFixed(1)} s (${sampler.name} sampler, ${backend}): ${f.out}`);
}
