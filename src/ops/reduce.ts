import { Tensor } from '../tensor/tensor.js';
import { result } from '../tensor/autograd.js';
import { assertTensor } from './check.js';

/** Σ x as a scalar tensor (accumulated in float64). */
export function sum(x: Tensor): Tensor {
  assertTensor('sum', 'x', x);
  let s = 0;
  for (let i = 0; i < x.size; i++) s += x.data[i];
  return result(Float32Array.of(s), [1], [x], (out) => {
    const g = out.grad![0], d = x.gradBuffer();
    for (let i = 0; i < d.length; i++) d[i] += g;
  });
}

/** mean(x) as a scalar tensor. */
export function mean(x: Tensor): Tensor {
  assertTensor('mean', 'x', x);
  if (x.size === 0) throw new Error(`mean: empty tensor ${x.describe()}`);
  let s = 0;
  for (let i = 0; i < x.size; i++) s += x.data[i];
  const n = x.size;
  return result(Float32Array.of(s / n), [1], [x], (out) => {
    const g = out.grad![0] / n, d = x.gradBuffer();
    for (let i = 0; i < d.length; i++) d[i] += g;
  });
}
