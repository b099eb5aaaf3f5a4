import type { AutoregressiveModel } from './model.js';
import { PixelCnn, type PixelCnnConfig, validatePixelCnnConfig } from './pixelcnn.js';
import { GatedPixelCnn, type GatedPixelCnnConfig, validateGatedPixelCnnConfig } from './gated-pixelcnn.js';

export type { AutoregressiveModel, BaseModelConfig } from './model.js';
export { PixelCnn, defaultPixelCnnConfig, type PixelCnnConfig } from './pixelcnn.js';
export { GatedPixelCnn, defaultGatedPixelCnnConfig, type GatedPixelCnnConfig } from './gated-pixelcnn.js';

/** Every architecture's config, told apart by `arch`. */
export type ModelConfig = PixelCnnConfig | GatedPixelCnnConfig;

/** Builds a model from a config object (e.g. a checkpoint's config.json), validating it. */
export function createModel(config: Record<string, unknown>, seed = 0): AutoregressiveModel {
  switch (config.arch) {
    case 'pixelcnn': {
      const c = config as unknown as PixelCnnConfig;
      validatePixelCnnConfig(c);
      return new PixelCnn(c, seed);
    }
    case 'gated': {
      const c = config as unknown as GatedPixelCnnConfig;
      validateGatedPixelCnnConfig(c);
      return new GatedPixelCnn(c, seed);
    }
    default:
      throw new Error(`unknown model architecture '${String(config.arch)}' (known: pixelcnn, gated)`);
  }
}
