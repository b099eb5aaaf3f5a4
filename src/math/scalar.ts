/**
 * Scalar math written once for the js kernels, the ops and the samplers. Small functions, so that
 * V8 inlines them into the callers' loops (the same expressions as written inline: bit for bit).
 */

/** σ(v) = 1 / (1 + e^−v). */
export function sigmoid(v: number): number { return 1 / (1 + Math.exp(-v)); }

/** elu(v) = v for v > 0, e^v − 1 otherwise; elu′(v) = 1 for v > 0, e^v otherwise. */
export function elu(v: number): number { return v > 0 ? v : Math.expm1(v); }
export function eluGrad(v: number): number { return v > 0 ? 1 : Math.exp(v); }

/** log Σ_k e^x[start + k·stride] over k < n, shifted by the max so that no exp overflows. */
export function logSumExp(x: Float32Array | Float64Array, start: number, stride: number, n: number): number {
  let max = -Infinity;
  for (let k = 0, i = start; k < n; k++, i += stride) if (x[i] > max) max = x[i];
  let sum = 0;
  for (let k = 0, i = start; k < n; k++, i += stride) sum += Math.exp(x[i] - max);
  return Math.log(sum) + max;
}
