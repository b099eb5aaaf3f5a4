import { Tensor } from '../tensor/tensor.js';
import { noGrad } from '../tensor/autograd.js';
import { Rng } from '../random/rng.js';
import { type AutoregressiveModel, outputChannels, outputFilter, outputsPerColour } from '../models/model.js';
import { levelToUnit, levelsToUnit } from '../data/quantise.js';
import { levelDraw } from './draw.js';

export interface SampleOptions {
  count: number;
  height?: number;
  width?: number;
  temperature?: number;
  seed?: number;
  /** Class per image, for conditional models. */
  classes?: Int32Array | null;
  /**
   * Completion: labels (count, C, H, W) of which the first `observed` positions in raster order
   * (pixel-major, colour-minor: position = pixel·C + colour) are kept and the rest sampled.
   */
  given?: { labels: Uint8Array; observed: number } | null;
  /**
   * Progress: `done` of `total` positions generated so far (a completion's observed prefix is
   * not counted), after each position (or, natively, each image row). `labels` is the sampler's
   * live (count, C, H, W) buffer: positions in raster order below observed + done hold their
   * final values (the given ones below observed), the rest 0. Read-only and valid only during the
   * call (the sampler keeps writing it): copy what you keep. Two-parameter callbacks still fit.
   */
  onProgress?: (done: number, total: number, labels: Uint8Array) => void;
  /**
   * Debug hook: the outputs each draw used, per generated position (pixel·C + colour), as
   * (count, outputsPerColour): the colour's L logits (softmax), its logit (sigmoid) or its group of
   * mixture slots (logistic-mixture). The array is reused between calls: copy what you keep.
   */
  onLogits?: (pos: number, logits: Float32Array) => void;
}

export function checkSampleOptions(model: AutoregressiveModel, o: SampleOptions): { H: number; W: number; T: number } {
  const H = o.height ?? model.config.height, W = o.width ?? model.config.width, T = o.temperature ?? 1;
  const C = model.config.channels;
  if (!Number.isInteger(o.count) || o.count < 1) throw new Error(`sample: count must be a positive integer, got ${o.count}`);
  if (!Number.isInteger(H) || !Number.isInteger(W) || H < 1 || W < 1) throw new Error(`sample: bad image size ${H}×${W}`);
  if (!(T >= 0) || !Number.isFinite(T)) throw new Error(`sample: temperature must be a finite number ≥ 0, got ${T}`);
  if (model.config.numClasses > 0) {
    if (!o.classes || o.classes.length !== o.count) throw new Error(`sample: the model is class-conditional (${model.config.numClasses} classes): give one class per image`);
    for (const c of o.classes) if (!(c >= 0 && c < model.config.numClasses)) throw new Error(`sample: class ${c} outside [0, ${model.config.numClasses})`);
  }
  if (o.given) {
    const n = o.count * C * H * W;
    if (o.given.labels.length !== n) throw new Error(`sample: given labels hold ${o.given.labels.length} values, need ${o.count}×${C}×${H}×${W} = ${n}`);
    if (!Number.isInteger(o.given.observed) || o.given.observed < 0 || o.given.observed > C * H * W) {
      throw new Error(`sample: observed prefix ${o.given.observed} outside [0, ${C * H * W}]`);
    }
    for (let i = 0; i < n; i++) if (o.given.labels[i] >= model.config.levels) throw new Error(`sample: given label ${o.given.labels[i]} at ${i} is not below levels=${model.config.levels}`);
    // The mixture's component is drawn at a pixel's first colour (src/sample/draw.ts).
    if (model.config.likelihood === 'logistic-mixture' && o.given.observed % C !== 0) {
      throw new Error(`sample: with the logistic-mixture likelihood the observed prefix must be whole pixels (a multiple of ${C} positions), got ${o.given.observed}`);
    }
  }
  return { H, W, T };
}

/**
 * The straightforward sampler: one full forward pass per pixel and colour (C·H·W passes),
 * the whole batch at once. Returns level labels (count, C, H, W).
 */
export function sampleNaive(model: AutoregressiveModel, o: SampleOptions): Uint8Array {
  const { H, W, T } = checkSampleOptions(model, o);
  const { channels: C, levels: L } = model.config;
  const B = o.count, HW = H * W, rng = new Rng(o.seed ?? 0);
  const labels = o.given ? Uint8Array.from(o.given.labels) : new Uint8Array(B * C * HW);
  const x = new Tensor(new Float32Array(labels.length), [B, C, H, W]);
  levelsToUnit(labels, L, x.data);
  const start = o.given ? o.given.observed : 0, total = C * HW;
  // Observed values stay; everything after the prefix is generated (and zero until then).
  for (let b = 0; b < B; b++) for (let pos = start; pos < total; pos++) {
    const idx = (b * C + (pos % C)) * HW + Math.floor(pos / C);
    labels[idx] = 0; x.data[idx] = 0;
  }
  const perColour = outputsPerColour(model.config), filters = outputChannels(model.config);
  // Slot j of colour c at pixel p of image b: plane outputFilter(j, c, C) of the outputs.
  const at = (b: number, j: number, c: number, p: number) => (b * filters + outputFilter(j, c, C)) * HW + p;
  const seen = o.onLogits ? new Float32Array(B * perColour) : null;
  const draw = levelDraw(model.config, B);
  noGrad(() => {
    for (let pos = start; pos < total; pos++) {
      const p = Math.floor(pos / C), c = pos % C;
      const logits = model.forward(x, o.classes ?? null).data;
      for (let b = 0; b < B; b++) {
        const off = at(b, 0, c, p), stride = at(b, 1, c, p) - off;
        if (seen) for (let k = 0; k < perColour; k++) seen[b * perColour + k] = logits[at(b, k, c, p)];
        const v = draw(logits, off, stride, b, c, T, rng);
        const idx = (b * C + c) * HW + p;
        labels[idx] = v; x.data[idx] = levelToUnit(v, L);
      }
      if (seen) o.onLogits!(pos, seen);
      o.onProgress?.(pos + 1 - start, total - start, labels);
    }
  });
  return labels;
}
