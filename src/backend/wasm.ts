import type { Kernels } from './kernels.js';
import { addonKernels, type Adapted, type KernelAddon } from './addon.js';
import { nodeWasmThreads, readWasmFile, wasmFile } from './wasm-file.js';
import type { WasmSpawner, WasmThread } from './wasm-thread.js';

/**
 * The 'wasm' backend: the C++ kernels (native/src) compiled for wasm32 with 128-bit SIMD by
 * scripts/build-wasm.mjs into wasm/pixelcnn.wasm. Node reads the shipped file on first use; the
 * page's workers compile it from a fetch (initWasm) before choosing their backend.
 *
 * Threads: the module imports its memory, declared shared. Where SharedArrayBuffer exists (Node;
 * in a browser, a cross-origin isolated page) the calling thread's instance and one instance per
 * extra thread (a worker running runWasmThread, wasm-thread.ts) share it, and the kernels' parallel
 * loops run on all of them (native/src/wasm.cc), with results identical for every thread count.
 * Extra threads need Atomics.wait on the calling thread (a browser's main thread has none) and a
 * way to start workers (Node's worker_threads, the page's Web Workers); they start at the first
 * kernel call. Without shared memory the module's memory import is rewritten to unshared and it
 * runs one thread, as it does where threads cannot start.
 *
 * The module exports each kernel as k_<name> with its addon binding's arguments (KernelAddon),
 * every typed array as (pointer, length) into the module's memory (native/src/wasm.cc). A call
 * copies its arrays into one staging buffer in that memory (grown when a call needs more, so
 * steady-state calls allocate nothing there), runs the kernel and copies back the arrays the
 * kernel writes (the module's pixelcnn_outputs list). A kernel that reads only a prefix of its
 * arrays (USED) has only that prefix copied, so callers may hand it their whole scratch.
 */

/**
 * The module's bindings: the adapted convolutions and the sampler typed, every other kernel of
 * the module's list by name (addonKernels reads them so).
 */
export type WasmAddon = Pick<KernelAddon, Adapted | 'setThreads' | 'getThreads' | 'isa' | 'sampleCachedPixelCnn'> &
  Record<string, unknown> & {
    /** The module's memory in bytes (grown by the staging buffer and the kernels' scratch, never shrunk). */
    memoryBytes(): number;
    /** Whether the memory is shared (threads are possible). */
    sharedMemory(): boolean;
    /**
     * Starts the extra threads now (rather than at the next kernel call) and resolves once each
     * has its instance; a thread that fails to start is left out of the count (getThreads).
     */
    threadsReady(): Promise<void>;
    /** 1 + the extra threads that are waiting for or running tasks now (diagnostics, tests). */
    runningThreads(): number;
  };

/** How instantiateWasm and initWasm run the module. */
export interface WasmOptions {
  /** Shared memory (default: where SharedArrayBuffer exists); without it, one thread. */
  shared?: boolean;
  /** Threads, 1 to 1024 (default 1); more than 1 only with shared memory, spawn and Atomics.wait. */
  threads?: number;
  /** Starts an extra thread (default: none). */
  spawn?: WasmSpawner | null;
}

type Binding = (...args: unknown[]) => void;

const ALIGN = 64; // bytes, the staging buffer's alignment of every array (as the addon's scratch)

/** A typed array of any element type, as the kernels take. */
type Typed = Float32Array | Float64Array | Int32Array | Uint32Array | Uint8Array;

/**
 * Kernels that use only a prefix of their arrays: the elements used of argument i (undefined:
 * the whole array). The rest of the array is neither read nor written, so it is not copied.
 * gemm (transA, transB, m, n, k, a, b, c, beta): a holds m·k values, b k·n, c m·n in every layout.
 */
const USED: Record<string, (args: unknown[], i: number) => number | undefined> = {
  gemm: (args, i) => {
    const m = Number(args[2]), n = Number(args[3]), k = Number(args[4]);
    return i === 5 ? m * k : i === 6 ? k * n : i === 7 ? m * n : undefined;
  },
};

function isTyped(a: unknown): a is Typed {
  return ArrayBuffer.isView(a) && !(a instanceof DataView);
}

