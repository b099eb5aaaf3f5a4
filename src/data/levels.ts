/**
 * The bridge from an ImageSet to training: level labels (0..L−1) of shape (N or B, C, H, W) for a
 * model with L levels. For L = 2 the intensities are binarised (stochastically by default, the
 * usual binarised-MNIST protocol), otherwise quantised with numpy.digitize semantics.
 */
import { Rng } from '../random/rng.js';
import { binariseStochastic, binariseThreshold } from './binarise.js';
import { imageSize, type ImageSet } from './image-set.js';
import { pixelLevelTable, quantisePixels } from './quantise.js';

export type BinariseMode = 'stochastic' | 'threshold';

export interface LevelOptions {
  levels: number;
  /** Only meaningful when levels === 2; default 'stochastic' there. */
  binarise?: BinariseMode;
}

/** The effective binarisation mode, or null when the options call for plain quantisation. */
function binariseMode(opts: LevelOptions): BinariseMode | null {
  const { levels, binarise } = opts;
  if (!Number.isInteger(levels) || levels < 2 || levels > 256) {
    throw new RangeError(`levels must be an integer in 2..256, got ${levels}`);
  }
  if (binarise !== undefined && binarise !== 'stochastic' && binarise !== 'threshold') {
    throw new RangeError(`unknown binarise mode '${binarise as string}'; expected stochastic or threshold`);
  }
  if (levels !== 2) {
    if (binarise !== undefined) throw new RangeError(`binarise applies only to levels = 2, got levels = ${levels}`);
    return null;
  }
  return binarise ?? 'stochastic';
}

/**
 * Fixed labels (N, C, H, W) for evaluation: quantised, or for L = 2 one seeded stochastic draw
 * (`seed`) or the threshold. Fixed so that test likelihoods are comparable between runs.
 */
export function fixedLevels(set: ImageSet, opts: LevelOptions, seed: number): Uint8Array {
  const mode = binariseMode(opts);
  if (mode === 'stochastic') return binariseStochastic(set.pixels, new Rng(seed));
  if (mode === 'threshold') return binariseThreshold(set.pixels);
  return quantisePixels(set.pixels, opts.levels);
}

/**
 * Fills `out` (B, C, H, W) with the labels of images `indices`, drawing a fresh stochastic
 * binarisation from `rng` when applicable (training: a new draw each time an image is used).
 * `rng` is not touched otherwise.
 */
export function batchLevels(set: ImageSet, indices: ArrayLike<number>, opts: LevelOptions, rng: Rng, out: Uint8Array): void {
  const mode = binariseMode(opts);
  const size = imageSize(set);
  if (out.length !== indices.length * size) {
    throw new RangeError(`batchLevels: out has ${out.length} elements, expected ${indices.length} × ${size}`);
  }
  const table = mode === null ? pixelLevelTable(opts.levels) : null;
  for (let b = 0; b < indices.length; b++) {
    const n = indices[b];
    if (!Number.isInteger(n) || n < 0 || n >= set.count) {
      throw new RangeError(`batchLevels: index ${n} out of range for ${set.name} (${set.count} images)`);
    }
    const src = set.pixels.subarray(n * size, (n + 1) * size);
    const dst = out.subarray(b * size, (b + 1) * size);
    if (mode === 'stochastic') binariseStochastic(src, rng, dst);
    else if (mode === 'threshold') binariseThreshold(src, dst);
    else for (let i = 0; i < size; i++) dst[i] = table![src[i]];
  }
}
