/**
 * Colour conversions of grayscale sets: plain RGB tiling (to train an RGB model on gray data) and
 * "coloured MNIST", where each image gets a random foreground and background colour, a cheap way
 * to obtain a multi-channel dataset with strong cross-channel dependencies.
 */
import type { Rng } from '../random/rng.js';
import { imageSize, type ImageSet } from './image-set.js';

function requireGray(set: ImageSet, fn: string): void {
  if (set.channels !== 1) throw new RangeError(`${fn}: ${set.name} has ${set.channels} channels, expected 1 (grayscale)`);
}

/** Grayscale → RGB by repeating the plane three times. */
export function grayToRgb(set: ImageSet): ImageSet {
  requireGray(set, 'grayToRgb');
  const hw = set.height * set.width;
  const pixels = new Uint8Array(set.count * 3 * hw);
  for (let n = 0; n < set.count; n++) {
    const src = set.pixels.subarray(n * hw, (n + 1) * hw);
    for (let c = 0; c < 3; c++) pixels.set(src, (3 * n + c) * hw);
  }
  return { ...set, name: `${set.name}:rgb`, channels: 3, pixels };
}

/** RGB → grayscale by luma 0.299R + 0.587G + 0.114B, rounded (the same rule as the PNG loader). */
export function rgbToGray(set: ImageSet): ImageSet {
  if (set.channels !== 3) throw new RangeError(`rgbToGray: ${set.name} has ${set.channels} channels, expected 3`);
  const hw = set.height * set.width;
  const pixels = new Uint8Array(set.count * hw);
  for (let n = 0; n < set.count; n++) {
    const b = 3 * n * hw;
    for (let p = 0; p < hw; p++) {
      const v = 0.299 * set.pixels[b + p] + 0.587 * set.pixels[b + hw + p] + 0.114 * set.pixels[b + 2 * hw + p];
      pixels[n * hw + p] = Math.round(v);
    }
  }
  return { ...set, name: `${set.name}:gray`, channels: 1, pixels };
}

/**
 * Minimum luma difference between foreground and background. Without it a fraction of images
 * would have near-identical colours and an invisible digit, which is noise, not data.
 */
export const MIN_COLOUR_CONTRAST = 64;

function luma(c: readonly number[]): number {
  return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
}

/**
 * Draws a (foreground, background) pair of RGB colours, each channel uniform in 0..255, redrawn
 * until their luma differs by at least MIN_COLOUR_CONTRAST. Deterministic given the rng state.
 */
export function randomColourPair(rng: Rng): { fg: [number, number, number]; bg: [number, number, number] } {
  for (;;) {
    const fg: [number, number, number] = [rng.int(256), rng.int(256), rng.int(256)];
    const bg: [number, number, number] = [rng.int(256), rng.int(256), rng.int(256)];
    if (Math.abs(luma(fg) - luma(bg)) >= MIN_COLOUR_CONTRAST) return { fg, bg };
  }
}

/**
 * Coloured version of a grayscale set: per image (in order) a colour pair from `rng`, then each
 * pixel = round(bg·(1−a) + fg·a) per channel with a = intensity/255. Since draws are per image in
 * order, image i's colours do not depend on how many images follow (a limited set is a prefix).
 */
export function colourise(set: ImageSet, rng: Rng): ImageSet {
  requireGray(set, 'colourise');
  const hw = set.height * set.width;
  const size = 3 * hw;
  const pixels = new Uint8Array(set.count * size);
  const lut = new Uint8Array(256); // intensity → blended value for one channel of one image
  for (let n = 0; n < set.count; n++) {
    const { fg, bg } = randomColourPair(rng);
    const src = set.pixels.subarray(n * imageSize(set), (n + 1) * imageSize(set));
    for (let c = 0; c < 3; c++) {
      const f = fg[c], b = bg[c];
      for (let v = 0; v < 256; v++) {
        const a = v / 255;
        lut[v] = Math.round(b * (1 - a) + f * a);
      }
      const dst = n * size + c * hw;
      for (let p = 0; p < hw; p++) pixels[dst + p] = lut[src[p]];
    }
  }
  return { ...set, name: `${set.name}:coloured`, channels: 3, pixels };
}
