import { Tensor, shapeStr } from '../tensor/tensor.js';
import { result } from '../tensor/autograd.js';
import { allocate } from '../tensor/arena.js';
import { fail } from './check.js';

/** What every likelihood op returns. */
export interface NllResult {
  /** Scalar: mean negative log-likelihood per dimension, in nats (the training loss). */
  loss: Tensor;
  /** Σ over the image's C·H·W dimensions of −log p, in nats, per image. */
  nllPerImage: Float64Array;
}

/** Level labels for a (B, ·, H, W) input of C colours: a Uint8Array of B·C·H·W values below levels. */
export function assertLevelTargets(op: string, what: string, input: Tensor, targets: Uint8Array, levels: number, channels: number): void {
  const [B, , H, W] = input.shape;
  if (!(targets instanceof Uint8Array)) fail(op, 'targets must be a Uint8Array of level labels');
  if (targets.length !== B * channels * H * W) {
    fail(op, `targets hold ${targets.length} values, ${what} ${shapeStr(input.shape)} need ${B * channels * H * W}`);
  }
  for (let i = 0; i < targets.length; i++) {
    if (targets[i] >= levels) fail(op, `target ${targets[i]} at index ${i} is not below levels=${levels}`);
  }
}

/**
 * The loss of a likelihood kernel: run(nll, grad) writes −log p per image (nats) and, when input
 * is tracked, the gradient of the mean per dimension (dims per image) into grad.
 */
export function kernelNll(input: Tensor, dims: number, run: (nll: Float64Array, grad: Float32Array | null) => void): NllResult {
  const B = input.shape[0];
  const nll = new Float64Array(B);
  const grad = input.requiresGrad ? allocate(input.size, false) : null;
  run(nll, grad);
  let total = 0;
  for (let b = 0; b < B; b++) total += nll[b];
  const loss = result(Float32Array.of(total / (B * dims)), [1], [input], (out) => {
    const g = out.grad![0];
    // The usual case (the loss is the root: g = 1) hands the kernel's buffer over as is.
    if (g === 1 && input.adoptGrad(grad!)) return;
    const d = input.gradBuffer();
    for (let i = 0; i < d.length; i++) d[i] += g * grad![i];
  });
  return { loss, nllPerImage: nll };
}
