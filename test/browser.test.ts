/**
 * End to end in headless Chromium (playwright-core): the page of `pixelcnn serve` loads a tiny
 * checkpoint, samples a batch in its worker on the wasm backend (and says so), shows it, and its
 * images equal what the Node sampler (sampleCached, js backend) gives for the same seed; a completion likewise; a corrupt or
 * mismatched checkpoint shows a readable message in #error; the Train panel trains a model in its
 * worker, and the checkpoint it downloads runs in `pixelcnn eval`.
 *
 * Skipped when /usr/bin/chromium is absent, unless PIXELCNN_REQUIRE_BROWSER=1 (CI), which makes
 * that a failure. Screenshots go to test-artifacts/ (gitignored).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { createModel, type AutoregressiveModel, type ModelConfig, type ModelConfigInput } from '../src/models/index.js';
import { loadCheckpoint, loadParamsInto, saveCheckpoint } from '../src/train/checkpoint.js';
import { sampleCached } from '../src/sample/cached.js';
import { quantiseValue } from '../src/data/quantise.js';
import { useBackend } from '../src/backend/index.js';
import { startServer, type RunningServer, type ServedModel } from '../src/serve/server.js';

/** What web/main.ts exposes for tests (declared here: web/ is not part of this compilation). */
declare global {
  interface Window {
    __lastSamples?: { kind: 'sample' | 'complete'; labels: number[]; count: number; seed: number; temperature: number;
      classes: number[] | null; observed: number; ms: number; previewAgreed: boolean };
    __pixelcnn?: { state: 'loading' | 'ready' | 'busy' | 'error'; backend: { name: string; detail: string } | null;
      jobs: number; progressEvents: number };
    __pixelcnnTrain?: { state: 'idle' | 'starting' | 'training' | 'stopping' | 'stopped' | 'error'; steps: number; losses: number[];
      tests: { step: number; bitsPerDim: number }[]; imagesPerSecond: number | null; grids: number };
  }
}

/** assets/test-images.json (scripts/build-web.mjs). */
interface TestImageSets { sets: { dataset: string; classNames: string[] | null; channels?: number; images: { label: number; data: string }[] }[] }

const CHROMIUM = '/usr/bin/chromium';
const requireBrowser = process.env.PIXELCNN_REQUIRE_BROWSER === '1';
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const artifacts = join(repoRoot, 'test-artifacts');
const root = mkdtempSync(join(tmpdir(), 'pixelcnn-browser-'));
const webDir = join(root, 'web');

const servers: RunningServer[] = [];
let browser: Browser | null = null;
let skipReason: string | null = null;
let model: AutoregressiveModel;
let modelDir: string;

const TINY: ModelConfigInput = {
  arch: 'pixelcnn', channels: 1, levels: 2, likelihood: 'softmax', height: 28, width: 28, numClasses: 0,
  hidden: 16, outHidden: 16, blocks: 1,
};

function makeCheckpoint(dir: string, over: Partial<ModelConfig> = {}, seed = 1, base: ModelConfigInput = TINY): void {
  // The union does not spread into one branch: the parser inside createModel checks the result.
  const config = { ...base, ...over } as ModelConfigInput;
  const m = createModel(config, seed);
  saveCheckpoint(dir, {
    modelConfig: { ...m.config }, params: m.parameters(),
    metrics: { test_bits_per_dim: 0.1234, test_nats_per_image: 67.05, test_images: 10000 },
  });
}

/** Serves one checkpoint directory (named after its folder) or a list of models; resolves to the page's URL. */
async function serve(models: string | ServedModel[], app = webDir): Promise<string> {
  const list = typeof models === 'string' ? [{ name: basename(models), dir: models }] : models;
  const s = await startServer({ models: list, webDir: app, port: 0 });
  servers.push(s);
  return s.url;
}

async function openPage(url: string): Promise<Page> {
  const page = await browser!.newPage({ viewport: { width: 1200, height: 900 } });
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  await page.goto(url);
  await page.waitForFunction(() => window.__pixelcnn?.state === 'ready' || window.__pixelcnn?.state === 'error', null, { timeout: 15_000 });
  return page;
}

const lastSamples = (page: Page) => page.evaluate(() => window.__lastSamples!);
const waitJobs = (page: Page, n: number) =>
  page.waitForFunction((k) => (window.__pixelcnn?.jobs ?? 0) >= k || !document.getElementById('error')!.hidden, n, { timeout: 30_000 });
const errorText = (page: Page) => page.evaluate(() => { const e = document.getElementById('error')!; return e.hidden ? '' : e.textContent ?? ''; });

