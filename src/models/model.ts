import type { Tensor } from '../tensor/tensor.js';
import type { BaseModelConfig, ModelConfig } from './config.js';

export type { BaseModelConfig, ModelConfig } from './config.js';

/**
 * Called by a model's forward with each named intermediate activation, in the order the forward
 * computes them; the tensor is the one the next layer reads (not a copy: do not modify it; inside
 * a training arena its buffer is reused after the step, so copy what you keep). The name is the
 * layer's parameter prefix (`blocks.3.conv1`, `vstack.0.conv`, `out1`) for a layer's output, or a
 * name each model documents for a parameter-free step (the gated model's `vstack.0.gate`).
 * Outputs are as the fused forward produces them: a ReLU that the next layer applies to its input
 * is not applied yet, and a residual that the layer adds is included. It lets samplers and probes
 * reuse the model's own forward instead of re-implementing it.
 */
export type ForwardObserver = (name: string, activation: Tensor) => void;

/**
 * An autoregressive image model: logits for every pixel and colour from the image itself, each
 * depending only on earlier pixels (raster order) and earlier colours of the same pixel.
 */
export interface AutoregressiveModel<C extends ModelConfig = ModelConfig> {
  readonly config: C;
  /** Parameters by checkpoint name (PyTorch names and layouts). */
  parameters(): Map<string, Tensor>;
  /**
   * x (B, C, H, W) holds level / (L − 1) in [0, 1] (levelToUnit); classes (B) for conditional
   * models. Returns logits (B, L·C, H, W) for softmax models, (B, C, H, W) for sigmoid ones, level
   * k of colour c in filter logitFilter(k, c, C). `observe`, when given, sees every named
   * intermediate activation (ForwardObserver); without it the forward does no extra work.
   */
  forward(x: Tensor, classes?: Int32Array | null, observe?: ForwardObserver): Tensor;
}

/** Logits per colour at one pixel: L for the softmax likelihood, 1 for sigmoid (the logit of level 1). */
export function logitsPerColour(config: BaseModelConfig): number {
  return config.likelihood === 'sigmoid' ? 1 : config.levels;
}

/** Output filters of a model: logitsPerColour · C. */
export function logitChannels(config: BaseModelConfig): number {
  return logitsPerColour(config) * config.channels;
}

/** The output filter holding level k's logit (or the sigmoid logit, k = 0) of colour c, of C: interleaved, k·C + c. */
export function logitFilter(k: number, c: number, C: number): number {
  return k * C + c;
}
