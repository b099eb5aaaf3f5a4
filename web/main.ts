/**
 * The page: fetches the checkpoint, hands it to the sampling worker, and draws what comes back;
 * the Train panel runs the training worker and shows what it reports. Every failure ends up as a
 * readable message in #error.
 */
import { quantiseValue } from '../src/data/quantise.js';
import { MODEL_INDEX_ROUTE, modelRoutes, type ModelIndexEntry } from '../src/serve/model-index.js';
import {
  DEFAULT_TRAIN_PRESET, TRAIN_PRESETS,
  type BackendInfo, type FromTrainWorker, type FromWorker, type ModelInfo, type SampleRequest, type ToTrainWorker, type ToWorker,
  type TrainPresetName,
} from './protocol.js';

/** What the last finished job produced (read by the browser test). */
export interface LastSamples {
  kind: 'sample' | 'complete';
  labels: number[];
  count: number;
  seed: number;
  temperature: number;
  classes: number[] | null;
  observed: number;
  /** Sampling time in the worker, ms. */
  ms: number;
  /** Whether the live preview ended equal to the sampler's result. */
  previewAgreed: boolean;
}

/** The Train panel's state (read by the browser test). */
export interface TrainView {
  state: 'idle' | 'starting' | 'training' | 'stopping' | 'stopped' | 'error';
  steps: number;
  /** Training loss of every step, bits/dim. */
  losses: number[];
  tests: { step: number; bitsPerDim: number }[];
  /** Training speed as the panel shows it (the last TRAIN_SPEED_STEPS steps), or null before a step. */
  imagesPerSecond: number | null;
  /** Sample grids shown so far. */
  grids: number;
}

declare global {
  interface Window {
    __pixelcnnTrain?: TrainView;
    __lastSamples?: LastSamples;
    __pixelcnn?: { state: 'loading' | 'ready' | 'busy' | 'error'; info: ModelInfo | null; backend: BackendInfo | null;
      jobs: number; progressEvents: number };
  }
}

/** The page's URLs are relative to it (the routes without their leading slash). */
const relative = (route: string) => route.slice(1);
const MODEL_INDEX_URL = relative(MODEL_INDEX_ROUTE);
const PENDING: [number, number, number] = [196, 208, 224];
const GAP = 1;

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page is missing #${id}`);
  return el as T;
};

const ui = {
  status: $('status'),
  error: $('error'),
  config: $('config'),
  metrics: $('metrics'),
  sampleForm: $<HTMLFormElement>('sample-form'),
  temperature: $<HTMLInputElement>('temperature'),
  seed: $<HTMLInputElement>('seed'),
  batch: $<HTMLInputElement>('batch'),
  classLabel: $('class-label'),
  klass: $<HTMLSelectElement>('class'),
  generate: $<HTMLButtonElement>('generate'),
  randomSeed: $<HTMLButtonElement>('random-seed'),
  progress: $<HTMLProgressElement>('progress'),
  sampleStatus: $('sample-status'),
  samples: $<HTMLCanvasElement>('samples'),
  draw: $<HTMLCanvasElement>('draw'),
  testImage: $<HTMLSelectElement>('test-image'),
  testImageSource: $<HTMLParagraphElement>('test-image-source'),
  erase: $<HTMLInputElement>('erase'),
  clear: $<HTMLButtonElement>('clear'),
  rows: $<HTMLInputElement>('rows'),
  rowsValue: $<HTMLOutputElement>('rows-value'),
  completeForm: $<HTMLFormElement>('complete-form'),
  completions: $<HTMLInputElement>('completions'),
  complete: $<HTMLButtonElement>('complete'),
  completed: $<HTMLCanvasElement>('completed'),
  completeStatus: $('complete-status'),
  stop: $<HTMLButtonElement>('stop'),
  backend: $('backend'),
  savePng: $<HTMLButtonElement>('save-png'),
  model: $<HTMLSelectElement>('model'),
  modelCard: $<HTMLAnchorElement>('model-card-link'),
  trainForm: $<HTMLFormElement>('train-form'),
  trainModel: $<HTMLSelectElement>('train-model'),
  trainBatch: $<HTMLSelectElement>('train-batch'),
  trainLr: $<HTMLInputElement>('train-lr'),
  trainStart: $<HTMLButtonElement>('train-start'),
  trainStop: $<HTMLButtonElement>('train-stop'),
  trainStatus: $('train-status'),
  trainLoss: $<HTMLCanvasElement>('train-loss'),
  trainSamples: $<HTMLCanvasElement>('train-samples'),
  trainDownload: $('train-download'),
  downloadConfig: $<HTMLAnchorElement>('download-config'),
  downloadWeights: $<HTMLAnchorElement>('download-weights'),
  trainUse: $<HTMLButtonElement>('train-use'),
};

const state: NonNullable<Window['__pixelcnn']> = { state: 'loading', info: null, backend: null, jobs: 0, progressEvents: 0 };
window.__pixelcnn = state;

// ---------------------------------------------------------------------------------------------
// Errors

function showError(message: string): void {
  ui.error.textContent = message;
  ui.error.hidden = false;
}

