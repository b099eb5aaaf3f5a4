import type { AutoregressiveModel } from '../../models/model.js';
import { PixelCnn } from '../../models/pixelcnn.js';
import { GatedPixelCnn } from '../../models/gated-pixelcnn.js';
import { PixelCnnPlusPlus } from '../../models/pixelcnn-plus-plus.js';
import type { IncrementalNetwork } from './network.js';
import { PixelCnnIncremental } from './pixelcnn.js';
import { GatedPixelCnnIncremental } from './gated.js';
import { PixelCnnPlusPlusIncremental } from './pixelcnn-plus-plus.js';

/** The incremental form of a model, by its class. Throws for models without one. */
export function createIncrementalNetwork(model: AutoregressiveModel, batch: number, height: number, width: number): IncrementalNetwork {
  if (model instanceof PixelCnn) return new PixelCnnIncremental(model, batch, height, width);
  if (model instanceof GatedPixelCnn) return new GatedPixelCnnIncremental(model, batch, height, width);
  if (model instanceof PixelCnnPlusPlus) return new PixelCnnPlusPlusIncremental(model, batch, height, width);
  throw new Error(`cached sampling is not implemented for architecture '${model.config.arch}' (use the naive sampler)`);
}
