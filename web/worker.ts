/**
 * The sampling worker: holds the model and runs the sampler of the js backend, so the page stays
 * responsive. Posts partial images while it works (every ~60 ms) and the final labels at the end.
 */
import { sampleCached } from '../src/sample/cached.js';
import { sampleNaive, type SampleOptions } from '../src/sample/naive.js';
import { sampleLevel } from '../src/sample/categorical.js';
import { Rng } from '../src/nn/rng.js';
import type { AutoregressiveModel } from '../src/models/index.js';
import { parseCheckpoint } from './checkpoint.js';
import type { FromWorker, SampleRequest, ToWorker } from './protocol.js';

const PROGRESS_INTERVAL_MS = 60;
let model: AutoregressiveModel | null = null;

function post(msg: FromWorker, transfer: Transferable[] = []): void {
  self.postMessage(msg, { transfer });
}

/**
 * The cached sampler, or the naive one for an architecture the cached sampler does not cover yet
 * (it says so before drawing anything, so nothing has been consumed from the options' callbacks).
 */
export function sampleBest(m: AutoregressiveModel, o: SampleOptions): Uint8Array {
  try {
    return sampleCached(m, o);
  } catch (e) {
    if (e instanceof Error && /cached sampling is not implemented/.test(e.message)) return sampleNaive(m, o);
    throw e;
  }
}

function sample(r: SampleRequest): void {
  if (!model) throw new Error('no model loaded');
  const { channels: C, height: H, width: W, levels: L, likelihood } = model.config;
  const HW = H * W, total = C * HW, start = r.given ? r.given.observed : 0;
  const perColour = likelihood === 'sigmoid' ? 1 : L;

  // Live preview. The sampler returns its labels only at the end, so the preview repeats its
  // draws: it documents the random-number order (for each position in raster order, for each
  // image, one sampleLevel draw from Rng(seed)) and hands each position's logits to onLogits
  // before drawing. The final images are always the sampler's own result.
  const preview = r.given ? Uint8Array.from(r.given.labels) : new Uint8Array(r.count * total);
  for (let b = 0; b < r.count; b++) for (let pos = start; pos < total; pos++) preview[(b * C + (pos % C)) * HW + Math.floor(pos / C)] = 0;
  const shadow = new Rng(r.seed);
  let last = performance.now();

  const t0 = performance.now();
  const labels = sampleBest(model, {
    count: r.count,
    temperature: r.temperature,
    seed: r.seed,
    classes: r.classes ? Int32Array.from(r.classes) : null,
    given: r.given,
    onLogits: (pos, logits) => {
      const p = Math.floor(pos / C), c = pos % C;
      for (let b = 0; b < r.count; b++) {
        preview[(b * C + c) * HW + p] = sampleLevel(logits, b * perColour, 1, perColour, r.temperature, shadow);
      }
    },
    onProgress: (done, all) => {
      const now = performance.now();
      if (now - last >= PROGRESS_INTERVAL_MS && done < all) {
        last = now;
        const copy = preview.slice();
        post({ type: 'progress', id: r.id, done, total: all, labels: copy }, [copy.buffer]);
      }
    },
  });
  const ms = performance.now() - t0;
  let agreed = labels.length === preview.length;
  for (let i = 0; agreed && i < labels.length; i++) agreed = labels[i] === preview[i];
  post({ type: 'done', id: r.id, labels, ms, previewAgreed: agreed }, [labels.buffer]);
}

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const msg = e.data;
  try {
    if (msg.type === 'load') {
      const loaded = parseCheckpoint(msg.configText, new Uint8Array(msg.weights));
      model = loaded.model;
      post({ type: 'loaded', info: loaded.info });
    } else if (msg.type === 'sample') {
      sample(msg);
    }
  } catch (err) {
    post({ type: 'error', id: msg.type === 'sample' ? msg.id : null, message: err instanceof Error ? err.message : String(err) });
  }
};
