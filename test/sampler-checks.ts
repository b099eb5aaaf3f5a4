/**
 * Checks shared by the sampler tests (test/sampler*.test.ts): a sampler's recorded logits against
 * a full forward pass of the images it produced, and the small helpers around it.
 */
import assert from 'node:assert/strict';
import { Tensor } from '../src/tensor/tensor.js';
import { noGrad } from '../src/tensor/autograd.js';
import { Rng } from '../src/random/rng.js';
import { type AutoregressiveModel, outputFilter, outputsPerColour } from '../src/models/model.js';
import type { SampleOptions } from '../src/sample/naive.js';
import { sampleCached } from '../src/sample/cached.js';
import { useBackend, kernels } from '../src/backend/index.js';

/** Makes the random model's logits spread out (default init gives near-uniform distributions): scales the output layer. */
export function sharpen<M extends AutoregressiveModel>(model: M, factor: number): M {
  for (const p of model.parameters().values()) {
    if (p.name?.startsWith('out2') || p.name?.startsWith('nin_out')) for (let i = 0; i < p.size; i++) p.data[i] *= factor;
  }
  return model;
}

export function withBackend<T>(name: 'js' | 'native', f: () => T): T {
  const before = kernels().name;
  useBackend(name);
  try { return f(); } finally { useBackend(before); }
}

/** Logits of every position (pixel·C + colour) of the finished images, (count, perColour) per position. */
export function fullForwardLogits(model: AutoregressiveModel, labels: Uint8Array, count: number, classes: Int32Array | null = null): Float32Array[] {
  const { channels: C, levels: L, height: H, width: W } = model.config;
  const HW = H * W, perColour = outputsPerColour(model.config);
  const x = new Tensor(Float32Array.from(labels, (v) => v / (L - 1)), [count, C, H, W]);
  const out = noGrad(() => model.forward(x, classes)).data;
  return Array.from({ length: C * HW }, (_, pos) => {
    const p = Math.floor(pos / C), c = pos % C, a = new Float32Array(count * perColour);
    for (let b = 0; b < count; b++) for (let k = 0; k < perColour; k++) a[b * perColour + k] = out[(b * perColour * C + outputFilter(k, c, C)) * HW + p];
    return a;
  });
}

/** Runs the sampler recording the logits of every draw; checks them against the final image's forward pass. */
export function checkExact(model: AutoregressiveModel, o: SampleOptions, sampler = sampleCached): Uint8Array {
  const recorded = new Map<number, Float32Array>();
  const labels = sampler(model, { ...o, onLogits: (pos, l) => recorded.set(pos, Float32Array.from(l)) });
  const { channels: C, height: H, width: W } = model.config;
  const start = o.given ? o.given.observed : 0;
  assert.equal(recorded.size, C * H * W - start, 'one onLogits call per generated position');
  const full = fullForwardLogits(model, labels, o.count, o.classes ?? null);
  let maxDiff = 0, maxRef = 0;
  for (const [pos, l] of recorded) {
    const ref = full[pos];
    for (let i = 0; i < l.length; i++) { maxDiff = Math.max(maxDiff, Math.abs(l[i] - ref[i])); maxRef = Math.max(maxRef, Math.abs(ref[i])); }
  }
  assert.ok(maxRef > 0, 'logits are not all zero');
  assert.ok(maxDiff / maxRef < 1e-4, `relative error ${maxDiff / maxRef} ≥ 1e-4`);
  return labels;
}

export function randomLabels(n: number, levels: number, seed: number): Uint8Array {
  const r = new Rng(seed);
  return Uint8Array.from({ length: n }, () => r.int(levels));
}
