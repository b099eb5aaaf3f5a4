import { writeFileAtomic } from '../train/atomic-write.js';
import { useBackend, kernels } from '../backend/index.js';
import { loadNativeAddon } from '../backend/native.js';
import type { AutoregressiveModel } from '../models/index.js';
import { encodeGrid, levelsToPixels } from '../sample/png-grid.js';

/** Applies --backend / --threads before any kernel runs. */
export function setupBackend(flags: { backend?: 'js' | 'native'; threads?: number }): string {
  if (flags.threads !== undefined) {
    const addon = loadNativeAddon();
    if (addon) addon.setThreads(flags.threads);
  }
  const k = flags.backend ? useBackend(flags.backend) : kernels();
  const addon = k.name === 'native' ? loadNativeAddon() : null;
  return addon ? `native (${addon.isa()}, ${addon.getThreads()} threads)` : 'js';
}

export { loadModel } from '../train/model-io.js';

/** Writes level labels (n, C, H, W) as a PNG grid, atomically. */
export function writeSampleGrid(path: string, labels: Uint8Array, n: number, model: AutoregressiveModel,
                                height: number, width: number, cols?: number): void {
  const pixels = levelsToPixels(labels, model.config.levels);
  writeFileAtomic(path, encodeGrid(pixels, n, model.config.channels, height, width, { cols }));
}

export function fmt(x: number, digits = 4): string {
  return Number.isFinite(x) ? x.toFixed(digits) : String(x);
}
