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

/** The weights a kernel multiplies by: w's own, or a copy with the mask multiplied in (the parameter is never written). */
export function maskedWeights(w: Tensor, mask: ConvMask | null): Float32Array {
  if (!mask) return w.data;
  const wEff = allocate(w.size, false), m = mask.values;
  for (let i = 0; i < wEff.length; i++) wEff[i] = w.data[i] * m[i];
  return wEff;
}

/**
 * w's gradient += what `filter` accumulates into the buffer it is given: w's gradient itself, or
 * with a mask a zeroed scratch then added masked, so that masked weights get exactly zero.
 */
export function addFilterGradient(w: Tensor, mask: ConvMask | null, filter: (dw: Float32Array) => void): void {
  if (!mask) { filter(w.gradBuffer()); return; }
  const dw = allocate(w.size);
  filter(dw);
  const wg = w.gradBuffer(), m = mask.values;
  for (let i = 0; i < dw.length; i++) wg[i] += dw[i] * m[i];
}

/** db (C) += Σ over images and pixels of g (B, C, HW): a bias's gradient. */
export function addChannelSums(db: Float32Array, g: Float32Array, B: number, C: number, HW: number): void {
  for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) {
    let s = 0;
    for (let p = (b * C + c) * HW, e = p + HW; p < e; p++) s += g[p];
    db[c] += s;
  }
}

/**
 * Stride-1 'same' 2-D convolution with optional mask.
 * x (B, I, H, W), w (O, I, kh, kw) with odd kh, kw; bias (O) or null → (B, O, H, W).
 * The mask is applied to a copy of the weights (never written into the parameter), and the
 * weight gradient is masked the same way.
 * With `relu`, the convolution of relu(x) (the PixelCNN's pre-activation layers) as one op: the
 * kernels apply the ReLU as they read x (relu(x) is never stored) and the backward-data kernel
 * applies its gradient (x > 0) in its epilogue.
 * With `residual` r (same shape as the output), the result is r + conv: a residual connection
 * added in the kernel's epilogue; r's gradient is the output's, handed over after the
 * convolution's own backward has read it (no copy when r has no gradient yet).
 */
export function conv2d(x: Tensor, w: Tensor, bias: Tensor | null, mask: ConvMask | null = null,
                       opts: { relu?: boolean; residual?: Tensor | null } = {}): Tensor {
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
  const residual = opts.residual ?? null;
  if (residual) {
    assertTensor(op, 'residual', residual);
    const want = [B, O, H, W];
    if (residual.shape.length !== 4 || residual.shape.some((v, i) => v !== want[i])) {
      fail(op, `residual ${shapeStr(residual.shape)} does not match the output ${shapeStr(want)}: ${desc}`);
    }
  }

  const k = kernels();
  const d: Conv2dDims = { batch: B, inChannels: I, outChannels: O, height: H, width: W, kernelH: KH, kernelW: KW };
  const taps = mask ? mask.taps : denseTaps(KH * KW);
  const wEff = maskedWeights(w, mask);
  const relu = !!opts.relu;
  const y = allocate(B * O * H * W, false);
  k.conv2dForward(y, x.data, wEff, bias ? bias.data : null, d, taps, residual ? residual.data : null, relu);

  const parents = [x, w];
  if (bias) parents.push(bias);
  if (residual) parents.push(residual);
  return result(y, [B, O, H, W], parents, (out) => {
    const g = out.grad!;
    if (x.requiresGrad) {
      const [dx, beta] = x.gradTarget();
      k.conv2dBackwardData(dx, g, wEff, d, taps, beta, relu ? x.data : null);
    }
    const needW = w.requiresGrad, needB = !!bias && bias.requiresGrad;
    if (needW) {
      addFilterGradient(w, mask, (dw) => k.conv2dBackwardFilter(dw, needB ? bias!.gradBuffer() : null, g, x.data, d, taps, relu));
    } else if (needB) {
      addChannelSums(bias!.gradBuffer(), g, B, O, H * W);  // only the bias needs a gradient
    }
    // Last: g is read by everything above before the residual may take it over.
    if (residual?.requiresGrad && !residual.adoptGrad(g)) k.accumulate(residual.gradBuffer(), g);
  });
}
