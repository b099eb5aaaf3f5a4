/**
 * Checkpoint loading from fetched bytes, for the browser (src/train/checkpoint.ts reads files
 * with node:fs). The format and its checks are shared with it through
 * src/train/checkpoint-format.ts: config.json's format / version / model config
 * (parseCheckpointConfig), the safetensors container (decodeCheckpointTensors, i.e.
 * decodeSafetensors), the generation ids (checkGeneration), and every parameter present with its
 * exact shape and finite values (loadParamsInto). Errors are CheckpointError, naming the file.
 */
import {
  CONFIG_FILE, MODEL_FILE, CheckpointError, checkGeneration, decodeCheckpointTensors, loadParamsInto, parseCheckpointConfig,
} from '../src/train/checkpoint-format.js';
import { createModel, type AutoregressiveModel } from '../src/models/index.js';
import type { ModelInfo } from './protocol.js';

export { CheckpointError };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function parseCheckpoint(configText: string, weights: Uint8Array): { model: AutoregressiveModel; info: ModelInfo } {
  const config = parseCheckpointConfig(configText, CONFIG_FILE);
  let model: AutoregressiveModel;
  try {
    model = createModel(config.model);
  } catch (e) {
    throw new CheckpointError(`${CONFIG_FILE}: ${(e as Error).message}`);
  }

  const decoded = decodeCheckpointTensors(weights, MODEL_FILE);
  checkGeneration(MODEL_FILE, decoded.metadata.generation, typeof config.generation === 'string' ? config.generation : null);
  if (decoded.tensors.size === 0) throw new CheckpointError(`${MODEL_FILE}: holds no tensors`);
  loadParamsInto(model, decoded.tensors, MODEL_FILE);
  let count = 0;
  for (const p of model.parameters().values()) count += p.size;

  const metrics: Record<string, number | null> = {};
  if (isObject(config.metrics)) {
    for (const [k, v] of Object.entries(config.metrics)) if (typeof v === 'number' || v === null) metrics[k] = v;
  }
  const tr = config.training ?? null;
  return {
    model,
    info: {
      config: { ...model.config } as ModelInfo['config'],
      metrics: isObject(config.metrics) ? metrics : null,
      parameters: count,
      created: typeof config.created === 'string' ? config.created : null,
      training: tr ? {
        step: tr.step,
        dataset: tr.dataset?.name,
        elapsedSeconds: tr.elapsedSeconds,
      } : null,
    },
  };
}
