import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { packageRoot } from './native.js';
import type { WasmSpawner } from './wasm-thread.js';

/**
 * What the wasm backend takes from Node: the module's file (the package ships wasm/pixelcnn.wasm,
 * built by scripts/build-wasm.mjs) and its threads (worker_threads). The page's bundle replaces
 * this module (scripts/build-web.mjs): there, the page's workers fetch the module, start their
 * threads as Web Workers and hand both to initWasm (src/backend/wasm.ts, web/worker-common.ts).
 */
export function wasmFile(): string {
  return join(packageRoot(), 'wasm', 'pixelcnn.wasm');
}

export function readWasmFile(): Uint8Array<ArrayBuffer> {
  const file = wasmFile();
  if (!existsSync(file)) throw new Error(`${file} does not exist (reinstall the package, or build it with node scripts/build-wasm.mjs)`);
  return new Uint8Array(readFileSync(file));
}

/** Starts a worker_thread running runWasmThread (wasm-thread-node.ts); unref'd, so it never keeps Node alive. */
const spawnNodeThread: WasmSpawner = (start) => {
  // No inherited Node flags: the thread only runs wasm, and some (--input-type) refuse a file.
  const worker = new Worker(new URL('./wasm-thread-node.js', import.meta.url), { workerData: start, execArgv: [] });
  worker.unref();
  const ready = new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject); // and a later error is left to the 'error' listener below
  });
  worker.on('error', () => {}); // a failed thread takes no tasks: the others run them
  return { ready, terminate: () => void worker.terminate() };
};

/**
 * The wasm backend's threads in Node: PIXELCNN_THREADS if set (as for the native addon; out of
 * range is loadWasmAddon's error), else all cores.
 */
export function nodeWasmThreads(): { threads: number; spawn: WasmSpawner } {
  const env = Number(process.env.PIXELCNN_THREADS ?? '');
  return { threads: Number.isInteger(env) && env > 0 ? env : availableParallelism(), spawn: spawnNodeThread };
}