/** The grid canvas read back: for each image and pixel, the gray value shown. */
async function canvasImages(page: Page, id: string, count: number, cols: number): Promise<Uint8Array> {
  const rgba = await page.evaluate((cid) => {
    const c = document.getElementById(cid) as HTMLCanvasElement;
    return Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data);
  }, id);
  const H = 28, W = 28, cw = cols * W + cols + 1, out = new Uint8Array(count * H * W);
  for (let b = 0; b < count; b++) {
    const ox = 1 + (b % cols) * (W + 1), oy = 1 + Math.floor(b / cols) * (H + 1);
    for (let p = 0; p < H * W; p++) out[b * H * W + p] = rgba[((oy + Math.floor(p / W)) * cw + ox + (p % W)) * 4];
  }
  return out;
}

before(async () => {
  if (!existsSync(CHROMIUM)) {
    skipReason = `${CHROMIUM} not found (apt-get install chromium)`;
    return;
  }
  mkdirSync(artifacts, { recursive: true });
  // Build the page from the current sources (the type check is `npm run build`'s job).
  const built = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'build-web.mjs'), '--no-typecheck', '--out', webDir], { encoding: 'utf8' });
  assert.equal(built.status, 0, `build-web failed:\n${built.stdout}\n${built.stderr}`);

  modelDir = join(root, 'tiny');
  makeCheckpoint(modelDir);
  const ck = loadCheckpoint(modelDir);
  model = createModel(ck.modelConfig);
  loadParamsInto(model, ck.params, modelDir);
  useBackend('js');

  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  for (const s of servers) await s.close();
  rmSync(root, { recursive: true, force: true });
});

function skipIfNoBrowser(t: { skip(msg: string): void }): boolean {
  if (!skipReason) return false;
  if (requireBrowser) assert.fail(`PIXELCNN_REQUIRE_BROWSER=1 but ${skipReason}`);
  t.skip(skipReason);
  return true;
}

