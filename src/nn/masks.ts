import type { ConvMask } from '../ops/conv2d.js';

/**
 * PixelCNN masks (van den Oord et al. 2016, "Pixel Recurrent Neural Networks", fig. 2).
 *
 * Spatial part, 7×7 type A (centre at row 3, col 3; · = 1, 0 = cut):
 *
 *     · · · · · · ·
 *     · · · · · · ·
 *     · · · · · · ·
 *     · · · 0 0 0 0      type B keeps the centre tap (then only the colour rule applies there)
 *     0 0 0 0 0 0 0
 *     0 0 0 0 0 0 0
 *     0 0 0 0 0 0 0
 *
 * Colour part, at the centre tap only: filter f belongs to colour f mod C (groups of C,
 * interleaved), for input and output filters alike; output filter o may read input filter i iff
 * colour(i) < colour(o) (type A) or colour(i) ≤ colour(o) (type B). For C = 1 type A cuts the
 * centre and type B keeps it, which is the spatial rule alone.
 */
export type MaskType = 'A' | 'B';

/** Whether an input filter of colour ci may feed an output filter of colour co at the centre tap. */
export function colourAllows(type: MaskType, co: number, ci: number): boolean {
  return type === 'A' ? ci < co : ci <= co;
}

/** The (O, I) matrix of allowed connections at the centre tap. */
export function centreConnectivity(type: MaskType, outFilters: number, inFilters: number, colours: number): Float32Array {
  const m = new Float32Array(outFilters * inFilters);
  for (let o = 0; o < outFilters; o++) {
    for (let i = 0; i < inFilters; i++) m[o * inFilters + i] = colourAllows(type, o % colours, i % colours) ? 1 : 0;
  }
  return m;
}

/** The (kh, kw) spatial mask: 1 above the centre row and left of the centre in its row; the centre is 1 (it is governed by the colour rule). */
export function spatialMask(kernelH: number, kernelW: number): Float32Array {
  const m = new Float32Array(kernelH * kernelW);
  const cy = kernelH >> 1, cx = kernelW >> 1;
  for (let y = 0; y < kernelH; y++) for (let x = 0; x < kernelW; x++) {
    m[y * kernelW + x] = y < cy || (y === cy && x <= cx) ? 1 : 0;
  }
  return m;
}

/** The full (O, I, kh, kw) mask and its live taps for a masked convolution. */
export function pixelCnnMask(type: MaskType, outFilters: number, inFilters: number,
                             kernelH: number, kernelW: number, colours: number): ConvMask {
  if (kernelH % 2 !== 1 || kernelW % 2 !== 1) throw new Error(`pixelCnnMask: kernel ${kernelH}×${kernelW} must be odd`);
  if (colours < 1) throw new Error(`pixelCnnMask: colours must be ≥ 1, got ${colours}`);
  const K = kernelH * kernelW, centre = (kernelH >> 1) * kernelW + (kernelW >> 1);
  const spatial = spatialMask(kernelH, kernelW);
  const colour = centreConnectivity(type, outFilters, inFilters, colours);
  const values = new Float32Array(outFilters * inFilters * K);
  for (let oi = 0; oi < outFilters * inFilters; oi++) {
    for (let t = 0; t < K; t++) values[oi * K + t] = t === centre ? colour[oi] : spatial[t];
  }
  return { values, taps: liveTaps(values, K) };
}

/** Tap indices where any (out, in) pair of the mask is non-zero. */
export function liveTaps(values: Float32Array, tapsPerFilter: number): Int32Array {
  const live: number[] = [];
  for (let t = 0; t < tapsPerFilter; t++) {
    for (let j = t; j < values.length; j += tapsPerFilter) {
      if (values[j] !== 0) { live.push(t); break; }
    }
  }
  return Int32Array.from(live);
}
