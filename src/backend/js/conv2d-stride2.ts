import type { Conv2dDims } from '../kernels.js';

/**
 * Reference stride-2 convolution over live taps only: output (i, j) reads input pixel
 * (2i + ky − kh/2, 2j + kx − kw/2) at tap (ky, kx), zero outside the image. The output is
 * ⌈H/2⌉ × ⌈W/2⌉, the even rows and columns of the stride-1 'same' convolution.
 */

/** The output positions [lo, hi) along one axis whose stride-2 read at `offset` is inside [0, size). */
function range(offset: number, size: number, outSize: number): [number, number] {
  return [Math.max(0, Math.ceil(-offset / 2)), Math.min(outSize, Math.ceil((size - offset) / 2))];
}

// out (B, O, h, w) = beta · out + bias + Σ_i Σ_taps w[o, i, tap] · x[b, i, 2y + dy, 2x + dx]
export function conv2dStride2Forward(out: Float32Array, x: Float32Array, w: Float32Array,
                                     bias: Float32Array | null, d: Conv2dDims, taps: Int32Array,
                                     beta: 0 | 1): void {
  const { batch: B, inChannels: I, outChannels: O, height: H, width: W, kernelH: KH, kernelW: KW } = d;
  const h = Math.ceil(H / 2), wo = Math.ceil(W / 2), HW = H * W, hw = h * wo, K = KH * KW;
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
          const [y0, y1] = range(dy, H, h), [x0, x1] = range(dx, W, wo);
          for (let y = y0; y < y1; y++) {
            const orow = ob + y * wo, irow = xb + (2 * y + dy) * W + dx;
            for (let xx = x0; xx < x1; xx++) out[orow + xx] += wv * x[irow + 2 * xx];
          }
        }
      }
    }
  }
}

// dx (B, I, H, W) = beta · dx + Σ_o Σ_taps w[o, i, tap] · dout[b, o] scattered to (2y + dy, 2x + dx)
export function conv2dStride2BackwardData(dx: Float32Array, dout: Float32Array, w: Float32Array,
                                          d: Conv2dDims, taps: Int32Array, beta: 0 | 1): void {
  const { batch: B, inChannels: I, outChannels: O, height: H, width: W, kernelH: KH, kernelW: KW } = d;
  const h = Math.ceil(H / 2), wo = Math.ceil(W / 2), HW = H * W, hw = h * wo, K = KH * KW;
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
          const [y0, y1] = range(dy, H, h), [x0, x1] = range(dx_, W, wo);
          for (let y = y0; y < y1; y++) {
            const orow = ob + y * wo, irow = xb + (2 * y + dy) * W + dx_;
            for (let xx = x0; xx < x1; xx++) dx[irow + 2 * xx] += wv * dout[orow + xx];
          }
        }
      }
    }
  }
}

// dw[o, i, tap] += Σ_b Σ_y,x dout[b, o, y, x] · x[b, i, 2y + dy, 2x + dx];  dbias[o] += Σ dout[b, o]
export function conv2dStride2BackwardFilter(dw: Float32Array, dbias: Float32Array | null, dout: Float32Array,
                                            x: Float32Array, d: Conv2dDims, taps: Int32Array): void {
  const { batch: B, inChannels: I, outChannels: O, height: H, width: W, kernelH: KH, kernelW: KW } = d;
  const h = Math.ceil(H / 2), wo = Math.ceil(W / 2), HW = H * W, hw = h * wo, K = KH * KW;
  for (let b = 0; b < B; b++) {
    for (let o = 0; o < O; o++) {
      const ob = (b * O + o) * hw;
      if (dbias) {
        let s = 0;
        for (let p = 0; p < hw; p++) s += dout[ob + p];
        dbias[o] += s;
      }
      for (let i = 0; i < I; i++) {
        const xb = (b * I + i) * HW, wb = (o * I + i) * K;
        for (let t = 0; t < taps.length; t++) {
          const tap = taps[t];
          const dy = ((tap / KW) | 0) - (KH >> 1), dx = (tap % KW) - (KW >> 1);
          const [y0, y1] = range(dy, H, h), [x0, x1] = range(dx, W, wo);
          let s = 0;
          for (let y = y0; y < y1; y++) {
            const orow = ob + y * wo, irow = xb + (2 * y + dy) * W + dx;
            for (let xx = x0; xx < x1; xx++) s += dout[orow + xx] * x[irow + 2 * xx];
          }
          dw[wb + tap] += s;
        }
      }
    }
  }
}
