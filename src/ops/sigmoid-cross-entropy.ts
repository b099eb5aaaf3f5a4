import { Tensor, shapeStr } from '../tensor/tensor.js';
import { result } from '../tensor/autograd.js';
import { assertRank, assertTensor, fail } from './check.js';
import type { NllResult } from './nll.js';
import { sigmoid } from '../math/scalar.js';

/**
 * Bernoulli likelihood of binary images: one logit per colour, p(1) = σ(logit).
 * logits (B, C, H, W); targets (B, C, H, W) in {0, 1}. −log p uses the stable
 * softplus form max(z, 0) − z·t + log(1 + e^−|z|).
 */
export function sigmoidCrossEntropy(logits: Tensor, targets: Uint8Array): NllResult {
  const op = 'sigmoidCrossEntropy';
  assertTensor(op, 'logits', logits); assertRank(op, 'logits', logits, 4);
  if (!(targets instanceof Uint8Array)) fail(op, 'targets must be a Uint8Array of 0/1 labels');
  if (targets.length !== logits.size) fail(op, `targets hold ${targets.length} values for logits ${shapeStr(logits.shape)}`);
  const B = logits.shape[0], dims = logits.size / B, z = logits.data;
  const nll = new Float64Array(B);
  for (let b = 0; b < B; b++) {
    let s = 0;
    for (let i = b * dims; i < (b + 1) * dims; i++) {
      const t = targets[i];
      if (t > 1) fail(op, `target ${t} at index ${i} is not binary`);
      s += Math.max(z[i], 0) - z[i] * t + Math.log1p(Math.exp(-Math.abs(z[i])));
    }
    nll[b] = s;
  }
  let total = 0;
  for (let b = 0; b < B; b++) total += nll[b];
  const n = logits.size;
  const loss = result(Float32Array.of(total / n), [1], [logits], (out) => {
    const g = out.grad![0] / n, d = logits.gradBuffer();
    for (let i = 0; i < n; i++) d[i] += g * (sigmoid(z[i]) - targets[i]);
  });
  return { loss, nllPerImage: nll };
}
