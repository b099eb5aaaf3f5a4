/**
 * Inverted dropout with the mask hashed from (seed, index): element i is kept iff
 * lowbias32(i · 0x9e3779b9 ⊕ seed) ≥ threshold, then scaled; zero otherwise. Nothing is stored:
 * backward recomputes the mask. The native kernel computes the same bits.
 */
function keep(i: number, seed: number, threshold: number): boolean {
  let v = Math.imul(i, 0x9e3779b9) ^ seed;
  v ^= v >>> 16; v = Math.imul(v, 0x7feb352d);
  v ^= v >>> 15; v = Math.imul(v, 0x846ca68b);
  return ((v ^ (v >>> 16)) >>> 0) >= threshold;
}

/** y = x · scale where kept, 0 elsewhere. */
export function dropoutForward(y: Float32Array, x: Float32Array, seed: number, threshold: number, scale: number): void {
  for (let i = 0; i < x.length; i++) y[i] = keep(i, seed, threshold) ? x[i] * scale : 0;
}

/** dx += dy · scale where kept. */
export function dropoutBackward(dx: Float32Array, dy: Float32Array, seed: number, threshold: number, scale: number): void {
  for (let i = 0; i < dy.length; i++) if (keep(i, seed, threshold)) dx[i] += dy[i] * scale;
}
