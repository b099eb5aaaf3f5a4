import { join } from 'node:path';
import { createModel, parameterShapes, type AutoregressiveModel } from '../models/index.js';
import {
  CheckpointError, MODEL_FILE, OPTIMIZER_FILE, checkParameterShapes, loadCheckpoint, loadParamsInto, saveCheckpoint,
  type LoadedCheckpoint, type TrainingState,
} from './checkpoint.js';
import type { RawTensor } from './safetensors.js';

/** A model read from a checkpoint directory, with what was recorded beside it. */
export interface LoadedModel {
  model: AutoregressiveModel;
  metrics: Record<string, number> | undefined;
  training: TrainingState | undefined;
}

/**
 * Loads a checkpoint directory (config.json + model.safetensors) into a ready model. With
 * `live`, a checkpoint trained with a weight average (--ema) gives its live training weights
 * (kept in optimizer.safetensors) instead of the average in model.safetensors.
 */
export function loadModel(dir: string, opts: { live?: boolean } = {}): LoadedModel {
  // loadCheckpoint names the directory when it is missing, and recovers an interrupted swap.
  const ck = loadCheckpoint(dir);
  let params = ck.params;
  if (opts.live) {
    if (!ck.average) throw new CheckpointError(`${dir}: holds no weight average (train with --ema), so model.safetensors already has the live weights`);
    params = new Map([...ck.params].map(([name, t]) => [name, { shape: t.shape, data: ck.average!.live.get(name)! }]));
  }
  return { model: modelFromCheckpoint(ck, params), metrics: ck.metrics, training: ck.training };
}

/**
 * Builds the model of a loaded checkpoint with its parameters (default: ck.params). The weights'
 * names and shapes are checked against the config before the model is built, so a config that
 * asks for a huge model beside a small weights file fails without allocating it.
 */
export function modelFromCheckpoint(ck: LoadedCheckpoint, params: Map<string, RawTensor> = ck.params): AutoregressiveModel {
  // The file the parameters came from names the errors.
  const source = join(ck.dir, params === ck.params ? MODEL_FILE : OPTIMIZER_FILE);
  checkParameterShapes(parameterShapes(ck.modelConfig), params, source, ck.modelConfig.arch);
  const model = createModel(ck.modelConfig);
  loadParamsInto(model, params, source);
  return model;
}

/** Writes a model as a checkpoint directory (atomically), optionally with metrics. */
export function saveModel(dir: string, model: AutoregressiveModel, metrics?: Record<string, number>): void {
  saveCheckpoint(dir, { modelConfig: { ...model.config }, params: model.parameters(), metrics });
}
