import { Tensor, shapeStr } from '../tensor/tensor.js';
import { result } from '../tensor/autograd.js';
import { allocate } from '../tensor/arena.js';
import { assertRank, assertTensor, fail } from './check.js';

/**
 * The data movement of stride-2 convolutions (PixelCNN++'s down- and upsampling), composed with
 * the stride-1 'same' conv2d:
 *   stride-2 conv     = subsample2(conv2d(x, w))           (the outputs at even rows and columns)
 *   transposed conv   = conv2d(upsample2(x, H, W), w′)     (w′: w flipped, in/out swapped)
 * Both are exact. A dedicated kernel would skip the work these waste: the full-resolution conv
 * computes 4× the outputs subsample2 keeps, and 3/4 of upsample2's output is zeros that the conv
 * multiplies anyway.
 */

/** x (B, C, H, W) → (B, C, ⌈H/2⌉, ⌈W/2⌉): y[.., i, j] = x[.., 2i, 2j]. */
export function subsample2(x: Tensor): Tensor {
  assertTensor('subsample2', 'x', x); assertRank('subsample2', 'x', x, 4);
  const [B, C, H, W] = x.shape, h = Math.ceil(H / 2), w = Math.ceil(W / 2);
  const y = allocate(B * C * h * w, false), xd = x.data;
  for (let p = 0; p < B * C; p++) {
    for (let i = 0; i < h; i++) {
      const src = p * H * W + 2 * i * W, dst = (p * h + i) * w;
      for (let j = 0; j < w; j++) y[dst + j] = xd[src + 2 * j];
    }
  }
  return result(y, [B, C, h, w], [x], (out) => {
    const g = out.grad!, d = x.gradBuffer();
    for (let p = 0; p < B * C; p++) {
      for (let i = 0; i < h; i++) {
        const src = p * H * W + 2 * i * W, dst = (p * h + i) * w;
        for (let j = 0; j < w; j++) d[src + 2 * j] += g[dst + j];
      }
    }
  });
}

/**
 * x (B, C, h, w) → (B, C, H, W) with ⌈H/2⌉ = h, ⌈W/2⌉ = w: y[.., 2i, 2j] = x[.., i, j], zero
 * elsewhere (the zero-interleaved input of a stride-2 transposed convolution, cropped to H × W).
 */
export function upsample2(x: Tensor, H: number, W: number): Tensor {
  assertTensor('upsample2', 'x', x); assertRank('upsample2', 'x', x, 4);
  const [B, C, h, w] = x.shape;
  if (!Number.isInteger(H) || !Number.isInteger(W) || Math.ceil(H / 2) !== h || Math.ceil(W / 2) !== w) {
    fail('upsample2', `cannot upsample ${shapeStr(x.shape)} to ${H}×${W} (need ⌈H/2⌉ = ${h}, ⌈W/2⌉ = ${w})`);
  }
  const y = allocate(B * C * H * W, true), xd = x.data;
  for (let p = 0; p < B * C; p++) {
    for (let i = 0; i < h; i++) {
      const dst = p * H * W + 2 * i * W, src = (p * h + i) * w;
      for (let j = 0; j < w; j++) y[dst + 2 * j] = xd[src + j];
    }
  }
  return result(y, [B, C, H, W], [x], (out) => {
    const g = out.grad!, d = x.gradBuffer();
    for (let p = 0; p < B * C; p++) {
      for (let i = 0; i < h; i++) {
        const dst = p * H * W + 2 * i * W, src = (p * h + i) * w;
        for (let j = 0; j < w; j++) d[src + j] += g[dst + 2 * j];
      }
    }
  });
}
