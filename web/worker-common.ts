/**
 * What both workers of the page (worker.ts, sampling; train-worker.ts, training) do alike: run the
 * wasm backend (the C++ kernels compiled to WebAssembly, assets/pixelcnn.wasm), or the js backend
 * when that cannot load, and sample with the best sampler a model has.
 */
import { sampleCached } from '../src/sample/cached.js';
import { sampleNaive, type SampleOptions } from '../src/sample/naive.js';
import type { AutoregressiveModel } from '../src/models/index.js';
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

/**
 * The cached sampler, or the naive one for an architecture the cached sampler does not cover yet
 * (it says so before drawing anything, so nothing has been consumed from the options' callbacks).
 */
export function sampleBest(m: AutoregressiveModel, o: SampleOptions): Uint8Array {
  try {
    return sampleCached(m, o);
  } catch (e) {
    if (e instanceof Error && /cached sampling is not implemented/.test(e.message)) return sampleNaive(m, o);
    throw e;
  }
}
