import { Tensor } from '../tensor/tensor.js';
import { weightNorm } from '../ops/weight-norm.js';

/** g's shape for a weight of this shape: (n, 1, …, 1), as torch keeps it (broadcastable against v). */
const gainShape = (shape: readonly number[]): number[] => [shape[0], ...shape.slice(1).map(() => 1)];

/**
 * A layer's weight as parameters: the weight itself (`<name>.weight`), or, weight-normalised,
 * w = g · v/‖v‖ per slice of axis 0 (ops/weight-norm) from `<name>.weight_g` (n, 1, …, 1) and
 * `<name>.weight_v` (the weight's shape): the names and layouts torch.nn.utils.weight_norm gives a
 * module with its default dim = 0, so checkpoints move to and from PyTorch. `init` is the
 * weight the layer would have without normalisation; v = init and g = ‖v‖, so the initial
 * function is the same either way.
 */
export class LayerWeight {
  /** The parameters in torch's order: [weight], or [weight_g, weight_v]. */
  readonly params: readonly Tensor[];
  private readonly g: Tensor | null;

  constructor(name: string, init: Float32Array, shape: readonly number[], normalised: boolean) {
    if (!normalised) {
      this.g = null;
      this.params = [new Tensor(init, shape, { requiresGrad: true, name: `${name}.weight` })];
      return;
    }
    const n = shape[0], len = init.length / n, g = new Float32Array(n);
    for (let r = 0; r < n; r++) {
      let s = 0;
      for (let i = r * len; i < (r + 1) * len; i++) s += init[i] * init[i];
      g[r] = Math.sqrt(s);
    }
    this.g = new Tensor(g, gainShape(shape), { requiresGrad: true, name: `${name}.weight_g` });
    this.params = [this.g, new Tensor(init, shape, { requiresGrad: true, name: `${name}.weight_v` })];
  }

  /** The weight the layer computes with: the parameter, or g · v/‖v‖ (a new tensor on the tape per call). */
  value(): Tensor {
    return this.g ? weightNorm(this.g, this.params[1]) : this.params[0];
  }
}

/** The parameter shapes a weight of this shape has, by name (parameterShapes: before a model is built). */
export function layerWeightShapes(name: string, shape: readonly number[], normalised: boolean): [string, number[]][] {
  return normalised
    ? [[`${name}.weight_g`, gainShape(shape)], [`${name}.weight_v`, [...shape]]]
    : [[`${name}.weight`, [...shape]]];
}
