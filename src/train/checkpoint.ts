import {
  accessSync, chmodSync, constants as fsConstants, copyFileSync, existsSync, linkSync, lstatSync,
  mkdirSync, readdirSync, readlinkSync, realpathSync, renameSync, rmSync, statSync, symlinkSync,
} from 'node:fs';
import { basename, dirname, join, relative, resolve, isAbsolute } from 'node:path';
import type { AdamState } from '../nn/adam.js';
import type { WeightAverageState } from '../nn/weight-average.js';
import type { RawTensor } from './safetensors.js';
import { fsyncDir, writeFileAtomic } from './atomic-write.js';
import {
  CONFIG_FILE, MODEL_FILE, OPTIMIZER_FILE, CheckpointError,
  checkGeneration, decodeCheckpointTensors, encodeCheckpoint, newGeneration, parseCheckpointConfig,
  type CheckpointContents, type TrainingState,
} from './checkpoint-format.js';
import type { ModelConfig } from '../models/config.js';
import { readRegularFile, type FileKind } from '../data/files.js';

// The format's constants and its file-system-free checks live in checkpoint-format.ts (shared
// with the browser page); re-exported so that this module stays the one to import.
export {
  CHECKPOINT_FORMAT, CHECKPOINT_VERSION, CONFIG_FILE, MODEL_FILE, OPTIMIZER_FILE, CheckpointError,
  checkGeneration, checkParameterShapes, decodeCheckpointTensors, encodeCheckpoint, loadParamsInto, newGeneration,
  parseCheckpointConfig, parseTrainingState,
  type CheckpointContents, type CheckpointFiles, type DatasetRecord, type TrainPosition, type TrainingState,
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
 *   anything else          (samples.png, the user's notes, ...) is the user's: carried over unchanged
 *                          from one save to the next (hard links; sub-directories recreated with
 *                          their modes), never deleted
 *
 * Consistency: directory swap. saveCheckpoint writes a complete new checkpoint into a hidden
 * sibling `.<name>.pixelcnn-new-<generation>` (each file fsynced, config.json last), links every
 * other entry of the current directory into it, gives it the current directory's mode, and swaps:
 *
 *   rename <dir> → .<name>.pixelcnn-old-<generation>;  rename the new one → <dir>;
 *   move back any entry that appeared in the old one meanwhile;  remove the old one
 *
 * (rename cannot replace a non-empty directory, hence the two steps.) The sibling names carry a
 * fixed marker and a generation id, so they cannot be a user's `<dir>.old` or `<dir>.tmp`, and only
 * siblings with that marker are ever treated as leftovers. A crash at any point leaves one complete
 * checkpoint findable: before the first rename <dir> is the old one (a stale -new- sibling is
 * ignored and removed by the next save); between the renames <dir> is missing and loadCheckpoint
 * falls back to the -old- sibling; after the second rename <dir> is the new one (a stale -old-
 * sibling is removed by the next save). Files are never mixed across generations; as a second
 * guard every file carries the same random "generation" id and loadCheckpoint checks they agree
 * (files without one, e.g. written before the id existed, are not checked).
 *
 * Not safe against two processes saving to the same directory at once.
 */

const OWN_FILES = new Set([CONFIG_FILE, MODEL_FILE, OPTIMIZER_FILE]);
/** Left behind by an interrupted writeFileAtomic (`<name>.tmp-<pid>-<12 hex>`); not carried over. */
const STALE_TMP = /\.tmp-\d+-[0-9a-f]{12}$/;
/** The marker of the swap's sibling directories; nothing without it is ever removed. */
const SWAP_MARKER = 'pixelcnn';
const GENERATION = /^[0-9a-z]+-[0-9a-f]{12}$/;

export interface LoadedCheckpoint {
  /** The directory actually read: `dir`, or its -old- sibling after a save interrupted mid-swap. */
  dir: string;
  modelConfig: ModelConfig;
  params: Map<string, RawTensor>;
  /** The training state, validated (parseTrainingState). */
  training?: TrainingState;
  /** Metric values; non-finite values (stored as JSON null) come back as NaN. */
  metrics?: Record<string, number>;
  /** Adam state from optimizer.safetensors, or null when the checkpoint has none. */
  optimizer: AdamState | null;
  /** The live weights when `params` are their average (training with --ema), or null. */
  average: WeightAverageState | null;
  created?: string;
}

/** The swap's sibling of `target` (an absolute path) for one save. */
function swapDirOf(target: string, kind: 'new' | 'old', generation: string): string {
  return join(dirname(target), `.${basename(target)}.${SWAP_MARKER}-${kind}-${generation}`);
}

/** The swap siblings of `target` left by earlier saves, by kind (and nothing else). */
function swapLeftovers(target: string): { kind: 'new' | 'old'; path: string; generation: string }[] {
  const prefix = `.${basename(target)}.${SWAP_MARKER}-`;
  let entries: string[];
  try { entries = readdirSync(dirname(target)); } catch { return []; }
  const found: { kind: 'new' | 'old'; path: string; generation: string }[] = [];
  for (const e of entries) {
    if (!e.startsWith(prefix)) continue;
    const rest = e.slice(prefix.length), kind = rest.slice(0, 4), generation = rest.slice(4);
    if ((kind === 'new-' || kind === 'old-') && GENERATION.test(generation)) {
      found.push({ kind: kind === 'new-' ? 'new' : 'old', path: join(dirname(target), e), generation });
    }
  }
  // Generations start with the time in base 36: newest last.
  return found.sort((a, b) => a.generation.length - b.generation.length || (a.generation < b.generation ? -1 : 1));
}

/**
 * Whether `dir` holds a checkpoint, or would after recovery from a save interrupted between its
 * renames (then loadCheckpoint reads the left-over old one).
 */
export function checkpointExists(dir: string): boolean {
  return lexists(join(dir, CONFIG_FILE)) || (!existsSync(dir) && recoverableOld(resolve(dir)) !== null);
}

/** The old checkpoint a save interrupted between its renames left, when `target` is missing. */
function recoverableOld(target: string): string | null {
  const olds = swapLeftovers(target).filter((l) => l.kind === 'old' && existsSync(join(l.path, CONFIG_FILE)));
  return olds.length > 0 ? olds[olds.length - 1].path : null;
}

/**
 * Checks before any work that a checkpoint can be saved to `dir`: it is not a file, its parent
 * exists (or can be created) and is writable, and `dir` itself (when it exists) is writable.
 * Throws a CheckpointError naming the path and the problem.
 */
export function checkCheckpointTarget(dir: string): void {
  const target = targetPath(dir);
  let st;
  try { st = statSync(target); } catch { st = null; }
  if (st && !st.isDirectory()) throw new CheckpointError(`${dir}: exists and is not a directory (a checkpoint is a directory)`);
  // The nearest existing ancestor is where the first directory would be created.
  let parent = dirname(target);
  while (!existsSync(parent) && dirname(parent) !== parent) parent = dirname(parent);
  if (!statSync(parent).isDirectory()) throw new CheckpointError(`${dir}: ${parent} is not a directory`);
  for (const d of st ? [dirname(target), target] : [parent]) {
    try {
      accessSync(d, fsConstants.W_OK | fsConstants.X_OK);
    } catch {
      throw new CheckpointError(`${dir}: cannot write into ${d} (permission denied)`);
    }
  }
}

/** Writes a checkpoint directory (created if needed), replacing any previous one atomically. */
export function saveCheckpoint(dir: string, c: CheckpointContents): void {
  // The bytes first (encodeCheckpoint refuses a config that loading would refuse), before any file is touched.
  const generation = newGeneration();
  const files = encodeCheckpoint(c, generation, dir);
  checkFinite(dir, c);
  const target = targetPath(dir);
  mkdirSync(dirname(target), { recursive: true });
  // Leftovers of interrupted saves (only our own marked siblings): a -new- one is incomplete; an
  // -old- one next to a complete <dir> is left from after a swap; without <dir> it is the current one.
  const recovered = existsSync(target) ? null : recoverableOld(target);
  for (const l of swapLeftovers(target)) if (l.path !== recovered) rmSync(l.path, { recursive: true, force: true });

  const tmp = swapDirOf(target, 'new', generation), old = swapDirOf(target, 'old', generation);
  const current = existsSync(target) ? target : recovered;
  mkdirSync(tmp);
  try {
    if (files.optimizer) writeFileAtomic(join(tmp, OPTIMIZER_FILE), files.optimizer);
    writeFileAtomic(join(tmp, MODEL_FILE), files.model);
    writeFileAtomic(join(tmp, CONFIG_FILE), files.config);

    if (current) {
      for (const entry of readdirSync(current)) {
        if (OWN_FILES.has(entry) || STALE_TMP.test(entry)) continue;
        linkTree(join(current, entry), join(tmp, entry));
      }
    }
    // The directory keeps its permissions (a new one has mkdir's, from the umask).
    if (current) chmodSync(tmp, statSync(current).mode & 0o7777);
    fsyncDir(tmp);
  } catch (e) {
    // Nothing was swapped yet: the half-written sibling goes, the checkpoint in <dir> stays as it was.
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }

  if (current === target) renameSync(target, old);
  renameSync(tmp, target);
  fsyncDir(dirname(target));
  const previous = current === target ? old : current;
  if (previous) {
    // Whatever appeared in the old directory while this save ran is the user's: move it across.
    for (const entry of readdirSync(previous)) {
      if (OWN_FILES.has(entry) || STALE_TMP.test(entry) || lexists(join(target, entry))) continue;
      renameSync(join(previous, entry), join(target, entry));
    }
    rmSync(previous, { recursive: true, force: true });
  }
}

/** Reads and validates a checkpoint directory (parameters are not checked against a model here). */
export function loadCheckpoint(dir: string): LoadedCheckpoint {
  const from = findCheckpointDir(dir);
  const config = readConfig(from);
  const generation = typeof config.generation === 'string' ? config.generation : null;

  const modelPath = join(from, MODEL_FILE);
  const model = readSafetensors(modelPath, 'the checkpoint has no parameters');
  checkGeneration(modelPath, model.metadata.generation, generation);
  if (model.tensors.size === 0) throw new CheckpointError(`${modelPath}: holds no tensors`);

  let optimizer: AdamState | null = null, average: WeightAverageState | null = null;
  const optPath = join(from, OPTIMIZER_FILE);
  if (lexists(optPath)) {
    const opt = readSafetensors(optPath, 'removed while reading');
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
    training: config.training,
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
  let st;
  try {
    st = statSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new CheckpointError(`${dir}: cannot read (${(e as Error).message})`);
    const old = recoverableOld(resolve(dir)); // a save was interrupted between its two renames
    if (old) return old;
    throw new CheckpointError(`${dir}: checkpoint directory does not exist`);
  }
  if (!st.isDirectory()) throw new CheckpointError(`${dir}: not a directory`);
  return dir;
}

/** A checkpoint file: only regular files are read (a FIFO or device would block or never end). */
const checkpointFile = (missing: string): FileKind => ({
  expected: 'a regular file (a checkpoint holds plain files)', missing: `missing (${missing})`,
  error: (file, problem) => new CheckpointError(`${file}: ${problem}`),
});

function readCheckpointFile(path: string, missing: string): Buffer {
  return readRegularFile(path, checkpointFile(missing), Number.MAX_SAFE_INTEGER);
}

/** Whether anything (a dangling or looping link included) is at `path`. */
function lexists(path: string): boolean {
  try { lstatSync(path); return true; } catch { return false; }
}

function readConfig(dir: string): ReturnType<typeof parseCheckpointConfig> {
  const path = join(dir, CONFIG_FILE);
  const text = readCheckpointFile(path, 'not a checkpoint directory, or the first save did not finish').toString('utf8');
  return parseCheckpointConfig(text, path);
}

function readSafetensors(path: string, missing: string): { tensors: Map<string, RawTensor>; metadata: Record<string, string> } {
  return decodeCheckpointTensors(readCheckpointFile(path, missing), path);
}

/** Non-finite weights or optimizer state are never written (over a good checkpoint or at all). */
function checkFinite(dir: string, c: CheckpointContents): void {
  const check = (what: string, name: string, d: Float32Array) => {
    for (let i = 0; i < d.length; i++) {
      if (!Number.isFinite(d[i])) {
        throw new CheckpointError(`${dir}: not saved: ${what} '${name}' holds a non-finite value (${d[i]} at index ${i}); training diverged (the checkpoint there is unchanged)`);
      }
    }
  };
  for (const [name, p] of c.params) check('parameter', name, p.data);
  if (c.optimizer) {
    for (const [name, m] of c.optimizer.m) check('Adam first moment', name, m);
    for (const [name, v] of c.optimizer.v) check('Adam second moment', name, v);
  }
  if (c.average) for (const [name, w] of c.average.live) check('live weight', name, w);
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
    const i = t.data.findIndex((x) => !Number.isFinite(x));
    if (i >= 0) throw bad(`tensor '${key}' holds a non-finite value (${t.data[i]} at index ${i}); the optimizer state is corrupt`);
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

/**
 * Recreates `src` at `dst` with hard links (copies where linking fails): directories are recreated
 * with their modes, everything else (files, symlinks, FIFOs, sockets) is linked as it is.
 */
function linkTree(src: string, dst: string): void {
  const st = lstatSync(src);
  if (st.isDirectory()) {
    mkdirSync(dst);
    for (const entry of readdirSync(src)) linkTree(join(src, entry), join(dst, entry));
    chmodSync(dst, st.mode & 0o7777);
    return;
  }
  try {
    linkSync(src, dst);
  } catch (e) {
    if (st.isFile()) copyFileSync(src, dst);
    else if (st.isSymbolicLink()) symlinkSync(readlinkSync(src), dst);
    else throw new CheckpointError(`${src}: cannot carry it into the new checkpoint (${(e as Error).message})`);
  }
}
