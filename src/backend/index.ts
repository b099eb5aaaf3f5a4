import type { BackendName, Kernels } from './kernels.js';
import type { KernelAddon } from './addon.js';
import { jsKernels } from './js/index.js';
import { loadNativeAddon, nativeKernels, nativeLoadError } from './native.js';
import { loadWasmAddon, wasmKernels, wasmLoadError, type WasmAddon } from './wasm.js';

export type { BackendName, Conv2dDims, Kernels } from './kernels.js';
export { jsKernels } from './js/index.js';

const BACKENDS: readonly BackendName[] = ['js', 'native', 'wasm'];

let active: Kernels | null = null;
let warned = false;

/** The native backend's kernels, or null when the addon is unavailable. */
export function tryNativeKernels(): Kernels | null {
  const addon = loadNativeAddon();
  return addon ? nativeKernels(addon) : null;
}

/** The wasm backend's kernels, or null when the module is unavailable (wasmLoadError says why). */
export function tryWasmKernels(): Kernels | null {
  const addon = loadWasmAddon();
  return addon ? wasmKernels(addon) : null;
}

/**
 * The kernels every op uses. Chosen once: PIXELCNN_BACKEND=js|native|wasm if set, else native
 * when the addon loads, else wasm when the module loads (with one warning saying why not native),
 * else js (with one warning saying why neither). In the page: wasm once initWasm has loaded it,
 * else js.
 */
export function kernels(): Kernels {
  if (active) return active;
  // In a browser there is no process and no addon.
  if (typeof process === 'undefined') return (active = tryWasmKernels() ?? jsKernels);
  const wanted = process.env.PIXELCNN_BACKEND;
  if (wanted !== undefined && wanted !== '' && !BACKENDS.some((b) => b === wanted)) {
    throw new Error(`PIXELCNN_BACKEND must be 'js', 'native' or 'wasm', got '${wanted}'`);
  }
  if (wanted === 'js') return (active = jsKernels);
  if (wanted === 'wasm') return (active = useBackend('wasm'));
  const native = tryNativeKernels();
  if (native) return (active = native);
  if (wanted === 'native') {
    throw new Error(`PIXELCNN_BACKEND=native but the native addon cannot load: ${nativeLoadError()}`);
  }
  const wasm = tryWasmKernels();
  if (!warned) {
    warned = true;
    process.emitWarning(wasm
      ? `pixelcnn: native addon unavailable, using the wasm backend (${nativeLoadError()})`
      : `pixelcnn: native addon and wasm module unavailable, using the slower js backend (${nativeLoadError()}; ${wasmLoadError()})`);
  }
  return (active = wasm ?? jsKernels);
}

/** Switch backend at run time (tests and benchmarks compare them). */
export function useBackend(name: BackendName): Kernels {
  if (name === 'js') return (active = jsKernels);
  if (name === 'wasm') {
    const wasm = tryWasmKernels();
    if (!wasm) throw new Error(`wasm backend unavailable: ${wasmLoadError()}`);
    return (active = wasm);
  }
  const native = tryNativeKernels();
  if (!native) throw new Error(`native backend unavailable: ${nativeLoadError()}`);
  return (active = native);
}

export function backendName(): BackendName {
  return kernels().name;
}

/**
 * The bindings behind the active kernels (the native addon or the wasm module), or null for js:
 * for what runs whole loops in C++ (the cached sampler) and for the thread count.
 */
export function activeAddon(): KernelAddon | WasmAddon | null {
  const name = kernels().name;
  return name === 'native' ? loadNativeAddon() : name === 'wasm' ? loadWasmAddon() : null;
}
