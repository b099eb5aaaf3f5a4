import type { Conv2dDims } from '../kernels.js';
import { accumulate, reluForward } from './elementwise.js';

/**
 * Reference convolutions over live taps only, stride s = 1 ('same') or 2 (PixelCNN++'s
 * downsampling). Output (y, x) reads input pixel (s·y + ky − kh/2, s·x + kx − kw/2) at tap
 * (ky, kx); outside the image is zero. The output is ⌈H/s⌉ × ⌈W/s⌉: at stride 2, the even rows and
 * columns of the stride-1 convolution. Each tap is a shifted, scaled copy of an input plane: loops
 * stay contiguous over the output's x (the input's at stride 1).
 */
type Stride = 1 | 2;

/** The output positions [lo, hi) along one axis whose read at s·p + offset is inside [0, size). */
function range(offset: number, size: number, s: Stride): [number, number] {
  // | 0: Math.ceil's results are doubles to the JIT; the loop counters should stay integers.
  return [Math.max(0, Math.ceil(-offset / s)) | 0, Math.min(Math.ceil(size / s), Math.ceil((size - offset) / s)) | 0];
}

/** relu(x) as a new array: the reference applies a fused ReLU literally. */
function reluCopy(x: Float32Array): Float32Array {
  const y = new Float32Array(x.length);
  reluForward(y, x);
  return y;
}

// out (B, O, h, w) = beta · out + bias + Σ_i Σ_taps w[o, i, tap] · x[b, i, s·y + dy, s·x + dx]
function forward(out: Float32Array, x: Float32Array, w: Float32Array, bias: Float32Array | null,
                 d: Conv2dDims, taps: Int32Array, s: Stride, beta: 0 | 1): void {
  const { batch: B, inChannels: I, outChannels: O, height: H, width: W, kernelH: KH, kernelW: KW } = d;
  const h = Math.ceil(H / s), wo = Math.ceil(W / s), HW = H * W, hw = h * wo, K = KH * KW;
  for (let b = 0; b < B; b++) {
    for (let o = 0; o < O; o++) {
      const ob = (b * O + o) * hw, v = bias ? bias[o] : 0;
      for (let p = ob; p < ob + hw; p++) out[p] = (beta ? out[p] : 0) + v;
      for (let i = 0; i < I; i++) {
        const xb = (b * I + i) * HW, wb = (o * I + i) * K;
        for (let t = 0; t < taps.length; t++) {
          const tap = taps[t], wv = w[wb + tap];
          if (wv === 0) continue;
          const dy = ((tap / KW) | 0) - (KH >> 1), dx = (tap % KW) - (KW >> 1);
          const [y0, y1] = range(dy, H, s), [x0, x1] = range(dx, W, s);
          for (let y = y0; y < y1; y++) {
            const orow = ob + y * wo, irow = xb + (s * y + dy) * W + dx;
            // xi = irow + s·xx, stepped rather than multiplied.
            for (let xx = x0, xi = irow + s * x0; xx < x1; xx++, xi += s) out[orow + xx] += wv * x[xi];
          }
        }
      }
    }
  }
}

// dx (B, I, H, W) = beta · dx + Σ_o Σ_taps w[o, i, tap] · dout[b, o] scattered to (s·y + dy, s·x + dx)
function backwardData(dx: Float32Array, dout: Float32Array, w: Float32Array,
                      d: Conv2dDims, taps: Int32Array, s: Stride, beta: 0 | 1): void {
  const { batch: B, inChannels: I, outChannels: O, height: H, width: W, kernelH: KH, kernelW: KW } = d;
  const h = Math.ceil(H / s), wo = Math.ceil(W / s), HW = H * W, hw = h * wo, K = KH * KW;
  if (beta === 0) dx.fill(0, 0, B * I * HW);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < I; i++) {
      const xb = (b * I + i) * HW;
      for (let o = 0; o < O; o++) {
        const ob = (b * O + o) * hw, wb = (o * I + i) * K;
        for (let t = 0; t < taps.length; t++) {
          const tap = taps[t], wv = w[wb + tap];
          if (wv === 0) continue;
          const dy = ((tap / KW) | 0) - (KH >> 1), dx_ = (tap % KW) - (KW >> 1);
          const [y0, y1] = range(dy, H, s), [x0, x1] = range(dx_, W, s);
          for (let y = y0; y < y1; y++) {
            const orow = ob + y * wo, irow = xb + (s * y + dy) * W + dx_;
            for (let xx = x0, xi = irow + s * x0; xx < x1; xx++, xi += s) dx[xi] += wv * dout[orow + xx];
          }
        }
      }
    }
  }
}

