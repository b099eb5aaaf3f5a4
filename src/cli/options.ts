import { Command, Option } from 'commander';
import { choice, floatArg, intArg, UsageError } from './args.js';
import { DATASET_NAMES, type DatasetSpec } from '../data/datasets.js';
import { DEFAULT_MAX_IMAGE_PIXELS } from '../data/png.js';

/** Flags shared by the commands that read a data set. */
export function addDataOptions(cmd: Command): Command {
  cmd
    .addOption(choice('--dataset <name>', 'data set', DATASET_NAMES, 'mnist'))
    .option('--data-dir <path>', 'directory of the data files (cifar10: the binary batches; png: the images; fashion-mnist: default /usr/share/datasets/fashion-mnist)')
    .addOption(choice('--colour <mode>', 'default: the data set\'s own channels (MNIST gray, CIFAR-10 RGB; a PNG folder is gray when every PNG is stored as gray, else RGB, ' +
      'alpha composited over black); gray: RGB converted by luma 0.299R+0.587G+0.114B; rgb: gray tiled to three channels; ' +
      'coloured: gray data with a random foreground/background colour per image', ['gray', 'rgb', 'coloured'] as const))
    .addOption(choice('--binarise <mode>', 'for --levels 2: stochastic (as in the literature; comparable NLL) or threshold at 0.5 (not comparable)', ['stochastic', 'threshold'] as const, 'stochastic'))
    .option('--limit <n>', 'use only the first n images of each split', intArg(1))
    .addHelpText('after', '\nA PNG folder (--dataset png) with train/ and test/ subfolders uses them as the splits; without them, ' +
      'a fixed, seeded 10% of its images (at least one) is held out as the test split and the rest is the train split, ' +
      'the same in every run whatever --seed and --limit.');
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
  maxImagePixels: number;
}

export function datasetSpec(f: DataFlags, seed: number): DatasetSpec {
  return { name: f.dataset, path: f.dataDir, colour: f.colour, seed, limit: f.limit, maxImagePixels: f.maxImagePixels };
}

/** Flags that define a model (train and bench). */
export function addModelOptions(cmd: Command): Command {
  return cmd
    .addOption(choice('--arch <name>', 'architecture: residual PixelCNN, or Gated PixelCNN (vertical + horizontal stacks, no blind spot, class conditioning)', ['pixelcnn', 'gated'] as const, 'pixelcnn'))
    .option('--levels <n>', 'levels per colour value (2 = binary)', intArg(2, 256), 256)
    .addOption(choice('--likelihood <kind>', 'softmax over levels, or sigmoid (levels 2 only)', ['softmax', 'sigmoid'] as const, 'softmax'))
    .option('--hidden <h>', 'hidden filters h (pixelcnn: even; gated: filters per stack)', intArg(2, 4096), 128)
    .option('--out-hidden <d>', 'filters d of the output head', intArg(1, 4096), 32)
    .option('--blocks <r>', 'pixelcnn: residual blocks R', intArg(0, 256), 7)
    .option('--layers <n>', 'gated: gated layers L', intArg(1, 256), 8)
    .option('--kernel <k>', 'gated: kernel size of layers 2..L (odd; vertical (k/2+1)×k, horizontal 1×(k/2+1))', intArg(3, 15), 3)
    .option('--first-kernel <k>', 'gated: kernel size of the first layer (odd)', intArg(3, 15), 7)
    .option('--conditional', "gated: class-conditional model on the data set's labels", false);
}

export interface ModelFlags {
  arch: 'pixelcnn' | 'gated';
  levels: number;
  likelihood: 'softmax' | 'sigmoid';
  hidden: number;
  outHidden: number;
  blocks: number;
  layers: number;
  kernel: number;
  firstKernel: number;
  conditional: boolean;
}

export function modelConfigFromFlags(f: ModelFlags, data: { channels: number; height: number; width: number; numClasses: number }): Record<string, unknown> & { arch: string } {
  const base = {
    channels: data.channels, levels: f.levels, likelihood: f.likelihood,
    height: data.height, width: data.width,
  };
  if (f.arch === 'gated') {
    for (const [flag, k] of [['--kernel', f.kernel], ['--first-kernel', f.firstKernel]] as const) {
      if (k % 2 !== 1) throw new UsageError(`${flag} must be odd, got ${k}`);
    }
    if (f.hidden < data.channels) throw new UsageError(`--hidden must be at least ${data.channels} (one filter per colour), got ${f.hidden}`);
    if (f.outHidden < data.channels) throw new UsageError(`--out-hidden must be at least ${data.channels} (one filter per colour), got ${f.outHidden}`);
    if (f.conditional && data.numClasses === 0) {
      throw new UsageError('--conditional needs a data set with class labels; this one has none (e.g. a PNG folder without class subfolders)');
    }
    return {
      arch: 'gated', ...base, numClasses: f.conditional ? data.numClasses : 0,
      hidden: f.hidden, outHidden: f.outHidden, layers: f.layers, kernel: f.kernel, firstKernel: f.firstKernel,
    };
  }
  if (f.conditional) throw new UsageError('--conditional needs --arch gated (the residual PixelCNN is unconditional)');
  return { arch: 'pixelcnn', ...base, numClasses: 0, hidden: f.hidden, outHidden: f.outHidden, blocks: f.blocks };
}

export function addBackendOption(cmd: Command): Command {
  return cmd.addOption(new Option('--backend <name>', 'compute backend (default: native if built, else js; env PIXELCNN_BACKEND)').choices(['js', 'native']))
    .option('--threads <n>', 'native backend threads (default: all cores; env PIXELCNN_THREADS)', intArg(1, 1024));
}

export { floatArg, intArg };
