import { Tensor, shapeStr } from '../tensor/tensor.js';
import { result } from '../tensor/autograd.js';
import { allocate } from '../tensor/arena.js';
import { kernels } from '../backend/index.js';
import { assertRank, assertTensor, fail } from './check.js';

/**
 * The gated unit of Gated PixelCNN, fused: x (B, 2h, H, W) → tanh(f) ⊙ σ(g) (B, h, H, W), with
 * f = channels [0, h) and g = [h, 2h). One kernel pass each way instead of two slices, tanh,
 * sigmoid and a product (five passes and five buffers over the largest activations of the model);
 * backward recomputes tanh and σ from x rather than keeping them.
 */
export function gate(x: Tensor): Tensor {
  assertTensor('gate', 'x', x); assertRank('gate', 'x', x, 4);
  const [B, C2, H, W] = x.shape;
  if (C2 % 2 !== 0) fail('gate', `x ${shapeStr(x.shape)} needs an even number of channels (f and g halves)`);
  const h = C2 / 2, n = h * H * W, k = kernels();
  const y = allocate(B * n, false);
  k.gateForward(y, x.data, B, n);
  return result(y, [B, h, H, W], [x], (out) => k.gateBackward(x.gradBuffer(), out.grad!, x.data, B, n));
}

/**
 * PixelCNN++'s gate, fused with its residual connection: x (B, 2h, H, W) → a ⊙ σ(g) (+ residual,
 * (B, h, H, W)) with a = channels [0, h) and g = [h, 2h). The residual's gradient is the output's
 * (handed over, not copied, when it has none yet).
 */
export function glu(x: Tensor, residual: Tensor | null = null): Tensor {
  assertTensor('glu', 'x', x); assertRank('glu', 'x', x, 4);
  const [B, C2, H, W] = x.shape;
  if (C2 % 2 !== 0) fail('glu', `x ${shapeStr(x.shape)} needs an even number of channels (a and g halves)`);
  const h = C2 / 2, n = h * H * W, k = kernels();
  if (residual) {
    assertTensor('glu', 'residual', residual);
    const want = [B, h, H, W];
    if (residual.shape.length !== 4 || residual.shape.some((v, i) => v !== want[i])) {
      fail('glu', `residual ${shapeStr(residual.shape)} does not match the output ${shapeStr(want)}`);
    }
  }
  const y = allocate(B * n, false);
  k.gluForward(y, x.data, residual ? residual.data : null, B, n);
  return result(y, [B, h, H, W], residual ? [x, residual] : [x], (out) => {
    const g = out.grad!;
    if (x.requiresGrad) k.gluBackward(x.gradBuffer(), g, x.data, B, n);
    if (residual?.requiresGrad && !residual.adoptGrad(g)) k.accumulate(residual.gradBuffer(), g);
  });
}
