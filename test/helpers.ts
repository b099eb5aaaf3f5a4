import assert from 'node:assert/strict';
import { Tensor } from '../src/tensor/tensor.js';
import { backward } from '../src/tensor/autograd.js';
import { Rng } from '../src/nn/rng.js';

/** Random tensor with values in ±[minAbs, 1] (away from ReLU's kink when minAbs > 0). */
export function randomTensor(shape: number[], rng: Rng, opts: { requiresGrad?: boolean; minAbs?: number; scale?: number } = {}): Tensor {
  const t = Tensor.zeros(shape, { requiresGrad: opts.requiresGrad ?? true });
  const minAbs = opts.minAbs ?? 0, scale = opts.scale ?? 1;
  for (let i = 0; i < t.size; i++) {
    const mag = minAbs + (1 - minAbs) * rng.uniform();
    t.data[i] = (rng.uniform() < 0.5 ? -mag : mag) * scale;
  }
  return t;
}

export function randomArray(n: number, rng: Rng, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rng.uniform() * 2 - 1) * scale;
  return a;
}

/**
 * Checks an op's analytical gradients against central finite differences of the scalar
 * loss Σ out · r, computed in float64, at up to `samples` random coordinates of every input.
 */
export function checkGradients(name: string, inputs: Tensor[], f: (...xs: Tensor[]) => Tensor,
                               opts: { eps?: number; rtol?: number; atol?: number; samples?: number; seed?: number } = {}): void {
  const eps = opts.eps ?? 1e-2, rtol = opts.rtol ?? 2e-2, atol = opts.atol ?? 2e-3, samples = opts.samples ?? 12;
  const rng = new Rng(opts.seed ?? 7);
  const out = f(...inputs);
  const r = randomArray(out.size, rng);
  const lossOf = (o: Tensor) => { let s = 0; for (let i = 0; i < o.size; i++) s += o.data[i] * r[i]; return s; };
  for (const x of inputs) x.grad = null;
  backward(out, r);
  for (const [k, x] of inputs.entries()) {
    if (!x.requiresGrad) continue;
    const g = x.grad ?? new Float32Array(x.size);
    const n = Math.min(samples, x.size);
    for (let s = 0; s < n; s++) {
      const i = x.size <= samples ? s : rng.int(x.size);
      const orig = x.data[i];
      x.data[i] = orig + eps; const up = lossOf(f(...inputs));
      x.data[i] = orig - eps; const down = lossOf(f(...inputs));
      x.data[i] = orig;
      const numeric = (up - down) / (2 * eps);
      const err = Math.abs(numeric - g[i]);
      assert.ok(err <= atol + rtol * Math.abs(numeric),
        `${name}: d/d input${k}[${i}] analytical ${g[i]} vs numerical ${numeric} (error ${err})`);
    }
  }
}

/** max |a − b| / max(max |b|, tiny): the agreement measure between two backends. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'lengths differ');
  let maxDiff = 0, maxRef = 0;
  for (let i = 0; i < a.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
    maxRef = Math.max(maxRef, Math.abs(b[i]));
  }
  return maxDiff / Math.max(maxRef, 1e-30);
}