function clearError(): void {
  ui.error.textContent = '';
  ui.error.hidden = true;
}

function fatal(message: string): void {
  showError(message);
  if (!state.info) ui.config.textContent = 'No model loaded.';
  state.state = 'error';
  ui.status.textContent = 'Not ready: see the message above.';
  setBusy(false);
}

window.addEventListener('error', (e) => showError(`Unexpected error: ${e.message}`));
window.addEventListener('unhandledrejection', (e) => {
  const r: unknown = e.reason;
  showError(`Unexpected error: ${r instanceof Error ? r.message : String(r)}`);
});

// ---------------------------------------------------------------------------------------------
// Worker

let worker: Worker | null = null;
let configText = '';
let weights: ArrayBuffer | null = null;
let nextId = 1;

interface Job {
  request: SampleRequest;
  kind: 'sample' | 'complete';
  canvas: HTMLCanvasElement;
  cols: number;
  statusEl: HTMLElement;
  t0: number;
  /** Positions to generate: images × (C·H·W − observed). */
  positions: number;
  /** The estimated worker time, ms (from the last job), or null for the first. */
  estimateMs: number | null;
}

/**
 * Worker time per generated position (of all images) for the next job's estimate: from the
 * worker's trial run on loading, then from the last finished job.
 */
let msPerPosition: number | null = null;
let estimateSource = 'a short trial run';

