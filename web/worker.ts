/**
 * The sampling worker: holds the model and runs the sampler on the wasm backend (the C++ kernels
 * compiled to WebAssembly, assets/pixelcnn.wasm), or on the js backend when that cannot load, so
 * the page stays responsive. Posts partial images while it works (every ~60 ms: copies of the sampler's live
 * labels, which it hands to onProgress) and the final labels at the end.
 */
import { sampleCached } from '../src/sample/cached.js';
import type { AutoregressiveModel } from '../src/models/index.js';
import { parseCheckpoint } from './checkpoint.js';
import type { BackendInfo, FromWorker, SampleRequest, ToWorker } from './protocol.js';
import { startBackend } from './worker-common.js';

const PROGRESS_INTERVAL_MS = 60;
let model: AutoregressiveModel | null = null;

/** Compiles the wasm module while the page fetches the model. */
const backend: Promise<BackendInfo> = startBackend();

function post(msg: FromWorker, transfer: Transferable[] = []): void {
  self.postMessage(msg, { transfer });
}

/** Whether `a` and `b` (count, C, H, W) agree at every position in raster order below `upTo`. */
function prefixAgrees(a: Uint8Array, b: Uint8Array, count: number, C: number, HW: number, upTo: number): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < count; i++) for (let c = 0; c < C; c++) {
    const off = (i * C + c) * HW;
    for (let p = 0; p * C + c < upTo && p < HW; p++) if (a[off + p] !== b[off + p]) return false;
  }
  return true;
}

function sample(r: SampleRequest): void {
  if (!model) throw new Error('no model loaded');
  const { channels: C, height: H, width: W } = model.config;
  const HW = H * W, start = r.given ? r.given.observed : 0;

  // Live preview: copies of the sampler's own labels as it fills them. previewAgreed checks that
  // what was shown stays true: each preview's final positions (below start + done) equal the
  // next preview's, and the last one's equal the result.
  let shown = null as { labels: Uint8Array; upTo: number } | null;
  let agreed = true;
  let last = performance.now();

  const t0 = performance.now();
  const labels = sampleCached(model, {
    count: r.count,
    temperature: r.temperature,
    seed: r.seed,
    classes: r.classes ? Int32Array.from(r.classes) : null,
    given: r.given,
    onProgress: (done, all, live) => {
      const now = performance.now();
      if (now - last >= PROGRESS_INTERVAL_MS && done < all) {
        last = now;
        const copy = live.slice();
        if (shown && !prefixAgrees(shown.labels, copy, r.count, C, HW, shown.upTo)) agreed = false;
        shown = { labels: copy, upTo: start + done };
        // Cloned, not transferred: `copy` is kept for the next comparison.
        post({ type: 'progress', id: r.id, done, total: all, labels: copy });
      }
    },
  });
  const ms = performance.now() - t0;
  if (shown && !prefixAgrees(shown.labels, labels, r.count, C, HW, shown.upTo)) agreed = false;
  post({ type: 'done', id: r.id, labels, ms, previewAgreed: agreed }, [labels.buffer]);
}

/**
 * Worker time per generated position and image, from completing the last image row of one blank
 * image (the prefill is included, so it errs long): the page's estimate before its first job.
 */
function calibrate(m: AutoregressiveModel): number {
  const { channels: C, height: H, width: W } = m.config;
  const positions = Math.min(C * W, C * H * W);
  const labels = new Uint8Array(C * H * W);
  const t0 = performance.now();
  sampleCached(m, {
    count: 1, temperature: 1, seed: 0, given: { labels, observed: labels.length - positions },
    classes: m.config.numClasses > 0 ? Int32Array.of(0) : null,
  });
  return (performance.now() - t0) / positions;
}

self.onmessage = async (e: MessageEvent<ToWorker>) => {
  const msg = e.data;
  try {
    if (msg.type === 'load') {
      const loaded = parseCheckpoint(msg.configText, new Uint8Array(msg.weights));
      model = loaded.model;
      const info = await backend;
      post({ type: 'loaded', info: loaded.info, backend: info, msPerPosition: calibrate(model) });
    } else if (msg.type === 'sample') {
      sample(msg);
    }
  } catch (err) {
    post({ type: 'error', id: msg.type === 'sample' ? msg.id : null, message: err instanceof Error ? err.message : String(err) });
  }
};