test('the page samples in its worker, shows the images, and they equal the Node sampler\'s', async (t) => {
  if (skipIfNoBrowser(t)) return;
  let page = await openPage(await serve(modelDir));
  assert.equal(await errorText(page), '');
  assert.match(await page.textContent('#config') ?? '', /28×28×1/);
  assert.match(await page.textContent('#metrics') ?? '', /0\.1234 bits\/dim/);

  // The worker runs the wasm backend (the C++ kernels), one thread per core (the page is
  // cross-origin isolated: shared memory), and the page says so.
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  const threads = `${cores} thread${cores === 1 ? '' : 's'}`;
  assert.equal(await page.evaluate(() => crossOriginIsolated), true);
  assert.deepEqual(await page.evaluate(() => window.__pixelcnn!.backend), { name: 'wasm', detail: `wasm-simd128, ${threads}` });
  assert.equal(await page.textContent('#backend'), `the wasm backend (the C++ kernels compiled to WebAssembly: wasm-simd128, ${threads})`);
  if (cores > 1) t.diagnostic(`browser: the page's worker runs wasm on ${threads}`);
  assert.match(await page.textContent('#status') ?? '', /wasm backend\.$/);

  assert.equal(await page.isDisabled('#save-png'), true, 'nothing to save before the first sample');
  const seed = 1234, temperature = 1, count = 16;
  await page.fill('#seed', String(seed));
  await page.fill('#temperature', String(temperature));
  await page.fill('#batch', String(count));
  const t0 = performance.now();
  // Clicked from the page, to read the status it shows at once: before a first run, the estimate
  // comes from the worker's trial run on loading.
  assert.match(await page.evaluate(() => {
    (document.getElementById('generate') as HTMLButtonElement).click();
    return document.getElementById('sample-status')!.textContent ?? '';
  }), /^starting… \(about \d+(\.\d)? s, estimated from a short trial run\)$/);
  await waitJobs(page, 1);
  const wall = performance.now() - t0;
  assert.equal(await errorText(page), '');
  const got = await lastSamples(page);
  assert.equal(got.kind, 'sample');
  assert.equal(got.count, count);

  const n0 = performance.now();
  const want = sampleCached(model, { count, seed, temperature });
  const nodeMs = performance.now() - n0;
  assert.deepEqual(Uint8Array.from(got.labels), want, 'the page and Node drew different images for the same seed');
  assert.equal(got.previewAgreed, true, 'the live preview ended different from the result');
  // What the canvas shows is those images (binary: level 1 = white).
  const shown = await canvasImages(page, 'samples', count, 4);
  for (let i = 0; i < want.length; i++) assert.equal(shown[i], want[i] * 255, `canvas pixel ${i}`);
  const ones = want.reduce((a, v) => a + v, 0);
  assert.ok(ones > 0 && ones < want.length, 'blank images');
  // Save PNG downloads the grid as shown: the same pixels as the canvas.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#save-png')]);
  assert.equal(download.suggestedFilename(), `pixelcnn-samples-seed${seed}-t${temperature}.png`);
  const png = PNG.sync.read(readFileSync(await download.path()));
  const canvasRgba = await page.evaluate(() => {
    const c = document.getElementById('samples') as HTMLCanvasElement;
    return Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data);
  });
  assert.equal(png.width * png.height * 4, canvasRgba.length);
  assert.deepEqual(Array.from(png.data), canvasRgba, 'the saved PNG differs from the grid shown');
  await page.screenshot({ path: join(artifacts, 'browser-samples.png'), fullPage: true });
  const msg = `browser: ${count} samples of 28×28 (hidden 16, 1 block) in ${got.ms.toFixed(0)} ms in the page's worker ` +
    `(${wall.toFixed(0)} ms click to canvas); Node js backend ${nodeMs.toFixed(0)} ms`;
  t.diagnostic(msg);

  await page.close();

  // A bigger batch of a bigger model (on wasm the tiny one is done before a preview is due),
  // caught half-way: partial images are posted while the worker runs.
  const bigDir = join(root, 'bigger');
  makeCheckpoint(bigDir, { hidden: 64, outHidden: 32, blocks: 4 });
  page = await openPage(await serve(bigDir));
  await page.fill('#batch', '64');
  await page.click('#generate');
  await page.waitForFunction(() => (document.getElementById('progress') as HTMLProgressElement).value > 0.3 || window.__pixelcnn!.jobs >= 1, null, { timeout: 30_000, polling: 'raf' });
  await page.screenshot({ path: join(artifacts, 'browser-progress.png'), fullPage: true });
  await waitJobs(page, 1);
  assert.ok(await page.evaluate(() => window.__pixelcnn!.progressEvents) > 0, 'no progress was shown');
  t.diagnostic(`browser: 64 samples of 28×28 (hidden 64, 4 blocks) in ${(await lastSamples(page)).ms.toFixed(0)} ms on wasm`);

  // Stop: the worker is replaced (model reloaded) and the next job runs normally.
  // Both clicks in one task: the worker's reply cannot arrive in between, so Stop always lands
  // on a running job (two separate clicks raced a fast tiny model and found Stop disabled).
  // The status between the clicks: the time estimated from the last run.
  const starting = await page.evaluate(() => {
    (document.getElementById('generate') as HTMLButtonElement).click();
    const text = document.getElementById('sample-status')!.textContent;
    (document.getElementById('stop') as HTMLButtonElement).click();
    return text;
  });
  assert.match(starting ?? '', /^starting… \(about \d+(\.\d)? s, estimated from the last run\)$/);
  await page.waitForFunction(() => !(document.getElementById('generate') as HTMLButtonElement).disabled, null, { timeout: 15_000 });
  assert.equal(await page.textContent('#sample-status'), 'stopped');
  await page.fill('#batch', '2');
  await page.click('#generate');
  await waitJobs(page, 2);
  assert.equal(await errorText(page), '');
  assert.equal((await lastSamples(page)).count, 2);
  await page.close();
});

test('without its wasm module the page runs the js backend, says why, and draws the same images', async (t) => {
  if (skipIfNoBrowser(t)) return;
  const app = join(root, 'web-no-wasm');
  cpSync(webDir, app, { recursive: true });
  rmSync(join(app, 'assets', 'pixelcnn.wasm'));
  const page = await openPage(await serve(modelDir, app));
  assert.equal(await errorText(page), '');
  const backend = await page.evaluate(() => window.__pixelcnn!.backend);
  assert.equal(backend?.name, 'js');
  assert.match(backend?.detail ?? '', /^wasm unavailable: /);
  assert.match(await page.textContent('#backend') ?? '', /^the js backend \(wasm unavailable: .+\)$/);
  assert.match(await page.textContent('#status') ?? '', /js backend\.$/);
  await page.fill('#seed', '5');
  await page.fill('#batch', '2');
  await page.click('#generate');
  await waitJobs(page, 1);
  assert.deepEqual(Uint8Array.from((await lastSamples(page)).labels), sampleCached(model, { count: 2, seed: 5, temperature: 1 }));
  await page.close();
});