const REBUILD = 'node scripts/build-wasm.mjs';

const MAX_THREADS = 1024; // as the addon's
const THREAD_STACK = 1 << 20; // bytes, each extra thread's stack (the calling thread's, -z stack-size)
const READY_TIMEOUT_MS = 10_000; // threadsReady gives up on a worker that has not started by then

/** The memory the module imports (its limits in 64 KiB pages), and where its flags byte is. */
interface MemoryImport { initial: number; maximum: number; flagsAt: number }

/** Reads the module's one import, env.memory (scripts/build-wasm.mjs checks that it is the only one). */
function memoryImport(bytes: Uint8Array): MemoryImport {
  let at = 8; // past the magic number and version
  const bad = (why: string): never => { throw new Error(`not a pixelcnn wasm module (${why}): run ${REBUILD}`); };
  const leb = (): number => {
    let v = 0, shift = 0, b;
    do {
      if (at >= bytes.length) bad('truncated');
      b = bytes[at++];
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    return v;
  };
  while (at < bytes.length) {
    const id = bytes[at++], size = leb(), end = at + size;
    if (id !== 2) { at = end; continue; }
    if (leb() < 1) break;
    for (let name = 0; name < 2; name++) { const length = leb(); at += length; } // module and field names
    if (bytes[at++] !== 2) break; // not a memory
    const flagsAt = at, flags = bytes[at++];
    if (!(flags & 1)) bad('its memory has no maximum');
    const initial = leb(), maximum = leb();
    return { initial, maximum, flagsAt };
  }
  return bad('it imports no memory');
}

/** Atomics.wait works on this thread (not on a browser's main thread, nor without SharedArrayBuffer). */
function canWait(): boolean {
  if (typeof SharedArrayBuffer !== 'function') return false;
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The module's bytes and memory for `shared`: as they are, or with the memory import made
 * unshared (one byte: the limits' shared flag; atomic instructions are valid on an unshared
 * memory, and one thread never waits).
 */
function prepare(source: Uint8Array, shared: boolean): { bytes: Uint8Array<ArrayBuffer>; memory: WebAssembly.Memory } {
  const bytes = new Uint8Array(source); // a copy: the caller's bytes stay as they are
  const { initial, maximum, flagsAt } = memoryImport(bytes);
  if (!shared) bytes[flagsAt] &= ~2;
  return { bytes, memory: new WebAssembly.Memory({ initial, maximum, shared }) };
}

function bytesOf(source: BufferSource): Uint8Array {
  return source instanceof ArrayBuffer ? new Uint8Array(source) : new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
}

/**
 * The module (its bytes) as kernel bindings: an instance of its own on a memory of its own, and
 * its extra threads' instances (options).
 */
export function instantiateWasm(source: BufferSource, options: WasmOptions = {}): WasmAddon {
  const shared = options.shared ?? typeof SharedArrayBuffer === 'function';
  const { bytes, memory } = prepare(bytesOf(source), shared);
  return instantiateModule(new WebAssembly.Module(bytes), memory, options);
}

function instantiateModule(module: WebAssembly.Module, memory: WebAssembly.Memory, options: WasmOptions): WasmAddon {
  const { exports } = new WebAssembly.Instance(module, { env: { memory } });
  const func = (name: string): ((...a: number[]) => number) => {
    const f = exports[name];
    if (typeof f !== 'function') throw new Error(`the wasm module has no export '${name}' (an old build: run ${REBUILD})`);
    return f as (...a: number[]) => number;
  };
  const alloc = func('pixelcnn_alloc'), free = func('pixelcnn_free');
  const cString = (address: number): string => {
    const bytes = new Uint8Array(memory.buffer), ptr = address >>> 0;
    let end = ptr;
    while (bytes[end] !== 0) end++;
    return new TextDecoder().decode(bytes.slice(ptr, end)); // a copy: TextDecoder refuses shared memory
  };

  // Threads: the count the kernels split work for (wasm.cc), and the workers started so far
  // (tids 1, 2, …; one whose tid is not below the count sits out).
  const setCount = func('pixelcnn_set_threads'), started = func('pixelcnn_started_threads');
  const spawn = memory.buffer instanceof ArrayBuffer || !canWait() ? null : options.spawn ?? null;
  const workers: WasmThread[] = [];
  let threads = 1;
  const setThreads = (n: number) => {
    if (!Number.isInteger(n) || n < 1 || n > MAX_THREADS) throw new RangeError(`wasm threads must be an integer from 1 to ${MAX_THREADS}, got ${n}`);
    threads = spawn ? n : 1;
    setCount(threads);
  };
  // The calling thread allocates each worker's stack (only it calls malloc).
  const startThreads = () => {
    while (spawn && workers.length < threads - 1) {
      const stack = alloc(THREAD_STACK) >>> 0;
      if (!stack) throw new Error(`pixelcnn wasm: out of memory (a thread's stack of ${THREAD_STACK} bytes)`);
      try {
        workers.push(spawn({ module, memory, stackTop: stack + THREAD_STACK, tid: workers.length + 1 }));
      } catch {
        free(stack);
        setThreads(workers.length + 1); // no more workers here: the threads that did start
      }
    }
  };
  const threadsReady = async () => {
    startThreads();
    const results = await Promise.all(workers.map((w) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), READY_TIMEOUT_MS); });
      return Promise.race([w.ready.then(() => true, () => false), late]).finally(() => clearTimeout(timer));
    }));
    // Threads that did not start are not counted (their tids' scratch just goes unused).
    const up = results.filter(Boolean).length;
    if (up + 1 < threads) setThreads(up + 1);
  };

  let stage = 0, stageBytes = 0;
  const reserve = (bytes: number) => {
    if (bytes <= stageBytes) return;
    const want = Math.max(bytes, Math.ceil(stageBytes * 1.5), 1 << 20);
    if (stage) free(stage);
    stage = alloc(want) >>> 0; // an address (i32 in wasm) above 2 GiB comes back negative
    stageBytes = stage ? want : 0;
    if (!stage) throw new Error(`pixelcnn wasm: out of memory (a staging buffer of ${want} bytes)`);
  };
  const placed: number[] = [], flat: number[] = [], bytes: number[] = [];

  const binding = (name: string, fn: (...a: number[]) => number, outputs: number[]): Binding => {
    const usedOf = USED[name];
    return (...args) => {
      if (workers.length < threads - 1) startThreads();
      let need = 0;
      bytes.length = 0;
      for (let i = 0; i < args.length; i++) {
        const a = args[i];
        if (!isTyped(a)) { bytes.push(0); continue; }
        const u = usedOf?.(args, i);
        // The used prefix where it fits in the array; otherwise (a caller's error) the whole array, as before.
        const length = u !== undefined && Number.isInteger(u) && u >= 0 && u <= a.length ? u : a.length;
        bytes.push(length * a.BYTES_PER_ELEMENT);
        need += Math.ceil(bytes[i] / ALIGN) * ALIGN;
      }
      reserve(need);
      let heap = new Uint8Array(memory.buffer);
      flat.length = 0;
      placed.length = 0;
      let at = stage;
      for (let i = 0; i < args.length; i++) {
        const a = args[i];
        placed.push(at);
        if (isTyped(a)) {
          heap.set(new Uint8Array(a.buffer, a.byteOffset, bytes[i]), at);
          flat.push(at, bytes[i] / a.BYTES_PER_ELEMENT);
          at += Math.ceil(bytes[i] / ALIGN) * ALIGN;
        } else if (a === null || a === undefined) {
          flat.push(0, 0); // a null array
        } else {
          flat.push(Number(a)); // a number, or a boolean as 0 / 1
        }
      }
      try {
        fn(...flat);
      } catch (e) {
        // A trap (out of memory, or a sampler layout that does not add up): one error naming the kernel.
        if (e instanceof WebAssembly.RuntimeError) throw new Error(`pixelcnn wasm: ${name}: ${e.message}`);
        throw e;
      }
      heap = new Uint8Array(memory.buffer); // the kernel may have grown the memory
      for (const i of outputs) {
        const a = args[i];
        if (isTyped(a)) new Uint8Array(a.buffer, a.byteOffset, bytes[i]).set(heap.subarray(placed[i], placed[i] + bytes[i]));
      }
    };
  };

  // "name:i,j;" per kernel (native/src/wasm.cc): the argument positions the kernel writes.
  const kernels = new Map<string, Binding>();
  for (const entry of cString(func('pixelcnn_outputs')()).split(';')) {
    if (!entry) continue;
    const [name, list] = entry.split(':');
    kernels.set(name, binding(name, func(`k_${name}`), list.split(',').map(Number)));
  }
  const kernel = (name: Adapted): Binding => {
    const f = kernels.get(name);
    if (!f) throw new Error(`the wasm module has no kernel '${name}' (an old build: run ${REBUILD})`);
    return f;
  };
  const isa = cString(func('pixelcnn_isa')());
  const addon: WasmAddon = {
    ...Object.fromEntries(kernels),
    conv2dForward: kernel('conv2dForward'),
    conv2dBackwardData: kernel('conv2dBackwardData'),
    conv2dBackwardFilter: kernel('conv2dBackwardFilter'),
    conv2dStride2Forward: kernel('conv2dStride2Forward'),
    conv2dStride2BackwardData: kernel('conv2dStride2BackwardData'),
    conv2dStride2BackwardFilter: kernel('conv2dStride2BackwardFilter'),
    sampleCachedPixelCnn: kernels.get('sampleCachedPixelCnn'),
    setThreads,
    getThreads: () => threads,
    isa: () => isa,
    memoryBytes: () => memory.buffer.byteLength,
    sharedMemory: () => !(memory.buffer instanceof ArrayBuffer),
    threadsReady,
    runningThreads: () => 1 + Math.min(started(), threads - 1),
  };
  if (options.threads !== undefined) setThreads(options.threads);
  return addon;
}

