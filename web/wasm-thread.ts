/**
 * An extra thread of the wasm backend, started by the page's sampling or training worker
 * (worker-common.ts): its first message is its WasmThreadStart; it then runs kernels' tasks until
 * that worker ends.
 */
import { runWasmThread, type WasmThreadStart } from '../src/backend/wasm-thread.js';

self.onmessage = (e: MessageEvent<WasmThreadStart>) => runWasmThread(e.data, () => self.postMessage('ready'));
