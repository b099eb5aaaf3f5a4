import { Tensor, shapeStr } from '../tensor/tensor.js';
import { result } from '../tensor/autograd.js';
import { allocate } from '../tensor/arena.js';
import { kernels } from '../backend/index.js';
import type { Conv2dDims } from '../backend/kernels.js';
import { addChannelSums, addFilterGradient, denseTaps, maskedWeights, type ConvMask } from './conv2d.js';
import { assertRank, assertTensor, fail } from './check.js';

/**
 * Stride-2 convolutions (PixelCNN++'s down- and upsampling), over the live taps of a mask like
 * conv2d. One is the other's adjoint, so the three kernels conv2dStride2{Forward, BackwardData,
 * BackwardFilter} serve both: the transposed convolution's forward is the strided one's backward
 * data, its backward data the strided forward, and its filter gradient the strided one with the
 * roles of the activations and the gradient swapped. Neither computes an output it drops or
 * multiplies an interleaved zero.
 */

function checkWeights(op: string, x: Tensor, w: Tensor, bias: Tensor | null, mask: ConvMask | null,
                      outChannels: number): string {
  assertTensor(op, 'x', x); assertTensor(op, 'w', w);
  assertRank(op, 'x', x, 4); assertRank(op, 'w', w, 4);
  const desc = `x=${shapeStr(x.shape)} w=${shapeStr(w.shape)}`;
  if (w.shape[2] % 2 !== 1 || w.shape[3] % 2 !== 1) fail(op, `kernel must have odd height and width: ${desc}`);
  if (bias) {
    assertTensor(op, 'bias', bias);
    if (bias.size !== outChannels) fail(op, `bias ${shapeStr(bias.shape)} does not match ${outChannels} output channels: ${desc}`);
  }
  if (mask && mask.values.length !== w.size) fail(op, `mask has ${mask.values.length} values for ${desc}`);
  return desc;
}

/**
 * Stride-2 convolution, 'same' padding: x (B, I, H, W), w (O, I, kh, kw) with odd kh, kw, bias (O)
 * or null → (B, O, ⌈H/2⌉, ⌈W/2⌉), output (i, j) = conv2d(x, w, bias, mask) at (2i, 2j).
 */
export function conv2dStride2(x: Tensor, w: Tensor, bias: Tensor | null, mask: ConvMask | null = null): Tensor {
  const op = 'conv2dStride2';
  const desc = checkWeights(op, x, w, bias, mask, w.shape[0]);
  const [B, I, H, W] = x.shape, [O, wi, KH, KW] = w.shape;
  if (wi !== I) fail(op, `input channels differ: ${desc}`);
  const h = Math.ceil(H / 2), wo = Math.ceil(W / 2);
  const k = kernels();
  const d: Conv2dDims = { batch: B, inChannels: I, outChannels: O, height: H, width: W, kernelH: KH, kernelW: KW };
  const taps = mask ? mask.taps : denseTaps(KH * KW), wEff = maskedWeights(w, mask);
  const y = allocate(B * O * h * wo, false);
  k.conv2dStride2Forward(y, x.data, wEff, bias ? bias.data : null, d, taps, 0);
  return result(y, [B, O, h, wo], bias ? [x, w, bias] : [x, w], (out) => {
    const g = out.grad!;
    if (x.requiresGrad) {
      const [dx, beta] = x.gradTarget();
      k.conv2dStride2BackwardData(dx, g, wEff, d, taps, beta);
    }
    const needB = !!bias && bias.requiresGrad;
    if (w.requiresGrad) {
      addFilterGradient(w, mask, (dw) => k.conv2dStride2BackwardFilter(dw, needB ? bias!.gradBuffer() : null, g, x.data, d, taps));
    } else if (needB) {
      addChannelSums(bias!.gradBuffer(), g, B, O, h * wo);
    }
  });
}

/**
 * Stride-2 transposed convolution (PyTorch's ConvTranspose2d with stride 2 and padding
 * (kh/2, kw/2)), cropped to H × W: x (B, I, h, w) with ⌈H/2⌉ = h, ⌈W/2⌉ = w; w (I, O, kh, kw)
 * in ConvTranspose2d's layout with odd kh, kw; mask (I, O, kh, kw) or null; bias (O) or null →
 * (B, O, H, W), where input (i, j) adds w[i, o, ky, kx] · x to output (2i + ky − kh/2, 2j + kx − kw/2).
 * It is the adjoint of conv2dStride2 with the same w (as an (O′ = I, I′ = O) convolution weight).
 */
export function conv2dTranspose2(x: Tensor, w: Tensor, bias: Tensor | null, mask: ConvMask | null,
                                 H: number, W: number): Tensor {
  const op = 'conv2dTranspose2';
  const desc = checkWeights(op, x, w, bias, mask, w.shape[1]);
  const [B, I, h, wo] = x.shape, [wi, O, KH, KW] = w.shape;
  if (wi !== I) fail(op, `input channels differ: ${desc}`);
  if (!Number.isInteger(H) || !Number.isInteger(W) || H < 1 || W < 1 || Math.ceil(H / 2) !== h || Math.ceil(W / 2) !== wo) {
    fail(op, `cannot upsample ${shapeStr(x.shape)} to ${H}×${W} (need ⌈H/2⌉ = ${h}, ⌈W/2⌉ = ${wo})`);
  }
  const k = kernels();
  // The strided convolution this is the adjoint of: its input is our output, and the reverse.
  const d: Conv2dDims = { batch: B, inChannels: O, outChannels: I, height: H, width: W, kernelH: KH, kernelW: KW };
  const taps = mask ? mask.taps : denseTaps(KH * KW), wEff = maskedWeights(w, mask);
  const HW = H * W, y = allocate(B * O * HW, false);
  if (bias) {
    for (let b = 0; b < B; b++) for (let o = 0; o < O; o++) y.fill(bias.data[o], (b * O + o) * HW, (b * O + o + 1) * HW);
  }
  k.conv2dStride2BackwardData(y, x.data, wEff, d, taps, bias ? 1 : 0);
  return result(y, [B, O, H, W], bias ? [x, w, bias] : [x, w], (out) => {
    const g = out.grad!;
    if (x.requiresGrad) {
      const [dx, beta] = x.gradTarget();
      k.conv2dStride2Forward(dx, g, wEff, null, d, taps, beta);
    }
    if (w.requiresGrad) addFilterGradient(w, mask, (dw) => k.conv2dStride2BackwardFilter(dw, null, x.data, g, d, taps));
    if (bias?.requiresGrad) addChannelSums(bias.gradBuffer(), g, B, O, HW);
  });
}
