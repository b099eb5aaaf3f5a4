import { Command, Option } from 'commander';
import { choice, floatArg, intArg, UsageError } from './args.js';
import { DATASET_NAMES, type DatasetSpec } from '../data/datasets.js';
import { ARCHS, BASE_FIELDS, ConfigError, defaultPixelCnnConfig, parseModelConfig, type Arch, type FieldSpec, type ModelConfig } from '../models/config.js';
import { DEFAULT_MAX_IMAGE_PIXELS } from '../data/png.js';
import { EMOJI_SIZE, EMOJI_SIZES } from '../data/emoji.js';
import type { DatasetRecord } from '../train/checkpoint-format.js';

/** Flags shared by the commands that read a data set. */
export function addDataOptions(cmd: Command): Command {
  cmd
    .addOption(choice('--dataset <name>', 'data set', DATASET_NAMES, 'mnist'))
    .option('--data-dir <path>', 'directory of the data files (cifar10: the binary batches; png: the images; fashion-mnist: default /usr/share/datasets/fashion-mnist; ' +
      'emoji: default the emoji-datasource-twitter package, else a folder of its layout: emoji.json, img/twitter/64/*.png)')
    .addOption(choice('--colour <mode>', 'default: the data set\'s own channels (MNIST gray, CIFAR-10 and emoji RGB; a PNG folder is gray when every PNG is stored as gray, else RGB, ' +
      'alpha composited over black); gray: RGB converted by luma 0.299R+0.587G+0.114B; rgb: gray tiled to three channels; ' +
      'coloured: gray data with a random foreground/background colour per image', ['gray', 'rgb', 'coloured'] as const))
    .addOption(choice('--binarise <mode>', 'for --levels 2: stochastic (as in the literature; comparable NLL) or threshold at 0.5 (not comparable)', ['stochastic', 'threshold'] as const, 'stochastic'))
    .option('--limit <n>', 'use only the first n images of each split', intArg(1))
    .option('--size <n>', `emoji only: the images' side in pixels, ${EMOJI_SIZES.join(', ')} (default ${EMOJI_SIZE}; the 64×64 source averaged over blocks)`, intArg(1))
    .addHelpText('after', '\nA PNG folder (--dataset png) with train/ and test/ subfolders uses them as the splits; without them, ' +
      'a fixed, seeded 10% of its images (at least one) is held out as the test split and the rest is the train split, ' +
      'the same in every run whatever --seed and --limit.' +
      '\n\n--dataset emoji: Twemoji (Twemoji graphics © Twitter, Inc and other contributors, CC-BY 4.0) from the npm package ' +
      'emoji-datasource-twitter (npm install --save-dev emoji-datasource-twitter), 32×32 RGB: each 64×64 image is averaged over 2×2 blocks (4×4 with --size 16) ' +
      '(premultiplied alpha) and composited over white, as emoji are seen on a page. Labels (--conditional): the 10 emoji.json categories. ' +
      'The test split is a fixed ~10% of the emoji, each with all its skin tones, whatever --seed and --limit; byte-identical images are kept once.');
  return addMaxImagePixelsOption(cmd);
}

/** --max-image-pixels, on every command that reads PNG files. */
export function addMaxImagePixelsOption(cmd: Command): Command {
  return cmd.option('--max-image-pixels <n>', 'refuse PNG images with more pixels (width × height) than this, before decoding them',
    intArg(1), DEFAULT_MAX_IMAGE_PIXELS);
}

export interface DataFlags {
  dataset: DatasetSpec['name'];
  dataDir?: string;
  colour?: 'gray' | 'rgb' | 'coloured';
  binarise: 'stochastic' | 'threshold';
  limit?: number;
  size?: number;
  maxImagePixels: number;
}

/** Data flags and the field of a checkpoint's data-set record (config.json training.dataset) each corresponds to. */
export const DATA_FLAGS = [
  ['dataset', '--dataset', 'name'], ['colour', '--colour', 'colour'], ['binarise', '--binarise', 'binarise'], ['limit', '--limit', 'limit'],
  ['size', '--size', 'size'],
] as const satisfies readonly (readonly [keyof DataFlags, string, keyof DatasetRecord])[];

