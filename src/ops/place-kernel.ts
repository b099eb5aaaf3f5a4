import { Tensor, shapeStr } from '../tensor/tensor.js';
import { result } from '../tensor/autograd.js';
import { allocate } from '../tensor/arena.js';
import { assertRank, assertTensor, fail } from './check.js';

/**
 * A small kernel placed inside a larger odd one, so that a convolution with an even or
 * off-centre window (PixelCNN++'s 2×3 and 2×2 shifted filters) runs as the 'same' conv2d over
 * its live taps only, while the parameter keeps its own shape (PyTorch's):
 *   w (O, I, kh, kw)           → y (O, I, KH, KW), y[o, i, top + ky, left + kx] = w[o, i, ky, kx]
 *   transposed: w (I, O, kh, kw) → y (O, I, KH, KW), y[o, i, top + kh−1−ky, left + kw−1−kx] = w[i, o, ky, kx]
 * (a transposed convolution's weight in ConvTranspose2d's layout, turned into the equivalent
 * correlation's: flipped, inputs and outputs swapped). Other taps are zero. The copy is per
 * forward and weight-sized, small next to the convolution; the index maps are computed once per
 * geometry (a model has a handful) and the copy goes to the step's arena.
 */
export function placeKernel(w: Tensor, KH: number, KW: number, top: number, left: number, transposed = false): Tensor {
  assertTensor('placeKernel', 'w', w); assertRank('placeKernel', 'w', w, 4);
  const [A, Bd, kh, kw] = w.shape, O = transposed ? Bd : A, I = transposed ? A : Bd;
  if (top < 0 || left < 0 || top + kh > KH || left + kw > KW) {
    fail('placeKernel', `w ${shapeStr(w.shape)} at (${top}, ${left}) does not fit in ${KH}×${KW}`);
  }
  const { src, dst } = indexMaps(O, I, kh, kw, KH, KW, top, left, transposed);
  const n = src.length, y = allocate(O * I * KH * KW, true), wd = w.data;
  for (let k = 0; k < n; k++) y[dst[k]] = wd[src[k]];
  return result(y, [O, I, KH, KW], [w], (out) => {
    const g = out.grad!, dw = w.gradBuffer();
    for (let k = 0; k < n; k++) dw[src[k]] += g[dst[k]];
  });
}

const maps = new Map<string, { src: Int32Array; dst: Int32Array }>();

/** w's element src[j] lands at y's element dst[j]. */
function indexMaps(O: number, I: number, kh: number, kw: number, KH: number, KW: number, top: number, left: number,
                   transposed: boolean): { src: Int32Array; dst: Int32Array } {
  const key = `${O},${I},${kh},${kw},${KH},${KW},${top},${left},${transposed}`;
  let m = maps.get(key);
  if (m) return m;
  const src = new Int32Array(O * I * kh * kw), dst = new Int32Array(src.length);
  let j = 0;
  for (let o = 0; o < O; o++) for (let i = 0; i < I; i++) {
    for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++, j++) {
      src[j] = transposed ? ((i * O + o) * kh + ky) * kw + kx : ((o * I + i) * kh + ky) * kw + kx;
      dst[j] = transposed ? ((o * I + i) * KH + top + kh - 1 - ky) * KW + left + kw - 1 - kx
        : ((o * I + i) * KH + top + ky) * KW + left + kx;
    }
  }
  maps.set(key, (m = { src, dst }));
  return m;
}
