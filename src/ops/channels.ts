import { Tensor, shapeStr } from '../tensor/tensor.js';
import { result } from '../tensor/autograd.js';
import { allocate } from '../tensor/arena.js';
import { kernels } from '../backend/index.js';
import { assertRank, assertTensor, fail } from './check.js';

/** Concatenation and splitting along the channel axis of NCHW tensors. */

export function concatChannels(xs: readonly Tensor[]): Tensor {
  if (xs.length === 0) fail('concatChannels', 'no tensors given');
  xs.forEach((x, i) => { assertTensor('concatChannels', `x${i}`, x); assertRank('concatChannels', `x${i}`, x, 4); });
  const [B, , H, W] = xs[0].shape;
  for (const x of xs) {
    if (x.shape[0] !== B || x.shape[2] !== H || x.shape[3] !== W) {
      fail('concatChannels', `batch/spatial sizes differ: ${xs.map((t) => shapeStr(t.shape)).join(' vs ')}`);
    }
  }
  const HW = H * W, C = xs.reduce((s, x) => s + x.shape[1], 0);
  const y = allocate(B * C * HW, false);
  for (let b = 0; b < B; b++) {
    let off = 0;
    for (const x of xs) {
      const n = x.shape[1] * HW;
      y.set(x.data.subarray(b * n, (b + 1) * n), (b * C + off) * HW);
      off += x.shape[1];
    }
  }
  return result(y, [B, C, H, W], xs, (out) => {
    const g = out.grad!;
    let off = 0;
    for (const x of xs) {
      const n = x.shape[1] * HW;
      if (x.requiresGrad) {
        const d = x.gradBuffer();
        for (let b = 0; b < B; b++) {
          const src = (b * C + off) * HW;
          for (let i = 0; i < n; i++) d[b * n + i] += g[src + i];
        }
      }
      off += x.shape[1];
    }
  });
}

/** Channels [start, start + count) of x. */
export function sliceChannels(x: Tensor, start: number, count: number): Tensor {
  assertTensor('sliceChannels', 'x', x); assertRank('sliceChannels', 'x', x, 4);
  const [B, C, H, W] = x.shape;
  if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count <= 0 || start + count > C) {
    fail('sliceChannels', `range [${start}, ${start + count}) outside ${C} channels of ${shapeStr(x.shape)}`);
  }
  const HW = H * W, n = count * HW;
  const y = allocate(B * n, false);
  for (let b = 0; b < B; b++) y.set(x.data.subarray((b * C + start) * HW, (b * C + start) * HW + n), b * n);
  return result(y, [B, count, H, W], [x], (out) => {
    const g = out.grad!, d = x.gradBuffer();
    for (let b = 0; b < B; b++) {
      const dst = (b * C + start) * HW;
      for (let i = 0; i < n; i++) d[dst + i] += g[b * n + i];
    }
  });
}

/** Splits x into consecutive channel groups of the given sizes. */
export function splitChannels(x: Tensor, sizes: readonly number[]): Tensor[] {
  assertRank('splitChannels', 'x', x, 4);
  const total = sizes.reduce((s, v) => s + v, 0);
  if (total !== x.shape[1]) fail('splitChannels', `sizes [${sizes.join(', ')}] do not add up to ${x.shape[1]} channels of ${shapeStr(x.shape)}`);
  let off = 0;
  return sizes.map((n) => { const t = sliceChannels(x, off, n); off += n; return t; });
}

/** y[b, c, h, w] = x[b, c, h, w] + bias[b, c]: a per-image, per-channel bias (class conditioning). */
export function addChannelBias(x: Tensor, bias: Tensor): Tensor {
  assertTensor('addChannelBias', 'x', x); assertRank('addChannelBias', 'x', x, 4);
  assertTensor('addChannelBias', 'bias', bias); assertRank('addChannelBias', 'bias', bias, 2);
  const [B, C, H, W] = x.shape;
  if (bias.shape[0] !== B || bias.shape[1] !== C) {
    fail('addChannelBias', `bias ${shapeStr(bias.shape)} does not match x ${shapeStr(x.shape)} (want [${B}, ${C}])`);
  }
  const HW = H * W, y = allocate(x.size, false), k = kernels();
  k.channelBiasForward(y, x.data, bias.data, B * C, HW);
  return result(y, x.shape, [x, bias], (out) => {
    const g = out.grad!;
    // The bias gradient reads g before x may adopt it (and later consumers write into it).
    if (bias.requiresGrad) k.channelBiasBackward(bias.gradBuffer(), g, B * C, HW);
    if (x.requiresGrad && !x.adoptGrad(g)) k.accumulate(x.gradBuffer(), g);
  });
}
