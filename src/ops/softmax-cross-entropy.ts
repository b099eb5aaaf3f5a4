import { Tensor, shapeStr } from '../tensor/tensor.js';
import { result } from '../tensor/autograd.js';
import { allocate } from '../tensor/arena.js';
import { kernels } from '../backend/index.js';
import { assertRank, assertTensor, fail } from './check.js';

export interface NllResult {
  /** Scalar: mean negative log-likelihood per dimension, in nats (the training loss). */
  loss: Tensor;
  /** Σ over the image's C·H·W dimensions of −log p, in nats, per image. */
  nllPerImage: Float64Array;
}

/**
 * Categorical likelihood of integer images under per-pixel softmaxes.
 * logits (B, L·C, H, W) with filter o = k·C + c the logit of level k for colour c, i.e. the
 * layout (B, L, C, H, W); targets (B, C, H, W) level labels in [0, L).
 */
export function softmaxCrossEntropy(logits: Tensor, targets: Uint8Array, levels: number, channels: number): NllResult {
  const op = 'softmaxCrossEntropy';
  assertTensor(op, 'logits', logits); assertRank(op, 'logits', logits, 4);
  const [B, LC, H, W] = logits.shape;
  if (!Number.isInteger(levels) || levels < 2 || levels > 256) fail(op, `levels must be an integer in [2, 256], got ${levels}`);
  if (LC !== levels * channels) fail(op, `logits ${shapeStr(logits.shape)} need ${levels}·${channels} = ${levels * channels} channels`);
  if (!(targets instanceof Uint8Array)) fail(op, 'targets must be a Uint8Array of level labels');
  if (targets.length !== B * channels * H * W) {
    fail(op, `targets hold ${targets.length} values, logits ${shapeStr(logits.shape)} need ${B * channels * H * W}`);
  }
  for (let i = 0; i < targets.length; i++) {
    if (targets[i] >= levels) fail(op, `target ${targets[i]} at index ${i} is not below levels=${levels}`);
  }
  const S = H * W, dims = channels * S;
  const nll = new Float64Array(B);
  const track = logits.requiresGrad;
  const dlogits = track ? allocate(logits.size, false) : null;
  kernels().softmaxCrossEntropy(nll, dlogits, logits.data, targets, B, levels, channels, S, 1 / (B * dims));
  let total = 0;
  for (let b = 0; b < B; b++) total += nll[b];
  const loss = result(Float32Array.of(total / (B * dims)), [1], [logits], (out) => {
    const g = out.grad![0];
    // The usual case (the loss is the root: g = 1) hands the kernel's buffer over as is.
    if (g === 1 && logits.adoptGrad(dlogits!)) return;
    const d = logits.gradBuffer();
    for (let i = 0; i < d.length; i++) d[i] += g * dlogits![i];
  });
  return { loss, nllPerImage: nll };
}
