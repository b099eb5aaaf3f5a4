/**
 * Weights packed for evaluating one layer at one pixel (or one row of pixels): the mask multiplied
 * in, dead taps dropped, laid out (K, O) with K = tap·I + i, so a layer at a pixel is
 * out (O) = bias + gathered (K) · W (K × O). Shared by every incremental network.
 */
import type { Conv2dLayer } from '../../nn/conv-layer.js';
import { type BaseModelConfig, outputFilter, outputsPerColour } from '../../models/model.js';

export interface PackedLayer {
  /** Input and output filters. */
  I: number;
  O: number;
  /** Live taps: row and column offsets relative to the output pixel (dy ≤ 0). */
  dy: Int32Array;
  dx: Int32Array;
  /** (K, O), K = taps·I, masked. */
  w: Float32Array;
  /** (O) */
  bias: Float32Array;
}

/**
 * Packs a layer's masked weights as (K, O) over its live taps, optionally keeping only some output
 * filters. Any odd-sized kernel with its mask (a Conv2dLayer, or a shifted convolution's weight
 * placed in its 3×3 kernel) packs the same way.
 */
export function packLayer(layer: Pick<Conv2dLayer, 'weight' | 'bias' | 'mask'>, filters?: number[]): PackedLayer {
  const weight = layer.weight;  // once: a weight-normalised layer computes it per read
  const [Oall, I, KH, KW] = weight.shape;
  const KK = KH * KW, cy = KH >> 1, cx = KW >> 1;
  const outs = filters ?? Array.from({ length: Oall }, (_, o) => o);
  const O = outs.length;
  const taps = layer.mask ? Array.from(layer.mask.taps) : Array.from({ length: KK }, (_, t) => t);
  const T = taps.length;
  const w = new Float32Array(T * I * O);
  const src = weight.data, m = layer.mask?.values;
  for (let j = 0; j < O; j++) {
    const o = outs[j];
    for (let ti = 0; ti < T; ti++) for (let i = 0; i < I; i++) {
      const at = (o * I + i) * KK + taps[ti];
      w[(ti * I + i) * O + j] = m ? src[at] * m[at] : src[at];
    }
  }
  const bias = Float32Array.from(outs, (o) => layer.bias.data[o]);
  return {
    I, O, w, bias,
    dy: Int32Array.from(taps, (t) => Math.floor(t / KW) - cy),
    dx: Int32Array.from(taps, (t) => (t % KW) - cx),
  };
}

/** The output layer split by colour: head[c] holds the filters outputFilter(j, c, C), j < outputsPerColour. */
export function packHead(out: Conv2dLayer, config: BaseModelConfig): PackedLayer[] {
  const C = config.channels, n = outputsPerColour(config);
  const layer = { weight: out.weight, bias: out.bias, mask: out.mask };  // the weight once for every colour
  return Array.from({ length: C }, (_, c) => packLayer(layer, Array.from({ length: n }, (_, j) => outputFilter(j, c, C))));
}
