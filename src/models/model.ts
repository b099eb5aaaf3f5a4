import type { Tensor } from '../tensor/tensor.js';
import type { BaseModelConfig, ModelConfig } from './config.js';

export type { BaseModelConfig, ModelConfig } from './config.js';

/**
 * An autoregressive image model: logits for every pixel and colour from the image itself, each
 * depending only on earlier pixels (raster order) and earlier colours of the same pixel.
 */
export interface AutoregressiveModel<C extends ModelConfig = ModelConfig> {
  readonly config: C;
  /** Parameters by checkpoint name (PyTorch names and layouts). */
  parameters(): Map<string, Tensor>;
  /**
   * x (B, C, H, W) holds level / (L − 1) in [0, 1]; classes (B) for conditional models.
   * Returns logits (B, L·C, H, W) for softmax models, (B, C, H, W) for sigmoid ones.
   */
  forward(x: Tensor, classes?: Int32Array | null): Tensor;
}

/** Logits per level for one colour at one pixel: the channels a sampler reads. */
export function logitChannels(config: BaseModelConfig): number {
  return config.likelihood === 'sigmoid' ? config.channels : config.levels * config.channels;
}
