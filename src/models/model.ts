import type { Tensor } from '../tensor/tensor.js';
import type { BaseModelConfig, ModelConfig } from './config.js';
import { mixtureLayout } from '../ops/logistic-mixture.js';

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
   * models. Returns the likelihood's parameters (B, outputChannels, H, W): logits (B, L·C, H, W)
   * for softmax models, (B, C, H, W) for sigmoid ones, the mixture's parameters for
   * logistic-mixture ones; slot j of colour c in filter outputFilter(j, c, C). `observe`, when
   * given, sees every named intermediate activation (ForwardObserver); without it the forward does
   * no extra work.
   */
  forward(x: Tensor, classes?: Int32Array | null, observe?: ForwardObserver): Tensor;
}

/**
 * Output filters per colour group, for every likelihood: L logits (softmax), 1 logit of level 1
 * (sigmoid), or the mixture's parameter slots (mixtureLayout in src/ops/logistic-mixture.ts).
 */
export function outputsPerColour(config: BaseModelConfig): number {
  switch (config.likelihood) {
    case 'softmax': return config.levels;
    case 'sigmoid': return 1;
    case 'logistic-mixture': return mixtureLayout(config.channels, config.mixtures).perColour;
  }
}

/** Output filters of a model: outputsPerColour · C. */
export function outputChannels(config: BaseModelConfig): number {
  return outputsPerColour(config) * config.channels;
}

/**
 * The output filter holding slot j of colour c, of C (level j's logit for softmax, the logit for
 * sigmoid with j = 0, a mixture parameter's slot): interleaved colour groups, j·C + c.
 */
export function outputFilter(j: number, c: number, C: number): number {
  return j * C + c;
}
