import type { Tensor } from '../tensor/tensor.js';

/** What a checkpoint keeps of a weight average besides the averaged weights themselves. */
export interface WeightAverageState {
  decay: number;
  /** Updates folded in so far (sets the warm-up decay). */
  updates: number;
  /** The weights training continues from, while the model's parameters hold the average. */
  live: Map<string, Float32Array>;
}

/**
 * Exponential moving average of the parameters (Polyak averaging, as PixelCNN++ evaluates with):
 * avg ← d·avg + (1 − d)·w after every optimiser step. The decay warms up as min(decay, (1+t)/(10+t))
 * (TensorFlow's ExponentialMovingAverage with num_updates) so that a short run's average is not
 * dominated by the random initial weights.
 *
 * The average lives in `shadow` while training; `swap` exchanges it with the parameters in place,
 * so evaluation and checkpoints use the average without copying the model.
 */
export class WeightAverage {
  readonly decay: number;
  updates: number;
  /** Holds the average while the parameters hold the live weights, and the live weights after a swap. */
  readonly shadow: Map<string, Float32Array>;

  constructor(readonly params: Map<string, Tensor>, decay: number, updates = 0) {
    if (!(decay > 0 && decay < 1)) throw new Error(`weight average: decay must be in (0, 1), got ${decay}`);
    if (!Number.isSafeInteger(updates) || updates < 0) throw new Error(`weight average: updates must be a non-negative integer, got ${updates}`);
    this.decay = decay;
    this.updates = updates;
    this.shadow = new Map();
    for (const [name, p] of params) this.shadow.set(name, Float32Array.from(p.data));
  }

  /** The decay applied at the next update. */
  currentDecay(): number {
    return Math.min(this.decay, (1 + this.updates) / (10 + this.updates));
  }

  /** Folds the current parameters into the average (call after each optimiser step). */
  update(): void {
    const d = this.currentDecay(), e = 1 - d;
    for (const [name, p] of this.params) {
      const a = this.shadow.get(name)!, w = p.data;
      for (let i = 0; i < w.length; i++) a[i] = d * a[i] + e * w[i];
    }
    this.updates++;
  }

  /** Exchanges the parameters with the shadow copy (the average in, or back out). */
  swap(): void {
    for (const [name, p] of this.params) {
      const a = this.shadow.get(name)!, w = p.data;
      for (let i = 0; i < w.length; i++) { const t = w[i]; w[i] = a[i]; a[i] = t; }
    }
  }

  /**
   * Resumes from a checkpoint whose parameters (already in the model) are the average: the shadow
   * takes them and the parameters get the live weights back.
   */
  static resume(params: Map<string, Tensor>, state: WeightAverageState): WeightAverage {
    const avg = new WeightAverage(params, state.decay, state.updates);
    for (const [name, p] of params) {
      const live = state.live.get(name);
      if (!live || live.length !== p.size) {
        throw new Error(`weight average: the checkpoint's live weights for '${name}' have ${live ? live.length : 'no'} values, the parameter has ${p.size}`);
      }
      p.data.set(live);
    }
    return avg;
  }
}
