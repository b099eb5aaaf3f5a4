import { Tensor, shapeStr } from '../tensor/tensor.js';
import { result } from '../tensor/autograd.js';
import { allocate } from '../tensor/arena.js';
import { assertRank, assertTensor, fail } from './check.js';

/**
 * The gated unit of Gated PixelCNN, fused: x (B, 2h, H, W) → tanh(f) ⊙ σ(g) (B, h, H, W), with
 * f = channels [0, h) and g = [h, 2h). One pass each way instead of two slices, tanh, sigmoid
 * and a product (five passes and five buffers over the largest activations of the model).
 */
export function gate(x: Tensor): Tensor {
  assertTensor('gate', 'x', x); assertRank('gate', 'x', x, 4);
  const [B, C2, H, W] = x.shape;
  if (C2 % 2 !== 0) fail('gate', `x ${shapeStr(x.shape)} needs an even number of channels (f and g halves)`);
  const h = C2 / 2, n = h * H * W, xd = x.data;
  const y = allocate(B * n, false);
  // tanh(f) and σ(g) are kept for backward.
  const t = allocate(B * n, false), s = allocate(B * n, false);
  for (let b = 0; b < B; b++) {
    const fo = b * 2 * n, go = fo + n, o = b * n;
    for (let i = 0; i < n; i++) {
      const tf = Math.tanh(xd[fo + i]), sg = 1 / (1 + Math.exp(-xd[go + i]));
      t[o + i] = tf; s[o + i] = sg; y[o + i] = tf * sg;
    }
  }
  return result(y, [B, h, H, W], [x], (out) => {
    const dy = out.grad!, dx = x.gradBuffer();
    for (let b = 0; b < B; b++) {
      const fo = b * 2 * n, go = fo + n, o = b * n;
      for (let i = 0; i < n; i++) {
        const g = dy[o + i], tf = t[o + i], sg = s[o + i];
        dx[fo + i] += g * sg * (1 - tf * tf);
        dx[go + i] += g * tf * sg * (1 - sg);
      }
    }
  });
}
