import { Tensor, shapeStr } from '../tensor/tensor.js';
import { result } from '../tensor/autograd.js';
import { allocate } from '../tensor/arena.js';
import { assertRank, assertTensor, fail } from './check.js';

/**
 * Spatial shift with zero fill: y[b, c, h, w] = x[b, c, h − down, w − right].
 * The vertical stack of Gated PixelCNN shifts down by one row so that row r only sees rows < r.
 */
export function shift(x: Tensor, down: number, right: number): Tensor {
  assertTensor('shift', 'x', x); assertRank('shift', 'x', x, 4);
  if (!Number.isInteger(down) || !Number.isInteger(right) || down < 0 || right < 0) {
    fail('shift', `down and right must be non-negative integers, got ${down}, ${right} for ${shapeStr(x.shape)}`);
  }
  const [B, C, H, W] = x.shape;
  const y = allocate(x.size); // zeroed: the shifted-in border stays 0
  const planes = B * C, HW = H * W;
  for (let p = 0; p < planes; p++) {
    for (let h = down; h < H; h++) {
      const dst = p * HW + h * W, src = p * HW + (h - down) * W;
      for (let w = right; w < W; w++) y[dst + w] = x.data[src + w - right];
    }
  }
  return result(y, x.shape, [x], (out) => {
    const g = out.grad!, d = x.gradBuffer();
    for (let p = 0; p < planes; p++) {
      for (let h = down; h < H; h++) {
        const dst = p * HW + h * W, src = p * HW + (h - down) * W;
        for (let w = right; w < W; w++) d[src + w - right] += g[dst + w];
      }
    }
  });
}
