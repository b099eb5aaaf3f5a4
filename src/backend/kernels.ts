/**
 * The kernel interface: the only place where numbers are crunched.
 *
 * op (src/ops) → kernel (this interface) → backend (src/backend/js, the native addon, or the same
 * C++ kernels compiled to WebAssembly).
 *
 * Conventions (llm.c style): outputs first, shapes in comments, row-major float32,
 * activations NCHW. Backward kernels ACCUMULATE (+=) into gradient buffers so that a
 * tensor used twice gets both contributions; the two that usually write a tensor's first
 * contribution (conv backward-data, ReLU backward) take beta = 0 to overwrite instead. Nothing
 * here allocates per call except where noted; kernels validate nothing: ops check shapes before
 * calling them.
 *
 * This interface is where a kernel is declared. Its js reference is the function of the same
 * name exported from a module of src/backend/js/ (collected by src/backend/js/index.ts); the
 * native addon and the wasm module export a binding of the same name taking the same arguments
 * (passed through by addonKernels in src/backend/addon.ts). See the README's "How to add an op".
 */

export type BackendName = 'js' | 'native' | 'wasm';

/** Geometry of a stride-1 'same'-padded 2-D convolution. */
export interface Conv2dDims {
  batch: number;
  inChannels: number;
  outChannels: number;
  height: number;
  width: number;
  kernelH: number; // odd
  kernelW: number; // odd
}

export interface Kernels {
  readonly name: BackendName;

  /**
   * c (m, n) = op(a) (m, k) · op(b) (k, n) + beta · c, row-major.
   * transA: a is stored (k, m); transB: b is stored (n, k).
   */
  gemm(transA: boolean, transB: boolean, m: number, n: number, k: number,
       a: Float32Array, b: Float32Array, c: Float32Array, beta: 0 | 1): void;

  /**
   * Masked/dense convolution, only over the live taps (tap index = ky·kernelW + kx).
   * out (B, O, H, W) is overwritten; x is (B, I, H, W); w is (O, I, kh, kw) with the
   * mask already multiplied in; bias (O) or null. A residual (B, O, H, W) is added to the result
   * (a residual connection fused into the convolution's epilogue: no separate add pass). With
   * reluInput the input is relu(x), applied while the kernel reads x (never materialised).
   */
  conv2dForward(out: Float32Array, x: Float32Array, w: Float32Array, bias: Float32Array | null,
                d: Conv2dDims, taps: Int32Array, residual?: Float32Array | null, reluInput?: boolean): void;

  /**
   * dx (B, I, H, W) = beta · dx + conv2d-transpose of dout (B, O, H, W) with w (O, I, kh, kw),
   * where gate (B, I, H, W) > 0 when a gate is given (0 elsewhere): the convolution's input was
   * gate = relu(x), and this is the gradient with respect to x.
   * beta 0 overwrites a fresh gradient buffer (no zero fill, no read), 1 accumulates.
   */
  conv2dBackwardData(dx: Float32Array, dout: Float32Array, w: Float32Array,
                     d: Conv2dDims, taps: Int32Array, beta: 0 | 1, gate: Float32Array | null): void;

  /**
   * dw (O, I, kh, kw) += correlation of dout with x (relu(x) with reluInput) at the live taps;
   * dbias (O) += Σ dout.
   */
  conv2dBackwardFilter(dw: Float32Array, dbias: Float32Array | null, dout: Float32Array,
                       x: Float32Array, d: Conv2dDims, taps: Int32Array, reluInput?: boolean): void;

  /**
   * Stride-2 convolution over the live taps (PixelCNN++'s downsampling), d as for conv2dForward
   * with height and width the input's: out (B, O, ⌈H/2⌉, ⌈W/2⌉) = beta · out + bias + the 'same'
   * convolution of x (B, I, H, W) with w (O, I, kh, kw) at the even rows and columns (output
   * (i, j) is conv2dForward's (2i, 2j)). beta 0 overwrites, 1 accumulates.
   */
  conv2dStride2Forward(out: Float32Array, x: Float32Array, w: Float32Array, bias: Float32Array | null,
                       d: Conv2dDims, taps: Int32Array, beta: 0 | 1): void;

  /**
   * dx (B, I, H, W) = beta · dx + the adjoint of conv2dStride2Forward applied to dout
   * (B, O, ⌈H/2⌉, ⌈W/2⌉): a stride-2 transposed convolution, ConvTranspose2d's with padding
   * (kh/2, kw/2) cropped to H × W, w read as its (inputs = O, outputs = I, kh, kw) weight.
   */
  conv2dStride2BackwardData(dx: Float32Array, dout: Float32Array, w: Float32Array,
                            d: Conv2dDims, taps: Int32Array, beta: 0 | 1): void;

  /**
   * dw (O, I, kh, kw) += correlation of dout (B, O, ⌈H/2⌉, ⌈W/2⌉) with x (B, I, H, W) read at
   * stride 2, at the live taps; dbias (O) += Σ dout.
   */
  conv2dStride2BackwardFilter(dw: Float32Array, dbias: Float32Array | null, dout: Float32Array,
                              x: Float32Array, d: Conv2dDims, taps: Int32Array): void;

