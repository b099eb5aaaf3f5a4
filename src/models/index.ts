import type { AutoregressiveModel } from './model.js';
import { PixelCnn, type PixelCnnConfig, pixelCnnParameterShapes, validatePixelCnnConfig } from './pixelcnn.js';
import { GatedPixelCnn, type GatedPixelCnnConfig, gatedPixelCnnParameterShapes, validateGatedPixelCnnConfig } from './gated-pixelcnn.js';

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

/**
 * The parameter shapes of the model a config describes, by checkpoint name, without building it
 * (the per-architecture functions validate the config first). Takes an untyped config object, as
 * createModel does.
 */
export function parameterShapes(config: Record<string, unknown>): Map<string, number[]> {
  // The discriminant only; the per-architecture function validates every field.
  const isArch = <T extends ModelConfig>(c: Record<string, unknown>, arch: T['arch']): c is T & Record<string, unknown> => c.arch === arch;
  if (isArch<PixelCnnConfig>(config, 'pixelcnn')) return pixelCnnParameterShapes(config);
  if (isArch<GatedPixelCnnConfig>(config, 'gated')) return gatedPixelCnnParameterShapes(config);
  throw new Error(`unknown model architecture '${String(config.arch)}' (known: pixelcnn, gated)`);
}