let cached: WasmAddon | null | undefined;
let loadError = '';

/**
 * The page's way in: compiles the module from its fetch (or bytes), starts its threads (options;
 * waiting until they run) and makes it the one loadWasmAddon returns. Rejects with the reason when
 * it cannot (the page then uses js).
 */
export async function initWasm(source: Response | PromiseLike<Response> | BufferSource, options: WasmOptions = {}): Promise<WasmAddon> {
  const raw = source instanceof ArrayBuffer || ArrayBuffer.isView(source) ? bytesOf(source) : new Uint8Array(await (await source).arrayBuffer());
  const shared = options.shared ?? typeof SharedArrayBuffer === 'function';
  const { bytes, memory } = prepare(raw, shared);
  const addon = instantiateModule(await WebAssembly.compile(bytes), memory, options);
  wasmKernels(addon); // throws for a module older than the kernel list
  await addon.threadsReady();
  cached = addon;
  return addon;
}

/**
 * The module's bindings, or null if it cannot load (the reason is in wasmLoadError()): in Node
 * the shipped wasm/pixelcnn.wasm, compiled on first use, with PIXELCNN_THREADS threads (default:
 * all cores); in the page, what initWasm loaded.
 */
export function loadWasmAddon(): WasmAddon | null {
  if (cached !== undefined) return cached;
  try {
    const bytes = readWasmFile();
    let addon: WasmAddon;
    try {
      addon = instantiateWasm(bytes, nodeWasmThreads());
    } catch (e) {
      if (e instanceof RangeError) throw e; // PIXELCNN_THREADS out of range
      throw new Error(`${wasmFile()} is not a usable module (${e instanceof Error ? e.message : String(e)}): reinstall the package, or rebuild it with ${REBUILD}`);
    }
    // A module older than the kernel list (the sources gained a kernel, the module was not
    // rebuilt) is unavailable, with the reason, rather than an error at every kernels() call.
    wasmKernels(addon);
    cached = addon;
  } catch (e) {
    loadError = e instanceof Error ? e.message : String(e);
    cached = null;
  }
  return cached;
}

export function wasmLoadError(): string {
  return loadError;
}

/** The module's bindings as the Kernels interface. */
export function wasmKernels(addon: WasmAddon): Kernels {
  return addonKernels(addon, 'wasm', 'the wasm module', REBUILD);
}
