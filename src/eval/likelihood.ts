import { Tensor } from '../tensor/tensor.js';
import { noGrad } from '../tensor/autograd.js';
import { withArena } from '../tensor/arena.js';
import { logisticMixtureNll, softmaxCrossEntropy, sigmoidCrossEntropy, type NllResult } from '../ops/index.js';
import { levelsToUnit } from '../data/quantise.js';
import type { AutoregressiveModel } from '../models/model.js';

/**
 * The one bits/dim formula of the project:
 *   bits/dim = (Σ over images of −ln p(image)) / (images · dims) / ln 2,
 * dims = C·H·W of the modelled image (a grayscale image counts 1 channel; an RGB model of
 * grayscale data tiled to 3 channels is a different model, with its own dims). Divided once.
 */
export function bitsPerDim(totalNats: number, images: number, dimsPerImage: number): number {
  if (images <= 0 || dimsPerImage <= 0) throw new Error(`bitsPerDim: need images > 0 and dims > 0, got ${images}, ${dimsPerImage}`);
  return natsToBits(totalNats / (images * dimsPerImage));
}

/** The unit change between nats (natural log, what the losses compute) and bits. */
export const natsToBits = (nats: number): number => nats / Math.LN2;
export const bitsToNats = (bits: number): number => bits * Math.LN2;

/** The network's input for level labels (B, C, H, W): label / (L − 1) in [0, 1]. */
export function modelInput(targets: Uint8Array, batch: number, model: AutoregressiveModel, height: number, width: number): Tensor {
  const { channels: C, levels: L } = model.config;
  const n = batch * C * height * width;
  if (targets.length !== n) {
    throw new Error(`modelInput: ${targets.length} labels for batch ${batch} of ${C}×${height}×${width} images`);
  }
  return new Tensor(levelsToUnit(targets, L, new Float32Array(n)), [batch, C, height, width]);
}

/**
 * −log p of each image (nats) and the mean-per-dimension loss. targets (B, C, H, W) level labels.
 * Runs with gradients when called outside noGrad (training).
 */
export function imageNll(model: AutoregressiveModel, targets: Uint8Array, batch: number,
                         height: number, width: number, classes: Int32Array | null = null): NllResult {
  const logits = model.forward(modelInput(targets, batch, model, height, width), classes);
  const { levels, channels, likelihood, mixtures } = model.config;
  switch (likelihood) {
    case 'softmax': return softmaxCrossEntropy(logits, targets, levels, channels);
    case 'sigmoid': return sigmoidCrossEntropy(logits, targets);
    case 'logistic-mixture': return logisticMixtureNll(logits, targets, levels, channels, mixtures);
  }
}

export interface EvalResult {
  images: number;
  dimsPerImage: number;
  /** Mean −log₂ p per dimension. */
  bitsPerDim: number;
  /** Mean −ln p per image (the unit of binarised-MNIST results). */
  natsPerImage: number;
}

/**
 * Exact test-set likelihood over `count` images of level labels (N, C, H, W), in batches;
 * `onBatch` reports the images done after each batch (for a progress display).
 */
export function evaluate(model: AutoregressiveModel, labels: Uint8Array, count: number, height: number, width: number,
                         opts: { batchSize?: number; classes?: Uint8Array | null; onBatch?: (done: number, total: number) => void } = {}): EvalResult {
  const C = model.config.channels, dims = C * height * width;
  if (labels.length < count * dims) throw new Error(`evaluate: ${labels.length} labels hold fewer than ${count} images of ${dims} values`);
  const batchSize = opts.batchSize ?? 64;
  let total = 0;
  noGrad(() => {
    for (let start = 0; start < count; start += batchSize) {
      const b = Math.min(batchSize, count - start);
      const targets = labels.subarray(start * dims, (start + b) * dims);
      const classes = opts.classes ? Int32Array.from(opts.classes.subarray(start, start + b)) : null;
      // Each batch's buffers are recycled for the next: memory stays that of one batch.
      total += withArena(() => {
        const { nllPerImage } = imageNll(model, targets, b, height, width, classes);
        let sum = 0;
        for (let i = 0; i < b; i++) sum += nllPerImage[i];
        return sum;
      });
      opts.onBatch?.(start + b, count);
    }
  });
  return { images: count, dimsPerImage: dims, bitsPerDim: bitsPerDim(total, count, dims), natsPerImage: total / count };
}

