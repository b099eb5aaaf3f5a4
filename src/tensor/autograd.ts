import { Tensor } from './tensor.js';

let gradEnabled = true;

/** Whether ops record the graph now (false inside noGrad). */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn without recording a graph: evaluation and sampling keep no activations for backward. */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/**
 * Creates an op's output. When grad mode is on and an input needs a gradient, the output keeps
 * its parents and backward closure; otherwise it is a plain tensor and the closure is dropped.
 */
export function result(data: Float32Array, shape: readonly number[], parents: readonly Tensor[],
                       backwardFn: (out: Tensor) => void): Tensor {
  const track = gradEnabled && parents.some((p) => p.requiresGrad);
  if (!track) return new Tensor(data, shape);
  const out: Tensor = new Tensor(data, shape, { requiresGrad: true, parents, backwardFn: () => backwardFn(out) });
  return out;
}

/**
 * Reverse-mode pass from a scalar (or seeded) output: every tensor that requires a gradient and
 * leads to `root` gets its grad accumulated. Intermediate grads are released afterwards.
 */
export function backward(root: Tensor, seed?: Float32Array): void {
  if (!root.requiresGrad) throw new Error(`backward: ${root.describe()} does not require a gradient`);
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative DFS post-order (graphs can be deep: no recursion).
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    if (i < t.parents.length) {
      top[1]++;
      const p = t.parents[i];
      if (p.requiresGrad && !seen.has(p)) { seen.add(p); stack.push([p, 0]); }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  const g = root.gradBuffer();
  if (seed) {
    if (seed.length !== g.length) throw new Error(`backward: seed length ${seed.length} != ${root.describe()}`);
    g.set(seed);
  } else {
    if (root.size !== 1) throw new Error(`backward: ${root.describe()} is not a scalar; pass a seed gradient`);
    g[0] = 1;
  }
  for (let k = order.length - 1; k >= 0; k--) {
    const t = order[k];
    if (t.backwardFn && t.grad) t.backwardFn();
    // Free activations' gradients once consumed; leaves (parameters) keep theirs.
    if (t.backwardFn) { t.grad = null; t.backwardFn = null; }
  }
}
