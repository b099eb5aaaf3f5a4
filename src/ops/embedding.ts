import { Tensor, shapeStr } from '../tensor/tensor.js';
import { result } from '../tensor/autograd.js';
import { assertRank, assertTensor, fail } from './check.js';

/** Rows `classes` of an embedding table (K, D) → (B, D); the gradient goes to those rows only. */
export function embedding(table: Tensor, classes: Int32Array): Tensor {
  assertTensor('embedding', 'table', table); assertRank('embedding', 'table', table, 2);
  const [K, D] = table.shape, B = classes.length;
  for (const c of classes) if (!(Number.isInteger(c) && c >= 0 && c < K)) fail('embedding', `class ${c} outside [0, ${K}) of table ${shapeStr(table.shape)}`);
  const y = new Float32Array(B * D);
  for (let b = 0; b < B; b++) y.set(table.data.subarray(classes[b] * D, (classes[b] + 1) * D), b * D);
  return result(y, [B, D], [table], (out) => {
    const g = out.grad!, d = table.gradBuffer();
    for (let b = 0; b < B; b++) {
      const row = classes[b] * D;
      for (let j = 0; j < D; j++) d[row + j] += g[b * D + j];
    }
  });
}