// dw[o, i, tap] += Σ_b Σ_y,x dout[b, o, y, x] · x[b, i, s·y + dy, s·x + dx];  dbias[o] += Σ dout[b, o]
function backwardFilter(dw: Float32Array, dbias: Float32Array | null, dout: Float32Array,
                        x: Float32Array, d: Conv2dDims, taps: Int32Array, s: Stride): void {
  const { batch: B, inChannels: I, outChannels: O, height: H, width: W, kernelH: KH, kernelW: KW } = d;
  const h = Math.ceil(H / s), wo = Math.ceil(W / s), HW = H * W, hw = h * wo, K = KH * KW;
  for (let b = 0; b < B; b++) {
    for (let o = 0; o < O; o++) {
      const ob = (b * O + o) * hw;
      if (dbias) {
        let sum = 0;
        for (let p = 0; p < hw; p++) sum += dout[ob + p];
        dbias[o] += sum;
      }
      for (let i = 0; i < I; i++) {
        const xb = (b * I + i) * HW, wb = (o * I + i) * K;
        for (let t = 0; t < taps.length; t++) {
          const tap = taps[t];
          const dy = ((tap / KW) | 0) - (KH >> 1), dx = (tap % KW) - (KW >> 1);
          const [y0, y1] = range(dy, H, s), [x0, x1] = range(dx, W, s);
          let sum = 0;
          for (let y = y0; y < y1; y++) {
            const orow = ob + y * wo, irow = xb + (s * y + dy) * W + dx;
            for (let xx = x0, xi = irow + s * x0; xx < x1; xx++, xi += s) sum += dout[orow + xx] * x[xi];
          }
          dw[wb + tap] += sum;
        }
      }
    }
  }
}

// The kernels (src/backend/kernels.ts): the loops above at stride 1 with the fused ReLU and
// residual, and at stride 2.
export function conv2dForward(out: Float32Array, x: Float32Array, w: Float32Array,
                              bias: Float32Array | null, d: Conv2dDims, taps: Int32Array,
                              residual: Float32Array | null = null, reluInput = false): void {
  forward(out, reluInput ? reluCopy(x) : x, w, bias, d, taps, 1, 0);
  if (residual) accumulate(out, residual);
}

export function conv2dBackwardData(dx: Float32Array, dout: Float32Array, w: Float32Array,
                                   d: Conv2dDims, taps: Int32Array, beta: 0 | 1,
                                   gate: Float32Array | null): void {
  if (!gate) return backwardData(dx, dout, w, d, taps, 1, beta);
  // The plain transpose into scratch, then gated into dx.
  const n = d.batch * d.inChannels * d.height * d.width, t = new Float32Array(n);
  backwardData(t, dout, w, d, taps, 1, 0);
  for (let i = 0; i < n; i++) dx[i] = (beta ? dx[i] : 0) + (gate[i] > 0 ? t[i] : 0);
}

export function conv2dBackwardFilter(dw: Float32Array, dbias: Float32Array | null, dout: Float32Array,
                                     x: Float32Array, d: Conv2dDims, taps: Int32Array,
                                     reluInput = false): void {
  backwardFilter(dw, dbias, dout, reluInput ? reluCopy(x) : x, d, taps, 1);
}

export function conv2dStride2Forward(out: Float32Array, x: Float32Array, w: Float32Array,
                                     bias: Float32Array | null, d: Conv2dDims, taps: Int32Array,
                                     beta: 0 | 1): void {
  forward(out, x, w, bias, d, taps, 2, beta);
}

export function conv2dStride2BackwardData(dx: Float32Array, dout: Float32Array, w: Float32Array,
                                          d: Conv2dDims, taps: Int32Array, beta: 0 | 1): void {
  backwardData(dx, dout, w, d, taps, 2, beta);
}

export function conv2dStride2BackwardFilter(dw: Float32Array, dbias: Float32Array | null, dout: Float32Array,
                                            x: Float32Array, d: Conv2dDims, taps: Int32Array): void {
  backwardFilter(dw, dbias, dout, x, d, taps, 2);
}
