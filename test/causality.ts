import assert from 'node:assert/strict';
import { Tensor } from '../src/tensor/tensor.js';
import { backward } from '../src/tensor/autograd.js';
import { type AutoregressiveModel, outputFilter, outputsPerColour } from '../src/models/model.js';
import { Rng } from '../src/random/rng.js';

/**
 * d logits(colour c, pixel i) / d input, for every pixel and colour, as a dependency map:
 * deps[(i·C + c)][(j·C + c')] = 1 iff the gradient is non-zero.
 */
export function dependencyMap(model: AutoregressiveModel, height: number, width: number, seed = 1, classes: Int32Array | null = null): Uint8Array[] {
  const C = model.config.channels;
  const HW = height * width, rng = new Rng(seed);
  const perColour = outputsPerColour(model.config);
  const deps: Uint8Array[] = [];
  for (let i = 0; i < HW; i++) {
    for (let c = 0; c < C; c++) {
      const x = Tensor.zeros([1, C, height, width], { requiresGrad: true });
      for (let j = 0; j < x.size; j++) x.data[j] = rng.uniform();
      const logits = model.forward(x, classes);
      const seedGrad = new Float32Array(logits.size);
      // Sum of the outputs of colour c at pixel i (its whole group), with random weights.
      for (let j = 0; j < perColour; j++) seedGrad[outputFilter(j, c, C) * HW + i] = 0.5 + rng.uniform();
      backward(logits, seedGrad);
      const d = new Uint8Array(HW * C);
      for (let cc = 0; cc < C; cc++) for (let j = 0; j < HW; j++) d[j * C + cc] = x.grad![cc * HW + j] !== 0 ? 1 : 0;
      for (const p of model.parameters().values()) p.grad = null;
      deps.push(d);
    }
  }
  return deps;
}

/** Asserts the autoregressive order: no dependence on later pixels or on colours ≥ c at pixel i. */
export function assertAutoregressive(name: string, model: AutoregressiveModel, height: number, width: number): Uint8Array[] {
  const C = model.config.channels, HW = height * width;
  const deps = dependencyMap(model, height, width);
  let allowedSeen = 0;
  for (let i = 0; i < HW; i++) for (let c = 0; c < C; c++) {
    const d = deps[i * C + c];
    for (let j = 0; j < HW; j++) for (let cc = 0; cc < C; cc++) {
      const forbidden = j > i || (j === i && cc >= c);
      if (forbidden) {
        assert.equal(d[j * C + cc], 0, `${name}: logits of colour ${c} at pixel ${i} depend on colour ${cc} at pixel ${j}`);
      } else allowedSeen += d[j * C + cc];
    }
  }
  // The test must be able to fail: the model does use its context.
  assert.ok(allowedSeen > 0, `${name}: no dependencies at all; the check is vacuous`);
  return deps;
}
