/** Reference GEMM: c (m, n) = op(a) · op(b) + beta · c, row-major. Plain loops, i-k-j order. */
export function gemm(transA: boolean, transB: boolean, m: number, n: number, k: number,
                     a: Float32Array, b: Float32Array, c: Float32Array, beta: 0 | 1): void {
  if (beta === 0) c.fill(0, 0, m * n);
  for (let i = 0; i < m; i++) {
    const ci = i * n;
    for (let p = 0; p < k; p++) {
      const av = transA ? a[p * m + i] : a[i * k + p];
      if (av === 0) continue;
      if (transB) {
        for (let j = 0; j < n; j++) c[ci + j] += av * b[j * k + p];
      } else {
        const bp = p * n;
        for (let j = 0; j < n; j++) c[ci + j] += av * b[bp + j];
      }
    }
  }
}
