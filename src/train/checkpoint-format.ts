/**
 * The checkpoint format's constants and checks that need no file system: config.json validation,
 * the generation check, decoding a weights file, and copying parameters into a model. Shared by
 * src/train/checkpoint.ts (which re-exports all of it and reads the files with node:fs) and the
 * browser page of `pixelcnn serve` (web/checkpoint.ts, which gets the bytes with fetch). No Node
 * imports here: the web bundle includes this module (scripts/build-web.mjs refuses Node globals).
 * See src/train/checkpoint.ts for the directory layout.
 */
import type { AutoregressiveModel } from '../models/model.js';
import { ConfigError, parseModelConfig, type ModelConfig } from '../models/config.js';
import { decodeSafetensors, type SafetensorsContents, type RawTensor } from './safetensors.js';

export const CHECKPOINT_FORMAT = 'pixelcnn-checkpoint';
export const CHECKPOINT_VERSION = 1;
export const CONFIG_FILE = 'config.json';
export const MODEL_FILE = 'model.safetensors';
export const OPTIMIZER_FILE = 'optimizer.safetensors';

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Parses and validates the text of a config.json; `where` (a path, or a name in the browser)
 * prefixes every error message. Checks the format and version, parses "model" strictly as a
 * ModelConfig (every field required, no unknown keys: src/models/config.ts), and that "training"
 * and "metrics" are objects when present. Returns the whole object; other fields are not checked.
 */
export function parseCheckpointConfig(text: string, where: string): Record<string, unknown> & { model: ModelConfig } {
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(`${where}: not valid JSON (${(e as Error).message})`);
  }
  const bad = (msg: string) => new CheckpointError(`${where}: ${msg}`);
  if (!isObject(config)) throw bad('not a JSON object');
  const c = config;
  if (c.format !== CHECKPOINT_FORMAT) throw bad(`"format" is ${JSON.stringify(c.format)}, expected "${CHECKPOINT_FORMAT}"`);
  if (c.version !== CHECKPOINT_VERSION) {
    throw bad(typeof c.version === 'number' && c.version > CHECKPOINT_VERSION
      ? `checkpoint version ${c.version} was written by a newer version of this program (this one reads ${CHECKPOINT_VERSION})`
      : `"version" is ${JSON.stringify(c.version)}, expected ${CHECKPOINT_VERSION}`);
  }
  if (!isObject(c.model)) throw bad('"model" (the model config) is missing or not an object');
  let model: ModelConfig;
  try {
    model = parseModelConfig(c.model, { where, name: (k) => `"model.${k}"` });
  } catch (e) {
    throw e instanceof ConfigError ? new CheckpointError(e.message) : e;
  }
  if (c.training !== undefined && !isObject(c.training)) throw bad('"training" is not an object');
  if (c.metrics !== undefined && !isObject(c.metrics)) throw bad('"metrics" is not an object');
  return { ...c, model };
}

/**
 * Decodes the bytes of a safetensors file of a checkpoint (`where` names it in messages);
 * a malformed file is a CheckpointError.
 */
export function decodeCheckpointTensors(bytes: Uint8Array, where: string): SafetensorsContents {
  try {
    return decodeSafetensors(bytes, where);
  } catch (e) {
    throw new CheckpointError((e as Error).message);
  }
}

/**
 * Files of one save carry config.json's "generation" id in their metadata: a different one means
 * the directory mixes files of two checkpoints. Files or configs without one are not checked.
 */
export function checkGeneration(where: string, fileGeneration: string | undefined, configGeneration: string | null): void {
  if (fileGeneration !== undefined && configGeneration !== null && fileGeneration !== configGeneration) {
    throw new CheckpointError(`${where}: belongs to a different save than config.json (generation ${fileGeneration} vs ${configGeneration}); the directory mixes files of two checkpoints`);
  }
}

/**
 * Copies checkpoint parameters into a model. Every model parameter must be present with exactly
 * its shape and no others may be there (one error lists every problem); values must be finite.
 * Nothing is copied unless everything checks out.
 */
export function loadParamsInto(model: AutoregressiveModel, params: Map<string, RawTensor>, source: string): void {
  const own = model.parameters();
  const missing: string[] = [], extra: string[] = [], misShaped: string[] = [];
  for (const [name, p] of own) {
    const t = params.get(name);
    if (!t) missing.push(name);
    else if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
      misShaped.push(`${name} (checkpoint [${t.shape.join(', ')}], model [${p.shape.join(', ')}])`);
    } else if (t.data.length !== p.size) {
      misShaped.push(`${name} (checkpoint holds ${t.data.length} values, model needs ${p.size})`);
    }
  }
  for (const name of params.keys()) if (!own.has(name)) extra.push(name);
  if (missing.length || extra.length || misShaped.length) {
    const parts = [
      missing.length ? `missing: ${missing.join(', ')}` : '',
      extra.length ? `unexpected: ${extra.join(', ')}` : '',
      misShaped.length ? `wrong shape: ${misShaped.join('; ')}` : '',
    ].filter(Boolean);
    throw new CheckpointError(`${source}: the parameters do not fit the ${model.config.arch} model; ${parts.join('; ')}`);
  }
  for (const [name, t] of params) {
    const d = t.data;
    for (let i = 0; i < d.length; i++) {
      if (!Number.isFinite(d[i])) throw new CheckpointError(`${source}: parameter '${name}' holds a non-finite value (${d[i]} at index ${i})`);
    }
  }
  for (const [name, p] of own) p.data.set(params.get(name)!.data);
}
