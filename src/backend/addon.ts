import type { Conv2dDims, Kernels } from './kernels.js';
import { jsKernels } from './js/index.js';

/**
 * The binding of the C++ kernels (native/src), as the native addon (src/backend/native.ts) and
 * the WebAssembly module (src/backend/wasm.ts) both export it.
 *
 * A kernel's binding takes the arguments of its Kernels method in the same order, so that
 * addonKernels hands the binding's function over as it is: adding a kernel needs nothing here.
 * The exceptions are the convolutions, whose bindings take the Conv2dDims as plain numbers (so
 * that a call costs no property lookups on the C++ side), adapted below.
 */
export type Adapted = 'conv2dForward' | 'conv2dBackwardData' | 'conv2dBackwardFilter'
  | 'conv2dStride2Forward' | 'conv2dStride2BackwardData' | 'conv2dStride2BackwardFilter';

export interface KernelAddon extends Omit<Kernels, 'name' | Adapted> {
  conv2dForward(out: Float32Array, x: Float32Array, w: Float32Array, bias: Float32Array | null,
                B: number, I: number, O: number, H: number, W: number, KH: number, KW: number,
                taps: Int32Array, residual: Float32Array | null, reluInput: boolean): void;
  conv2dBackwardData(dx: Float32Array, dout: Float32Array, w: Float32Array,
                     B: number, I: number, O: number, H: number, W: number, KH: number, KW: number,
                     taps: Int32Array, beta: number, gate: Float32Array | null): void;
  conv2dBackwardFilter(dw: Float32Array, dbias: Float32Array | null, dout: Float32Array, x: Float32Array,
                       B: number, I: number, O: number, H: number, W: number, KH: number, KW: number,
                       taps: Int32Array, reluInput: boolean): void;
  conv2dStride2Forward(out: Float32Array, x: Float32Array, w: Float32Array, bias: Float32Array | null,
                       B: number, I: number, O: number, H: number, W: number, KH: number, KW: number,
                       taps: Int32Array, beta: number): void;
  conv2dStride2BackwardData(dx: Float32Array, dout: Float32Array, w: Float32Array,
                            B: number, I: number, O: number, H: number, W: number, KH: number, KW: number,
                            taps: Int32Array, beta: number): void;
  conv2dStride2BackwardFilter(dw: Float32Array, dbias: Float32Array | null, dout: Float32Array, x: Float32Array,
                              B: number, I: number, O: number, H: number, W: number, KH: number, KW: number,
                              taps: Int32Array): void;
  setThreads(n: number): void;
  getThreads(): number;
  /** e.g. 'avx2+fma', 'generic' or 'wasm-simd128' */
  isa(): string;
  /**
   * The cached (incremental) residual-PixelCNN sampler's whole generation loop for positions
   * [start, end) (native/src/sampler.cc); optional: older builds lack it. Arguments are laid out
   * by PixelCnnIncremental.nativeGenerator (src/sample/incremental/pixelcnn.ts); x, labels, caches
   * and rngState are updated in place; logitsOut (or null) receives the logits of every draw.
   */
  sampleCachedPixelCnn?(weights: Float32Array, meta: Int32Array, dims: Int32Array, x: Float32Array,
                        labels: Uint8Array, caches: Float32Array, start: number, end: number,
                        temperature: number, rngState: Uint32Array, logitsOut: Float32Array | null): void;
}

/**
 * A binding as the Kernels interface: every kernel of the js backend (the reference, which has
 * them all) is the binding's function of the same name (read by name: a binding may have more
 * than its type says), except the adapted convolutions. A kernel the binding lacks (an old
 * build) is an error naming it and `rebuild`, what to run.
 */
export function addonKernels(addon: Pick<KernelAddon, Adapted>, name: 'native' | 'wasm', what: string, rebuild: string): Kernels {
  const dims = (d: Conv2dDims) =>
    [d.batch, d.inChannels, d.outChannels, d.height, d.width, d.kernelH, d.kernelW] as const;
  const adapted: Pick<Kernels, Adapted> = {
    conv2dForward: (out, x, w, bias, d, taps, residual, reluInput) =>
      addon.conv2dForward(out, x, w, bias, ...dims(d), taps, residual ?? null, !!reluInput),
    conv2dBackwardData: (dx, dout, w, d, taps, beta, gate) =>
      addon.conv2dBackwardData(dx, dout, w, ...dims(d), taps, beta, gate),
    conv2dBackwardFilter: (dw, dbias, dout, x, d, taps, reluInput) =>
      addon.conv2dBackwardFilter(dw, dbias, dout, x, ...dims(d), taps, !!reluInput),
    conv2dStride2Forward: (out, x, w, bias, d, taps, beta) =>
      addon.conv2dStride2Forward(out, x, w, bias, ...dims(d), taps, beta),
    conv2dStride2BackwardData: (dx, dout, w, d, taps, beta) =>
      addon.conv2dStride2BackwardData(dx, dout, w, ...dims(d), taps, beta),
    conv2dStride2BackwardFilter: (dw, dbias, dout, x, d, taps) =>
      addon.conv2dStride2BackwardFilter(dw, dbias, dout, x, ...dims(d), taps),
  };
  const direct: Partial<Record<keyof Kernels, unknown>> = {};
  for (const kernel of Object.keys(jsKernels) as (keyof Kernels)[]) {
    if (kernel === 'name') continue;
    const f: unknown = Reflect.get(addon, kernel);
    if (kernel in adapted) {
      if (typeof f !== 'function') throw new Error(`${what} has no kernel '${kernel}' (an old build: run ${rebuild})`);
      continue;
    }
    if (typeof f !== 'function') throw new Error(`${what} has no kernel '${kernel}' (an old build: run ${rebuild})`);
    direct[kernel] = f;
  }
  return { ...(direct as Omit<Kernels, 'name' | Adapted>), ...adapted, name };
}
