import { Tensor } from '../tensor/tensor.js';
import { isGradEnabled, result } from '../tensor/autograd.js';
import { allocate } from '../tensor/arena.js';
import type { Rng } from '../nn/rng.js';
import { assertTensor, fail } from './check.js';

/**
 * Dropout and the scope that switches it on.
 *
 * Whether a model is training is a scope, like noGrad: the trainer runs its step's forward inside
 * withDropout(rng, …), and a model asks dropoutRng() for the stream to draw from, which is null
 * outside that scope and inside noGrad. So evaluation, sampling and any library forward never
 * drop, and a training step's masks are a function of the Rng the trainer seeds per step (exact
 * resume).
 */
let scopeRng: Rng | null = null;

/** Runs fn with dropout on, drawing its masks from rng. */
export function withDropout<T>(rng: Rng, fn: () => T): T {
  const prev = scopeRng;
  scopeRng = rng;
  try {
    return fn();
  } finally {
    scopeRng = prev;
  }
}

/** The Rng of the enclosing withDropout while gradients are recorded, else null (no dropout). */
export function dropoutRng(): Rng | null {
  return scopeRng && isGradEnabled() ? scopeRng : null;
}

/** lowbias32 (C. Wellons): a well-mixed 32-bit hash, so that mask bits are a pure function of (seed, index). */
function hash32(v: number): number {
  v ^= v >>> 16; v = Math.imul(v, 0x7feb352d);
  v ^= v >>> 15; v = Math.imul(v, 0x846ca68b);
  return (v ^ (v >>> 16)) >>> 0;
}

/**
 * Inverted dropout: each element is kept with probability 1 − p and scaled by 1/(1 − p), or zeroed.
 * One draw of rng seeds the call; element i is kept iff hash(seed, i) ≥ p·2³². The mask is never
 * stored: backward recomputes it from the seed. Always drops (p > 0): whether to call it at all is
 * the caller's (see dropoutRng).
 */
export function dropout(x: Tensor, p: number, rng: Rng): Tensor {
  assertTensor('dropout', 'x', x);
  if (!(p >= 0 && p < 1)) fail('dropout', `p must be in [0, 1), got ${p}`);
  if (p === 0) return x;
  const seed = rng.nextUint32(), threshold = Math.floor(p * 4294967296), scale = 1 / (1 - p);
  const keep = (i: number) => hash32(Math.imul(i, 0x9e3779b9) ^ seed) >= threshold;
  const y = allocate(x.size, false), xd = x.data;
  for (let i = 0; i < y.length; i++) y[i] = keep(i) ? xd[i] * scale : 0;
  return result(y, x.shape, [x], (out) => {
    const g = out.grad!, d = x.gradBuffer();
    for (let i = 0; i < g.length; i++) if (keep(i)) d[i] += g[i] * scale;
  });
}
