/**
 * The checkpoint format's constants and everything about it that needs no file system: the one
 * writer of a checkpoint's files (encodeCheckpoint: config.json's text and the safetensors
 * bytes), config.json validation, the generation check, decoding a weights file, and copying
 * parameters into a model. Shared by src/train/checkpoint.ts (which re-exports all of it and
 * reads and writes the files with node:fs) and the browser page of `pixelcnn serve`
 * (web/checkpoint.ts, which gets the bytes with fetch; the training panel, which downloads the
 * files encodeCheckpoint writes). No Node
 * imports here: the web bundle includes this module (scripts/build-web.mjs refuses Node globals).
 * See src/train/checkpoint.ts for the directory layout.
 */
import type { AutoregressiveModel } from '../models/model.js';
import type { Tensor } from '../tensor/tensor.js';
import type { AdamState } from '../nn/adam.js';
import type { WeightAverageState } from '../nn/weight-average.js';
import { ConfigError, parseModelConfig, type ModelConfig } from '../models/config.js';
import { decodeSafetensors, encodeSafetensors, type SafetensorsContents, type RawTensor, type WrittenDtype } from './safetensors.js';

export const CHECKPOINT_FORMAT = 'pixelcnn-checkpoint';
export const CHECKPOINT_VERSION = 1;
export const CONFIG_FILE = 'config.json';
export const MODEL_FILE = 'model.safetensors';
export const OPTIMIZER_FILE = 'optimizer.safetensors';

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

/** What a checkpoint holds (src/train/checkpoint.ts describes the files). */
export interface CheckpointContents {
  modelConfig: ModelConfig;
  params: Map<string, Tensor>;
  /** Trainer state (step, epoch, data position, options, data set), written into config.json. */
  training?: TrainingState;
  metrics?: Record<string, number>;
  optimizer?: AdamState;
  /** With `optimizer` only: `params` are the weight average and this holds the live weights. */
  average?: WeightAverageState;
  /**
   * How model.safetensors stores the weights (default F32). F16 halves the file for shipping;
   * the weights are rounded, so it is refused with an optimizer state (a run resumes exactly).
   */
  weightsDtype?: WrittenDtype;
}

/** A checkpoint's files as bytes: what saveCheckpoint writes and the page downloads. */
export interface CheckpointFiles {
  /** config.json's text. */
  config: string;
  /** model.safetensors. */
  model: Uint8Array;
  /** optimizer.safetensors, when the contents hold an optimizer state. */
  optimizer: Uint8Array | null;
}

