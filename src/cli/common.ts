import { accessSync, constants, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../train/atomic-write.js';
import { UsageError } from './args.js';
import { activeAddon, useBackend, kernels, type BackendName } from '../backend/index.js';
import type { AutoregressiveModel } from '../models/index.js';
import { encodeGrid, levelsToPixels } from '../sample/png-grid.js';

/** Applies --backend / --threads before any kernel runs. */
export function setupBackend(flags: { backend?: BackendName; threads?: number }): string {
  const k = flags.backend ? useBackend(flags.backend) : kernels();
  const addon = activeAddon();
  // The wasm backend starts its threads at its first kernel call, so none is started in vain.
  if (addon && flags.threads !== undefined) addon.setThreads(flags.threads);
  return addon ? `${k.name} (${addon.isa()}, ${addon.getThreads()} thread${addon.getThreads() === 1 ? '' : 's'})` : 'js';
}

export { loadModel } from '../train/model-io.js';

/**
 * Checks, before any work, that `path` (given by `flag`) can be written as a file: its folder
 * exists and is writable, and it is not a directory, FIFO or other non-regular file (which the
 * atomic rename would replace). Otherwise the error would come after sampling, from deep inside.
 */
export function checkOutputFile(flag: string, path: string): void {
  const dir = dirname(path);
  let st;
  try { st = statSync(dir); } catch { throw new UsageError(`${flag} ${path}: folder ${dir} does not exist`); }
  if (!st.isDirectory()) throw new UsageError(`${flag} ${path}: ${dir} is not a folder`);
  try { accessSync(dir, constants.W_OK); } catch { throw new UsageError(`${flag} ${path}: folder ${dir} is not writable`); }
  let target;
  try { target = statSync(path); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new UsageError(`${flag} ${path}: ${(e as NodeJS.ErrnoException).code === 'ELOOP' ? 'symlink loop' : (e as Error).message}`);
  }
  if (!target.isFile()) throw new UsageError(`${flag} ${path}: exists and is ${target.isDirectory() ? 'a directory' : 'not a regular file'}, expected a PNG file to write`);
}

/** Writes level labels (n, C, H, W) as a PNG grid, atomically. */
export function writeSampleGrid(path: string, labels: Uint8Array, n: number, model: AutoregressiveModel,
                                height: number, width: number, grid: { cols?: number; scale?: number } = {}): void {
  const pixels = levelsToPixels(labels, model.config.levels);
  writeFileAtomic(path, encodeGrid(pixels, n, model.config.channels, height, width, grid));
}

export function fmt(x: number, digits = 4): string {
  return Number.isFinite(x) ? x.toFixed(digits) : String(x);
}
