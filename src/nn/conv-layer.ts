import { Tensor } from '../tensor/tensor.js';
import { conv2d, type ConvMask } from '../ops/conv2d.js';
import { liveTaps, pixelCnnMask, type MaskType } from './masks.js';
import { LayerWeight } from './layer-weight.js';
import type { Rng } from '../random/rng.js';

/** Whether tap (ky, kx) of output filter o may read input filter i. */
export type KeepTap = (o: number, i: number, ky: number, kx: number) => boolean;

/**
 * A layer's mask: the PixelCNN mask of a type and colour count (src/nn/masks.ts), an arbitrary
 * predicate over (o, i, ky, kx), or null for none.
 */
export type ConvMaskSpec = { type: MaskType; colours: number } | KeepTap | null;

/**
 * A convolution layer's parameters (PyTorch layout: weight (O, I, kh, kw), bias (O)) and its
 * fixed mask; `kernel` is k (k×k) or [kh, kw]. Initialised like PyTorch's Conv2d:
 * U(−1/√fan_in, 1/√fan_in) for weight and bias. A PixelCNN-masked layer counts every tap of its
 * kernel in fan_in (a full Conv2d with a mask multiplied in, as reference implementations do); a
 * predicate-masked one stands for the smaller kernel of its live taps (e.g. the gated model's
 * (k/2+1)×k vertical kernel stored as k×k), so fan_in counts live taps only.
 * With `weightNorm`, the weight is g · v/‖v‖ (nn/layer-weight: `weight_g`, `weight_v`, v = that
 * initial weight).
 */
export class Conv2dLayer {
  readonly bias: Tensor;
  readonly mask: ConvMask | null;
  private readonly w: LayerWeight;

  constructor(name: string, inFilters: number, outFilters: number, kernel: number | readonly [number, number],
              rng: Rng, mask: ConvMaskSpec, weightNorm = false) {
    const [kh, kw] = typeof kernel === 'number' ? [kernel, kernel] : kernel, K = kh * kw;
    let m: ConvMask | null = null;
    if (typeof mask === 'function') {
      const values = new Float32Array(outFilters * inFilters * K);
      for (let o = 0; o < outFilters; o++) for (let i = 0; i < inFilters; i++) {
        for (let t = 0; t < K; t++) values[(o * inFilters + i) * K + t] = mask(o, i, Math.floor(t / kw), t % kw) ? 1 : 0;
      }
      m = { values, taps: liveTaps(values, K) };
    } else if (mask) {
      m = pixelCnnMask(mask.type, outFilters, inFilters, kh, kw, mask.colours);
    }
    // A mask that keeps everything (e.g. a 1×1 type B) is no mask at all: skip the copy.
    if (m && m.values.every((v) => v === 1)) m = null;
    this.mask = m;
    const fanIn = inFilters * (typeof mask === 'function' && m ? m.taps.length : K), bound = 1 / Math.sqrt(fanIn);
    const w = new Float32Array(outFilters * inFilters * K);
    for (let i = 0; i < w.length; i++) w[i] = (rng.uniform() * 2 - 1) * bound;
    const b = new Float32Array(outFilters);
    for (let i = 0; i < b.length; i++) b[i] = (rng.uniform() * 2 - 1) * bound;
    this.w = new LayerWeight(name, w, [outFilters, inFilters, kh, kw], weightNorm);
    this.bias = new Tensor(b, [outFilters], { requiresGrad: true, name: `${name}.bias` });
  }

  /** (O, I, kh, kw): the parameter, or computed from g and v per read (read it once per use). */
  get weight(): Tensor {
    return this.w.value();
  }

  /**
   * The convolution of x, or of relu(x) with `relu`; plus `residual` when given (both fused into
   * the convolution: see ops/conv2d).
   */
  forward(x: Tensor, relu = false, residual: Tensor | null = null): Tensor {
    return conv2d(x, this.weight, this.bias, this.mask, { relu, residual });
  }

  params(): Tensor[] {
    return [...this.w.params, this.bias];
  }
}