const formatSeconds = (ms: number) => `${Math.max(0.1, ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
let job: Job | null = null;

async function fetchModel(name: string): Promise<void> {
  const get = async (url: string) => {
    let r: Response;
    try {
      r = await fetch(url, { cache: 'no-cache' });
    } catch (e) {
      throw new Error(`Could not fetch ${url}: ${(e as Error).message}`);
    }
    if (!r.ok) throw new Error(`Could not fetch ${url}: HTTP ${r.status} ${r.statusText}`.trim());
    return r;
  };
  const r = modelRoutes(encodeURIComponent(name));
  const [c, w] = await Promise.all([get(relative(r.config)), get(relative(r.weights))]);
  configText = await c.text();
  weights = await w.arrayBuffer();
}

/** (Re)starts the worker and loads the model into it. */
function startWorker(): Promise<{ info: ModelInfo; backend: BackendInfo; msPerPosition: number }> {
  worker?.terminate();
  const w = new Worker('assets/worker.js');
  worker = w;
  return new Promise((resolve, reject) => {
    w.onmessage = (e: MessageEvent<FromWorker>) => {
      const m = e.data;
      if (m.type === 'loaded') resolve(m);
      else if (m.type === 'error' && m.id === null) reject(new Error(m.message));
      else onJobMessage(m);
    };
    w.onerror = (e) => {
      e.preventDefault();
      const msg = `The sampling worker failed: ${e.message || 'unknown error (could the worker script load?)'}`;
      reject(new Error(msg));
      if (job) { job = null; fatal(msg); }
    };
    const msg: ToWorker = { type: 'load', configText, weights: weights!.slice(0) };
    w.postMessage(msg, [msg.weights]);
  });
}

function onJobMessage(m: FromWorker): void {
  if (!job || !('id' in m) || m.id !== job.request.id) return;
  const j = job, info = state.info!;
  const { channels: C, height: H, width: W } = info.config;
  const start = j.request.given?.observed ?? 0, total = C * H * W - start;
  if (m.type === 'progress') {
    state.progressEvents++;
    renderGrid(j.canvas, m.labels, j.request.count, j.cols, start + m.done);
    ui.progress.value = m.done / m.total;
    j.statusEl.textContent = `${Math.floor(m.done / C)} of ${total / C} pixels · ${((performance.now() - j.t0) / 1000).toFixed(1)} s` +
      (j.estimateMs === null ? '' : ` of about ${formatSeconds(j.estimateMs)}`);
  } else if (m.type === 'done') {
    job = null;
    if (j.positions > 0) { msPerPosition = m.ms / j.positions; estimateSource = 'the last run'; }
    renderGrid(j.canvas, m.labels, j.request.count, j.cols, Infinity);
    ui.progress.value = 1;
    const what = j.kind === 'sample' ? `${j.request.count} sample${j.request.count > 1 ? 's' : ''}` : `${j.request.count} completion${j.request.count > 1 ? 's' : ''}`;
    j.statusEl.textContent = `${what} in ${(m.ms / 1000).toFixed(2)} s (seed ${j.request.seed}, temperature ${j.request.temperature})`;
    window.__lastSamples = {
      kind: j.kind, labels: Array.from(m.labels), count: j.request.count, seed: j.request.seed,
      temperature: j.request.temperature, classes: j.request.classes, observed: start, ms: m.ms,
      previewAgreed: m.previewAgreed,
    };
    state.jobs++;
    if (j.kind === 'sample') saved = { seed: j.request.seed, temperature: j.request.temperature };
    setBusy(false);
  } else if (m.type === 'error') {
    job = null;
    showError(`Sampling failed: ${m.message}`);
    setBusy(false);
  }
}

/** The finished sample grid on the canvas (what Save PNG saves), or null while none is. */
let saved: { seed: number; temperature: number } | null = null;

/** Saves the sample grid as shown (one PNG pixel per image pixel, the grid's gaps included). */
function savePng(): void {
  if (!saved) return;
  const name = `pixelcnn-samples-seed${saved.seed}-t${saved.temperature}.png`;
  ui.samples.toBlob((blob) => {
    if (!blob) return showError('Could not encode the grid as PNG.');
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = name;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  }, 'image/png');
}

function setBusy(busy: boolean): void {
  const ready = state.info !== null && state.state !== 'error';
  if (ready) state.state = busy ? 'busy' : 'ready';
  ui.savePng.disabled = busy || !ready || saved === null;
  ui.generate.disabled = busy || !ready;
  ui.complete.disabled = busy || !ready;
  ui.randomSeed.disabled = busy || !ready;
  ui.stop.disabled = !busy;
}

function run(kind: 'sample' | 'complete', given: SampleRequest['given'], count: number): void {
  if (!worker || !state.info || job) return;
  const info = state.info;
  const temperature = Number(ui.temperature.value), seed = Number(ui.seed.value);
  if (!(temperature >= 0 && temperature <= 10)) return showError('Temperature must be a number from 0 to 10.');
  if (!Number.isInteger(seed) || seed < 0 || seed > 4294967295) return showError('Seed must be an integer from 0 to 4294967295.');
  if (!Number.isInteger(count) || count < 1 || count > 64) return showError('The number of images must be an integer from 1 to 64.');
  clearError();
  let classes: number[] | null = null;
  if (info.config.numClasses > 0) {
    const k = ui.klass.value;
    classes = Array.from({ length: count }, (_, i) => (k === 'mixed' ? i % info.config.numClasses : Number(k)));
  }
  const request: SampleRequest = { type: 'sample', id: nextId++, count, temperature, seed, classes, given };
  if (kind === 'sample') saved = null; // the canvas is about to show a partial grid
  const canvas = kind === 'sample' ? ui.samples : ui.completed;
  const cols = kind === 'sample' ? Math.ceil(Math.sqrt(count)) : count;
  job = { request, kind, canvas, cols, statusEl: kind === 'sample' ? ui.sampleStatus : ui.completeStatus, t0: performance.now(), positions: 0, estimateMs: null };
  const blank = given ? Uint8Array.from(given.labels) : new Uint8Array(count * info.config.channels * info.config.height * info.config.width);
  renderGrid(canvas, blank, count, cols, given?.observed ?? 0);
  ui.progress.value = 0;
  const positions = count * (info.config.channels * info.config.height * info.config.width - (given?.observed ?? 0));
  job.positions = positions;
  job.estimateMs = msPerPosition === null ? null : msPerPosition * positions;
  job.statusEl.textContent = job.estimateMs === null
    ? 'starting…'
    : `starting… (about ${formatSeconds(job.estimateMs)}, estimated from ${estimateSource})`;
  setBusy(true);
  worker.postMessage(request);
}

async function stop(): Promise<void> {
  if (!job) return;
  job.statusEl.textContent = 'stopped';
  job = null;
  setBusy(false);
  ui.generate.disabled = ui.complete.disabled = true;
  try {
    await startWorker();
    setBusy(false);
  } catch (e) {
    fatal(`Could not restart the sampler: ${(e as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Drawing images

/**
 * Draws (count, C, H, W) labels as a grid at one canvas pixel per image pixel (CSS scales it up).
 * Pixels whose last colour is at a position ≥ frontier are not generated yet: drawn in PENDING.
 */
function renderGrid(canvas: HTMLCanvasElement, labels: Uint8Array, count: number, cols: number, frontier: number,
                    dims: Pick<ModelInfo['config'], 'channels' | 'height' | 'width' | 'levels'> = state.info!.config): void {
  const { channels: C, height: H, width: W, levels: L } = dims;
  const rows = Math.ceil(count / cols);
  const cw = cols * W + (cols + 1) * GAP, ch = rows * H + (rows + 1) * GAP;
  if (canvas.width !== cw || canvas.height !== ch) { canvas.width = cw; canvas.height = ch; }
  canvas.hidden = false;
  // Images about 140 CSS pixels wide at most (5× for MNIST), however wide the column.
  canvas.style.maxWidth = `${Math.round(cw * Math.max(5, 140 / W))}px`;
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(cw, ch);
  const d = img.data;
  for (let i = 0; i < d.length; i += 4) { d[i] = 233; d[i + 1] = 237; d[i + 2] = 243; d[i + 3] = 255; }
  const HW = H * W, scale = 255 / (L - 1);
  for (let b = 0; b < count; b++) {
    const ox = GAP + (b % cols) * (W + GAP), oy = GAP + Math.floor(b / cols) * (H + GAP);
    for (let p = 0; p < HW; p++) {
      const o = ((oy + Math.floor(p / W)) * cw + ox + (p % W)) * 4;
      if (p * C + C - 1 >= frontier) { d[o] = PENDING[0]; d[o + 1] = PENDING[1]; d[o + 2] = PENDING[2]; continue; }
      for (let k = 0; k < 3; k++) d[o + k] = Math.round(labels[(b * C + (C === 3 ? k : 0)) * HW + p] * scale);
    }
  }
  ctx.putImageData(img, 0, 0);
}

// The drawing: (C, H, W) intensities in [0, 1] at the model's resolution, shown quantised to its
// levels. Strokes paint every channel alike; a colour test image sets each channel.
const DRAW_SCALE = 10;
let drawing = new Float32Array(1);

function drawingLabels(): Uint8Array {
  const { levels: L } = state.info!.config;
  return Uint8Array.from(drawing, (v) => quantiseValue(v, L));
}

function renderDrawing(): void {
  if (!state.info) return;
  const { height: H, width: W, levels: L } = state.info.config;
  const cv = ui.draw;
  if (cv.width !== W * DRAW_SCALE || cv.height !== H * DRAW_SCALE) { cv.width = W * DRAW_SCALE; cv.height = H * DRAW_SCALE; }
  const ctx = cv.getContext('2d')!;
  const labels = drawingLabels();
  const kept = Number(ui.rows.value);
  const C = labels.length / (H * W);
  for (let p = 0; p < H * W; p++) {
    const [r, g, b] = [0, 1, 2].map((k) => Math.round(labels[(C === 3 ? k : 0) * H * W + p] * 255 / (L - 1)));
    const y = Math.floor(p / W), x = p % W;
    ctx.fillStyle = y < kept ? `rgb(${r},${g},${b})` : `rgb(${Math.round(40 + r * 0.55)},${Math.round(44 + g * 0.55)},${Math.round(60 + b * 0.55)})`;
    ctx.fillRect(x * DRAW_SCALE, y * DRAW_SCALE, DRAW_SCALE, DRAW_SCALE);
  }
  ctx.fillStyle = '#ff5a5a';
  ctx.fillRect(0, Math.min(kept * DRAW_SCALE, cv.height - 2) - 1, cv.width, 2);
}

function paintAt(x: number, y: number, value: number): void {
  const { height: H, width: W } = state.info!.config;
  const r = Math.max(1.5, W / 18);
  for (let py = Math.floor(y - r); py <= Math.ceil(y + r); py++) {
    for (let px = Math.floor(x - r); px <= Math.ceil(x + r); px++) {
      if (px < 0 || py < 0 || px >= W || py >= H) continue;
      const dx = px + 0.5 - x, dy = py + 0.5 - y, dist = Math.sqrt(dx * dx + dy * dy);
      if (dist > r) continue;
      const i = py * W + px;
      const strength = Math.min(1, (r - dist) / 0.6 + 0.3);
      for (let j = i; j < drawing.length; j += H * W) drawing[j] = value > 0 ? Math.max(drawing[j], strength) : Math.min(drawing[j], 1 - strength);
    }
  }
}

function setupDrawing(): void {
  let last: { x: number; y: number } | null = null;
  const pos = (e: PointerEvent) => {
    const rect = ui.draw.getBoundingClientRect(), { height: H, width: W } = state.info!.config;
    return { x: ((e.clientX - rect.left) / rect.width) * W, y: ((e.clientY - rect.top) / rect.height) * H };
  };
  const stroke = (e: PointerEvent) => {
    const p = pos(e), value = ui.erase.checked || e.buttons === 2 ? 0 : 1;
    const from = last ?? p, steps = Math.max(1, Math.ceil(Math.hypot(p.x - from.x, p.y - from.y) / 0.3));
    for (let s = 1; s <= steps; s++) paintAt(from.x + ((p.x - from.x) * s) / steps, from.y + ((p.y - from.y) * s) / steps, value);
    last = p;
    ui.testImage.value = '';
    renderDrawing();
  };
  ui.draw.addEventListener('pointerdown', (e) => {
    if (!state.info) return;
    ui.draw.setPointerCapture(e.pointerId);
    last = null;
    stroke(e);
    e.preventDefault();
  });
  ui.draw.addEventListener('pointermove', (e) => { if (last && e.buttons !== 0) stroke(e); });
  const end = () => { last = null; };
  ui.draw.addEventListener('pointerup', end);
  ui.draw.addEventListener('pointercancel', end);
  ui.draw.addEventListener('contextmenu', (e) => e.preventDefault());
  ui.clear.addEventListener('click', () => { drawing.fill(0); ui.testImage.value = ''; renderDrawing(); });
  ui.rows.addEventListener('input', () => { ui.rowsValue.value = ui.rows.value; renderDrawing(); });
}

/** One data set's test images (assets/test-images.json, made by scripts/build-web.mjs). */
interface TestImageSet {
  /** The data set's name as config.json training.dataset starts ('mnist', 'fashion-mnist'). */
  dataset: string;
  source: string;
  /** How an option names an image: 'test digit' (then the label) or 'test image' (then the class name). */
  item: string;
  classNames: string[] | null;
  width: number;
  height: number;
  /** 3: each image is R, G and B planes (emoji); absent: one gray plane. */
  channels?: number;
  images: { label: number; data: string }[];
}
let testImages: TestImageSet | null = null;

/**
 * The test images of the model's own data set (MNIST when the checkpoint does not say or the
 * page has none of its set), and that set's class names on the class menu of a conditional model.
 */
async function loadTestImages(): Promise<void> {
  let sets: TestImageSet[];
  try {
    const r = await fetch('assets/test-images.json');
    if (!r.ok) return;
    sets = ((await r.json()) as { sets: TestImageSet[] }).sets;
  } catch {
    return; // optional
  }
  const own = state.info?.training?.dataset?.split(':')[0];
  testImages = sets.find((s) => s.dataset === own) ?? sets.find((s) => s.dataset === 'mnist') ?? null;
  if (!testImages) return;
  const set = testImages;
  // Where the images come from (Twemoji's licence asks for its attribution where they are shown).
  ui.testImageSource.textContent = `Test images: ${set.source}.`;
  ui.testImageSource.hidden = false;
  set.images.forEach((im, i) => {
    const o = document.createElement('option');
    o.value = String(i);
    o.textContent = set.classNames ? `${set.item}: ${set.classNames[im.label]}` : `${set.item} ${im.label}`;
    ui.testImage.append(o);
  });
  const names = set.dataset === own ? set.classNames : null;
  if (names && state.info && state.info.config.numClasses === names.length) {
    for (const o of Array.from(ui.klass.options)) if (o.value !== 'mixed') o.textContent = `${o.value}: ${names[Number(o.value)]}`;
  }
  ui.testImage.addEventListener('change', () => {
    const i = ui.testImage.value;
    if (i === '' || !state.info) return;
    const src = Uint8Array.from(atob(set.images[Number(i)].data), (ch) => ch.charCodeAt(0));
    const { channels: C, height: H, width: W } = state.info.config;
    const plane = set.width * set.height, rgb = set.channels === 3;
    // Nearest-neighbour resize to the model's size (MNIST models: 28×28 already); a gray plane
    // goes to every channel, a colour image to a gray model by luma (as --colour gray).
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      const sy = Math.min(set.height - 1, Math.floor(((y + 0.5) * set.height) / H));
      const sx = Math.min(set.width - 1, Math.floor(((x + 0.5) * set.width) / W));
      const at = (k: number) => src[(rgb ? k : 0) * plane + sy * set.width + sx];
      for (let c = 0; c < C; c++) {
        const v = C === 3 || !rgb ? at(c) : Math.round(0.299 * at(0) + 0.587 * at(1) + 0.114 * at(2));
        drawing[(c * H + y) * W + x] = v / 255;
      }
    }
    renderDrawing();
  });
}

// ---------------------------------------------------------------------------------------------
// Model facts

function showInfo(info: ModelInfo): void {
  const c = info.config;
  const facts: [string, string][] = [
    ['architecture', c.arch],
    ['image', `${c.height}×${c.width}×${c.channels}`],
    ['levels', String(c.levels)],
    // K means something only to the mixture likelihood.
    ['likelihood', c.likelihood === 'logistic-mixture' ? `logistic mixture of ${String(c.mixtures)}` : c.likelihood],
    ['classes', c.numClasses > 0 ? String(c.numClasses) : 'unconditional'],
  ];
  const shown = new Set(['arch', 'channels', 'levels', 'likelihood', 'mixtures', 'height', 'width', 'numClasses']);
  for (const [k, v] of Object.entries(c)) {
    if (!shown.has(k) && (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean')) facts.push([k, String(v)]);
  }
  facts.push(['parameters', info.parameters.toLocaleString('en')]);
  if (info.training?.dataset) facts.push(['trained on', info.training.dataset]);
  if (info.training?.step !== undefined) facts.push(['steps', info.training.step.toLocaleString('en')]);
  ui.config.replaceChildren(...facts.map(([k, v]) => {
    const div = document.createElement('div'), dt = document.createElement('dt'), dd = document.createElement('dd');
    dt.textContent = k; dd.textContent = v;
    div.append(dt, dd);
    return div;
  }));
  const bpd = info.metrics?.test_bits_per_dim;
  if (typeof bpd === 'number') {
    const strong = document.createElement('strong');
    strong.textContent = `${bpd.toFixed(4)} bits/dim`;
    const images = info.metrics?.test_images;
    ui.metrics.replaceChildren('Test likelihood: ', strong, typeof images === 'number' ? ` on ${images.toLocaleString('en')} test images` : '');
  } else {
    ui.metrics.textContent = 'No test bits/dim recorded in this checkpoint.';
  }
  ui.classLabel.hidden = c.numClasses === 0;
  if (c.numClasses > 0) {
    const opts = [['mixed', 'mixed'], ...Array.from({ length: c.numClasses }, (_, i) => [String(i), String(i)])];
    ui.klass.replaceChildren(...opts.map(([v, t]) => { const o = document.createElement('option'); o.value = v; o.textContent = t; return o; }));
  }
  ui.rows.max = String(c.height);
  ui.rows.value = String(Math.floor(c.height / 2));
  ui.rowsValue.value = ui.rows.value;
  drawing = new Float32Array(c.channels * c.height * c.width);
}

// ---------------------------------------------------------------------------------------------

/**
 * The model picker: the server's models, the one named by ?model= (else the first) selected.
 * Picking another reloads the page with its name, so every panel starts from that model.
 */
async function pickModel(): Promise<ModelIndexEntry> {
  let entries: ModelIndexEntry[];
  try {
    const r = await fetch(MODEL_INDEX_URL, { cache: 'no-cache' });
    if (!r.ok) throw new Error(`HTTP ${r.status} ${r.statusText}`.trim());
    entries = ((await r.json()) as { models: ModelIndexEntry[] }).models;
  } catch (e) {
    throw new Error(`Could not fetch ${MODEL_INDEX_URL}: ${(e as Error).message}`);
  }
  if (entries.length === 0) throw new Error('The server offers no model.');
  const wanted = new URLSearchParams(location.search).get('model');
  const chosen = entries.find((m) => m.name === wanted) ?? entries[0];
  if (wanted !== null && chosen.name !== wanted) showError(`No model named '${wanted}' here; showing '${chosen.name}'.`);
  ui.model.replaceChildren(...entries.map((m) => {
    const o = document.createElement('option');
    o.value = m.name;
    const nll = m.levels === 2 && m.test_nats_per_image !== null
      ? `${m.test_nats_per_image.toFixed(2)} nats/image`
      : m.test_bits_per_dim !== null ? `${m.test_bits_per_dim.toFixed(3)} bits/dim` : null;
    o.textContent = [m.title ?? m.name, nll].filter((x) => x !== null).join(' · ');
    return o;
  }));
  ui.model.value = chosen.name;
  ui.model.disabled = entries.length < 2;
  ui.model.addEventListener('change', () => {
    if (ui.model.value === TRAINED) return;
    const q = new URLSearchParams(location.search);
    q.set('model', ui.model.value);
    location.search = q.toString();
  });
  ui.modelCard.hidden = !chosen.card;
  ui.modelCard.href = relative(modelRoutes(encodeURIComponent(chosen.name)).card);
  return chosen;
}

/** The sampling worker has a model: the panels show it and work on it. */
function useModel(info: ModelInfo, backend: BackendInfo): void {
  state.info = info;
  state.backend = backend;
  ui.backend.textContent = backend.name === 'wasm'
    ? `the wasm backend (the C++ kernels compiled to WebAssembly: ${backend.detail})`
    : `the js backend (${backend.detail})`;
  state.state = 'ready';
  showInfo(info);
  renderDrawing();
  ui.status.textContent = `Ready: ${info.config.arch}, ${info.parameters.toLocaleString('en')} parameters, ${backend.name} backend.`;
  setBusy(false);
}

async function init(): Promise<void> {
  setBusy(false);
  setupTraining();
  ui.sampleForm.addEventListener('submit', (e) => { e.preventDefault(); run('sample', null, Number(ui.batch.value)); });
  ui.completeForm.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!state.info) return;
    const n = Number(ui.completions.value);
    if (!Number.isInteger(n) || n < 1 || n > 16) return showError('Completions must be an integer from 1 to 16.');
    const { channels: C, width: W } = state.info.config;
    const one = drawingLabels(), labels = new Uint8Array(one.length * n);
    for (let b = 0; b < n; b++) labels.set(one, b * one.length);
    run('complete', { labels, observed: Number(ui.rows.value) * W * C }, n);
  });
  ui.randomSeed.addEventListener('click', () => { ui.seed.value = String(Math.floor(Math.random() * 2 ** 32)); });
  ui.stop.addEventListener('click', () => void stop());
  ui.savePng.addEventListener('click', savePng);
  setupDrawing();
  try {
    ui.status.textContent = 'Fetching the model…';
    const chosen = await pickModel();
    await fetchModel(chosen.name);
    ui.status.textContent = 'Checking the weights…';
    const { info, backend, msPerPosition: trial } = await startWorker();
    msPerPosition = trial;
    useModel(info, backend);
  } catch (e) {
    fatal(`Could not load the model. ${(e as Error).message}`);
    return;
  }
  await loadTestImages();
}

