import { Command, Option } from 'commander';
import { choice, floatArg, intArg } from './args.js';
import { DATASET_NAMES, type DatasetSpec } from '../data/datasets.js';

/** Flags shared by the commands that read a data set. */
export function addDataOptions(cmd: Command): Command {
  return cmd
    .addOption(choice('dataset', '--dataset <name>', 'data set', DATASET_NAMES, 'mnist'))
    .option('--data-dir <path>', 'directory of the data files (cifar10: the binary batches; png: the images; fashion-mnist: default /usr/share/datasets/fashion-mnist)')
    .addOption(choice('colour', '--colour <mode>', 'gray data as gray, tiled to rgb, or coloured (random foreground/background per image)', ['gray', 'rgb', 'coloured'] as const, 'gray'))
    .addOption(choice('binarise', '--binarise <mode>', 'for --levels 2: stochastic (as in the literature; comparable NLL) or threshold at 0.5 (not comparable)', ['stochastic', 'threshold'] as const, 'stochastic'))
    .option('--limit <n>', 'use only the first n images of each split', intArg(1));
}

export interface DataFlags {
  dataset: DatasetSpec['name'];
  dataDir?: string;
  colour: 'gray' | 'rgb' | 'coloured';
  binarise: 'stochastic' | 'threshold';
  limit?: number;
}

export function datasetSpec(f: DataFlags, seed: number): DatasetSpec {
  return { name: f.dataset, path: f.dataDir, colour: f.colour, seed, limit: f.limit };
}

/** Flags that define a model (train and bench). */
export function addModelOptions(cmd: Command): Command {
  return cmd
    .addOption(choice('arch', '--arch <name>', 'architecture', ['pixelcnn'] as const, 'pixelcnn'))
    .option('--levels <n>', 'levels per colour value (2 = binary)', intArg(2, 256), 256)
    .addOption(choice('likelihood', '--likelihood <kind>', 'softmax over levels, or sigmoid (levels 2 only)', ['softmax', 'sigmoid'] as const, 'softmax'))
    .option('--hidden <h>', 'hidden filters h (even)', intArg(2, 4096), 128)
    .option('--out-hidden <d>', 'filters d of the output head', intArg(1, 4096), 32)
    .option('--blocks <r>', 'residual blocks R', intArg(0, 256), 7);
}

export interface ModelFlags {
  arch: 'pixelcnn';
  levels: number;
  likelihood: 'softmax' | 'sigmoid';
  hidden: number;
  outHidden: number;
  blocks: number;
}

export function modelConfigFromFlags(f: ModelFlags, data: { channels: number; height: number; width: number; numClasses: number }): Record<string, unknown> & { arch: string } {
  return {
    arch: f.arch, channels: data.channels, levels: f.levels, likelihood: f.likelihood,
    height: data.height, width: data.width, numClasses: 0,
    hidden: f.hidden, outHidden: f.outHidden, blocks: f.blocks,
  };
}

export function addBackendOption(cmd: Command): Command {
  return cmd.addOption(new Option('--backend <name>', 'compute backend (default: native if built, else js; env PIXELCNN_BACKEND)').choices(['js', 'native']))
    .option('--threads <n>', 'native backend threads (default: all cores; env PIXELCNN_THREADS)', intArg(1, 1024));
}

export { floatArg, intArg };