test('completion of a test digit and of a drawing in the page equals the Node sampler\'s', async (t) => {
  if (skipIfNoBrowser(t)) return;
  const page = await openPage(await serve(modelDir));
  const seed = 99, rows = 12, count = 3;
  await page.fill('#seed', String(seed));
  await page.fill('#temperature', '1');
  await page.selectOption('#test-image', '2');
  await page.evaluate((r) => {
    const el = document.getElementById('rows') as HTMLInputElement;
    el.value = String(r);
    el.dispatchEvent(new Event('input'));
  }, rows);
  await page.fill('#completions', String(count));
  await page.click('#complete');
  await waitJobs(page, 1);
  assert.equal(await errorText(page), '');
  const got = await lastSamples(page);
  assert.equal(got.kind, 'complete');
  assert.equal(got.observed, rows * 28);

  // The model's checkpoint names no data set: the MNIST test digits.
  const { sets } = JSON.parse(readFileSync(join(webDir, 'assets', 'test-images.json'), 'utf8')) as TestImageSets;
  const mnist = sets.find((x) => x.dataset === 'mnist')!;
  assert.equal(await page.textContent('#test-image option[value="2"]'), `test digit ${mnist.images[2].label}`);
  const digit = Buffer.from(mnist.images[2].data, 'base64');
  const one = Uint8Array.from(digit, (v) => quantiseValue(v / 255, 2));
  const given = new Uint8Array(count * one.length);
  for (let b = 0; b < count; b++) given.set(one, b * one.length);
  const want = sampleCached(model, { count, seed, temperature: 1, given: { labels: given, observed: rows * 28 } });
  assert.deepEqual(Uint8Array.from(got.labels), want);
  for (let b = 0; b < count; b++) {
    assert.deepEqual(want.subarray(b * 784, b * 784 + rows * 28), one.subarray(0, rows * 28), 'kept rows changed');
  }
  const shown = await canvasImages(page, 'completed', count, count);
  for (let i = 0; i < want.length; i++) assert.equal(shown[i], want[i] * 255, `canvas pixel ${i}`);

  // Draw a stroke with the mouse in the kept rows, then complete the drawing.
  await page.click('#clear');
  const box = (await page.locator('#draw').boundingBox())!;
  const at = (x: number, y: number) => [box.x + (x / 28) * box.width, box.y + (y / 28) * box.height] as const;
  await page.mouse.move(...at(8, 4));
  await page.mouse.down();
  for (let k = 1; k <= 10; k++) await page.mouse.move(...at(8 + k, 4 + k / 2));
  await page.mouse.up();
  const drawn = await page.evaluate(() => {
    const c = document.getElementById('draw') as HTMLCanvasElement;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let white = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] === 255 && d[i + 1] === 255) white++;
    return white;
  });
  assert.ok(drawn > 100, `the stroke left ${drawn} white canvas pixels`);
  await page.click('#complete');
  await waitJobs(page, 2);
  const fromDrawing = await lastSamples(page);
  assert.equal(await errorText(page), '');
  assert.ok(fromDrawing.labels.slice(0, rows * 28).some((v: number) => v === 1), 'the drawing was not given to the model');
  await page.screenshot({ path: join(artifacts, 'browser-completion.png'), fullPage: true });
  await page.close();
});

test('a class-conditional model: the page offers the classes and draws the chosen one like Node', async (t) => {
  if (skipIfNoBrowser(t)) return;
  const dir = join(root, 'conditional');
  try {
    // The residual PixelCNN is unconditional: the gated one takes classes.
    makeCheckpoint(dir, {}, 5, {
      arch: 'gated', channels: 1, levels: 2, likelihood: 'softmax', height: 12, width: 12, numClasses: 10,
      hidden: 8, outHidden: 8, layers: 2, kernel: 3, firstKernel: 3,
    });
  } catch (e) {
    return t.skip(`no class-conditional architecture in this build (${(e as Error).message})`);
  }
  // Trained on Fashion-MNIST (as config.json says): its test images and class names.
  const configFile = join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify({ ...JSON.parse(readFileSync(configFile, 'utf8')), training: {
    step: 0, epoch: 0, indexInEpoch: 0, imagesSeen: 0, elapsedSeconds: 0,
    dataset: { name: 'fashion-mnist', dataDir: null, colour: null, binarise: null, limit: null },
  } }));
  const ck = loadCheckpoint(dir);
  const cond = createModel(ck.modelConfig);
  loadParamsInto(cond, ck.params, dir);
  const page = await openPage(await serve(dir));
  assert.equal(await errorText(page), '');
  assert.ok(await page.isVisible('#class'));
  assert.equal(await page.locator('#class option').count(), 11); // mixed, 0..9
  const { sets } = JSON.parse(readFileSync(join(webDir, 'assets', 'test-images.json'), 'utf8')) as TestImageSets;
  const fashion = sets.find((x) => x.dataset === 'fashion-mnist');
  if (fashion) {
    await page.waitForFunction(() => document.querySelectorAll('#test-image option').length > 1);
    assert.equal(await page.textContent('#test-image option[value="0"]'), `test image: ${fashion.classNames![fashion.images[0].label]}`);
    assert.equal(await page.textContent('#class option[value="7"]'), '7: Sneaker');
  } else {
    t.diagnostic('no Fashion-MNIST test images in this build (apt-get install dataset-fashion-mnist): the class names are not checked');
  }
  await page.selectOption('#class', '7');
  await page.fill('#seed', '5');
  await page.fill('#batch', '4');
  await page.fill('#temperature', '0.8');
  await page.click('#generate');
  await waitJobs(page, 1);
  assert.equal(await errorText(page), '');
  const got = await lastSamples(page);
  assert.deepEqual(got.classes, [7, 7, 7, 7]);
  const opts = { count: 4, seed: 5, temperature: 0.8, classes: Int32Array.from([7, 7, 7, 7]) };
  assert.deepEqual(Uint8Array.from(got.labels), sampleCached(cond, opts));
  await page.screenshot({ path: join(artifacts, 'browser-conditional.png'), fullPage: true });
  await page.close();
});

