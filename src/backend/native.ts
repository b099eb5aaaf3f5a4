import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Conv2dDims, Kernels } from './kernels.js';
import { jsKernels } from './js/index.js';

/**
 * Loader and binding of the C++ addon (native/, built by `npm install` through node-gyp).
 *
 * A kernel's binding takes the arguments of its Kernels method in the same order, so that
 * nativeKernels hands the addon's function over as it is: adding a kernel needs nothing here.
 * The exceptions are the convolutions, whose bindings take the Conv2dDims as plain numbers (so
 * that a call costs no property lookups on the C++ side), adapted below.
 */
type Adapted = 'conv2dForward' | 'conv2dBackwardData' | 'conv2dBackwardFilter';

export interface NativeAddon extends Omit<Kernels, 'name' | Adapted> {
  conv2dForward(out: Float32Array, x: Float32Array, w: Float32Array, bias: Float32Array | null,
                B: number, I: number, O: number, H: number, W: number, KH: number, KW: number,
                taps: Int32Array, residual: Float32Array | null, reluInput: boolean): void;
  conv2dBackwardData(dx: Float32Array, dout: Float32Array, w: Float32Array,
                     B: number, I: number, O: number, H: number, W: number, KH: number, KW: number,
                     taps: Int32Array, beta: number, gate: Float32Array | null): void;
  conv2dBackwardFilter(dw: Float32Array, dbias: Float32Array | null, dout: Float32Array, x: Float32Array,
                       B: number, I: number, O: number, H: number, W: number, KH: number, KW: number,
                       taps: Int32Array, reluInput: boolean): void;
  setThreads(n: number): void;
  getThreads(): number;
  /** e.g. 'avx2+fma' or 'generic' */
  isa(): string;
  /**
   * The cached (incremental) residual-PixelCNN sampler's whole generation loop for positions
   * [start, end) (native/src/sampler.cc); optional: older builds lack it. Arguments are laid out
   * by PixelCnnIncremental.nativeGenerator (src/sample/incremental/pixelcnn.ts); x, labels, caches
   * and rngState are updated in place; logitsOut (or null) receives the logits of every draw.
   */
  sampleCachedPixelCnn?(weights: Float32Array, meta: Int32Array, dims: Int32Array, x: Float32Array,
                        labels: Uint8Array, caches: Float32Array, start: number, end: number,
                        temperature: number, rngState: Uint32Array, logitsOut: Float32Array | null): void;
}

let cached: NativeAddon | null | undefined;
let loadError = '';

function packageRoot(): string {
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

/**
 * The addon as the Kernels interface: every kernel of the js backend (the reference, which has
 * them all) is the addon's function of the same name, except the adapted convolutions. A kernel
 * the addon lacks (an old build) is an error naming it.
 */
export function nativeKernels(addon: NativeAddon): Kernels {
  const dims = (d: Conv2dDims) =>
    [d.batch, d.inChannels, d.outChannels, d.height, d.width, d.kernelH, d.kernelW] as const;
  const adapted: Pick<Kernels, Adapted> = {
    conv2dForward: (out, x, w, bias, d, taps, residual, reluInput) =>
      addon.conv2dForward(out, x, w, bias, ...dims(d), taps, residual ?? null, !!reluInput),
    conv2dBackwardData: (dx, dout, w, d, taps, beta, gate) =>
      addon.conv2dBackwardData(dx, dout, w, ...dims(d), taps, beta, gate),
    conv2dBackwardFilter: (dw, dbias, dout, x, d, taps, reluInput) =>
      addon.conv2dBackwardFilter(dw, dbias, dout, x, ...dims(d), taps, !!reluInput),
  };
  const direct: Partial<Record<keyof Kernels, unknown>> = {};
  for (const name of Object.keys(jsKernels) as (keyof Kernels)[]) {
    if (name === 'name' || name in adapted) continue;
    const f: unknown = Reflect.get(addon, name);
    if (typeof f !== 'function') throw new Error(`the native addon has no kernel '${name}' (an old build: run npm run build:native)`);
    direct[name] = f;
  }
  return { ...(direct as Omit<Kernels, 'name' | Adapted>), ...adapted, name: 'native' };
}
