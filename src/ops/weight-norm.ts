import { Tensor, shapeStr } from '../tensor/tensor.js';
import { result } from '../tensor/autograd.js';
import { assertTensor, fail } from './check.js';

/**
 * Weight normalisation (Salimans & Kingma 2016): w = g · v / ‖v‖ with one norm per slice of axis
 * 0, as torch.nn.utils.weight_norm computes it with its default dim = 0 (the output filter of a
 * Conv2d's (O, I, kh, kw) weight, the input filter of a ConvTranspose2d's (I, O, kh, kw)).
 *   v (n, …) → w (n, …);  g (n, 1, …, 1) or (n) holds n values.
 * Backward, per slice with s = Σ dw·v:  dg = s / ‖v‖,  dv = (g / ‖v‖) · (dw − (s / ‖v‖²) · v).
 * It runs in TypeScript without a kernel: once per layer per forward over a weight-sized array,
 * small next to the convolution that reads w (like placeKernel). Norms are summed in float64.
 * A slice of v with norm 0 has no direction: an error naming v, not a NaN weight.
 */
export function weightNorm(g: Tensor, v: Tensor): Tensor {
  assertTensor('weightNorm', 'g', g); assertTensor('weightNorm', 'v', v);
  const n = v.shape[0] ?? 0, len = n > 0 ? v.size / n : 0;
  if (v.shape.length < 1 || n < 1 || g.size !== n) {
    fail('weightNorm', `g ${shapeStr(g.shape)} must hold one value per slice of v ${shapeStr(v.shape)} along axis 0`);
  }
  const vd = v.data, gd = g.data, norms = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    let s = 0;
    for (let i = r * len, e = i + len; i < e; i++) s += vd[i] * vd[i];
    norms[r] = Math.sqrt(s);
    if (!(norms[r] > 0)) fail('weightNorm', `slice ${r} of ${v.name || 'v'} ${shapeStr(v.shape)} has norm ${norms[r]}, so g · v/‖v‖ is undefined`);
  }
  const y = new Float32Array(v.size);
  for (let r = 0; r < n; r++) {
    const scale = gd[r] / norms[r];
    for (let i = r * len, e = i + len; i < e; i++) y[i] = vd[i] * scale;
  }
  return result(y, v.shape, [g, v], (out) => {
    const dw = out.grad!;
    const dg = g.requiresGrad ? g.gradBuffer() : null, dv = v.requiresGrad ? v.gradBuffer() : null;
    for (let r = 0; r < n; r++) {
      let s = 0;
      for (let i = r * len, e = i + len; i < e; i++) s += dw[i] * vd[i];
      const norm = norms[r];
      if (dg) dg[r] += s / norm;
      if (dv) {
        const a = gd[r] / norm, b = a * s / (norm * norm);
        for (let i = r * len, e = i + len; i < e; i++) dv[i] += a * dw[i] - b * vd[i];
      }
    }
  });
}
