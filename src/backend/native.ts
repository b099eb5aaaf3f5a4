import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kernels } from './kernels.js';
import { addonKernels, type KernelAddon } from './addon.js';

/**
 * Loader of the C++ addon (native/, built by `npm install` through node-gyp); its functions are
 * the kernels' bindings (KernelAddon, src/backend/addon.ts).
 */
export type NativeAddon = KernelAddon;

let cached: NativeAddon | null | undefined;
let loadError = '';

/** The package's root folder (where package.json is), for the files it ships. */
export function packageRoot(): string {
  // dist/src/backend/native.js → package root is three levels up; src/backend/native.ts (tsx) two.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  return dir;
}

/** The addon, or null if it was not built or cannot load (the reason is in nativeLoadError()). */
export function loadNativeAddon(): NativeAddon | null {
  if (cached !== undefined) return cached;
  const file = join(packageRoot(), 'build', 'Release', 'pixelcnn_native.node');
  try {
    if (!existsSync(file)) throw new Error(`${file} does not exist (the native build did not run or failed)`);
    const require = createRequire(import.meta.url);
    const addon = require(file) as NativeAddon;
    const threads = Number(process.env.PIXELCNN_THREADS ?? '');
    if (Number.isInteger(threads) && threads > 0) addon.setThreads(threads);
    cached = addon;
  } catch (e) {
    loadError = e instanceof Error ? e.message : String(e);
    cached = null;
  }
  return cached;
}

export function nativeLoadError(): string {
  return loadError;
}

/** The addon as the Kernels interface. */
export function nativeKernels(addon: NativeAddon): Kernels {
  return addonKernels(addon, 'native', 'the native addon', 'npm run build:native');
}
