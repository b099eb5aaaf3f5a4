import type { Rng } from '../random/rng.js';
import type { BaseModelConfig } from '../models/model.js';
import { MIN_LOG_SCALE, mixtureLayout, type MixtureLayout } from '../ops/logistic-mixture.js';
import { sampleLevel } from './categorical.js';

/**
 * Draws the level of colour `colour` of image b from that colour's group of output slots,
 * out[offset + j·stride] (slot j, see outputFilter in src/models/model.ts), at a temperature.
 * Colours of a pixel are drawn in order, 0 first; the draw may keep per-image state between them
 * (the mixture's component). Both samplers draw through this, in the same order, so that they
 * consume the random numbers alike.
 */
export type DrawLevel = (out: Float32Array, offset: number, stride: number, b: number, colour: number,
                         temperature: number, rng: Rng) => number;

/** The level draw of a model's likelihood, for a batch of `batch` images. */
export function levelDraw(config: BaseModelConfig, batch: number): DrawLevel {
  switch (config.likelihood) {
    case 'softmax': return (out, offset, stride, _b, _c, T, rng) => sampleLevel(out, offset, stride, config.levels, T, rng);
    case 'sigmoid': return (out, offset, stride, _b, _c, T, rng) => sampleLevel(out, offset, stride, 1, T, rng);
    case 'logistic-mixture': return mixtureDraw(mixtureLayout(config.channels, config.mixtures), config.levels, batch);
  }
}

/**
 * The discretised logistic mixture (layout: mixtureLayout): at colour 0 the component k is drawn
 * by Gumbel-max over the mixture logits / T and kept for the pixel's other colours; each colour is
 * then a logistic sample, mean (with the coupling on the pixel's earlier colours, their drawn
 * values) + e^logscale · T · log(u / (1 − u)), clipped to [−1, 1] and quantised to the nearest of
 * the L levels, which draws level v with the probability the likelihood gives it.
 *
 * Temperature T: the component's softmax runs at temperature T and the logistic's scale is
 * multiplied by T, so T = 1 samples the model, T < 1 sharpens both, and T = 0 takes the most
 * likely component and its mean (no random numbers).
 */
function mixtureDraw(layout: MixtureLayout, levels: number, batch: number): DrawLevel {
  const K = layout.mixtures, C = layout.channels;
  const component = new Int32Array(batch);
  // The values x in [−1, 1] drawn for the current pixel's colours, (batch, C).
  const x = new Float64Array(batch * C);
  return (out, offset, stride, b, c, T, rng) => {
    const at = (slot: number, k: number) => out[offset + (slot + k) * stride];
    if (c === 0) {
      let best = -Infinity, arg = 0;
      for (let k = 0; k < K; k++) {
        // Gumbel-max: argmax of logit/T + Gumbel noise draws k with probability softmax(logits/T)_k.
        const v = T === 0 ? at(layout.logits, k) : at(layout.logits, k) / T - Math.log(-Math.log(rng.uniform()));
        if (v > best) { best = v; arg = k; }
      }
      component[b] = arg;
    }
    const k = component[b];
    let mean = at(layout.mean, k);
    for (let cc = 0; cc < c; cc++) mean += Math.tanh(at(layout.coeff(cc), k)) * x[b * C + cc];
    let v = mean;
    if (T > 0) {
      const u = rng.uniform();
      v += Math.exp(Math.max(at(layout.logScale, k), MIN_LOG_SCALE)) * T * (Math.log(u) - Math.log1p(-u));
    }
    const level = Math.round(((Math.min(Math.max(v, -1), 1) + 1) / 2) * (levels - 1));
    x[b * C + c] = (2 * level) / (levels - 1) - 1;
    return level;
  };
}
