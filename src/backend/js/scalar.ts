/**
 * The scalar math the js kernels share, each written once so that a forward and its backward, or
 * two likelihoods, cannot drift apart. Not kernels: src/backend/js/index.ts does not collect this
 * module. Small plain functions, so that V8 inlines them into the kernels' loops.
 */

/** σ(v) = 1 / (1 + e^−v). */
export function sigmoid(v: number): number {
  return 1 / (1 + Math.exp(-v));
}

/** elu(v) = v for v > 0, e^v − 1 otherwise. */
export function elu(v: number): number {
  return v > 0 ? v : Math.expm1(v);
}

/** elu′(v) = 1 for v > 0, e^v otherwise. */
export function eluGrad(v: number): number {
  return v > 0 ? 1 : Math.exp(v);
}
