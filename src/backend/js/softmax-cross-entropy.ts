import { logSumExp } from '../../math/scalar.js';

/**
 * Softmax cross-entropy over the levels axis of logits (B, L, C, S); targets (B, C, S).
 * Per image: nll[b] = Σ_{c,s} logsumexp_k(logit[b,k,c,s]) − logit[b,target,c,s] (nats).
 * dlogits (optional) = (softmax − onehot) · gradScale.
 */
export function softmaxCrossEntropy(nllPerImage: Float64Array, dlogits: Float32Array | null,
                                    logits: Float32Array, targets: Uint8Array,
                                    batch: number, levels: number, channels: number, spatial: number,
                                    gradScale: number): void {
  const L = levels, C = channels, S = spatial, CS = C * S;
  for (let b = 0; b < batch; b++) {
    let total = 0;
    for (let cs = 0; cs < CS; cs++) {
      const base = b * L * CS + cs; // logit of level k at base + k·CS
      const lse = logSumExp(logits, base, CS, L), t = targets[b * CS + cs];
      total += lse - logits[base + t * CS];
      if (dlogits) {
        for (let k = 0; k < L; k++) dlogits[base + k * CS] = Math.exp(logits[base + k * CS] - lse) * gradScale;
        dlogits[base + t * CS] -= gradScale;
      }
    }
    nllPerImage[b] = total;
  }
}
