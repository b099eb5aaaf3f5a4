/**
 * Discretised logistic mixture likelihood (see logisticMixtureNll in src/ops/logistic-mixture.ts
 * for the layout and the formula), in float64.
 */
import { logSumExp } from '../../math/scalar.js';

/** log σ(z) into r[0] and σ(−z) = ∂ log σ(z)/∂z into r[1], from one exp. */
function logSigmoid(z: number, r: Float64Array): void {
  const e = Math.exp(-Math.abs(z));
  r[0] = Math.min(z, 0) - Math.log1p(e);
  r[1] = z >= 0 ? e / (1 + e) : 1 / (1 + e);
}
const ls = new Float64Array(2);  // logSigmoid's result (no allocation per call)

/**
 * log P(level) of a discretised logistic (mean mu, log-scale s) for the value x of a level whose
 * bin has half-width `delta`, with `lo`/`hi` for the lowest/highest level (which take the tails).
 * With a, b the bin's upper and lower edges in standard units (a − b = 2·delta·e^−s > 0):
 *   log(σ(a) − σ(b)) = log σ(a) + log σ(−b) + log(1 − e^−(a−b)),
 * every term finite where σ(a) − σ(b) underflows. Writes ∂/∂mu and ∂/∂s to g[0], g[1].
 */
function logisticBinLogProb(x: number, mu: number, s: number, delta: number, lo: boolean, hi: boolean, g: Float64Array): number {
  const u = Math.exp(-s), c = x - mu, a = u * (c + delta), b = u * (c - delta);
  let lp = 0, gA = 0, gB = 0, gS = 0;
  if (!hi) { logSigmoid(a, ls); lp += ls[0]; gA = ls[1]; }
  if (!lo) { logSigmoid(-b, ls); lp += ls[0]; gB = -ls[1]; }
  if (!lo && !hi) {
    // log(1 − e^−d) and its derivative along s (d = a − b falls with s: ∂d/∂s = −d, and
    // d/(e^d − 1) = d·e^−d/(1 − e^−d)); along mu the term is constant. For tiny d (e^−s
    // underflowing) use log d − d/2, log d = log 2δ − s.
    const d = 2 * delta * u;
    if (d > 1e-8) { const m = -Math.expm1(-d); lp += Math.log(m); gS = (-d * (1 - m)) / m; }
    else { lp += Math.log(2 * delta) - s - d / 2; gS = -(1 - d / 2); }
  }
  g[0] = -u * (gA + gB);
  g[1] = -(a * gA + b * gB) + gS;
  return lp;
}

/**
 * params (B, filters, S) with the mixture's filters of component 0 in `table` (logits, then per
 * colour mean, log-scale, coefficients; component k is k·C filters further); targets (B, C, S).
 * Log-scales are clamped below at minLogScale (no gradient below it).
 * nllPerImage (B) gets Σ over C·S of −log p in nats (overwritten); dparams, if non-null, the
 * gradient · gradScale (overwritten, 0 on filters the layout does not read).
 */
export function logisticMixtureNll(nllPerImage: Float64Array, dparams: Float32Array | null,
                                   params: Float32Array, targets: Uint8Array, table: Int32Array,
                                   batch: number, filters: number, channels: number, spatial: number,
                                   mixtures: number, levels: number, minLogScale: number, gradScale: number): void {
  const C = channels, S = spatial, K = mixtures, L = levels, delta = 1 / (L - 1);
  // Per colour: table offsets of its mean, log-scale and first coefficient.
  const meanAt: number[] = [], coeffAt: number[] = [];
  for (let c = 0, t = 1; c < C; c++) { meanAt.push(t); coeffAt.push(t + 2); t += 2 + c; }
  const lp = new Float64Array(K), gMu = new Float64Array(K * C), gS = new Float64Array(K * C);
  const tanhs = new Float64Array(K * C * C), x = new Float64Array(C), v = new Int32Array(C), g = new Float64Array(2);
  if (dparams) dparams.fill(0);
  for (let b = 0; b < batch; b++) {
    let total = 0;
    for (let s = 0; s < S; s++) {
      const base = b * filters * S + s;
      const at = (f: number, k: number) => base + (f + k * C) * S;
      for (let c = 0; c < C; c++) { v[c] = targets[(b * C + c) * S + s]; x[c] = (2 * v[c]) / (L - 1) - 1; }
      for (let k = 0; k < K; k++) {
        let l = params[at(table[0], k)];
        for (let c = 0; c < C; c++) {
          let mu = params[at(table[meanAt[c]], k)];
          for (let cc = 0; cc < c; cc++) {
            const t = Math.tanh(params[at(table[coeffAt[c] + cc], k)]);
            tanhs[(k * C + c) * C + cc] = t;
            mu += t * x[cc];
          }
          const sRaw = params[at(table[meanAt[c] + 1], k)];
          l += logisticBinLogProb(x[c], mu, Math.max(sRaw, minLogScale), delta, v[c] === 0, v[c] === L - 1, g);
          gMu[k * C + c] = g[0];
          gS[k * C + c] = sRaw < minLogScale ? 0 : g[1];
        }
        lp[k] = l;
      }
      // The mixture's log-normaliser and log-likelihood; component k's logit is at(table[0], k).
      const lseLogit = logSumExp(params, at(table[0], 0), C * S, K), lseLp = logSumExp(lp, 0, 1, K);
      total += lseLogit - lseLp;
      if (!dparams) continue;
      for (let k = 0; k < K; k++) {
        // ∂nll/∂logit_k = softmax(logits)_k − w_k; ∂nll/∂(log P of a colour in component k) = −w_k.
        const w = Math.exp(lp[k] - lseLp);
        dparams[at(table[0], k)] = (Math.exp(params[at(table[0], k)] - lseLogit) - w) * gradScale;
        for (let c = 0; c < C; c++) {
          const dMu = -w * gMu[k * C + c] * gradScale;
          dparams[at(table[meanAt[c]], k)] = dMu;
          dparams[at(table[meanAt[c] + 1], k)] = -w * gS[k * C + c] * gradScale;
          for (let cc = 0; cc < c; cc++) {
            const t = tanhs[(k * C + c) * C + cc];
            dparams[at(table[coeffAt[c] + cc], k)] = dMu * (1 - t * t) * x[cc];
          }
        }
      }
    }
    nllPerImage[b] = total;
  }
}
