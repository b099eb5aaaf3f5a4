/**
 * An extra thread of the wasm backend (src/backend/wasm.ts), as a Node worker_thread or a Web
 * Worker runs it: its own instance of the module over the shared memory, on its own stack,
 * joining the kernels' parallel loops until the worker is terminated.
 */

/** What a worker is started with (structured-cloned: the module and the shared memory travel). */
export interface WasmThreadStart {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  /** The top of this thread's stack in the shared memory (allocated by the calling thread). */
  stackTop: number;
  /** 1 … threads − 1 (the calling thread is 0): which per-thread scratch the thread's tasks use. */
  tid: number;
}

/**
 * The worker's body: never returns. `ready` is called once the instance exists. Node's
 * worker_thread (wasm-thread-node.ts) and the page's Web Worker (web/wasm-thread.ts) run it.
 */
export function runWasmThread(start: WasmThreadStart, ready: () => void): void {
  const { exports } = new WebAssembly.Instance(start.module, { env: { memory: start.memory } });
  const stackPointer = exports.__stack_pointer, loop = exports.pixelcnn_thread, failed = exports.pixelcnn_thread_failed;
  if (!(stackPointer instanceof WebAssembly.Global) || typeof loop !== 'function' || typeof failed !== 'function') {
    throw new Error('the wasm module has no thread entry (an old build: run node scripts/build-wasm.mjs)');
  }
  ready();
  for (;;) {
    stackPointer.value = start.stackTop;
    try {
      loop(start.tid);
    } catch (e) {
      // A trap in one of this thread's tasks: the kernel fails on the calling thread, this
      // thread goes back to waiting for jobs.
      if (!(e instanceof WebAssembly.RuntimeError)) throw e;
      failed();
    }
  }
}

/** A started worker thread: `ready` settles once its instance exists (rejects if it failed). */
export interface WasmThread {
  ready: Promise<void>;
  terminate(): void;
}

/** Starts a worker running runWasmThread(start): Node's (wasm-file.ts) or the page's (web/worker-common.ts). */
export type WasmSpawner = (start: WasmThreadStart) => WasmThread;
