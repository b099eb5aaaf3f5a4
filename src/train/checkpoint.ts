import {
  copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync,
  realpathSync, renameSync, rmSync, statSync, symlinkSync,
} from 'node:fs';
import { dirname, join, relative, resolve, isAbsolute } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Tensor } from '../tensor/tensor.js';
import type { AdamState } from '../nn/adam.js';
import type { WeightAverageState } from '../nn/weight-average.js';
import { encodeSafetensors, type RawTensor } from './safetensors.js';
import { fsyncDir, writeFileAtomic } from './atomic-write.js';
import {
  CHECKPOINT_FORMAT, CHECKPOINT_VERSION, CONFIG_FILE, MODEL_FILE, OPTIMIZER_FILE, CheckpointError,
  checkGeneration, decodeCheckpointTensors, parseCheckpointConfig,
} from './checkpoint-format.js';
import { ConfigError, parseModelConfig, type ModelConfig } from '../models/config.js';

// The format's constants and its file-system-free checks live in checkpoint-format.ts (shared
// with the browser page); re-exported so that this module stays the one to import.
export {
  CHECKPOINT_FORMAT, CHECKPOINT_VERSION, CONFIG_FILE, MODEL_FILE, OPTIMIZER_FILE, CheckpointError,
  checkGeneration, decodeCheckpointTensors, loadParamsInto, parseCheckpointConfig,
} from './checkpoint-format.js';

/**
 * A checkpoint is a directory:
 *
 *   config.json            {"format": "pixelcnn-checkpoint", "version": 1, "model": {arch, ...},
 *                           "training": {...}?, "metrics": {...}?, "created": ISO date, "generation": id}
 *   model.safetensors      parameters by name, float32, PyTorch layout; metadata {format: "pt", generation}
 *   optimizer.safetensors  (optional) Adam moments "m.<param>" / "v.<param>"; metadata {step, generation}.
 *                          With a weight average (--ema), model.safetensors holds the average and this
 *                          file also holds the live weights "w.<param>" training resumes from;
 *                          metadata {average_decay, average_updates}
 *   anything else          (samples.png, notes, ...) is carried over unchanged from one save to the next
 *
 * Consistency: directory swap. saveCheckpoint writes a complete new checkpoint into the sibling
 * `<dir>.tmp` (each file fsynced, config.json last), hard-links (or copies) every other entry of
 * the current directory into it, and then swaps:
 *
 *   rename <dir> → <dir>.old;  rename <dir>.tmp → <dir>;  remove <dir>.old
 *
 * (rename cannot replace a non-empty directory, hence the two steps.) A crash at any point leaves
 * one complete checkpoint findable: before the first rename <dir> is the old one (a stale
 * <dir>.tmp is ignored and removed by the next save); between the renames <dir> is missing and
 * loadCheckpoint falls back to <dir>.old; after the second rename <dir> is the new one (a stale
 * <dir>.old is removed by the next save). Files are never mixed across generations; as a second
 * guard every file carries the same random "generation" id and loadCheckpoint checks they agree
 * (files without one, e.g. written by scripts/torch_checkpoint.py, are not checked).
 *
 * Not safe against two processes saving to the same directory at once, and a file written into
 * <dir> by someone else while a save is in progress may be lost.
 */

const OWN_FILES = new Set([CONFIG_FILE, MODEL_FILE, OPTIMIZER_FILE]);
/** Left behind by an interrupted writeFileAtomic; not carried over. */
const STALE_TMP = /\.tmp-\d+-[0-9a-f]+$/;

export interface CheckpointContents {
  modelConfig: ModelConfig;
  params: Map<string, Tensor>;
  /** Trainer state (step, epoch, data position, options, ...), written verbatim into config.json. */
  training?: Record<string, unknown>;
  metrics?: Record<string, number>;
  optimizer?: AdamState;
  /** With `optimizer` only: `params` are the weight average and this holds the live weights. */
  average?: WeightAverageState;
}

export interface LoadedCheckpoint {
  /** The directory actually read: `dir`, or `<dir>.old` after a save interrupted mid-swap. */
  dir: string;
  modelConfig: ModelConfig;
  params: Map<string, RawTensor>;
  training?: Record<string, unknown>;
  /** Metric values; non-finite values (stored as JSON null) come back as NaN. */
  metrics?: Record<string, number>;
  /** Adam state from optimizer.safetensors, or null when the checkpoint has none. */
  optimizer: AdamState | null;
  /** The live weights when `params` are their average (training with --ema), or null. */
  average: WeightAverageState | null;
  created?: string;
}