  /** y = max(x, 0). */
  reluForward(y: Float32Array, x: Float32Array): void;
  /** dx = beta · dx + (dy where x > 0, else 0). */
  reluBackward(dx: Float32Array, dy: Float32Array, x: Float32Array, beta: 0 | 1): void;
  /** y = a + b. */
  add(y: Float32Array, a: Float32Array, b: Float32Array): void;
  /** d += g (gradient accumulation). */
  accumulate(d: Float32Array, g: Float32Array): void;
  /**
   * A bias per plane (class conditioning: a plane is one channel of one image):
   * y[p·size + i] = x[p·size + i] + bias[p] for p < planes.
   */
  channelBiasForward(y: Float32Array, x: Float32Array, bias: Float32Array, planes: number, size: number): void;
  /** dbias[p] += Σ_i dy[p·size + i]: channelBiasForward's bias gradient. */
  channelBiasBackward(dbias: Float32Array, dy: Float32Array, planes: number, size: number): void;
  /**
   * Gated unit of Gated PixelCNN, per image b: y (B, n) = tanh(f) · σ(g) with f = x[b][0, n) and
   * g = x[b][n, 2n) of x (B, 2n). Native: float tanh/σ (~1 ulp), js: Math.tanh/Math.exp.
   */
  gateForward(y: Float32Array, x: Float32Array, batch: number, n: number): void;
  /** dx (B, 2n) += gradient of gateForward given dy (B, n); tanh and σ are recomputed from x. */
  gateBackward(dx: Float32Array, dy: Float32Array, x: Float32Array, batch: number, n: number): void;

  /** y = elu(x): x for x > 0, e^x − 1 otherwise (PixelCNN++). */
  eluForward(y: Float32Array, x: Float32Array): void;
  /** dx += dy · elu′(x) (1 for x > 0, e^x otherwise). */
  eluBackward(dx: Float32Array, dy: Float32Array, x: Float32Array): void;
  /** concat_elu per image b of x (B, n): y[b] (2n) = [elu(x[b]), elu(−x[b])]. */
  concatEluForward(y: Float32Array, x: Float32Array, batch: number, n: number): void;
  /** dx (B, n) += gradient of concatEluForward given dy (B, 2n). */
  concatEluBackward(dx: Float32Array, dy: Float32Array, x: Float32Array, batch: number, n: number): void;
  /**
   * Gated linear unit of PixelCNN++ per image b: y (B, n) = a · σ(g) + residual (when given, (B, n))
   * with a = x[b][0, n) and g = x[b][n, 2n) of x (B, 2n).
   */
  gluForward(y: Float32Array, x: Float32Array, residual: Float32Array | null, batch: number, n: number): void;
  /** dx (B, 2n) += gradient of a · σ(g) given dy (B, n); σ is recomputed from x. */
  gluBackward(dx: Float32Array, dy: Float32Array, x: Float32Array, batch: number, n: number): void;

  /**
   * Inverted dropout: y = x · scale where element i is kept, 0 elsewhere; i is kept iff
   * lowbias32(i · 0x9e3779b9 ⊕ seed) ≥ threshold (uint32 arithmetic; seed and threshold uint32).
   */
  dropoutForward(y: Float32Array, x: Float32Array, seed: number, threshold: number, scale: number): void;
  /** dx += dy · scale where kept (the same mask, recomputed). */
  dropoutBackward(dx: Float32Array, dy: Float32Array, seed: number, threshold: number, scale: number): void;

  /**
   * Softmax cross-entropy over a levels axis.
   * logits (B, L, C, S) where S = H·W; targets (B, C, S) with values in [0, L).
   * nllPerImage (B) receives Σ over C·S of −log p(target) in nats (overwritten).
   * If dlogits is non-null it receives (softmax − onehot) · gradScale (overwritten).
   */
  softmaxCrossEntropy(nllPerImage: Float64Array, dlogits: Float32Array | null,
                      logits: Float32Array, targets: Uint8Array,
                      batch: number, levels: number, channels: number, spatial: number,
                      gradScale: number): void;

  /**
   * Discretised logistic mixture NLL (src/ops/logistic-mixture.ts): params (B, filters, S), the
   * filters of component 0 in `table` (logits, then per colour mean, log-scale and coefficients on
   * earlier colours; component k is k·channels filters further); targets (B, C, S) in [0, levels);
   * log-scales clamped below at minLogScale.
   * nllPerImage (B) receives Σ over C·S of −log p in nats (overwritten); dparams, if non-null, the
   * gradient · gradScale (overwritten; 0 on filters the table does not name). Float64 inside;
   * allocates per-call scratch of O(K·C²) numbers.
   */
  logisticMixtureNll(nllPerImage: Float64Array, dparams: Float32Array | null, params: Float32Array,
                     targets: Uint8Array, table: Int32Array, batch: number, filters: number,
                     channels: number, spatial: number, mixtures: number, levels: number,
                     minLogScale: number, gradScale: number): void;
}
