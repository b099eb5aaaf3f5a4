import { Tensor, shapeStr } from '../tensor/tensor.js';
import { result } from '../tensor/autograd.js';
import { assertRank, assertTensor, fail } from './check.js';

/**
 * A small kernel placed inside a larger odd one, so that a convolution with an even or
 * off-centre window (PixelCNN++'s 2×3 and 2×2 shifted filters) runs as the 'same' conv2d over
 * its live taps only, while the parameter keeps its own shape (PyTorch's):
 *   w (O, I, kh, kw)           → y (O, I, KH, KW), y[o, i, top + ky, left + kx] = w[o, i, ky, kx]
 *   transposed: w (I, O, kh, kw) → y (O, I, KH, KW), y[o, i, top + kh−1−ky, left + kw−1−kx] = w[i, o, ky, kx]
 * (a transposed convolution's weight in ConvTranspose2d's layout, turned into the equivalent
 * correlation's: flipped, inputs and outputs swapped). Other taps are zero. The copy is per
 * forward and weight-sized, small next to the convolution.
 */
export function placeKernel(w: Tensor, KH: number, KW: number, top: number, left: number, transposed = false): Tensor {
  assertTensor('placeKernel', 'w', w); assertRank('placeKernel', 'w', w, 4);
  const [A, Bd, kh, kw] = w.shape, O = transposed ? Bd : A, I = transposed ? A : Bd;
  if (top < 0 || left < 0 || top + kh > KH || left + kw > KW) {
    fail('placeKernel', `w ${shapeStr(w.shape)} at (${top}, ${left}) does not fit in ${KH}×${KW}`);
  }
  const at = (o: number, i: number, ky: number, kx: number): [number, number] => transposed
    ? [((i * O + o) * kh + ky) * kw + kx, ((o * I + i) * KH + top + kh - 1 - ky) * KW + left + kw - 1 - kx]
    : [((o * I + i) * kh + ky) * kw + kx, ((o * I + i) * KH + top + ky) * KW + left + kx];
  const each = (f: (src: number, dst: number) => void) => {
    for (let o = 0; o < O; o++) for (let i = 0; i < I; i++) {
      for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) { const [s, d] = at(o, i, ky, kx); f(s, d); }
    }
  };
  const y = new Float32Array(O * I * KH * KW), wd = w.data;
  each((s, d) => { y[d] = wd[s]; });
  return result(y, [O, I, KH, KW], [w], (out) => {
    const g = out.grad!, dw = w.gradBuffer();
    each((s, d) => { dw[s] += g[d]; });
  });
}