test('the model picker lists every served model, loads the one picked, and links its card', async (t) => {
  if (skipIfNoBrowser(t)) return;
  const wider = join(root, 'wider');
  makeCheckpoint(wider, { hidden: 32 });
  writeFileSync(join(wider, 'README.md'), '# Wider test model\n\nA model card.\n');
  const url = await serve([{ name: 'tiny', dir: modelDir }, { name: 'wider', dir: wider }]);
  let page = await openPage(url);
  assert.equal(await errorText(page), '');
  assert.deepEqual(await page.locator('#model option').allTextContents(), ['tiny · 67.05 nats/image', 'Wider test model · 67.05 nats/image']);
  assert.equal(await page.inputValue('#model'), 'tiny');
  assert.match(await page.textContent('#config') ?? '', /hidden16/);
  assert.equal(await page.isHidden('#model-card-link'), true, 'tiny has no card');
  // Picking reloads the page on the other model.
  await Promise.all([page.waitForURL(/\?model=wider$/), page.selectOption('#model', 'wider')]);
  await page.waitForFunction(() => window.__pixelcnn?.state === 'ready' || window.__pixelcnn?.state === 'error', null, { timeout: 15_000 });
  assert.equal(await errorText(page), '');
  assert.equal(await page.inputValue('#model'), 'wider');
  assert.match(await page.textContent('#config') ?? '', /hidden32/);
  assert.equal(await page.getAttribute('#model-card-link', 'href'), 'models/wider/README.md');
  const card = await page.evaluate(async () => (await fetch((document.getElementById('model-card-link') as HTMLAnchorElement).href)).text());
  assert.equal(card, '# Wider test model\n\nA model card.\n');
  await page.close();
  // An unknown name: the first model, and the page says so.
  page = await openPage(`${url}?model=nope`);
  assert.equal(await errorText(page), "No model named 'nope' here; showing 'tiny'.");
  assert.equal(await page.inputValue('#model'), 'tiny');
  await page.close();
});

test('a PixelCNN++ model: the page samples it (cached sampler) and draws what Node draws', async (t) => {
  if (skipIfNoBrowser(t)) return;
  const dir = join(root, 'pixelcnn-pp');
  makeCheckpoint(dir, {}, 3, {
    arch: 'pixelcnn++', channels: 1, levels: 2, likelihood: 'softmax', height: 28, width: 28, numClasses: 0,
    filters: 8, resnets: 1, dropout: 0,
  });
  const ck = loadCheckpoint(dir);
  const pp = createModel(ck.modelConfig);
  loadParamsInto(pp, ck.params, dir);
  const page = await openPage(await serve(dir));
  assert.equal(await errorText(page), '');
  await page.fill('#seed', '9');
  await page.fill('#temperature', '1');
  await page.fill('#batch', '4');
  await page.click('#generate');
  await waitJobs(page, 1);
  assert.equal(await errorText(page), '');
  const got = await lastSamples(page);
  assert.deepEqual(Uint8Array.from(got.labels), sampleCached(pp, { count: 4, seed: 9, temperature: 1 }));
  t.diagnostic(`browser: 4 PixelCNN++ samples of 28×28 (8 filters, 1 resnet) in ${got.ms.toFixed(0)} ms on wasm`);
  await page.close();
});

