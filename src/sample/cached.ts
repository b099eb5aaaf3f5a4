import { Rng } from '../random/rng.js';
import type { AutoregressiveModel } from '../models/model.js';
import { activeAddon } from '../backend/index.js';
import { levelDraw } from './draw.js';
import { checkSampleOptions, type SampleOptions } from './naive.js';
import { levelToUnit, levelsToUnit } from '../data/quantise.js';
import { createIncrementalNetwork } from './incremental/create.js';

export type { IncrementalNetwork } from './incremental/network.js';

/**
 * The cached (incremental) sampler: the same options, output and random-number order as
 * sampleNaive (for each position in raster order pixel·C + colour, for each image, one
 * levelDraw draw), so both give the same images for a seed up to float ties, at about the
 * cost of one forward pass per colour instead of one per pixel and colour. See
 * src/sample/incremental/network.ts for how layers are evaluated one pixel at a time.
 *
 * Completion (o.given): the observed prefix is computed by one batched full forward pass that
 * fills every layer's cache, then generation continues incrementally from the first unobserved
 * position.
 *
 * With the native or wasm backend (activeAddon()) and a binding that has the cached sampler, the
 * whole loop (every pixel, colour, layer and draw) runs in one C++ call, or one per image row
 * when onProgress / onLogits is given; its RNG is a port of Rng, so the images are the
 * same as the js backend's for a seed (up to float ties).
 *
 * onProgress gets the live labels (see SampleOptions.onProgress): after each position on the js
 * path, after each image row on the native one, with every draw up to that point written.
 */
export function sampleCached(model: AutoregressiveModel, o: SampleOptions): Uint8Array {
  const { H, W, T } = checkSampleOptions(model, o);
  const { channels: C, levels: L } = model.config;
  const B = o.count, HW = H * W, total = C * HW;
  const labels = o.given ? Uint8Array.from(o.given.labels) : new Uint8Array(B * C * HW);
  const start = o.given ? o.given.observed : 0;
  // Observed values stay; everything after the prefix is generated (and zero until then).
  for (let b = 0; b < B; b++) for (let pos = start; pos < total; pos++) {
    labels[(b * C + (pos % C)) * HW + Math.floor(pos / C)] = 0;
  }
  if (start >= total) return labels;

  const net = createIncrementalNetwork(model, B, H, W);
  const x = net.input;
  levelsToUnit(labels, L, x);
  net.prefill(o.classes ?? null, Math.floor(start / C));

  const perColour = net.outputsPerColour;
  const rng = new Rng(o.seed ?? 0);
  const addon = activeAddon();
  const generate = addon && net.nativeGenerator ? net.nativeGenerator(addon) : null;
  if (generate) {
    const state = Uint32Array.from(rng.state());
    // One call for everything, or one per image row when someone watches.
    const chunk = o.onProgress || o.onLogits ? C * W : total - start;
    const seen = o.onLogits ? new Float32Array(chunk * B * perColour) : null;
    for (let pos = start; pos < total; pos += chunk) {
      const end = Math.min(total, pos + chunk);
      // The addon writes the draws of [pos, end) into `labels` (and x) in place, so the buffer
      // handed to onProgress is current here.
      generate(labels, pos, end, T, state, seen);
      if (seen) for (let q = pos; q < end; q++) o.onLogits!(q, seen.subarray((q - pos) * B * perColour, (q - pos + 1) * B * perColour));
      o.onProgress?.(end - start, total - start, labels);
    }
    return labels;
  }

  const logits = new Float32Array(B * perColour);
  const draw = levelDraw(model.config, B);
  for (let pos = start; pos < total; pos++) {
    const p = Math.floor(pos / C), c = pos % C;
    net.logitsAt(p, c, logits);
    o.onLogits?.(pos, logits);
    for (let b = 0; b < B; b++) {
      const v = draw(logits, b * perColour, 1, b, c, T, rng);
      const idx = (b * C + c) * HW + p;
      labels[idx] = v; x[idx] = levelToUnit(v, L);
    }
    o.onProgress?.(pos + 1 - start, total - start, labels);
  }
  return labels;
}