export const tmpDirOf = (dir: string): string => `${dir}.tmp`;
export const oldDirOf = (dir: string): string => `${dir}.old`;

/** Writes a checkpoint directory (created if needed), replacing any previous one atomically. */
export function saveCheckpoint(dir: string, c: CheckpointContents): void {
  // Never write a config.json that loadCheckpoint would refuse (a library caller's object may be anything).
  try {
    parseModelConfig(c.modelConfig, { where: dir });
  } catch (e) {
    throw e instanceof ConfigError ? new CheckpointError(e.message) : e;
  }
  const target = targetPath(dir);
  const tmp = tmpDirOf(target), old = oldDirOf(target);
  mkdirSync(dirname(target), { recursive: true });
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);

  const generation = `${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;
  if (c.average && !c.optimizer) throw new CheckpointError(`${dir}: a weight average is saved with the optimizer state only`);
  if (c.optimizer) writeFileAtomic(join(tmp, OPTIMIZER_FILE), encodeOptimizer(c.optimizer, c.average ?? null, c.params, generation));
  const tensors = new Map<string, RawTensor>();
  for (const [name, p] of c.params) tensors.set(name, { shape: [...p.shape], data: p.data });
  writeFileAtomic(join(tmp, MODEL_FILE), encodeSafetensors(tensors, { format: 'pt', generation }));
  const config: Record<string, unknown> = {
    format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, model: { ...c.modelConfig },
    ...(c.training ? { training: c.training } : {}),
    ...(c.metrics ? { metrics: c.metrics } : {}),
    created: new Date().toISOString(), generation,
  };
  writeFileAtomic(join(tmp, CONFIG_FILE), JSON.stringify(config, null, 2) + '\n');

  const current = existsSync(target) ? target : existsSync(old) ? old : null;
  if (current) {
    for (const entry of readdirSync(current)) {
      if (OWN_FILES.has(entry) || STALE_TMP.test(entry)) continue;
      linkTree(join(current, entry), join(tmp, entry));
    }
  }
  fsyncDir(tmp);

  if (existsSync(target)) {
    // A <dir>.old next to a complete <dir> is left from a save interrupted after its swap.
    rmSync(old, { recursive: true, force: true });
    renameSync(target, old);
  }
  renameSync(tmp, target);
  fsyncDir(dirname(target));
  rmSync(old, { recursive: true, force: true });
}

/** Reads and validates a checkpoint directory (parameters are not checked against a model here). */
export function loadCheckpoint(dir: string): LoadedCheckpoint {
  const from = findCheckpointDir(dir);
  const config = readConfig(from);
  const generation = typeof config.generation === 'string' ? config.generation : null;

  const modelPath = join(from, MODEL_FILE);
  if (!existsSync(modelPath)) throw new CheckpointError(`${modelPath}: missing (the checkpoint has no parameters)`);
  const model = readSafetensors(modelPath);
  checkGeneration(modelPath, model.metadata.generation, generation);
  if (model.tensors.size === 0) throw new CheckpointError(`${modelPath}: holds no tensors`);

  let optimizer: AdamState | null = null, average: WeightAverageState | null = null;
  const optPath = join(from, OPTIMIZER_FILE);
  if (existsSync(optPath)) {
    const opt = readSafetensors(optPath);
    checkGeneration(optPath, opt.metadata.generation, generation);
    ({ optimizer, average } = decodeOptimizer(opt.tensors, opt.metadata, model.tensors, optPath));
  }

  let metrics: Record<string, number> | undefined;
  if (config.metrics !== undefined) {
    metrics = {};
    for (const [k, v] of Object.entries(config.metrics as Record<string, unknown>)) {
      if (typeof v === 'number') metrics[k] = v;
      else if (v === null) metrics[k] = NaN;
    }
  }
  return {
    dir: from,
    modelConfig: config.model,
    params: model.tensors,
    training: config.training as Record<string, unknown> | undefined,
    metrics,
    optimizer,
    average,
    created: typeof config.created === 'string' ? config.created : undefined,
  };
}

/** Merges `metrics` into the checkpoint's config.json (rewritten atomically); other files are untouched. */
export function updateMetrics(dir: string, metrics: Record<string, number>): void {
  const from = findCheckpointDir(dir);
  const config = readConfig(from);
  config.metrics = { ...(config.metrics as Record<string, unknown> | undefined ?? {}), ...metrics };
  writeFileAtomic(join(from, CONFIG_FILE), JSON.stringify(config, null, 2) + '\n');
}

// ---------------------------------------------------------------------------------------------

/** The directory to replace: symlinks resolved, never the working directory or one above it. */
function targetPath(dir: string): string {
  let target = resolve(dir);
  if (existsSync(target)) target = realpathSync(target);
  const rel = relative(target, realpathSync(process.cwd()));
  if (rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))) {
    throw new CheckpointError(`${dir}: a checkpoint directory is replaced on every save, so it cannot be the working directory or contain it; use a subdirectory`);
  }
  return target;
}

function findCheckpointDir(dir: string): string {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new CheckpointError(`${dir}: not a directory`);
    return dir;
  }
  const old = oldDirOf(resolve(dir));
  if (existsSync(join(old, CONFIG_FILE))) return old; // a save was interrupted between its two renames
  throw new CheckpointError(`${dir}: checkpoint directory does not exist`);
}

function readConfig(dir: string): ReturnType<typeof parseCheckpointConfig> {
  const path = join(dir, CONFIG_FILE);
  if (!existsSync(path)) throw new CheckpointError(`${path}: missing (not a checkpoint directory, or the first save did not finish)`);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CheckpointError(`${path}: cannot read (${(e as Error).message})`);
  }
  return parseCheckpointConfig(text, path);
}

function readSafetensors(path: string): { tensors: Map<string, RawTensor>; metadata: Record<string, string> } {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new CheckpointError(`${path}: cannot read (${(e as Error).message})`);
  }
  return decodeCheckpointTensors(buf, path);
}

function encodeOptimizer(state: AdamState, average: WeightAverageState | null, params: Map<string, Tensor>, generation: string): Buffer {
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

function decodeOptimizer(tensors: Map<string, RawTensor>, metadata: Record<string, string>,
                         params: Map<string, RawTensor>, path: string): { optimizer: AdamState; average: WeightAverageState | null } {
  const bad = (msg: string) => new CheckpointError(`${path}: ${msg}`);
  const step = Number(metadata.step);
  if (metadata.step === undefined || !Number.isSafeInteger(step) || step < 0) {
    throw bad(`metadata "step" must be a non-negative integer, got ${JSON.stringify(metadata.step)}`);
  }
  const m = new Map<string, Float32Array>(), v = new Map<string, Float32Array>(), w = new Map<string, Float32Array>();
  for (const [key, t] of tensors) {
    const which = key.startsWith('m.') ? m : key.startsWith('v.') ? v : key.startsWith('w.') ? w : null;
    if (!which) throw bad(`unexpected tensor '${key}' (expected m.<param>, v.<param> or w.<param>)`);
    const name = key.slice(2), p = params.get(name);
    if (!p) throw bad(`'${key}' is for a parameter that model.safetensors does not have`);
    if (t.data.length !== p.data.length) throw bad(`'${key}' has ${t.data.length} values, parameter '${name}' has ${p.data.length}`);
    which.set(name, t.data);
  }
  for (const name of m.keys()) if (!v.has(name)) throw bad(`has m.${name} but no v.${name}`);
  for (const name of v.keys()) if (!m.has(name)) throw bad(`has v.${name} but no m.${name}`);
  const optimizer = { step, m, v };
  if (w.size === 0 && metadata.average_decay === undefined) return { optimizer, average: null };
  // A weight average: the live weights of every parameter, its decay and update count.
  for (const name of params.keys()) if (!w.has(name)) throw bad(`holds a weight average but no live weights w.${name}`);
  const decay = Number(metadata.average_decay), updates = Number(metadata.average_updates);
  if (metadata.average_decay === undefined || !(decay > 0 && decay < 1)) {
    throw bad(`metadata "average_decay" must be a number in (0, 1), got ${JSON.stringify(metadata.average_decay)}`);
  }
  if (metadata.average_updates === undefined || !Number.isSafeInteger(updates) || updates < 0) {
    throw bad(`metadata "average_updates" must be a non-negative integer, got ${JSON.stringify(metadata.average_updates)}`);
  }
  return { optimizer, average: { decay, updates, live: w } };
}

/** Recreates `src` at `dst` with hard links (copies where linking fails); directories are recreated, symlinks kept as links. */
function linkTree(src: string, dst: string): void {
  const st = lstatSync(src);
  if (st.isDirectory()) {
    mkdirSync(dst);
    for (const entry of readdirSync(src)) linkTree(join(src, entry), join(dst, entry));
  } else if (st.isSymbolicLink()) {
    symlinkSync(readlinkSync(src), dst);
  } else if (st.isFile()) {
    try { linkSync(src, dst); } catch { copyFileSync(src, dst); }
  }
  // Sockets, FIFOs and devices are not carried over.
}
