/**
 * What both workers of the page (worker.ts, sampling; train-worker.ts, training) do alike: run the
 * wasm backend (the C++ kernels compiled to WebAssembly, assets/pixelcnn.wasm), or the js backend
 * when that cannot load.
 */
import { useBackend } from '../src/backend/index.js';
import { initWasm } from '../src/backend/wasm.js';
import type { BackendInfo } from './protocol.js';

/** Compiles the wasm module (next to the worker's script) and selects its backend, else js. */
export async function startBackend(): Promise<BackendInfo> {
  try {
    const addon = await initWasm(fetch(new URL('pixelcnn.wasm', self.location.href)));
    useBackend('wasm');
    return { name: 'wasm', detail: `${addon.isa()}, ${addon.getThreads()} thread` };
  } catch (e) {
    useBackend('js');
    return { name: 'js', detail: `wasm unavailable: ${e instanceof Error ? e.message : String(e)}` };
  }
}
