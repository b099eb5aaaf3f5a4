import type { Kernels } from './kernels.js';
import { addonKernels, type Adapted, type KernelAddon } from './addon.js';
import { readWasmFile, wasmFile } from './wasm-file.js';

/**
 * The 'wasm' backend: the C++ kernels (native/src) compiled for wasm32 with 128-bit SIMD by
 * scripts/build-wasm.mjs into wasm/pixelcnn.wasm, one thread. Node reads the shipped file on
 * first use; the page compiles it from a fetch (initWasm) before choosing its backend.
 *
 * The module exports each kernel as k_<name> with its addon binding's arguments (KernelAddon),
 * every typed array as (pointer, length) into the module's memory (native/src/wasm.cc). A call
 * copies its arrays into one staging buffer in that memory (grown when a call needs more, so
 * steady-state calls allocate nothing there), runs the kernel and copies back the arrays the
 * kernel writes (the module's pixelcnn_outputs list).
 */

/**
 * The module's bindings: the adapted convolutions and the sampler typed, every other kernel of
 * the module's list by name (addonKernels reads them so).
 */
export type WasmAddon = Pick<KernelAddon, Adapted | 'setThreads' | 'getThreads' | 'isa' | 'sampleCachedPixelCnn'> &
  Record<string, unknown> & {
    /** The module's memory in bytes (grown by the staging buffer and the kernels' scratch, never shrunk). */
    memoryBytes(): number;
  };

type Binding = (...args: unknown[]) => void;

const ALIGN = 64; // bytes, the staging buffer's alignment of every array (as the addon's scratch)

/** A typed array of any element type, as the kernels take. */
type Typed = Float32Array | Float64Array | Int32Array | Uint32Array | Uint8Array;

function isTyped(a: unknown): a is Typed {
  return ArrayBuffer.isView(a) && !(a instanceof DataView);
}

const REBUILD = 'node scripts/build-wasm.mjs';

/** The module's kernels as bindings (an instance of its own, with its own memory). */
export function instantiateWasm(module: WebAssembly.Module): WasmAddon {
  const { exports } = new WebAssembly.Instance(module, {});
  const func = (name: string): ((...a: number[]) => number) => {
    const f = exports[name];
    if (typeof f !== 'function') throw new Error(`the wasm module has no export '${name}' (an old build: run ${REBUILD})`);
    return f as (...a: number[]) => number;
  };
  const memory = exports.memory;
  if (!(memory instanceof WebAssembly.Memory)) throw new Error(`the wasm module exports no memory (run ${REBUILD})`);
  const alloc = func('pixelcnn_alloc'), free = func('pixelcnn_free');
  const cString = (address: number): string => {
    const bytes = new Uint8Array(memory.buffer), ptr = address >>> 0;
    let end = ptr;
    while (bytes[end] !== 0) end++;
    return new TextDecoder().decode(bytes.subarray(ptr, end));
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
  const padded = (a: Typed) => Math.ceil(a.byteLength / ALIGN) * ALIGN;
  const placed: number[] = [], flat: number[] = [];

  const binding = (name: string, fn: (...a: number[]) => number, outputs: number[]): Binding => (...args) => {
    let need = 0;
    for (const a of args) if (isTyped(a)) need += padded(a);
    reserve(need);
    let heap = new Uint8Array(memory.buffer);
    flat.length = 0;
    placed.length = 0;
    let at = stage;
    for (const a of args) {
      placed.push(at);
      if (isTyped(a)) {
        heap.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
        flat.push(at, a.length);
        at += padded(a);
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
      if (isTyped(a)) new Uint8Array(a.buffer, a.byteOffset, a.byteLength).set(heap.subarray(placed[i], placed[i] + a.byteLength));
    }
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
  return {
    ...Object.fromEntries(kernels),
    conv2dForward: kernel('conv2dForward'),
    conv2dBackwardData: kernel('conv2dBackwardData'),
    conv2dBackwardFilter: kernel('conv2dBackwardFilter'),
    conv2dStride2Forward: kernel('conv2dStride2Forward'),
    conv2dStride2BackwardData: kernel('conv2dStride2BackwardData'),
    conv2dStride2BackwardFilter: kernel('conv2dStride2BackwardFilter'),
    sampleCachedPixelCnn: kernels.get('sampleCachedPixelCnn'),
    setThreads: () => {}, // one thread
    getThreads: () => 1,
    isa: () => isa,
    memoryBytes: () => memory.buffer.byteLength,
  };
}

let cached: WasmAddon | null | undefined;
let loadError = '';

/**
 * The page's way in: compiles the module from its fetch (or bytes) and makes it the one
 * loadWasmAddon returns. Rejects with the reason when it cannot (the page then uses js).
 */
export async function initWasm(source: Response | PromiseLike<Response> | BufferSource): Promise<WasmAddon> {
  const module = source instanceof ArrayBuffer || ArrayBuffer.isView(source)
    ? await WebAssembly.compile(source)
    : await WebAssembly.compileStreaming(source);
  const addon = instantiateWasm(module);
  wasmKernels(addon); // throws for a module older than the kernel list
  cached = addon;
  return addon;
}

/**
 * The module's bindings, or null if it cannot load (the reason is in wasmLoadError()): in Node
 * the shipped wasm/pixelcnn.wasm, compiled on first use; in the page, what initWasm loaded.
 */
export function loadWasmAddon(): WasmAddon | null {
  if (cached !== undefined) return cached;
  try {
    const bytes = readWasmFile();
    let addon: WasmAddon;
    try {
      addon = instantiateWasm(new WebAssembly.Module(bytes));
    } catch (e) {
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
