/**
 * Checkpoint loading from fetched bytes, for the browser (src/train/checkpoint.ts reads files
 * with node:fs). Same format and the same checks: config.json's format / version / model config,
 * the safetensors container (decodeSafetensors), the generation ids, and every parameter present
 * with its exact shape and finite values.
 */
import { decodeSafetensors } from '../src/train/safetensors.js';
import { createModel, type AutoregressiveModel } from '../src/models/index.js';
import type { ModelInfo } from './protocol.js';

const FORMAT = 'pixelcnn-checkpoint';
const VERSION = 1;

export class CheckpointLoadError extends Error {
  override name = 'CheckpointLoadError';
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function parseCheckpoint(configText: string, weights: Uint8Array): { model: AutoregressiveModel; info: ModelInfo } {
  const bad = (file: string, msg: string): never => { throw new CheckpointLoadError(`${file}: ${msg}`); };
  let config: unknown;
  try {
    config = JSON.parse(configText);
  } catch (e) {
    return bad('config.json', `not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(config)) return bad('config.json', 'not a JSON object');
  if (config.format !== FORMAT) bad('config.json', `"format" is ${JSON.stringify(config.format)}, expected "${FORMAT}"`);
  if (config.version !== VERSION) {
    bad('config.json', typeof config.version === 'number' && config.version > VERSION
      ? `checkpoint version ${config.version} was written by a newer version of pixelcnn (this page reads ${VERSION})`
      : `"version" is ${JSON.stringify(config.version)}, expected ${VERSION}`);
  }
  if (!isObject(config.model)) return bad('config.json', '"model" (the model config) is missing or not an object');
  if (typeof config.model.arch !== 'string' || config.model.arch === '') bad('config.json', 'the model config has no "arch"');
  if (config.metrics !== undefined && !isObject(config.metrics)) bad('config.json', '"metrics" is not an object');
  if (config.training !== undefined && !isObject(config.training)) bad('config.json', '"training" is not an object');

  let model: AutoregressiveModel;
  try {
    model = createModel(config.model);
  } catch (e) {
    return bad('config.json', (e as Error).message);
  }

  let decoded;
  try {
    decoded = decodeSafetensors(weights, 'model.safetensors');
  } catch (e) {
    throw new CheckpointLoadError((e as Error).message);
  }
  const generation = typeof config.generation === 'string' ? config.generation : null;
  const fileGeneration = decoded.metadata.generation;
  if (generation !== null && fileGeneration !== undefined && fileGeneration !== generation) {
    bad('model.safetensors', `belongs to a different save than config.json (generation ${fileGeneration} vs ${generation})`);
  }
  const params = decoded.tensors;
  if (params.size === 0) bad('model.safetensors', 'holds no tensors');

  const own = model.parameters();
  const missing: string[] = [], extra: string[] = [], misShaped: string[] = [];
  for (const [name, p] of own) {
    const t = params.get(name);
    if (!t) missing.push(name);
    else if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
      misShaped.push(`${name} (file [${t.shape.join(', ')}], model [${p.shape.join(', ')}])`);
    }
  }
  for (const name of params.keys()) if (!own.has(name)) extra.push(name);
  if (missing.length || extra.length || misShaped.length) {
    const parts = [
      missing.length ? `missing: ${missing.join(', ')}` : '',
      extra.length ? `unexpected: ${extra.join(', ')}` : '',
      misShaped.length ? `wrong shape: ${misShaped.join('; ')}` : '',
    ].filter(Boolean);
    bad('model.safetensors', `the parameters do not fit the ${model.config.arch} model in config.json; ${parts.join('; ')}`);
  }
  let count = 0;
  for (const [name, t] of params) {
    const d = t.data;
    for (let i = 0; i < d.length; i++) {
      if (!Number.isFinite(d[i])) bad('model.safetensors', `parameter '${name}' holds a non-finite value (${d[i]} at index ${i})`);
    }
    count += d.length;
  }
  for (const [name, p] of own) p.data.set(params.get(name)!.data);

  const metrics: Record<string, number | null> = {};
  if (isObject(config.metrics)) {
    for (const [k, v] of Object.entries(config.metrics)) if (typeof v === 'number' || v === null) metrics[k] = v;
  }
  const tr = isObject(config.training) ? config.training : null;
  return {
    model,
    info: {
      config: { ...model.config } as ModelInfo['config'],
      metrics: isObject(config.metrics) ? metrics : null,
      parameters: count,
      created: typeof config.created === 'string' ? config.created : null,
      training: tr ? {
        step: typeof tr.step === 'number' ? tr.step : undefined,
        dataset: typeof tr.dataset === 'string' ? tr.dataset : undefined,
        elapsedSeconds: typeof tr.elapsedSeconds === 'number' ? tr.elapsedSeconds : undefined,
      } : null,
    },
  };
}
