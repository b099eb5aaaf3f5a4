import { Tensor, shapeStr } from '../tensor/tensor.js';
import { result } from '../tensor/autograd.js';
import { allocate } from '../tensor/arena.js';
import { kernels } from '../backend/index.js';
import type { Conv2dDims } from '../backend/kernels.js';
import { assertRank, assertTensor, fail } from './check.js';

/**
 * A weight mask and the spatial taps it leaves alive. Kernels loop over `taps` only, so a
 * 3×3 type-B mask costs 5 taps of 9 and a 7×7 type-A mask 24 of 49; `values` (O, I, kh, kw)
 * additionally zeroes single (out, in) pairs at partly-live taps (colour masks).
 */
export interface ConvMask {
  readonly values: Float32Array;
  readonly taps: Int32Array;
}

/** Every tap index 0..kh·kw−1 (an unmasked convolution). */
const denseTapCache = new Map<number, Int32Array>();
export function denseTaps(count: number): Int32Array {
  let t = denseTapCache.get(count);
  if (!t) { t = Int32Array.from({ length: count }, (_, i) => i); denseTapCache.set(count, t); }
  return t;
}

/**
 * Stride-1 'same' 2-D convolution with optional mask.
 * x (B, I, H, W), w (O, I, kh, kw) with odd kh, kw; bias (O) or null → (B, O, H, W).
 * The mask is applied to a copy of the weights (never written into the parameter), and the
 * weight gradient is masked the same way.
 * With `relu`, the convolution of relu(x) (the PixelCNN's pre-activation layers) as one op: the
 * ReLU's gradient is applied inside the backward-data kernel, which saves a pass and a buffer.
 */
export function conv2d(x: Tensor, w: Tensor, bias: Tensor | null, mask: ConvMask | null = null,
                       opts: { relu?: boolean } = {}): Tensor {
  const op = 'conv2d';
  assertTensor(op, 'x', x); assertTensor(op, 'w', w);
  assertRank(op, 'x', x, 4); assertRank(op, 'w', w, 4);
  const [B, I, H, W] = x.shape;
  const [O, wi, KH, KW] = w.shape;
  const desc = `x=${shapeStr(x.shape)} w=${shapeStr(w.shape)}`;
  if (wi !== I) fail(op, `input channels differ: ${desc}`);
  if (KH % 2 !== 1 || KW % 2 !== 1) fail(op, `kernel must have odd height and width: ${desc}`);
  if (bias) {
    assertTensor(op, 'bias', bias);
    if (bias.size !== O) fail(op, `bias ${shapeStr(bias.shape)} does not match ${O} output channels: ${desc}`);
  }
  if (mask && mask.values.length !== w.size) fail(op, `mask has ${mask.values.length} values for ${desc}`);

  const k = kernels();
  const d: Conv2dDims = { batch: B, inChannels: I, outChannels: O, height: H, width: W, kernelH: KH, kernelW: KW };
  const taps = mask ? mask.taps : denseTaps(KH * KW);
  let wEff = w.data;
  if (mask) {
    wEff = allocate(w.size, false);
    const m = mask.values;
    for (let i = 0; i < wEff.length; i++) wEff[i] = w.data[i] * m[i];
  }
  let input = x.data;
  if (opts.relu) {
    input = allocate(x.size, false);
    k.reluForward(input, x.data);
  }
  const y = allocate(B * O * H * W, false);
  k.conv2dForward(y, input, wEff, bias ? bias.data : null, d, taps);

  const parents = bias ? [x, w, bias] : [x, w];
  return result(y, [B, O, H, W], parents, (out) => {
    const g = out.grad!;
    if (x.requiresGrad) {
      const [dx, beta] = x.gradTarget();
      k.conv2dBackwardData(dx, g, wEff, d, taps, beta, opts.relu ? input : null);
    }
    const needW = w.requiresGrad, needB = !!bias && bias.requiresGrad;
    if (!needW && !needB) return;
    if (needW && mask) {
      // Filter gradient into scratch, then masked accumulate: masked weights get exactly zero.
      const dw = allocate(w.size);
      k.conv2dBackwardFilter(dw, needB ? bias!.gradBuffer() : null, g, input, d, taps);
      const wg = w.gradBuffer(), m = mask.values;
      for (let i = 0; i < dw.length; i++) wg[i] += dw[i] * m[i];
    } else if (needW) {
      k.conv2dBackwardFilter(w.gradBuffer(), needB ? bias!.gradBuffer() : null, g, input, d, taps);
    } else {
      // Only the bias needs a gradient.
      const db = bias!.gradBuffer(), HW = H * W;
      for (let b = 0; b < B; b++) for (let o = 0; o < O; o++) {
        let s = 0;
        for (let p = (b * O + o) * HW, e = p + HW; p < e; p++) s += g[p];
        db[o] += s;
      }
    }
  });
}