// ---------------------------------------------------------------------------------------------
// Training

/** The picker's entry for the model trained in this page (not a served model). */
const TRAINED = '#trained';
/** The speed shown: over this many latest steps. */
const TRAIN_SPEED_STEPS = 20;
const train: TrainView = { state: 'idle', steps: 0, losses: [], tests: [], imagesPerSecond: null, grids: 0 };
window.__pixelcnnTrain = train;
let trainWorker: Worker | null = null;
/** Seconds per step of the latest steps, and the batch size. */
let stepSeconds: number[] = [];
let trainBatch = 0;
let trained: { configText: string; weights: ArrayBuffer; step: number } | null = null;
let trainFacts = '';

function setupTraining(): void {
  ui.trainModel.replaceChildren(...Object.entries(TRAIN_PRESETS).map(([name, p]) => {
    const o = document.createElement('option');
    o.value = name;
    o.textContent = p.label;
    return o;
  }));
  ui.trainModel.value = DEFAULT_TRAIN_PRESET;
  ui.trainForm.addEventListener('submit', (e) => { e.preventDefault(); startTraining(); });
  ui.trainStop.addEventListener('click', () => {
    if (train.state !== 'training' || !trainWorker) return;
    train.state = 'stopping';
    ui.trainStop.disabled = true;
    ui.trainStatus.textContent = `Stopping after step ${train.steps}: a last test evaluation, then the checkpoint…`;
    const msg: ToTrainWorker = { type: 'stop' };
    trainWorker.postMessage(msg);
  });
  ui.trainUse.addEventListener('click', () => void sampleTrained());
  drawLoss();
}

