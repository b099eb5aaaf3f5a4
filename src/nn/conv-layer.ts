import { Tensor } from '../tensor/tensor.js';
import { conv2d, type ConvMask } from '../ops/conv2d.js';
import { pixelCnnMask, type MaskType } from './masks.js';
import type { Rng } from './rng.js';

/**
 * A convolution layer's parameters (PyTorch layout: weight (O, I, kh, kw), bias (O)) and its
 * fixed mask. Initialised like PyTorch's Conv2d: U(−1/√fan_in, 1/√fan_in) for weight and bias.
 */
export class Conv2dLayer {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly mask: ConvMask | null;

  constructor(name: string, inFilters: number, outFilters: number, kernel: number, rng: Rng,
              mask: { type: MaskType; colours: number } | null) {
    const fanIn = inFilters * kernel * kernel, bound = 1 / Math.sqrt(fanIn);
    const w = new Float32Array(outFilters * fanIn);
    for (let i = 0; i < w.length; i++) w[i] = (rng.uniform() * 2 - 1) * bound;
    const b = new Float32Array(outFilters);
    for (let i = 0; i < b.length; i++) b[i] = (rng.uniform() * 2 - 1) * bound;
    this.weight = new Tensor(w, [outFilters, inFilters, kernel, kernel], { requiresGrad: true, name: `${name}.weight` });
    this.bias = new Tensor(b, [outFilters], { requiresGrad: true, name: `${name}.bias` });
    this.mask = mask ? pixelCnnMask(mask.type, outFilters, inFilters, kernel, kernel, mask.colours) : null;
    // A 1×1 mask that keeps everything is no mask at all: skip the copy.
    if (this.mask && this.mask.values.every((v) => v === 1)) this.mask = null;
  }

  /**
   * The convolution of x, or of relu(x) with `relu`; plus `residual` when given (both fused into
   * the convolution: see ops/conv2d).
   */
  forward(x: Tensor, relu = false, residual: Tensor | null = null): Tensor {
    return conv2d(x, this.weight, this.bias, this.mask, { relu, residual });
  }

  params(): Tensor[] {
    return [this.weight, this.bias];
  }
}