/**
 * The data flags with the ones the user left out taken from the data set a checkpoint was trained
 * on (`keys`: which of DATA_FLAGS; the recorded --data-dir too, unless given), so that a model is
 * evaluated or continued on its own data by default. `check` sees each flag given, with the
 * recorded value, before anything is filled in.
 */
export function withRecordedData<F extends DataFlags>(f: F, given: (name: string) => boolean, recorded: DatasetRecord | undefined,
                                                      keys: readonly (typeof DATA_FLAGS)[number][0][] = DATA_FLAGS.map((d) => d[0]),
                                                      check?: (flag: string, value: unknown, recordedValue: unknown) => void): F {
  const out: F = { ...f };
  if (!recorded) return out; // written before the data set was recorded: the flags say it
  for (const [name, flag, key] of DATA_FLAGS) {
    const value = recorded[key];
    if (!keys.includes(name) || value === null || value === undefined) continue;
    if (given(name)) check?.(flag, f[name], value);
    else Object.assign(out, { [name]: value });
  }
  // The data's location may move; a --data-dir given now wins.
  if (!given('dataDir') && recorded.dataDir !== null) out.dataDir = recorded.dataDir;
  return out;
}

export function datasetSpec(f: DataFlags, seed: number): DatasetSpec {
  if (f.size !== undefined && f.dataset !== 'emoji') throw new UsageError(`--size applies to --dataset emoji only; ${f.dataset} images have their own size`);
  if (f.size !== undefined && !EMOJI_SIZES.includes(f.size)) throw new UsageError(`--size must be one of ${EMOJI_SIZES.join(', ')} for emoji, got ${f.size}`);
  return { name: f.dataset, path: f.dataDir, colour: f.colour, seed, limit: f.limit, size: f.size, maxImagePixels: f.maxImagePixels };
}

/**
 * Flags that define a model (train and bench). Their values are checked by the model-config parser
 * (src/models/config.ts) when the config is built, so that the rules live in one place; the flag
 * parsers only turn text into numbers (the shared fields' ranges come from the same table).
 */
export function addModelOptions(cmd: Command): Command {
  const range = (f: FieldSpec) => (f.kind === 'int' && typeof f.min === 'number' ? intArg(f.min, f.max) : intArg(0));
  return cmd
    .addOption(choice('--arch <name>', 'architecture: residual PixelCNN, Gated PixelCNN (vertical + horizontal stacks, no blind spot, class conditioning), ' +
      'or PixelCNN++ (two shifted-conv streams, gated residual blocks over three resolutions, class conditioning)', ARCHS, 'pixelcnn'))
    .option('--levels <n>', 'levels per colour value (2 = binary)', range(BASE_FIELDS.levels), 256)
    .addOption(choice('--likelihood <kind>', 'softmax over levels, sigmoid (levels 2 only), or logistic-mixture (PixelCNN++: a mixture of discretised logistics per pixel, levels ≥ 3)',
      ['softmax', 'sigmoid', 'logistic-mixture'] as const, 'softmax'))
    .option('--mixtures <k>', `logistic-mixture: mixture components K (default ${defaultPixelCnnConfig.mixtures})`, range(BASE_FIELDS.mixtures))
    .option('--hidden <h>', 'hidden filters h (pixelcnn: even; gated: filters per stack)', intArg(0), 128)
    .option('--out-hidden <d>', 'filters d of the output head', intArg(0), 32)
    .option('--blocks <r>', 'pixelcnn: residual blocks R', intArg(0), 7)
    .option('--layers <n>', 'gated: gated layers L', intArg(0), 8)
    .option('--kernel <k>', 'gated: kernel size of layers 2..L (odd; vertical (k/2+1)×k, horizontal 1×(k/2+1))', intArg(0), 3)
    .option('--first-kernel <k>', 'gated: kernel size of the first layer (odd)', intArg(0), 7)
    .option('--filters <f>', 'pixelcnn++: filters F of both streams', intArg(0), 32)
    .option('--resnets <r>', 'pixelcnn++: gated residual blocks per resolution R (up pass R, down pass R, R+1, R+1)', intArg(0), 1)
    .option('--dropout <p>', 'pixelcnn++: dropout probability in each block, training only', floatArg(0, 0.95), 0.1)
    .option('--weight-norm', 'pixelcnn++: weight normalisation of every convolution (parameters weight_g, weight_v, as torch\'s weight_norm)', false)
    .option('--conditional', "gated, pixelcnn++: class-conditional model on the data set's labels", false);
}