function setTrainBusy(busy: boolean): void {
  ui.trainStart.disabled = busy;
  ui.trainModel.disabled = ui.trainBatch.disabled = ui.trainLr.disabled = busy;
  ui.trainStop.disabled = !busy;
}

function startTraining(): void {
  if (train.state === 'starting' || train.state === 'training' || train.state === 'stopping') return;
  const preset = ui.trainModel.value as TrainPresetName, batchSize = Number(ui.trainBatch.value), lr = Number(ui.trainLr.value);
  if (!(preset in TRAIN_PRESETS)) return showError('Pick a model to train.');
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 256) return showError('The training batch must be an integer from 1 to 256.');
  if (!(lr > 0 && lr <= 0.1)) return showError('The learning rate must be a number above 0 and at most 0.1.');
  clearError();
  Object.assign(train, { state: 'starting', steps: 0, losses: [], tests: [], imagesPerSecond: null, grids: 0 } satisfies TrainView);
  stepSeconds = [];
  trainBatch = batchSize;
  ui.trainDownload.hidden = true;
  ui.trainSamples.hidden = true;
  drawLoss();
  setTrainBusy(true);
  ui.trainStop.disabled = true; // until the run has started
  ui.trainStatus.textContent = 'Starting: fetching the digits, compiling the kernels…';
  // A fresh worker per run (one run per worker).
  trainWorker?.terminate();
  const w = new Worker('assets/train-worker.js');
  trainWorker = w;
  w.onmessage = (e: MessageEvent<FromTrainWorker>) => { if (w === trainWorker) onTrainMessage(e.data); };
  w.onerror = (e) => {
    e.preventDefault();
    trainFailed(`The training worker failed: ${e.message || 'unknown error (could the worker script load?)'}`);
  };
  const msg: ToTrainWorker = { type: 'start', preset, batchSize, lr, seed: 0 };
  w.postMessage(msg);
}

