/**
 * A float32 tensor with a shape and, when it takes part in a gradient computation, a gradient
 * buffer and the closure that pushes its gradient to the tensors it was computed from.
 *
 * The one pattern used everywhere (reverse-mode autograd on a tape):
 *   an op computes its output with the active kernels, then, if any input needs a gradient,
 *   records `parents` and a `backwardFn` that ACCUMULATES into each parent's grad.
 * `backward(loss)` (src/tensor/autograd.ts) runs the closures in reverse topological order.
 */
import { allocate } from './arena.js';

export class Tensor {
  readonly data: Float32Array;
  readonly shape: readonly number[];
  /** Gradient of the loss with respect to this tensor, allocated on first use. */
  grad: Float32Array | null = null;
  /** True for parameters and for anything computed from them. */
  readonly requiresGrad: boolean;
  readonly parents: readonly Tensor[];
  backwardFn: (() => void) | null;
  /** A short name for error messages and checkpoints. */
  name: string;

  constructor(data: Float32Array, shape: readonly number[], opts: {
    requiresGrad?: boolean; parents?: readonly Tensor[]; backwardFn?: (() => void) | null; name?: string;
  } = {}) {
    const size = shapeSize(shape);
    if (data.length !== size) {
      throw new Error(`Tensor: data length ${data.length} does not match shape [${shape.join(', ')}] (size ${size})`);
    }
    this.data = data;
    this.shape = Object.freeze([...shape]);
    this.requiresGrad = opts.requiresGrad ?? false;
    this.parents = opts.parents ?? [];
    this.backwardFn = opts.backwardFn ?? null;
    this.name = opts.name ?? '';
  }

  static zeros(shape: readonly number[], opts: { requiresGrad?: boolean; name?: string } = {}): Tensor {
    return new Tensor(new Float32Array(shapeSize(shape)), shape, opts);
  }

  static from(values: ArrayLike<number>, shape: readonly number[], opts: { requiresGrad?: boolean; name?: string } = {}): Tensor {
    return new Tensor(Float32Array.from(values), shape, opts);
  }

  get size(): number {
    return this.data.length;
  }

  /** The gradient buffer, allocated (zeros) on first use; parameters' (leaves') buffers persist. */
  gradBuffer(): Float32Array {
    if (!this.grad) this.grad = this.backwardFn ? allocate(this.data.length) : new Float32Array(this.data.length);
    return this.grad;
  }

  /**
   * Where a backward kernel writes this tensor's gradient, and how: [buffer, 1] to accumulate
   * into an existing gradient; for an intermediate tensor's first contribution [fresh buffer, 0]
   * to overwrite it (no zero fill and no read: one pass less over an activation-sized buffer).
   */
  gradTarget(): [Float32Array, 0 | 1] {
    if (this.grad || !this.backwardFn) return [this.gradBuffer(), 1];
    this.grad = allocate(this.data.length, false);
    return [this.grad, 0];
  }

  /**
   * Takes g as this intermediate tensor's gradient when it has none yet, instead of copying it
   * (an add's output gradient is its inputs' gradient). g must belong to a tensor whose backward
   * is running and that nothing reads afterwards. Returns false (and keeps nothing) otherwise.
   */
  adoptGrad(g: Float32Array): boolean {
    if (this.grad || !this.backwardFn || g.length !== this.data.length) return false;
    this.grad = g;
    return true;
  }

  zeroGrad(): void {
    this.grad?.fill(0);
  }

  describe(): string {
    return `${this.name ? this.name + ' ' : ''}[${this.shape.join(', ')}]`;
  }
}

export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`Tensor: invalid shape [${shape.join(', ')}]`);
    n *= d;
  }
  return n;
}

export function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
