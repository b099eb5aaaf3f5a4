/**
 * pixelcnn: autoregressive image models of the PixelCNN family for Node.js (and, through the js
 * backend, browsers). The library behind the `pixelcnn` command.
 *
 *   import { createModel, loadModel, logProb, sampleCached } from 'pixelcnn';
 *   const { model } = loadModel('runs/mnist');
 *   const images = sampleCached(model, { count: 16, seed: 1 });   // level labels (16, C, H, W)
 *   const { bitsPerDim } = logProb(model, images, 16);
 */

// Tensors, autograd and ops
export { Tensor } from './tensor/tensor.js';
export { backward, noGrad } from './tensor/autograd.js';
export { withArena } from './tensor/arena.js';
export * as ops from './ops/index.js';

// Compute backends
export { kernels, useBackend, backendName, jsKernels, type BackendName, type Kernels, type Conv2dDims } from './backend/index.js';

// Layers and training utilities
export { pixelCnnMask, centreConnectivity, spatialMask, type MaskType } from './nn/masks.js';
export { Conv2dLayer } from './nn/conv-layer.js';
export { Adam, defaultAdamOptions, type AdamOptions, type AdamState } from './nn/adam.js';
export { WeightAverage, type WeightAverageState } from './nn/weight-average.js';
export { Rng } from './random/rng.js';

// Models
export {
  createModel, parseModelConfig, ConfigError, ARCHS, PixelCnn, defaultPixelCnnConfig, GatedPixelCnn, defaultGatedPixelCnnConfig,
  PixelCnnPlusPlus, defaultPixelCnnPlusPlusConfig,
  type AutoregressiveModel, type Arch, type BaseModelConfig, type ModelConfig, type ModelConfigInput, type ParseOptions,
  type PixelCnnConfig, type GatedPixelCnnConfig, type PixelCnnPlusPlusConfig,
} from './models/index.js';

// Data
export { loadDataset, DATASET_NAMES, type DatasetSpec, type DatasetName } from './data/datasets.js';
export { type ImageSet, DataError } from './data/image-set.js';
export { quantise, quantisePixels, levelsToUnit } from './data/quantise.js';
export { binariseStochastic, binariseThreshold } from './data/binarise.js';
export { fixedLevels, batchLevels, type LevelOptions, type BinariseMode } from './data/levels.js';

// Training, checkpoints, evaluation
export { train, defaultTrainOptions, type TrainOptions, type TrainState, type TrainHooks, type TrainResult } from './train/trainer.js';
export { loadModel, saveModel, type LoadedModel } from './train/model-io.js';
export { saveCheckpoint, loadCheckpoint, CheckpointError } from './train/checkpoint.js';
export { encodeSafetensors, decodeSafetensors } from './train/safetensors.js';
export { evaluate, evaluateMarginal, logProb, bitsPerDim, type EvalResult, type MarginalResult, type LogProb } from './eval/likelihood.js';

// Sampling
export { sampleNaive, type SampleOptions } from './sample/naive.js';
export { sampleCached } from './sample/cached.js';
export { encodeGrid, levelsToPixels } from './sample/png-grid.js';