function trainFailed(message: string): void {
  train.state = 'error';
  showError(`Training failed: ${message}`);
  ui.trainStatus.textContent = 'Training failed: see the message above.';
  setTrainBusy(false);
  trainWorker?.terminate();
  trainWorker = null;
}

function trainStatusLine(): string {
  const last = train.losses[train.losses.length - 1];
  const test = train.tests[train.tests.length - 1];
  return [
    `step ${train.steps.toLocaleString('en')}`,
    last !== undefined ? `loss ${last.toFixed(4)} bits/dim` : null,
    test ? `test ${test.bitsPerDim.toFixed(4)} bits/dim (step ${test.step})` : null,
    train.imagesPerSecond !== null ? `${train.imagesPerSecond.toFixed(1)} images/s` : null,
    trainFacts,
  ].filter((x) => x).join(' · ');
}

function onTrainMessage(m: FromTrainWorker): void {
  switch (m.type) {
    case 'started':
      train.state = 'training';
      ui.trainStop.disabled = false;
      trainFacts = `${m.parameters.toLocaleString('en')} parameters, ${m.trainImages.toLocaleString('en')} training digits, ${m.backend.name} backend`;
      ui.trainStatus.textContent = `Training: ${trainFacts}`;
      break;
    case 'step': {
      train.steps = m.step;
      train.losses.push(m.bitsPerDim);
      stepSeconds.push(trainBatch / m.imagesPerSecond);
      if (stepSeconds.length > TRAIN_SPEED_STEPS) stepSeconds.shift();
      train.imagesPerSecond = (trainBatch * stepSeconds.length) / stepSeconds.reduce((a, b) => a + b, 0);
      if (train.state === 'training') ui.trainStatus.textContent = trainStatusLine();
      scheduleDrawLoss();
      break;
    }
    case 'eval':
      train.tests.push({ step: m.step, bitsPerDim: m.bitsPerDim });
      if (train.state === 'training') ui.trainStatus.textContent = trainStatusLine();
      scheduleDrawLoss();
      break;
    case 'samples':
      train.grids++;
      renderGrid(ui.trainSamples, m.labels, m.count, Math.ceil(Math.sqrt(m.count)), Infinity, { channels: 1, height: 28, width: 28, levels: 2 });
      ui.trainSamples.title = `samples at step ${m.step}`;
      break;
    case 'stopped': {
      trained = { configText: m.configText, weights: m.weights, step: m.step };
      for (const a of [ui.downloadConfig, ui.downloadWeights]) if (a.href.startsWith('blob:')) URL.revokeObjectURL(a.href);
      ui.downloadConfig.href = URL.createObjectURL(new Blob([m.configText], { type: 'application/json' }));
      ui.downloadWeights.href = URL.createObjectURL(new Blob([m.weights], { type: 'application/octet-stream' }));
      ui.trainDownload.hidden = false;
      train.state = 'stopped';
      ui.trainStatus.textContent = `Stopped: ${trainStatusLine()}`;
      setTrainBusy(false);
      trainWorker?.terminate();
      trainWorker = null;
      drawLoss();
      break;
    }
    case 'error':
      trainFailed(m.message);
      break;
  }
}

