import type { AutoregressiveModel } from './model.js';
import { parseModelConfig, type ModelConfig, type ModelConfigInput } from './config.js';
import { PixelCnn, pixelCnnParameterShapes } from './pixelcnn.js';
import { GatedPixelCnn, gatedPixelCnnParameterShapes } from './gated-pixelcnn.js';
import { PixelCnnPlusPlus, pixelCnnPlusPlusParameterShapes } from './pixelcnn-plus-plus.js';

export type { AutoregressiveModel } from './model.js';
export {
  ARCHS, ConfigError, parseModelConfig, defaultPixelCnnConfig, defaultGatedPixelCnnConfig, defaultPixelCnnPlusPlusConfig,
  type Arch, type BaseModelConfig, type ModelConfig, type ModelConfigInput, type ParseOptions,
  type PixelCnnConfig, type GatedPixelCnnConfig, type PixelCnnPlusPlusConfig,
} from './config.js';
export { PixelCnn } from './pixelcnn.js';
export { GatedPixelCnn } from './gated-pixelcnn.js';
export { PixelCnnPlusPlus } from './pixelcnn-plus-plus.js';

/**
 * Builds a model from a config: `arch` and any of its fields, the others taken from the
 * architecture's defaults. An unknown key or a bad value is a ConfigError naming the key.
 * (A checkpoint's config.json is parsed strictly, every field required, by the checkpoint module.)
 */
export function createModel(config: ModelConfigInput, seed = 0): AutoregressiveModel {
  const c = parseModelConfig(config, { defaults: true });
  switch (c.arch) {
    case 'pixelcnn': return new PixelCnn(c, seed);
    case 'gated': return new GatedPixelCnn(c, seed);
    case 'pixelcnn++': return new PixelCnnPlusPlus(c, seed);
  }
}

/**
 * The parameter shapes of the model a config describes, by checkpoint name, without building it:
 * a checkpoint's weights are checked against these before any model memory is allocated.
 */
export function parameterShapes(config: ModelConfig): Map<string, number[]> {
  switch (config.arch) {
    case 'pixelcnn': return pixelCnnParameterShapes(config);
    case 'gated': return gatedPixelCnnParameterShapes(config);
    case 'pixelcnn++': return pixelCnnPlusPlusParameterShapes(config);
  }
}
