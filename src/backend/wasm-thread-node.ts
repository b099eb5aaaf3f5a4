/**
 * The body of one wasm backend thread as a Node worker_thread (started by wasm-file.ts from this
 * file, so that it loads the same way whatever module type the main program uses).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runWasmThread, type WasmThreadStart } from './wasm-thread.js';

runWasmThread(workerData as WasmThreadStart, () => parentPort?.postMessage('ready'));