/** A fresh id for one save (the time in base 36, then 12 random hex digits): sorts by time. */
export function newGeneration(): string {
  const random = crypto.getRandomValues(new Uint8Array(6));
  return `${Date.now().toString(36)}-${Array.from(random, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/**
 * The one writer of a checkpoint's files: config.json's text and the safetensors bytes, every
 * file stamped with `generation`; `where` (a directory, or a name in the browser) prefixes errors.
 * Refuses a model config that loading would refuse. Values are not checked here (saveCheckpoint
 * refuses non-finite ones with its own message).
 */
export function encodeCheckpoint(c: CheckpointContents, generation: string, where: string): CheckpointFiles {
  // Never write a config.json that loading would refuse (a library caller's object may be anything).
  try {
    parseModelConfig(c.modelConfig, { where });
  } catch (e) {
    throw e instanceof ConfigError ? new CheckpointError(e.message) : e;
  }
  if (c.average && !c.optimizer) throw new CheckpointError(`${where}: a weight average is saved with the optimizer state only`);
  if (c.weightsDtype === 'F16' && c.optimizer) throw new CheckpointError(`${where}: float16 weights are for shipping a model, not for resuming (no optimizer state)`);
  const tensors = new Map<string, RawTensor>();
  for (const [name, p] of c.params) tensors.set(name, { shape: [...p.shape], data: p.data });
  const config: Record<string, unknown> = {
    format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, model: { ...c.modelConfig },
    ...(c.training ? { training: c.training } : {}),
    ...(c.metrics ? { metrics: c.metrics } : {}),
    created: new Date().toISOString(), generation,
  };
  return {
    config: JSON.stringify(config, null, 2) + '\n',
    model: encodeSafetensors(tensors, { format: 'pt', generation }, c.weightsDtype),
    optimizer: c.optimizer ? encodeOptimizer(c.optimizer, c.average ?? null, c.params, generation) : null,
  };
}

function encodeOptimizer(state: AdamState, average: WeightAverageState | null, params: Map<string, Tensor>, generation: string): Uint8Array {
  const tensors = new Map<string, RawTensor>();
  const shapeOf = (name: string, data: Float32Array) => {
    const p = params.get(name);
    return p && p.size === data.length ? [...p.shape] : [data.length];
  };
  for (const [name, m] of state.m) tensors.set(`m.${name}`, { shape: shapeOf(name, m), data: m });
  for (const [name, v] of state.v) tensors.set(`v.${name}`, { shape: shapeOf(name, v), data: v });
  const metadata: Record<string, string> = { step: String(state.step), generation };
  if (average) {
    for (const [name, w] of average.live) tensors.set(`w.${name}`, { shape: shapeOf(name, w), data: w });
    metadata.average_decay = String(average.decay);
    metadata.average_updates = String(average.updates);
  }
  return encodeSafetensors(tensors, metadata);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Parses and validates the text of a config.json; `where` (a path, or a name in the browser)
 * prefixes every error message. Checks the format and version, parses "model" strictly as a
 * ModelConfig (every field required, no unknown keys: src/models/config.ts), checks that
 * "training" is a valid training state (parseTrainingState) and "metrics" an object when present.
 * Returns the whole object; other fields are not checked.
 */
export function parseCheckpointConfig(text: string, where: string): Record<string, unknown> & { model: ModelConfig; training?: TrainingState } {
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
  const training = c.training === undefined ? undefined : parseTrainingState(c.training, where);
  if (c.metrics !== undefined && !isObject(c.metrics)) throw bad('"metrics" is not an object');
  return { ...c, model, training };
}

/** Where a training run is: everything needed to continue it exactly. */
export interface TrainPosition {
  step: number;
  epoch: number;
  /** Position within the epoch's permutation. */
  indexInEpoch: number;
  imagesSeen: number;
  elapsedSeconds: number;
}

/** The data set a run trained on, as the command line named it (null: the default was used). */
export interface DatasetRecord {
  name: string;
  dataDir: string | null;
  colour: string | null;
  binarise: string | null;
  limit: number | null;
  /** emoji --size; absent in checkpoints written before it existed (then the default, 32). */
  size?: number | null;
}

/** config.json's "training": the position, the trainer's options, and the data set. */
export interface TrainingState extends TrainPosition {
  options?: Record<string, unknown>;
  /** Absent in checkpoints written before it was recorded (they held only the set's name). */
  dataset?: DatasetRecord;
}

/** Counts above this are not from a real run (and would lose precision as float64 sums). */
const MAX_COUNT = 2 ** 48;

/**
 * Validates config.json's "training" (`where` prefixes messages): step, epoch, indexInEpoch and
 * imagesSeen are integers in [0, 2^48], elapsedSeconds a finite number ≥ 0, "options" an object and
 * "dataset" a data-set record when present (an older checkpoint's plain set name is dropped).
 */
export function parseTrainingState(value: unknown, where: string): TrainingState {
  const bad = (msg: string) => new CheckpointError(`${where}: ${msg}`);
  if (!isObject(value)) throw bad('"training" is not an object');
  const count = (key: keyof TrainPosition): number => {
    const v = value[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_COUNT) {
      throw bad(`"training.${key}" must be an integer in [0, 2^48], got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const elapsed = value.elapsedSeconds;
  if (typeof elapsed !== 'number' || !Number.isFinite(elapsed) || elapsed < 0) {
    throw bad(`"training.elapsedSeconds" must be a number ≥ 0, got ${JSON.stringify(elapsed)}`);
  }
  const state: TrainingState = {
    step: count('step'), epoch: count('epoch'), indexInEpoch: count('indexInEpoch'), imagesSeen: count('imagesSeen'), elapsedSeconds: elapsed,
  };
  if (value.options !== undefined) {
    if (!isObject(value.options)) throw bad('"training.options" is not an object');
    state.options = value.options;
  }
  const d = value.dataset;
  if (isObject(d)) {
    const text = (key: keyof DatasetRecord): string | null => {
      const v = d[key] ?? null;
      if (v !== null && typeof v !== 'string') throw bad(`"training.dataset.${key}" must be a string or null, got ${JSON.stringify(v)}`);
      return v;
    };
    const name = text('name');
    if (name === null) throw bad('"training.dataset.name" is missing');
    const limit = d.limit ?? null;
    if (limit !== null && (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_COUNT)) {
      throw bad(`"training.dataset.limit" must be a positive integer or null, got ${JSON.stringify(limit)}`);
    }
    const size = d.size ?? null;
    if (size !== null && (typeof size !== 'number' || !Number.isInteger(size) || size < 1 || size > 65536)) {
      throw bad(`"training.dataset.size" must be a positive integer or null, got ${JSON.stringify(size)}`);
    }
    state.dataset = { name, dataDir: text('dataDir'), colour: text('colour'), binarise: text('binarise'), limit };
    if (d.size !== undefined) state.dataset.size = size;
  } else if (d !== undefined && typeof d !== 'string') {
    throw bad(`"training.dataset" must be an object, got ${JSON.stringify(d)}`);
  }
  return state;
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
 * Checks that `params` hold exactly the parameters named in `expected` with those shapes (one
 * error lists every problem, ten of each kind at most); run before a model is built as well, so a
 * config that asks for a huge model next to a small weights file fails without allocating it.
 */
export function checkParameterShapes(expected: Map<string, readonly number[]>, params: Map<string, RawTensor>, source: string, arch: string): void {
  const missing: string[] = [], extra: string[] = [], misShaped: string[] = [];
  for (const [name, shape] of expected) {
    const t = params.get(name);
    const size = shape.reduce((a, b) => a * b, 1);
    if (!t) missing.push(name);
    else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      misShaped.push(`${name} (checkpoint [${t.shape.join(', ')}], model [${shape.join(', ')}])`);
    } else if (t.data.length !== size) {
      misShaped.push(`${name} (checkpoint holds ${t.data.length} values, model needs ${size})`);
    }
  }
  for (const name of params.keys()) if (!expected.has(name)) extra.push(name);
  if (missing.length || extra.length || misShaped.length) {
    const list = (names: string[], sep: string) => names.slice(0, 10).join(sep) + (names.length > 10 ? ` and ${names.length - 10} more` : '');
    const parts = [
      missing.length ? `missing: ${list(missing, ', ')}` : '',
      extra.length ? `unexpected: ${list(extra, ', ')}` : '',
      misShaped.length ? `wrong shape: ${list(misShaped, '; ')}` : '',
    ].filter(Boolean);
    throw new CheckpointError(`${source}: the parameters do not fit the ${arch} model; ${parts.join('; ')}`);
  }
}

