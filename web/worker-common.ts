/**
 * What both workers of the page (worker.ts, sampling; train-worker.ts, training) do alike: run the
 * wasm backend (the C++ kernels compiled to WebAssembly, assets/pixelcnn.wasm), or the js backend
 * when that cannot load. The wasm backend runs one thread per core where the page is cross-origin
 * isolated (`pixelcnn serve` sends the headers): this worker plus Web Workers of its own
 * (wasm-thread.ts); one thread elsewhere (no SharedArrayBuffer).
 */
import { useBackend } from '../src/backend/index.js';
import { initWasm } from '../src/backend/wasm.js';
import type { WasmSpawner } from '../src/backend/wasm-thread.js';
import type { BackendInfo } from './protocol.js';

/** Starts a wasm thread as a Web Worker (assets/wasm-thread.js, next to this worker's script). */
const spawnWebThread: WasmSpawner = (start) => {
  const worker = new Worker(new URL('wasm-thread.js', self.location.href));
  const ready = new Promise<void>((resolve, reject) => {
    worker.onmessage = () => resolve();
    worker.onerror = (e) => reject(new Error(e.message));
  });
  worker.postMessage(start);
  return { ready, terminate: () => worker.terminate() };
};

/** Compiles the wasm module (next to the worker's script) and selects its backend, else js. */
export async function startBackend(): Promise<BackendInfo> {
  try {
    const addon = await initWasm(fetch(new URL('pixelcnn.wasm', self.location.href)),
      { threads: Math.min(navigator.hardwareConcurrency || 1, 1024), spawn: spawnWebThread });
    useBackend('wasm');
    const n = addon.getThreads();
    return { name: 'wasm', detail: `${addon.isa()}, ${n} thread${n === 1 ? '' : 's'}` };
  } catch (e) {
    useBackend('js');
    return { name: 'js', detail: `wasm unavailable: ${e instanceof Error ? e.message : String(e)}` };
  }
}
