import type { Conv2dDims } from '../kernels.js';
import { reluForward } from './elementwise.js';

/**
 * Reference stride-1 'same' convolution over live taps only.
 * A tap (ky, kx) reads input pixel (y + ky − kh/2, x + kx − kw/2); outside the image is zero.
 * Each tap is a shifted, scaled copy of an input plane: loops stay contiguous over x.
 */

/** The valid output range [lo, hi) along one axis for a tap offset. */
function range(offset: number, size: number): [number, number] {
  return [Math.max(0, -offset), Math.min(size, size - offset)];
}

/** relu(x) as a new array: the reference applies a fused ReLU literally. */
function reluCopy(x: Float32Array): Float32Array {
  const y = new Float32Array(x.length);
  reluForward(y, x);
  return y;
}

// out (B, O, H, W) = bias + Σ_i Σ_taps w[o, i, tap] · shift(x[b, i]) (+ residual)
export function conv2dForward(out: Float32Array, x: Float32Array, w: Float32Array,
                              bias: Float32Array | null, d: Conv2dDims, taps: Int32Array,
                              residual: Float32Array | null = null, reluInput = false): void {
  if (reluInput) x = reluCopy(x);
  const { batch: B, inChannels: I, outChannels: O, height: H, width: W, kernelH: KH, kernelW: KW } = d;
  const HW = H * W, K = KH * KW;
  for (let b = 0; b < B; b++) {
    for (let o = 0; o < O; o++) {
      const ob = (b * O + o) * HW;
      out.fill(bias ? bias[o] : 0, ob, ob + HW);
      for (let i = 0; i < I; i++) {
        const xb = (b * I + i) * HW, wb = (o * I + i) * K;
        for (let t = 0; t < taps.length; t++) {
          const tap = taps[t], wv = w[wb + tap];
          if (wv === 0) continue;
          const dy = ((tap / KW) | 0) - (KH >> 1), dx = (tap % KW) - (KW >> 1);
          const [y0, y1] = range(dy, H), [x0, x1] = range(dx, W);
          for (let y = y0; y < y1; y++) {
            const orow = ob + y * W, irow = xb + (y + dy) * W + dx;
            for (let xx = x0; xx < x1; xx++) out[orow + xx] += wv * x[irow + xx];
          }
        }
      }
    }
  }
  if (residual) for (let q = 0; q < out.length; q++) out[q] += residual[q];
}

// dx (B, I, H, W) += Σ_o Σ_taps w[o, i, tap] · unshift(dout[b, o])
export function conv2dBackwardData(dx: Float32Array, dout: Float32Array, w: Float32Array,
                                   d: Conv2dDims, taps: Int32Array, beta: 0 | 1,
                                   gate: Float32Array | null): void {
  const { batch: B, inChannels: I, outChannels: O, height: H, width: W, kernelH: KH, kernelW: KW } = d;
  const HW = H * W, n = B * I * HW;
  if (gate) {
    // The plain transpose into scratch, then gated into dx.
    const t = new Float32Array(n);
    conv2dBackwardData(t, dout, w, d, taps, 1, null);
    for (let i = 0; i < n; i++) dx[i] = (beta ? dx[i] : 0) + (gate[i] > 0 ? t[i] : 0);
    return;
  }
  const K = KH * KW;
  if (beta === 0) dx.fill(0, 0, n);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < I; i++) {
      const xb = (b * I + i) * HW;
      for (let o = 0; o < O; o++) {
        const ob = (b * O + o) * HW, wb = (o * I + i) * K;
        for (let t = 0; t < taps.length; t++) {
          const tap = taps[t], wv = w[wb + tap];
          if (wv === 0) continue;
          const dy = ((tap / KW) | 0) - (KH >> 1), dx_ = (tap % KW) - (KW >> 1);
          const [y0, y1] = range(dy, H), [x0, x1] = range(dx_, W);
          for (let y = y0; y < y1; y++) {
            const orow = ob + y * W, irow = xb + (y + dy) * W + dx_;
            for (let xx = x0; xx < x1; xx++) dx[irow + xx] += wv * dout[orow + xx];
          }
        }
      }
    }
  }
}

// dw[o, i, tap] += Σ_b Σ_y,x dout[b, o, y, x] · x[b, i, y + dy, x + dx];  dbias[o] += Σ dout[b, o]
export function conv2dBackwardFilter(dw: Float32Array, dbias: Float32Array | null, dout: Float32Array,
                                     x: Float32Array, d: Conv2dDims, taps: Int32Array,
                                     reluInput = false): void {
  if (reluInput) x = reluCopy(x);
  const { batch: B, inChannels: I, outChannels: O, height: H, width: W, kernelH: KH, kernelW: KW } = d;
  const HW = H * W, K = KH * KW;
  for (let b = 0; b < B; b++) {
    for (let o = 0; o < O; o++) {
      const ob = (b * O + o) * HW;
      if (dbias) {
        let s = 0;
        for (let p = 0; p < HW; p++) s += dout[ob + p];
        dbias[o] += s;
      }
      for (let i = 0; i < I; i++) {
        const xb = (b * I + i) * HW, wb = (o * I + i) * K;
        for (let t = 0; t < taps.length; t++) {
          const tap = taps[t];
          const dy = ((tap / KW) | 0) - (KH >> 1), dx = (tap % KW) - (KW >> 1);
          const [y0, y1] = range(dy, H), [x0, x1] = range(dx, W);
          let s = 0;
          for (let y = y0; y < y1; y++) {
            const orow = ob + y * W, irow = xb + (y + dy) * W + dx;
            for (let xx = x0; xx < x1; xx++) s += dout[orow + xx] * x[irow + xx];
          }
          dw[wb + tap] += s;
        }
      }
    }
  }
}
