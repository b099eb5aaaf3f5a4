/**
 * Quantisation of intensities into the L discrete levels a PixelCNN predicts. It reproduces
 * numpy.digitize(x, np.arange(L) / L) - 1 exactly (right=False: level i where i/L <= x < (i+1)/L,
 * edges computed in float64 as k/L, x = 1 → L−1), so models and numbers match reference Python
 * pipelines bit for bit, including values that fall exactly on or a hair off a bin edge.
 */

function checkLevels(levels: number): void {
  if (!Number.isInteger(levels) || levels < 2 || levels > 256) {
    throw new RangeError(`levels must be an integer in 2..256, got ${levels}`);
  }
}

/**
 * Level of one value in [0, 1]. floor(x·L) is only a first guess: x·L rounds, while the reference
 * compares x against the rounded edge k/L, so the guess is corrected against the actual edges.
 * Values below 0 clamp to level 0 (digitize would give −1, not representable); above 1 to L−1.
 */
export function quantiseValue(x: number, levels: number): number {
  if (Number.isNaN(x)) throw new RangeError('quantise: NaN input');
  let k = Math.floor(x * levels);
  if (k < 0) return 0;
  if (k > levels - 1) k = levels - 1;
  while (k > 0 && k / levels > x) k--;
  while (k < levels - 1 && (k + 1) / levels <= x) k++;
  return k;
}

/** Level labels (0..L−1) of `values` in [0, 1], written to `out` (allocated if omitted). */
export function quantise(values: Float32Array | Float64Array, levels: number, out?: Uint8Array): Uint8Array {
  checkLevels(levels);
  const o = out ?? new Uint8Array(values.length);
  if (o.length !== values.length) throw new RangeError(`quantise: out has ${o.length} elements, values ${values.length}`);
  for (let i = 0; i < values.length; i++) o[i] = quantiseValue(values[i], levels);
  return o;
}

const tables = new Map<number, Uint8Array>();

/** The 256-entry table p → quantise(p / 255) for `levels`, computed once per L. */
export function pixelLevelTable(levels: number): Uint8Array {
  checkLevels(levels);
  let t = tables.get(levels);
  if (!t) {
    t = new Uint8Array(256);
    for (let p = 0; p < 256; p++) t[p] = quantiseValue(p / 255, levels);
    tables.set(levels, t);
  }
  return t;
}

/** quantise(pixels / 255, levels) for 8-bit intensities, via a lookup table. */
export function quantisePixels(pixels: Uint8Array, levels: number, out?: Uint8Array): Uint8Array {
  const t = pixelLevelTable(levels);
  const o = out ?? new Uint8Array(pixels.length);
  if (o.length !== pixels.length) throw new RangeError(`quantisePixels: out has ${o.length} elements, pixels ${pixels.length}`);
  for (let i = 0; i < pixels.length; i++) o[i] = t[pixels[i]];
  return o;
}

/**
 * The network's input for a level label: label / (L − 1), so levels span [0, 1] with both ends
 * reachable (the lowest level is exactly 0 and the highest exactly 1: a division, not a multiply
 * by the reciprocal). No range check: it runs once per sampled value.
 */
export function levelToUnit(level: number, levels: number): number {
  return level / (levels - 1);
}

/** levelToUnit of every label, written to `out`. */
export function levelsToUnit(labels: Uint8Array, levels: number, out: Float32Array): Float32Array {
  checkLevels(levels);
  if (out.length !== labels.length) throw new RangeError(`levelsToUnit: out has ${out.length} elements, labels ${labels.length}`);
  for (let i = 0; i < labels.length; i++) out[i] = levelToUnit(labels[i], levels);
  return out;
}