test('a weight-normalised PixelCNN++ (gains away from ‖v‖): the page loads weight_g and weight_v and draws what Node draws', async (t) => {
  if (skipIfNoBrowser(t)) return;
  const dir = join(root, 'pixelcnn-pp-wn');
  const m = createModel({ arch: 'pixelcnn++', channels: 1, levels: 2, likelihood: 'softmax', height: 28, width: 28, numClasses: 0,
    filters: 4, resnets: 0, dropout: 0, weightNorm: true }, 5);
  for (const [name, p] of m.parameters()) if (name.endsWith('.weight_g')) for (let i = 0; i < p.size; i++) p.data[i] *= 0.5 + (i % 5) / 4;
  saveCheckpoint(dir, { modelConfig: { ...m.config }, params: m.parameters() });
  const page = await openPage(await serve(dir));
  assert.equal(await errorText(page), '');
  await page.fill('#seed', '4');
  await page.fill('#temperature', '1');
  await page.fill('#batch', '3');
  await page.click('#generate');
  await waitJobs(page, 1);
  assert.equal(await errorText(page), '');
  const got = await lastSamples(page);
  assert.deepEqual(Uint8Array.from(got.labels), sampleCached(m, { count: 3, seed: 4, temperature: 1 }));
  await page.close();
});

test('an RGB 32×32 model (as trained on --dataset emoji): the page samples, draws the colours and completes like Node', async (t) => {
  if (skipIfNoBrowser(t)) return;
  const dir = join(root, 'emoji');
  makeCheckpoint(dir, {}, 7, {
    arch: 'gated', channels: 3, levels: 4, likelihood: 'softmax', height: 32, width: 32, numClasses: 10,
    hidden: 8, outHidden: 8, layers: 2, kernel: 3, firstKernel: 3,
  });
  const configFile = join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify({ ...JSON.parse(readFileSync(configFile, 'utf8')), training: {
    step: 0, epoch: 0, indexInEpoch: 0, imagesSeen: 0, elapsedSeconds: 0,
    dataset: { name: 'emoji', dataDir: null, colour: null, binarise: null, limit: null },
  } }));
  const ck = loadCheckpoint(dir);
  const rgb = createModel(ck.modelConfig);
  loadParamsInto(rgb, ck.params, dir);
  const page = await openPage(await serve(dir));
  assert.equal(await errorText(page), '');
  assert.match(await page.textContent('#config') ?? '', /32×32×3/);
  assert.match(await page.textContent('#config') ?? '', /trained onemoji/);
  await page.selectOption('#class', '3');
  await page.fill('#seed', '11');
  await page.fill('#temperature', '1');
  await page.fill('#batch', '2');
  await page.click('#generate');
  await waitJobs(page, 1);
  assert.equal(await errorText(page), '');
  const got = await lastSamples(page);
  const want = sampleCached(rgb, { count: 2, seed: 11, temperature: 1, classes: Int32Array.from([3, 3]) });
  assert.deepEqual(Uint8Array.from(got.labels), want);
  // The canvas shows each pixel's three levels as its R, G and B (level 3 of 0..3 = 255).
  const rgba = await page.evaluate(() => {
    const c = document.getElementById('samples') as HTMLCanvasElement;
    return { w: c.width, h: c.height, d: Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data) };
  });
  const H = 32, W = 32, HW = H * W;
  assert.deepEqual([rgba.w, rgba.h], [2 * W + 3, H + 2]);
  let coloured = 0;
  for (let b = 0; b < 2; b++) {
    for (let p = 0; p < HW; p++) {
      const o = ((1 + Math.floor(p / W)) * rgba.w + 1 + b * (W + 1) + (p % W)) * 4;
      const v = [0, 1, 2].map((k) => want[(b * 3 + k) * HW + p] * 85);
      assert.deepEqual(rgba.d.slice(o, o + 3), v, `image ${b} pixel ${p}`);
      if (v[0] !== v[1] || v[1] !== v[2]) coloured++;
    }
  }
  assert.ok(coloured > HW, `${coloured} coloured pixels`);

  // The emoji categories name the classes; a colour test emoji is completed in colour.
  const { sets } = JSON.parse(readFileSync(join(webDir, 'assets', 'test-images.json'), 'utf8')) as TestImageSets;
  const emoji = sets.find((x) => x.dataset === 'emoji')!;
  assert.equal(await page.textContent('#class option[value="3"]'), '3: Animals & Nature');
  await page.waitForFunction(() => document.querySelectorAll('#test-image option').length > 1);
  assert.equal(await page.textContent('#test-image option[value="0"]'), `test emoji: ${emoji.classNames![emoji.images[0].label]}`);
  assert.equal(await page.textContent('#test-image-source'),
    'Test images: Twemoji test split (Twemoji graphics © Twitter, Inc and other contributors, CC-BY 4.0).');
  await page.selectOption('#test-image', '0');
  // Completion keeps the top rows of all three channels: positions are counted per colour value.
  const rows = 10;
  await page.evaluate((r) => {
    const el = document.getElementById('rows') as HTMLInputElement;
    el.value = String(r);
    el.dispatchEvent(new Event('input'));
  }, rows);
  await page.fill('#completions', '2');
  await page.click('#complete');
  await waitJobs(page, 2);
  assert.equal(await errorText(page), '');
  const done = await lastSamples(page);
  assert.equal(done.observed, rows * W * 3);
  const one = Uint8Array.from(Buffer.from(emoji.images[0].data, 'base64'), (v) => quantiseValue(v / 255, 4));
  assert.equal(one.length, 3 * HW);
  const given = new Uint8Array(2 * 3 * HW);
  given.set(one, 0);
  given.set(one, 3 * HW);
  const completed = sampleCached(rgb, { count: 2, seed: 11, temperature: 1, classes: Int32Array.from([3, 3]), given: { labels: given, observed: rows * W * 3 } });
  assert.deepEqual(Uint8Array.from(done.labels), completed);
  const kept = (a: Uint8Array) => [0, 1, 2].map((c) => Array.from(a.subarray(c * HW, c * HW + rows * W)));
  assert.deepEqual(kept(completed), kept(one), 'kept rows changed');
  assert.notDeepEqual(kept(one)[0], kept(one)[2], 'the test emoji is in colour');
  await page.screenshot({ path: join(artifacts, 'browser-rgb.png'), fullPage: true });
  await page.close();
});

