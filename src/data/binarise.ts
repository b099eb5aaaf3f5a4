/**
 * Binarisation of 8-bit intensities into level labels {0, 1} for L = 2 models (binarised MNIST).
 *
 * Stochastic: each pixel is 1 with probability intensity/255, the standard "dynamically binarised
 * MNIST" used for likelihood benchmarks; drawing afresh per use acts as data augmentation.
 * Threshold: 1 iff intensity/255 >= 0.5, i.e. intensity >= 128. This is exactly
 * quantisePixels(pixels, 2) (numpy.digitize with edges [0, 0.5]), so L = 2 quantisation and
 * thresholding agree.
 */
import type { Rng } from '../random/rng.js';

function output(n: number, out: Uint8Array | undefined, fn: string): Uint8Array {
  const o = out ?? new Uint8Array(n);
  if (o.length !== n) throw new RangeError(`${fn}: out has ${o.length} elements, pixels ${n}`);
  return o;
}

/**
 * One stochastic binarisation: out[i] = 1 with probability pixels[i]/255, one rng.uniform() per
 * pixel in order (so results are deterministic given the rng state). 0 is always 0, 255 always 1.
 */
export function binariseStochastic(pixels: Uint8Array, rng: Rng, out?: Uint8Array): Uint8Array {
  const o = output(pixels.length, out, 'binariseStochastic');
  for (let i = 0; i < pixels.length; i++) o[i] = rng.uniform() * 255 < pixels[i] ? 1 : 0;
  return o;
}

/** Deterministic binarisation: 1 iff pixels[i]/255 >= 0.5 (pixels[i] >= 128). */
export function binariseThreshold(pixels: Uint8Array, out?: Uint8Array): Uint8Array {
  const o = output(pixels.length, out, 'binariseThreshold');
  for (let i = 0; i < pixels.length; i++) o[i] = pixels[i] >= 128 ? 1 : 0;
  return o;
}