export interface MarginalResult extends EvalResult {
  /** Share of images whose own class is the most likely one, argmax_y p(x | y). */
  accuracy: number;
}

/**
 * A class-conditional model's likelihood of the images without their labels, exactly:
 *   −ln p(x) = −ln Σ_y p(y) p(x | y),  p(y) = 1/K uniform,
 * from K forward passes per image (one per class), and the accuracy of the generative classifier
 * argmax_y p(x | y) against `classes`. The bits/dim come from the one formula (bitsPerDim).
 */
export function evaluateMarginal(model: AutoregressiveModel, labels: Uint8Array, count: number, height: number, width: number,
                                 classes: Uint8Array,
                                 opts: { batchSize?: number; onBatch?: (done: number, total: number) => void } = {}): MarginalResult {
  const K = model.config.numClasses, C = model.config.channels, dims = C * height * width;
  if (K < 1) throw new Error('evaluateMarginal: the model is not class-conditional');
  if (labels.length < count * dims) throw new Error(`evaluateMarginal: ${labels.length} labels hold fewer than ${count} images of ${dims} values`);
  if (classes.length < count) throw new Error(`evaluateMarginal: ${classes.length} class labels for ${count} images`);
  const batchSize = opts.batchSize ?? 64;
  const nll = new Float64Array(batchSize * K);  // −ln p(x_i | y) at [i·K + y]
  let total = 0, correct = 0;
  noGrad(() => {
    for (let start = 0; start < count; start += batchSize) {
      const b = Math.min(batchSize, count - start);
      const targets = labels.subarray(start * dims, (start + b) * dims);
      for (let y = 0; y < K; y++) {
        withArena(() => {
          const { nllPerImage } = imageNll(model, targets, b, height, width, new Int32Array(b).fill(y));
          for (let i = 0; i < b; i++) nll[i * K + y] = nllPerImage[i];
        });
      }
      for (let i = 0; i < b; i++) {
        // log-sum-exp around the most likely class; ties go to the lowest class index.
        let best = 0;
        for (let y = 1; y < K; y++) if (nll[i * K + y] < nll[i * K + best]) best = y;
        const m = nll[i * K + best];
        let s = 0;
        for (let y = 0; y < K; y++) s += Math.exp(m - nll[i * K + y]);
        total += m - Math.log(s) + Math.log(K);
        if (best === classes[start + i]) correct++;
      }
      opts.onBatch?.(start + b, count);
    }
  });
  return { images: count, dimsPerImage: dims, bitsPerDim: bitsPerDim(total, count, dims), natsPerImage: total / count, accuracy: correct / count };
}

/** Per-image log-likelihood: −ln p(image) in nats and the same in bits per dimension. */
export interface LogProb {
  natsPerImage: Float64Array;
  bitsPerDim: Float64Array;
}

/**
 * −log p of each of `count` images of level labels (N, C, H, W), exactly (no sampling), with
 * classes for conditional models. The library form of `pixelcnn eval`.
 */
export function logProb(model: AutoregressiveModel, labels: Uint8Array, count: number,
                        opts: { classes?: Uint8Array | null; batchSize?: number; height?: number; width?: number } = {}): LogProb {
  const H = opts.height ?? model.config.height, W = opts.width ?? model.config.width;
  const dims = model.config.channels * H * W, batchSize = opts.batchSize ?? 64;
  if (labels.length !== count * dims) throw new Error(`logProb: ${labels.length} labels for ${count} images of ${dims} values`);
  const nats = new Float64Array(count);
  noGrad(() => {
    for (let start = 0; start < count; start += batchSize) {
      const b = Math.min(batchSize, count - start);
      const classes = opts.classes ? Int32Array.from(opts.classes.subarray(start, start + b)) : null;
      const { nllPerImage } = imageNll(model, labels.subarray(start * dims, (start + b) * dims), b, H, W, classes);
      nats.set(nllPerImage, start);
    }
  });
  return { natsPerImage: nats, bitsPerDim: nats.map((v) => natsToBits(v / dims)) };
}
