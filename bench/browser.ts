/**
 * Sampling speed in the browser page of `pixelcnn serve`: headless Chromium, 16 images, timed in
 * the page's sampling worker (the page's backend: wasm where it loads), next to the same sampler
 * in Node on the js backend.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { startServer } from '../src/serve/server.js';
import { loadCheckpoint, loadParamsInto } from '../src/train/checkpoint.js';
import { createModel } from '../src/models/index.js';
import { sampleCached } from '../src/sample/cached.js';
import { useBackend } from '../src/backend/index.js';

const USAGE = `Usage: npm run build && node dist/bench/browser.js [options]

Sampling speed of the page of \`pixelcnn serve\` in headless Chromium (/usr/bin/chromium),
timed in the page's sampling worker, beside the same cached sampler in Node on the js backend.

Options:
  --model <dir>     checkpoint directory (default: the shipped models/mnist-tiny)
  --count <n>       images per sampling run (default: 16)
  --runs <r>        sampling runs in the page; the median is printed (default: 3)
  --node-runs <r>   runs of the js sampler in Node (default: --runs; 0 = skip it)
  --train <s>       also the Train panel's speed: its default model and batch trained for s
                    seconds in the page; prints the images/s the panel shows (compare
                    \`pixelcnn bench\` on the same model) (default: 0 = skip)
  -h, --help        this help`;

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const fail = (message: string): never => {
  console.error(`bench/browser: ${message}`);
  process.exit(2);
};
let values: Record<string, string | boolean | undefined> = {};
try {
  ({ values } = parseArgs({
    options: {
      model: { type: 'string', default: join(repoRoot, 'models', 'mnist-tiny') },
      count: { type: 'string', default: '16' },
      runs: { type: 'string', default: '3' },
      'node-runs': { type: 'string' },
      train: { type: 'string', default: '0' },
      help: { type: 'boolean', short: 'h' },
    },
  }));
} catch (e) {
  fail(`${(e as Error).message} (--help lists the options)`);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const whole = (flag: string, min: number): number => {
  const text = String(values[flag]), n = Number(text);
  if (!Number.isInteger(n) || n < min) fail(`--${flag} must be an integer ≥ ${min}, got ${JSON.stringify(text)}`);
  return n;
};
const modelDir = String(values.model), count = whole('count', 1), runs = whole('runs', 1), trainSeconds = whole('train', 0);
const nodeRuns = values['node-runs'] === undefined ? runs : whole('node-runs', 0);
const webDir = join(repoRoot, 'dist', 'web');
if (!existsSync(join(webDir, 'index.html'))) fail(`${webDir} is not built: run npm run build`);
if (!existsSync(modelDir)) fail(`--model: ${modelDir} does not exist`);

const ck = loadCheckpoint(modelDir);
const model = createModel(ck.modelConfig);
loadParamsInto(model, ck.params, modelDir);
useBackend('js');
const c = model.config;

const server = await startServer({ models: [{ name: 'model', dir: modelDir }], webDir, port: 0 });
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
try {
  const page = await browser.newPage();
  await page.goto(server.url);
  await page.waitForFunction(() => {
    const s = (window as unknown as { __pixelcnn?: { state: string } }).__pixelcnn?.state;
    return s === 'ready' || s === 'error';
  }, null, { timeout: 60_000 });
  const error = await page.evaluate(() => document.getElementById('error')!.textContent);
  if (error) throw new Error(`the page could not load the model: ${error}`);
  await page.fill('#batch', String(count));
  const pageMs: number[] = [];
  for (let r = 0; r < runs; r++) {
    await page.fill('#seed', String(r));
    await page.click('#generate');
    await page.waitForFunction((k) => (window as unknown as { __pixelcnn: { jobs: number } }).__pixelcnn.jobs >= k, r + 1, { timeout: 600_000 });
    pageMs.push(await page.evaluate(() => (window as unknown as { __lastSamples: { ms: number } }).__lastSamples.ms));
  }
  const nodeMs: number[] = [];
  for (let r = 0; r < nodeRuns; r++) {
    const t0 = performance.now();
    sampleCached(model, { count, seed: r, classes: c.numClasses > 0 ? Int32Array.from({ length: count }, (_, i) => i % c.numClasses) : null });
    nodeMs.push(performance.now() - t0);
  }
  const desc = `${c.height}×${c.width}×${c.channels}, ${c.levels} levels, ${[...model.parameters().values()].reduce((a, p) => a + p.size, 0)} parameters`;
  console.log(`model ${modelDir} (${desc})`);
  console.log(`${count} samples in the browser worker: median ${median(pageMs).toFixed(0)} ms of ${runs} runs [${pageMs.map((x) => x.toFixed(0)).join(', ')}]`);
  if (nodeRuns > 0) console.log(`${count} samples in Node (js backend, same sampler): median ${median(nodeMs).toFixed(0)} ms [${nodeMs.map((x) => x.toFixed(0)).join(', ')}]`);
  if (trainSeconds > 0) {
    const model = await page.inputValue('#train-model'), batch = await page.inputValue('#train-batch');
    await page.click('#train-start');
    await page.waitForTimeout(trainSeconds * 1000);
    const view = await page.evaluate(() => {
      const t = (window as unknown as { __pixelcnnTrain: { steps: number; imagesPerSecond: number | null } }).__pixelcnnTrain;
      return { steps: t.steps, ips: t.imagesPerSecond, status: document.getElementById('train-status')!.textContent };
    });
    await page.click('#train-stop');
    console.log(`Train panel (model ${model}, batch ${batch}), ${trainSeconds} s: ${view.steps} steps, ${view.ips?.toFixed(1) ?? '?'} images/s (${view.status})`);
  }
} finally {
  await browser.close();
  await server.close();
}
