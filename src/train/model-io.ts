import { createModel, type AutoregressiveModel } from '../models/index.js';
import { CheckpointError, loadCheckpoint, loadParamsInto, saveCheckpoint } from './checkpoint.js';

/** A model read from a checkpoint directory, with what was recorded beside it. */
export interface LoadedModel {
  model: AutoregressiveModel;
  metrics: Record<string, number> | undefined;
  training: Record<string, unknown> | undefined;
}

/**
 * Loads a checkpoint directory (config.json + model.safetensors) into a ready model. With
 * `live`, a checkpoint trained with a weight average (--ema) gives its live training weights
 * (kept in optimizer.safetensors) instead of the average in model.safetensors.
 */
export function loadModel(dir: string, opts: { live?: boolean } = {}): LoadedModel {
  // loadCheckpoint names the directory when it is missing, and recovers an interrupted swap.
  const ck = loadCheckpoint(dir);
  const model = createModel(ck.modelConfig);
  let params = ck.params;
  if (opts.live) {
    if (!ck.average) throw new CheckpointError(`${dir}: holds no weight average (train with --ema), so model.safetensors already has the live weights`);
    params = new Map([...ck.params].map(([name, t]) => [name, { shape: t.shape, data: ck.average!.live.get(name)! }]));
  }
  loadParamsInto(model, params, dir);
  return { model, metrics: ck.metrics, training: ck.training };
}

/** Writes a model as a checkpoint directory (atomically), optionally with metrics. */
export function saveModel(dir: string, model: AutoregressiveModel, metrics?: Record<string, number>): void {
  saveCheckpoint(dir, { modelConfig: { ...model.config }, params: model.parameters(), metrics });
}
