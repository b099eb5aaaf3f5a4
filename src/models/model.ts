import type { Tensor } from '../tensor/tensor.js';

/** What every architecture shares: the data it models and how its outputs are read. */
export interface BaseModelConfig {
  /** Colours per pixel: 1 (gray) or 3 (RGB, modelled R → G → B). */
  channels: 1 | 3;
  /** Levels per colour value (2 for binary images, 256 for 8-bit). */
  levels: number;
  /** 'softmax': L logits per colour (filter o = k·C + c). 'sigmoid': one logit per colour, L = 2 only. */
  likelihood: 'softmax' | 'sigmoid';
  /** Image size the model was trained for (the network itself is fully convolutional). */
  height: number;
  width: number;
  /** Number of classes for class-conditional models; 0 = unconditional. */
  numClasses: number;
}

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
export interface AutoregressiveModel<C extends BaseModelConfig = BaseModelConfig> {
  readonly config: C & { arch: string };
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

export function validateBaseConfig(c: BaseModelConfig, where: string): void {
  const bad = (msg: string): never => { throw new Error(`${where}: ${msg}`); };
  if (c.channels !== 1 && c.channels !== 3) bad(`channels must be 1 or 3, got ${c.channels}`);
  if (!Number.isInteger(c.levels) || c.levels < 2 || c.levels > 256) bad(`levels must be an integer in [2, 256], got ${c.levels}`);
  if (c.likelihood !== 'softmax' && c.likelihood !== 'sigmoid') bad(`likelihood must be 'softmax' or 'sigmoid', got ${c.likelihood}`);
  if (c.likelihood === 'sigmoid' && c.levels !== 2) bad(`the sigmoid likelihood needs levels = 2, got ${c.levels}`);
  for (const k of ['height', 'width'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1 || c[k] > 4096) bad(`${k} must be an integer in [1, 4096], got ${c[k]}`);
  }
  if (!Number.isInteger(c.numClasses) || c.numClasses < 0 || c.numClasses > 1000) bad(`numClasses must be an integer in [0, 1000], got ${c.numClasses}`);
}