export interface ModelFlags {
  arch: Arch;
  levels: number;
  likelihood: ModelConfig['likelihood'];
  /** Undefined when not given: the config's default. */
  mixtures?: number;
  hidden: number;
  outHidden: number;
  blocks: number;
  layers: number;
  kernel: number;
  firstKernel: number;
  filters: number;
  resnets: number;
  dropout: number;
  weightNorm: boolean;
  conditional: boolean;
}

/** How the model-config parser names a key when the value came from a flag (or from the data). */
const FLAG_NAMES: Record<string, string> = {
  arch: '--arch', levels: '--levels', likelihood: '--likelihood', mixtures: '--mixtures', hidden: '--hidden',
  outHidden: '--out-hidden', blocks: '--blocks', layers: '--layers', kernel: '--kernel', firstKernel: '--first-kernel',
  filters: '--filters', resnets: '--resnets', dropout: '--dropout', weightNorm: '--weight-norm',
  numClasses: '--conditional', channels: "the data's channels", height: "the data's image height", width: "the data's image width",
};

/** The model config the flags describe for data of this shape; a bad value is a UsageError naming the flag. */
export function modelConfigFromFlags(f: ModelFlags, data: { channels: number; height: number; width: number; numClasses: number }): ModelConfig {
  if (f.weightNorm && f.arch !== 'pixelcnn++') throw new UsageError(`--weight-norm needs --arch pixelcnn++ (the ${f.arch} model has no weight normalisation)`);
  if (f.conditional && f.arch === 'pixelcnn') throw new UsageError('--conditional needs --arch gated or pixelcnn++ (the residual PixelCNN is unconditional)');
  if (f.conditional && data.numClasses === 0) {
    throw new UsageError('--conditional needs a data set with class labels; this one has none (e.g. a PNG folder without class subfolders)');
  }
  const base = {
    channels: data.channels, levels: f.levels, likelihood: f.likelihood, mixtures: f.mixtures, height: data.height, width: data.width,
    numClasses: f.conditional ? data.numClasses : 0,
  };
  const hidden = { hidden: f.hidden, outHidden: f.outHidden };
  const raw = f.arch === 'gated'
    ? { arch: f.arch, ...base, ...hidden, layers: f.layers, kernel: f.kernel, firstKernel: f.firstKernel }
    : f.arch === 'pixelcnn++'
      ? { arch: f.arch, ...base, filters: f.filters, resnets: f.resnets, dropout: f.dropout, weightNorm: f.weightNorm }
      : { arch: f.arch, ...base, ...hidden, blocks: f.blocks };
  try {
    return parseModelConfig(raw, { name: (k) => FLAG_NAMES[k] ?? k });
  } catch (e) {
    throw e instanceof ConfigError ? new UsageError(e.message) : e;
  }
}

export function addBackendOption(cmd: Command): Command {
  return cmd.addOption(new Option('--backend <name>', 'compute backend (default: native if built, else wasm, else js; env PIXELCNN_BACKEND)').choices(['js', 'native', 'wasm']))
    .option('--threads <n>', 'threads of the native and wasm backends (default: all cores; env PIXELCNN_THREADS)', intArg(1, 1024));
}

export { floatArg, intArg };