test('a truncated or mismatched checkpoint shows a readable error on the page', async (t) => {
  if (skipIfNoBrowser(t)) return;
  const truncated = join(root, 'truncated');
  mkdirSync(truncated);
  copyFileSync(join(modelDir, 'config.json'), join(truncated, 'config.json'));
  const bytes = readFileSync(join(modelDir, 'model.safetensors'));
  writeFileSync(join(truncated, 'model.safetensors'), bytes.subarray(0, Math.floor(bytes.length * 0.6)));
  let page = await openPage(await serve(truncated));
  let err = await errorText(page);
  assert.match(err, /Could not load the model/);
  assert.match(err, /model\.safetensors.*(truncated|past the end)/);
  assert.ok(await page.isDisabled('#generate'));
  await page.screenshot({ path: join(artifacts, 'browser-error-truncated.png'), fullPage: true });
  await page.close();

  // config.json says hidden 32, the weights are for hidden 16.
  const mismatched = join(root, 'mismatched');
  makeCheckpoint(mismatched, { hidden: 32 });
  copyFileSync(join(modelDir, 'model.safetensors'), join(mismatched, 'model.safetensors'));
  page = await openPage(await serve(mismatched));
  assert.match(await errorText(page), /belongs to a different save than config\.json/);
  await page.close();
  // The same without generation ids (e.g. converted from PyTorch): the shapes are compared.
  const config = JSON.parse(readFileSync(join(mismatched, 'config.json'), 'utf8')) as Record<string, unknown>;
  delete config.generation;
  writeFileSync(join(mismatched, 'config.json'), JSON.stringify(config));
  page = await openPage(await serve(mismatched));
  err = await errorText(page);
  assert.match(err, /do not fit the pixelcnn model.*wrong shape/);
  await page.screenshot({ path: join(artifacts, 'browser-error-mismatch.png'), fullPage: true });
  await page.close();

  // A missing weights file: the HTTP status is named.
  const missing = join(root, 'missing');
  mkdirSync(missing);
  copyFileSync(join(modelDir, 'config.json'), join(missing, 'config.json'));
  page = await openPage(await serve(missing));
  assert.match(await errorText(page), /models\/missing\/model\.safetensors: HTTP 404/);
  await page.close();
});

