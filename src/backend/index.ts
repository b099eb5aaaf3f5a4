import type { BackendName, Kernels } from './kernels.js';
import { jsKernels } from './js/index.js';
import { loadNativeAddon, nativeKernels, nativeLoadError } from './native.js';

export type { BackendName, Conv2dDims, Kernels } from './kernels.js';
export { jsKernels } from './js/index.js';

let active: Kernels | null = null;
let warned = false;

/** The native backend's kernels, or null when the addon is unavailable. */
export function tryNativeKernels(): Kernels | null {
  const addon = loadNativeAddon();
  return addon ? nativeKernels(addon) : null;
}

/**
 * The kernels every op uses. Chosen once: PIXELCNN_BACKEND=js|native if set, else native when the
 * addon loads, else js (with one warning saying why).
 */
export function kernels(): Kernels {
  if (active) return active;
  // In a browser there is no process and no addon: the js backend.
  if (typeof process === 'undefined') return (active = jsKernels);
  const wanted = process.env.PIXELCNN_BACKEND;
  if (wanted !== undefined && wanted !== '' && wanted !== 'js' && wanted !== 'native') {
    throw new Error(`PIXELCNN_BACKEND must be 'js' or 'native', got '${wanted}'`);
  }
  if (wanted === 'js') return (active = jsKernels);
  const native = tryNativeKernels();
  if (native) return (active = native);
  if (wanted === 'native') {
    throw new Error(`PIXELCNN_BACKEND=native but the native addon cannot load: ${nativeLoadError()}`);
  }
  if (!warned) {
    warned = true;
    process.emitWarning(`pixelcnn: native addon unavailable, using the slower js backend (${nativeLoadError()})`);
  }
  return (active = jsKernels);
}

/** Switch backend at run time (tests and benchmarks compare the two). */
export function useBackend(name: BackendName): Kernels {
  if (name === 'js') return (active = jsKernels);
  const native = tryNativeKernels();
  if (!native) throw new Error(`native backend unavailable: ${nativeLoadError()}`);
  return (active = native);
}

export function backendName(): BackendName {
  return kernels().name;
}