/** Steps can come faster than the curve needs redrawing: at most every LOSS_REDRAW_MS. */
const LOSS_REDRAW_MS = 200;
let lossRedraw: ReturnType<typeof setTimeout> | null = null;
function scheduleDrawLoss(): void {
  lossRedraw ??= setTimeout(() => { lossRedraw = null; drawLoss(); }, LOSS_REDRAW_MS);
}

/**
 * The loss curve: the training loss (light), its running mean over 20 steps (dark), test bits/dim
 * (red). Long runs are drawn as one point per canvas pixel column (the mean of its steps).
 */
function drawLoss(): void {
  const cv = ui.trainLoss, ctx = cv.getContext('2d');
  if (!ctx) return;
  const w = cv.width, h = cv.height, pad = { l: 44, r: 10, t: 10, b: 22 };
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, w, h);
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillStyle = '#5b6472';
  const losses = train.losses, steps = Math.max(10, losses.length);
  if (losses.length === 0) {
    ctx.fillText('The loss curve appears here while the model trains.', pad.l, h / 2);
    return;
  }
  // The first steps' losses (near 1 bit/dim) would squash the rest of the curve: the scale is the
  // highest loss after the first twentieth of the run (or test bits/dim, if higher).
  let highest = 0;
  for (let i = Math.min(losses.length - 1, Math.max(2, Math.floor(losses.length / 20))); i < losses.length; i++) highest = Math.max(highest, losses[i]);
  for (const t of train.tests) highest = Math.max(highest, t.bitsPerDim);
  const top = Math.max(0.2, Math.ceil(highest * 10) / 10);
  const x = (step: number) => pad.l + ((w - pad.l - pad.r) * step) / steps;
  const y = (bits: number) => pad.t + (h - pad.t - pad.b) * (1 - Math.min(bits, top) / top);
  ctx.strokeStyle = '#d5dbe5';
  ctx.beginPath();
  for (const f of [0, 0.5, 1]) { ctx.moveTo(pad.l, y(top * f)); ctx.lineTo(w - pad.r, y(top * f)); }
  ctx.stroke();
  ctx.textAlign = 'right';
  for (const f of [0, 0.5, 1]) ctx.fillText((top * f).toFixed(2), pad.l - 4, y(top * f) + 4);
  ctx.fillText(`step ${losses.length}`, w - pad.r, h - 6);
  ctx.textAlign = 'left';
  ctx.fillText('bits/dim', pad.l, h - 6);
  const stride = Math.ceil(losses.length / (w - pad.l - pad.r));
  const line = (values: number[], colour: string) => {
    ctx.strokeStyle = colour;
    ctx.beginPath();
    for (let i = 0; i < values.length; i += stride) {
      const n = Math.min(stride, values.length - i);
      let sum = 0;
      for (let k = i; k < i + n; k++) sum += values[k];
      const px = x(i + (n + 1) / 2), py = y(sum / n);
      if (i === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
    }
    ctx.stroke();
  };
  line(losses, '#aac4ee');
  const mean: number[] = [];
  let sum = 0;
  losses.forEach((v, i) => { sum += v - (i >= 20 ? losses[i - 20] : 0); mean.push(sum / Math.min(i + 1, 20)); });
  line(mean, '#1f4fa8');
  ctx.fillStyle = '#d33';
  for (const t of train.tests) { ctx.beginPath(); ctx.arc(x(t.step), y(t.bitsPerDim), 3.5, 0, 2 * Math.PI); ctx.fill(); }
}

/** Loads the model trained here into the sampling worker: Sample and Complete then use it. */
async function sampleTrained(): Promise<void> {
  if (!trained) return;
  if (job) { job = null; ui.sampleStatus.textContent = 'stopped'; }
  configText = trained.configText;
  weights = trained.weights.slice(0);
  ui.generate.disabled = ui.complete.disabled = true;
  try {
    const { info, backend, msPerPosition: trial } = await startWorker();
    msPerPosition = trial;
    estimateSource = 'a short trial run';
    useModel(info, backend);
  } catch (e) {
    return fatal(`Could not load the trained model. ${(e as Error).message}`);
  }
  let option = Array.from(ui.model.options).find((o) => o.value === TRAINED);
  if (!option) {
    option = document.createElement('option');
    option.value = TRAINED;
    ui.model.prepend(option);
  }
  option.textContent = `trained in this page (step ${trained.step})`;
  ui.model.value = TRAINED;
  ui.model.disabled = false;
  ui.modelCard.hidden = true;
  ui.status.textContent = `Ready: the model trained in this page (step ${trained.step}), ${state.info!.parameters.toLocaleString('en')} parameters.`;
}

void init();