test('the Train panel trains in its worker, the loss falls, and the checkpoint it downloads runs in pixelcnn eval', async (t) => {
  if (skipIfNoBrowser(t)) return;
  const page = await openPage(await serve(modelDir));
  assert.equal(await page.inputValue('#train-model'), 'small', 'the default model');
  await page.selectOption('#train-model', 'tiny');
  await page.selectOption('#train-batch', '16');
  assert.equal(await page.inputValue('#train-lr'), '0.002');
  await page.click('#train-start');
  // Generous: the machine may be busy (each step is milliseconds on an idle one).
  await page.waitForFunction(() => window.__pixelcnnTrain!.steps >= 40 || window.__pixelcnnTrain!.state === 'error', null, { timeout: 600_000 });
  assert.equal(await errorText(page), '');
  // The page stays responsive while its worker trains: the status line follows every step.
  const status = await page.textContent('#train-status') ?? '';
  assert.match(status, /^step \d+ · loss \d\.\d{4} bits\/dim · \d+\.\d images\/s · [\d,]+ parameters, 4,000 training digits, wasm backend$/);
  t.diagnostic(`browser: the Train panel's tiny model (hidden 16, 1 block, batch 16) on wasm: ${status}`);
  await page.click('#train-stop');
  await page.waitForFunction(() => ['stopped', 'error'].includes(window.__pixelcnnTrain!.state), null, { timeout: 300_000 });
  assert.equal(await errorText(page), '');
  const view = await page.evaluate(() => window.__pixelcnnTrain!);
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  const first = mean(view.losses.slice(0, 5)), last = mean(view.losses.slice(-5));
  assert.equal(view.losses.length, view.steps);
  assert.ok(last < 0.8 * first, `the training loss did not fall: ${first.toFixed(3)} → ${last.toFixed(3)} bits/dim`);
  assert.equal(view.tests.at(-1)?.step, view.steps, 'a last test evaluation at the stop');
  assert.ok(view.grids >= 2, 'the sample grid was drawn before and after training');
  assert.ok(await page.isVisible('#train-samples'));
  await page.screenshot({ path: join(artifacts, 'browser-train.png'), fullPage: true });

  // The two downloads, in one directory: a checkpoint of `pixelcnn train`'s format.
  const ck = join(root, 'trained-in-page');
  mkdirSync(ck);
  for (const [id, name] of [['#download-config', 'config.json'], ['#download-weights', 'model.safetensors']]) {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click(id)]);
    assert.equal(download.suggestedFilename(), name);
    await download.saveAs(join(ck, name));
  }
  const config = JSON.parse(readFileSync(join(ck, 'config.json'), 'utf8')) as {
    model: { arch: string; levels: number; hidden: number; blocks: number }; training: { step: number; dataset: { name: string; limit: number } };
    metrics: Record<string, number> };
  assert.deepEqual([config.model.arch, config.model.levels, config.model.hidden, config.model.blocks], ['pixelcnn', 2, 16, 1]);
  assert.equal(config.training.step, view.steps);
  assert.deepEqual([config.training.dataset.name, config.training.dataset.limit], ['mnist', 4000]);
  assert.equal(config.metrics.test_images, 500);
  assert.equal(config.metrics.test_bits_per_dim, view.tests.at(-1)!.bitsPerDim);
  const bin = join(repoRoot, 'bin', 'pixelcnn.js');
  const r = spawnSync(process.execPath, [bin, 'eval', '--model', ck, '--limit', '100', '--json', '--no-progress'], { encoding: 'utf8', timeout: 600_000 });
  assert.equal(r.status, 0, `pixelcnn eval failed:\n${r.stdout}\n${r.stderr}`);
  const evaluated = JSON.parse(r.stdout) as { images: number; bits_per_dim: number; dataset: string };
  assert.equal(evaluated.images, 100);
  assert.equal(evaluated.dataset, 'mnist:test');
  // Trained: well below the 1 bit/dim of a coin flip per pixel.
  assert.ok(evaluated.bits_per_dim < 0.8, `pixelcnn eval: ${evaluated.bits_per_dim} bits/dim`);
  t.diagnostic(`pixelcnn eval --limit 100 of the page's checkpoint: ${evaluated.bits_per_dim.toFixed(4)} bits/dim; the page's test: ${view.tests.at(-1)!.bitsPerDim.toFixed(4)} on 500 digits`);

  // The trained model in the Sample panel.
  await page.click('#train-use');
  await page.waitForFunction(() => /trained in this page/.test(document.getElementById('status')!.textContent ?? '') || !document.getElementById('error')!.hidden, null, { timeout: 60_000 });
  assert.equal(await errorText(page), '');
  assert.match(await page.textContent('#config') ?? '', /trained onmnist/);
  assert.equal(await page.inputValue('#model'), '#trained');
  await page.fill('#batch', '2');
  await page.click('#generate');
  await waitJobs(page, 1);
  assert.equal(await errorText(page), '');
  assert.equal((await lastSamples(page)).count, 2);
  await page.close();
});

test('without its training digits the Train panel says which file it could not fetch', async (t) => {
  if (skipIfNoBrowser(t)) return;
  const app = join(root, 'web-no-digits');
  cpSync(webDir, app, { recursive: true });
  rmSync(join(app, 'assets', 'mnist-train.bin'));
  const page = await openPage(await serve(modelDir, app));
  await page.selectOption('#train-model', 'tiny');
  await page.click('#train-start');
  await page.waitForFunction(() => window.__pixelcnnTrain!.state === 'error', null, { timeout: 60_000 });
  assert.equal(await errorText(page), 'Training failed: Could not fetch assets/mnist-train.bin: HTTP 404 Not Found');
  assert.equal(await page.textContent('#train-status'), 'Training failed: see the message above.');
  assert.equal(await page.isDisabled('#train-start'), false, 'another try is possible');
  await page.close();
});
