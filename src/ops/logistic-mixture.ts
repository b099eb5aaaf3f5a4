import { Tensor, shapeStr } from '../tensor/tensor.js';
import { kernels } from '../backend/index.js';
import { assertRank, assertTensor, fail } from './check.js';
import { assertLevelTargets, kernelNll, type NllResult } from './nll.js';

/**
 * Where the parameters of a mixture of K discretised logistics (PixelCNN++, Salimans et al. 2017)
 * sit among a model's output filters: the one definition, used by the loss, the samplers and the
 * tests.
 *
 * Masked models give output filter o the colour o mod C (interleaved colour groups, see
 * src/nn/masks.ts), and a filter of colour c sees only colours < c of the current pixel. So every
 * parameter of colour c's conditional distribution comes from colour c's group, where slot j is
 * filter j·C + c (outputFilter in src/models/model.ts), component k at slot + k:
 *
 *   slot      colour 0 (R)     colour 1 (G)     colour 2 (B)
 *   [0, K)    mean             mean             mean
 *   [K, 2K)   log-scale        log-scale        log-scale
 *   [2K, 3K)  mixture logits   coeff on R       coeff on R
 *   [3K, 4K)  (unused)         (unused)         coeff on G
 *
 * The mixture logits sit with R (the first colour) since the component is drawn there. A gray
 * model (C = 1) has the first three rows: 3K filters. An RGB model needs 10K parameters, but
 * interleaved groups have equal sizes, so its output layer has 12K filters of which 2K (one slot
 * in R's group and one in G's) are read by nothing: they get no gradient, and a 1×1 layer of d
 * inputs spends d·2K weights on them.
 *
 * The mean of colour c in component k is mean + Σ_{c' < c} tanh(coeff on c') · x_{c'} (the
 * coupling that makes G depend linearly on R and B on R and G), x in [−1, 1]; the log-scale is
 * clamped below at MIN_LOG_SCALE.
 */
export interface MixtureLayout {
  channels: number;
  mixtures: number;
  /** Slots per colour group: 3K (C = 1) or 4K (C = 3); output filters = perColour · C. */
  perColour: number;
  /** Slots of component 0 (within the colour's group). */
  mean: number;
  logScale: number;
  /** In colour 0's group. */
  logits: number;
  /** coeff(c′): slot of colour c's coefficient on colour c′ < c (in colour c's group). */
  coeff(onColour: number): number;
}

export const MIN_LOG_SCALE = -7;

export function mixtureLayout(channels: number, mixtures: number): MixtureLayout {
  const K = mixtures;
  return {
    channels, mixtures: K, perColour: K * Math.max(3, channels + 1),
    mean: 0, logScale: K, logits: 2 * K,
    coeff: (onColour) => (2 + onColour) * K,
  };
}

/**
 * The layout as the kernels read it: output filters of component 0 (component k is C filters
 * further), in the order logits, then per colour c: mean, log-scale, coeff on c′ for c′ < c
 * (C = 1: 3 entries; C = 3: 10).
 */
export function mixtureFilterTable(l: MixtureLayout): Int32Array {
  const C = l.channels, f = (slot: number, c: number) => slot * C + c;
  const t = [f(l.logits, 0)];
  for (let c = 0; c < C; c++) {
    t.push(f(l.mean, c), f(l.logScale, c));
    for (let cc = 0; cc < c; cc++) t.push(f(l.coeff(cc), c));
  }
  return Int32Array.from(t);
}

/**
 * Likelihood of integer images under per-pixel mixtures of K discretised logistics (PixelCNN++).
 * params (B, perColour·C, H, W) laid out by mixtureLayout(channels, mixtures); targets
 * (B, C, H, W) level labels in [0, L), L in [3, 256]. Level v is the value 2v/(L − 1) − 1 in
 * [−1, 1]; its probability is the logistic's mass over its bin (half-width 1/(L − 1)), the lowest
 * level taking all mass below and the highest all mass above. Per component and colour the log of
 * that mass is computed as log σ(a) + log σ(−b) + log(1 − e^(b−a)) (a, b: the bin's edges in
 * standard units), which needs no branch where the CDF difference underflows. nllPerImage is in
 * nats, as softmaxCrossEntropy's.
 */
export function logisticMixtureNll(params: Tensor, targets: Uint8Array, levels: number, channels: number, mixtures: number): NllResult {
  const op = 'logisticMixtureNll';
  assertTensor(op, 'params', params); assertRank(op, 'params', params, 4);
  const [B, F, H, W] = params.shape;
  if (!Number.isInteger(levels) || levels < 3 || levels > 256) fail(op, `levels must be an integer in [3, 256], got ${levels}`);
  if (channels !== 1 && channels !== 3) fail(op, `channels must be 1 or 3, got ${channels}`);
  if (!Number.isInteger(mixtures) || mixtures < 1 || mixtures > 64) fail(op, `mixtures must be an integer in [1, 64], got ${mixtures}`);
  const layout = mixtureLayout(channels, mixtures), filters = layout.perColour * channels;
  if (F !== filters) fail(op, `params ${shapeStr(params.shape)} need ${filters} channels for ${mixtures} mixtures of ${channels} colours`);
  assertLevelTargets(op, 'params', params, targets, levels, channels);
  const S = H * W, dims = channels * S;
  return kernelNll(params, dims, (nll, grad) => kernels().logisticMixtureNll(nll, grad, params.data, targets,
    mixtureFilterTable(layout), B, filters, channels, S, mixtures, levels, MIN_LOG_SCALE, 1 / (B * dims)));
}