/**
 * Copies checkpoint parameters into a model. Every model parameter must be present with exactly
 * its shape and no others may be there (one error lists every problem); values must be finite.
 * Nothing is copied unless everything checks out.
 */
export function loadParamsInto(model: AutoregressiveModel, params: Map<string, RawTensor>, source: string): void {
  const own = model.parameters();
  checkParameterShapes(new Map([...own].map(([name, p]) => [name, p.shape])), params, source, model.config.arch);
  for (const [name, t] of params) {
    const d = t.data;
    for (let i = 0; i < d.length; i++) {
      if (!Number.isFinite(d[i])) throw new CheckpointError(`${source}: parameter '${name}' holds a non-finite value (${d[i]} at index ${i})`);
    }
    // weight_norm's direction v (torch's name): w = g · v/‖v‖ per slice of axis 0 needs ‖v‖ > 0.
    if (name.endsWith('.weight_v') && t.shape.length > 0 && t.shape[0] > 0) {
      const n = t.shape[0], len = d.length / n;
      for (let r = 0; r < n; r++) {
        if (d.subarray(r * len, (r + 1) * len).every((v) => v === 0)) {
          throw new CheckpointError(`${source}: parameter '${name}' is zero in slice ${r} of its first axis (weight normalisation divides by its norm)`);
        }
      }
    }
  }
  for (const [name, p] of own) p.data.set(params.get(name)!.data);
}
