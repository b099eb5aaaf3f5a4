import { Tensor } from '../tensor/tensor.js';
import { isGradEnabled, result } from '../tensor/autograd.js';
import { allocate } from '../tensor/arena.js';
import { kernels } from '../backend/index.js';
import type { Rng } from '../random/rng.js';
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

/**
 * Inverted dropout: each element is kept with probability 1 − p and scaled by 1/(1 − p), or zeroed.
 * One draw of rng seeds the call; element i is kept iff a hash of (seed, i) ≥ p·2³² (the
 * dropoutForward kernel). The mask is never stored: backward recomputes it from the seed.
 * Always drops (p > 0): whether to call it at all is the caller's (see dropoutRng).
 */
export function dropout(x: Tensor, p: number, rng: Rng): Tensor {
  assertTensor('dropout', 'x', x);
  if (!(p >= 0 && p < 1)) fail('dropout', `p must be in [0, 1), got ${p}`);
  if (p === 0) return x;
  const seed = rng.nextUint32(), threshold = Math.floor(p * 4294967296), scale = 1 / (1 - p), k = kernels();
  const y = allocate(x.size, false);
  k.dropoutForward(y, x.data, seed, threshold, scale);
  return result(y, x.shape, [x], (out) => k.dropoutBackward(x.gradBuffer(), out.grad!, seed, threshold, scale));
}
