import { Tensor } from '../tensor/tensor.js';
import { result } from '../tensor/autograd.js';
import { allocate } from '../tensor/arena.js';
import { kernels } from '../backend/index.js';
import { assertRank, assertSameShape, assertTensor } from './check.js';
import { sigmoid as sigmoidOf } from '../math/scalar.js';

/**
 * Elementwise ops. The hot ones of training (ReLU, add) run as kernels; the others (gated
 * units' tanh, sigmoid, mul) are plain loops here. Each backward accumulates into parents, except
 * where a parent has no gradient yet: ReLU then overwrites a fresh buffer and add hands over its
 * own gradient buffer (see Tensor.gradTarget/adoptGrad).
 */

/** y = f(x) with dy/dx expressed from x and y; both given as whole-array loops (no per-element calls). */
function unary(op: string, x: Tensor,
               forward: (y: Float32Array, x: Float32Array) => void,
               backward: (dx: Float32Array, dy: Float32Array, x: Float32Array, y: Float32Array) => void): Tensor {
  assertTensor(op, 'x', x);
  const y = allocate(x.size, false);
  forward(y, x.data);
  return result(y, x.shape, [x], (out) => backward(x.gradBuffer(), out.grad!, x.data, y));
}

export function relu(x: Tensor): Tensor {
  assertTensor('relu', 'x', x);
  const k = kernels(), y = allocate(x.size, false);
  k.reluForward(y, x.data);
  return result(y, x.shape, [x], (out) => {
    const [dx, beta] = x.gradTarget();
    k.reluBackward(dx, out.grad!, x.data, beta);
  });
}

export function tanh(x: Tensor): Tensor {
  return unary('tanh', x,
    (y, a) => { for (let i = 0; i < a.length; i++) y[i] = Math.tanh(a[i]); },
    (dx, dy, _a, y) => { for (let i = 0; i < y.length; i++) dx[i] += dy[i] * (1 - y[i] * y[i]); });
}

export function sigmoid(x: Tensor): Tensor {
  return unary('sigmoid', x,
    (y, a) => { for (let i = 0; i < a.length; i++) y[i] = sigmoidOf(a[i]); },
    (dx, dy, _a, y) => { for (let i = 0; i < y.length; i++) dx[i] += dy[i] * y[i] * (1 - y[i]); });
}

export function add(a: Tensor, b: Tensor): Tensor {
  assertTensor('add', 'a', a); assertTensor('add', 'b', b); assertSameShape('add', a, b);
  const k = kernels(), y = allocate(a.size, false);
  k.add(y, a.data, b.data);
  return result(y, a.shape, [a, b], (out) => {
    // The output's gradient is each input's: the first input without one takes the buffer itself.
    const g = out.grad!;
    let adopted = false;
    for (const p of [a, b]) {
      if (!p.requiresGrad) continue;
      if (!adopted && p.adoptGrad(g)) adopted = true;
      else k.accumulate(p.gradBuffer(), g);
    }
  });
}

export function mul(a: Tensor, b: Tensor): Tensor {
  assertTensor('mul', 'a', a); assertTensor('mul', 'b', b); assertSameShape('mul', a, b);
  const y = allocate(a.size, false), ad = a.data, bd = b.data;
  for (let i = 0; i < y.length; i++) y[i] = ad[i] * bd[i];
  return result(y, a.shape, [a, b], (out) => {
    const g = out.grad!;
    if (a.requiresGrad) { const d = a.gradBuffer(); for (let i = 0; i < g.length; i++) d[i] += g[i] * bd[i]; }
    if (b.requiresGrad) { const d = b.gradBuffer(); for (let i = 0; i < g.length; i++) d[i] += g[i] * ad[i]; }
  });
}

/** elu(x) = x for x > 0, e^x − 1 otherwise (PixelCNN++'s output head). */
export function elu(x: Tensor): Tensor {
  assertTensor('elu', 'x', x);
  const k = kernels(), y = allocate(x.size, false);
  k.eluForward(y, x.data);
  return result(y, x.shape, [x], (out) => k.eluBackward(x.gradBuffer(), out.grad!, x.data));
}

/**
 * concat_elu(x) = elu(concat(x, −x)) along channels: x (B, C, H, W) → (B, 2C, H, W), channels
 * [0, C) elu(x) and [C, 2C) elu(−x) (PixelCNN++'s non-linearity: keeps both signs' information
 * where a ReLU would drop one). One kernel pass each way; backward reads x only.
 */
export function concatElu(x: Tensor): Tensor {
  assertTensor('concatElu', 'x', x); assertRank('concatElu', 'x', x, 4);
  const [B, C, H, W] = x.shape, n = C * H * W, k = kernels();
  const y = allocate(2 * B * n, false);
  k.concatEluForward(y, x.data, B, n);
  return result(y, [B, 2 * C, H, W], [x], (out) => k.concatEluBackward(x.gradBuffer(), out.grad!, x.data, B, n));
}
