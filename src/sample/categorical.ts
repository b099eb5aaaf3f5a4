import type { Rng } from '../random/rng.js';
import { sigmoid } from '../math/scalar.js';

/**
 * Draws a level from logits[offset + k·stride], k < L, at a temperature (logits / T).
 * For the sigmoid likelihood (one logit z) pass levels = 1: returns 1 with probability σ(z / T).
 * Temperature 0 means argmax. Allocation-free.
 */
export function sampleLevel(logits: Float32Array, offset: number, stride: number, levels: number,
                            temperature: number, rng: Rng): number {
  if (levels === 1) {
    const z = logits[offset];
    if (temperature === 0) return z > 0 ? 1 : 0;
    return rng.uniform() < sigmoid(z / temperature) ? 1 : 0;
  }
  let max = -Infinity, arg = 0;
  for (let k = 0; k < levels; k++) {
    const v = logits[offset + k * stride];
    if (v > max) { max = v; arg = k; }
  }
  if (temperature === 0) return arg;
  let sum = 0;
  for (let k = 0; k < levels; k++) sum += Math.exp((logits[offset + k * stride] - max) / temperature);
  let u = rng.uniform() * sum;
  for (let k = 0; k < levels; k++) {
    u -= Math.exp((logits[offset + k * stride] - max) / temperature);
    if (u < 0) return k;
  }
  return levels - 1;
}
