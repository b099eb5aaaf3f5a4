import { createModel, type AutoregressiveModel } from '../models/index.js';
import { loadCheckpoint, loadParamsInto, saveCheckpoint } from './checkpoint.js';

/** A model read from a checkpoint directory, with what was recorded beside it. */
export interface LoadedModel {
  model: AutoregressiveModel;
  metrics: Record<string, number> | undefined;
  training: Record<string, unknown> | undefined;
}

/** Loads a checkpoint directory (config.json + model.safetensors) into a ready model. */
export function loadModel(dir: string): LoadedModel {
  // loadCheckpoint names the directory when it is missing, and recovers an interrupted swap.
  const ck = loadCheckpoint(dir);
  const model = createModel(ck.modelConfig);
  loadParamsInto(model, ck.params, dir);
  return { model, metrics: ck.metrics, training: ck.training };
}

/** Writes a model as a checkpoint directory (atomically), optionally with metrics. */
export function saveModel(dir: string, model: AutoregressiveModel, metrics?: Record<string, number>): void {
  saveCheckpoint(dir, { modelConfig: { ...model.config }, params: model.parameters(), metrics });
}
