/**
 * The cached (incremental) sampler: exact logits against full forward passes, identical images to
 * the naive sampler and across backends, completion, bad input, and the `complete` CLI.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, existsSync, readFileSync as readFileSyncBuf } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { PixelCnn, defaultPixelCnnConfig, type PixelCnnConfig } from '../src/models/pixelcnn.js';
import { GatedPixelCnn, defaultGatedPixelCnnConfig, type GatedPixelCnnConfig } from '../src/models/gated-pixelcnn.js';
import type { AutoregressiveModel } from '../src/models/model.js';
import { sampleNaive } from '../src/sample/naive.js';
import { sampleCached } from '../src/sample/cached.js';
import { checkExact, randomLabels, sharpen, withBackend } from './sampler-checks.js';
import { loadNativeAddon, nativeLoadError } from '../src/backend/native.js';
import { saveCheckpoint } from '../src/train/checkpoint.js';
import { imagesToLevels } from '../src/cli/complete.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const requireNative = process.env.PIXELCNN_REQUIRE_NATIVE === '1';

const tiny = (over: Partial<PixelCnnConfig>): PixelCnnConfig =>
  ({ ...defaultPixelCnnConfig, hidden: 16, outHidden: 12, blocks: 2, levels: 4, height: 6, width: 5, ...over });

for (const C of [1, 3] as const) {
  for (const L of [4, 256]) {
    test(`cached sampler logits equal a full forward pass of the final image (C=${C}, L=${L}, 6×5, 2 blocks)`, () => withBackend('js', () => {
      const model = sharpen(new PixelCnn(tiny({ channels: C, levels: L }), 3), 4);
      checkExact(model, { count: 3, seed: 11 });
    }));

    test(`completion: cached logits equal a full forward pass (C=${C}, L=${L}, observed prefix mid-pixel)`, () => withBackend('js', () => {
      const model = sharpen(new PixelCnn(tiny({ channels: C, levels: L }), 4), 4);
      const count = 2, n = count * C * 30;
      const given = { labels: randomLabels(n, L, 5), observed: 13 * C + (C === 3 ? 1 : 0) };
      const labels = checkExact(model, { count, seed: 2, given });
      // The observed prefix is kept.
      for (let b = 0; b < count; b++) for (let pos = 0; pos < given.observed; pos++) {
        const idx = (b * C + (pos % C)) * 30 + Math.floor(pos / C);
        assert.equal(labels[idx], given.labels[idx]);
      }
    }));
  }
}

test('cached sampler logits are exact for the sigmoid likelihood (C=3, L=2)', () => withBackend('js', () => {
  checkExact(sharpen(new PixelCnn(tiny({ channels: 3, levels: 2, likelihood: 'sigmoid' }), 8), 4), { count: 2, seed: 4 });
}));

test('the naive sampler\'s recorded logits pass the same exactness check (the check itself is sound)', () => withBackend('js', () => {
  checkExact(sharpen(new PixelCnn(tiny({ channels: 3, levels: 4, height: 3, width: 3 }), 1), 4), { count: 2, seed: 1 }, sampleNaive);
}));

for (const C of [1, 3] as const) {
  test(`cached and naive samplers give the same images for a seed (js backend, C=${C}, L=16, temperature 1 and 0.7)`, () => withBackend('js', () => {
    const model = sharpen(new PixelCnn(tiny({ channels: C, levels: 16 }), 6), 3);
    for (const temperature of [1, 0.7]) {
      const o = { count: 4, seed: 99, temperature };
      assert.deepEqual(sampleCached(model, o), sampleNaive(model, o));
    }
    const given = { labels: randomLabels(4 * C * 30, 16, 3), observed: 7 * C };
    assert.deepEqual(sampleCached(model, { count: 4, seed: 5, given }), sampleNaive(model, { count: 4, seed: 5, given }));
  }));
}

test('the cached sampler draws differ for different seeds and are not constant', () => withBackend('js', () => {
  const model = new PixelCnn(tiny({ levels: 16 }), 6);
  const a = sampleCached(model, { count: 2, seed: 1 }), b = sampleCached(model, { count: 2, seed: 2 });
  assert.notDeepEqual(a, b);
  assert.ok(new Set(a).size > 1);
}));

test('observed = C·H·W returns the given images unchanged; temperature 0 is deterministic', () => withBackend('js', () => {
  const model = new PixelCnn(tiny({ channels: 3, levels: 8 }), 2);
  const given = { labels: randomLabels(2 * 3 * 30, 8, 9), observed: 90 };
  assert.deepEqual(sampleCached(model, { count: 2, given }), given.labels);
  assert.deepEqual(sampleCached(model, { count: 2, seed: 1, temperature: 0 }), sampleCached(model, { count: 2, seed: 2, temperature: 0 }));
}));

test('same seed gives the same images from the js and native backends (cached sampler, C=1/3, completion too)', (t) => {
  const addon = loadNativeAddon();
  if (!addon || typeof addon.sampleCachedPixelCnn !== 'function') {
    const why = addon ? 'the native addon has no sampleCachedPixelCnn' : `native addon unavailable: ${nativeLoadError()}`;
    if (requireNative) assert.fail(`PIXELCNN_REQUIRE_NATIVE=1 but ${why}`);
    t.skip(why);
    return;
  }
  for (const C of [1, 3] as const) {
    for (const L of [4, 256]) {
      const model = sharpen(new PixelCnn(tiny({ channels: C, levels: L, hidden: 24, outHidden: 20, height: 7, width: 6 }), 12), 3);
      const given = { labels: randomLabels(5 * C * 42, L, 1), observed: 9 * C + (C - 1) };
      for (const o of [{ count: 5, seed: 3 }, { count: 5, seed: 4, temperature: 0.8, given }]) {
        const js = withBackend('js', () => sampleCached(model, o));
        const nat = withBackend('native', () => checkExact(model, o));
        assert.deepEqual(nat, js, `C=${C} L=${L} ${o.given ? 'completion' : 'sampling'}`);
      }
    }
  }
});

test('bad observed prefixes are rejected with a clear error', () => {
  const model = new PixelCnn(tiny({ channels: 3 }), 1);
  const labels = new Uint8Array(3 * 30);
  for (const [observed, re] of [[-1, /observed prefix -1 outside \[0, 90\]/], [91, /observed prefix 91 outside/], [2.5, /observed prefix 2.5/], [NaN, /observed prefix NaN/]] as const) {
    assert.throws(() => sampleCached(model, { count: 1, given: { labels, observed } }), re);
  }
  assert.throws(() => sampleCached(model, { count: 1, given: { labels: new Uint8Array(10), observed: 0 } }), /given labels hold 10 values, need 1×3×6×5 = 90/);
  assert.throws(() => sampleCached(model, { count: 1, given: { labels: new Uint8Array(90).fill(4), observed: 0 } }), /not below levels=4/);
});

// ---- Gated PixelCNN ----------------------------------------------------------------------------

const tinyGated = (over: Partial<GatedPixelCnnConfig>): GatedPixelCnnConfig =>
  ({ ...defaultGatedPixelCnnConfig, hidden: 12, outHidden: 10, layers: 3, kernel: 3, firstKernel: 5, levels: 4, height: 6, width: 5, ...over });

const someClasses = (count: number, K: number) => Int32Array.from({ length: count }, (_, b) => (b * 3 + 1) % K);

for (const C of [1, 3] as const) {
  for (const L of [4, 256]) {
    for (const K of [0, 4]) {
      const what = `C=${C}, L=${L}${K ? ', conditional' : ''}, 6×5`;
      test(`gated: cached sampler logits equal a full forward pass of the final image (${what}, 3 layers)`, () => withBackend('js', () => {
        const model = sharpen(new GatedPixelCnn(tinyGated({ channels: C, levels: L, numClasses: K }), 3 + K), 4);
        checkExact(model, { count: 3, seed: 11, classes: K ? someClasses(3, K) : null });
      }));

      test(`gated completion: cached logits equal a full forward pass (${what}, 2 layers, prefixes mid-row and below the vertical ring)`, () => withBackend('js', () => {
        const model = sharpen(new GatedPixelCnn(tinyGated({ channels: C, levels: L, numClasses: K, layers: 2 }), 4 + K), 4);
        const count = 2, n = count * C * 30, classes = K ? someClasses(count, K) : null;
        for (const observed of [13 * C + (C === 3 ? 1 : 0), 20 * C, 27 * C + C - 1]) {
          const given = { labels: randomLabels(n, L, observed), observed };
          const labels = checkExact(model, { count, seed: 2, given, classes });
          for (let b = 0; b < count; b++) for (let pos = 0; pos < observed; pos++) {
            const idx = (b * C + (pos % C)) * 30 + Math.floor(pos / C);
            assert.equal(labels[idx], given.labels[idx]);
          }
        }
      }));
    }
  }
}

test('gated: cached sampler logits are exact for the sigmoid likelihood and for one layer (C=3, L=2)', () => withBackend('js', () => {
  checkExact(sharpen(new GatedPixelCnn(tinyGated({ channels: 3, levels: 2, likelihood: 'sigmoid' }), 8), 4), { count: 2, seed: 4 });
  checkExact(sharpen(new GatedPixelCnn(tinyGated({ channels: 3, levels: 4, layers: 1, firstKernel: 3 }), 9), 4), { count: 2, seed: 4 });
}));

for (const C of [1, 3] as const) {
  test(`gated: cached and naive samplers give the same images for a seed (js backend, C=${C}, L=16, conditional, completion)`, () => withBackend('js', () => {
    const model = sharpen(new GatedPixelCnn(tinyGated({ channels: C, levels: 16, numClasses: 3, layers: 2 }), 6), 3);
    const classes = someClasses(4, 3);
    for (const temperature of [1, 0.7]) {
      const o = { count: 4, seed: 99, temperature, classes };
      assert.deepEqual(sampleCached(model, o), sampleNaive(model, o));
    }
    const given = { labels: randomLabels(4 * C * 30, 16, 3), observed: 17 * C + (C - 1) };
    assert.deepEqual(sampleCached(model, { count: 4, seed: 5, given, classes }), sampleNaive(model, { count: 4, seed: 5, given, classes }));
  }));
}

// ---- CLI ----------------------------------------------------------------------------------------

function writePng(file: string, width: number, height: number, rgba: (x: number, y: number) => [number, number, number, number]): void {
  const png = new PNG({ width, height });
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) png.data.set(rgba(x, y), (y * width + x) * 4);
  writeFileSync(file, PNG.sync.write(png));
}

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'pixelcnn.js'), ...args], {
    encoding: 'utf8', env: { ...process.env, PIXELCNN_BACKEND: 'js' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('CLI: complete writes a grid (original, occluded, S completions per row) and rejects bad input with one-line errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pixelcnn-complete-'));
  try {
    const config = tiny({ channels: 1, levels: 4, height: 8, width: 6 });
    const model = new PixelCnn(config, 1);
    saveCheckpoint(join(dir, 'ck'), { modelConfig: { ...config }, params: model.parameters() });
    const good = join(dir, 'good.png'), big = join(dir, 'big.png');
    writePng(good, 6, 8, (x, y) => [x * 40, y * 30, 100, 255]);
    writePng(big, 9, 7, () => [0, 0, 0, 255]);
    const out = join(dir, 'grid.png');
    const base = ['complete', '--model', join(dir, 'ck'), '--no-progress', '--out', out];

    const ok = cli([...base, '--input', good, good, '--rows', '3', '--samples', '3', '--seed', '4']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.ok(existsSync(out));
    const grid = PNG.sync.read(readFileSyncBuf(out));
    // 2 rows × 5 columns of 6×8 images at scale 2 with 2 px padding.
    assert.equal(grid.width, 5 * (6 * 2 + 2) + 2);
    assert.equal(grid.height, 2 * (8 * 2 + 2) + 2);
    const naive = cli([...base.slice(0, -1), join(dir, 'naive.png'), '--input', good, '--rows', '7', '--samples', '1', '--naive']);
    assert.equal(naive.status, 0, naive.stderr);

    const bad = (args: string[], re: RegExp) => {
      const r = cli([...base, ...args]);
      assert.notEqual(r.status, 0, `${args.join(' ')} should fail`);
      const lines = r.stderr.trim().split('\n');
      assert.match(lines[0], re);
    };
    bad(['--input', big, '--rows', '2'], /big\.png is 9×7, the model expects 6×8/);
    bad(['--input', good, '--rows', '8'], /--rows must be in \[0, 8\)/);
    bad(['--input', good, '--rows', '-1'], /rows/);
    bad(['--rows', '2'], /either --input FILE\.png\.\.\. or --dataset/);
    bad(['--input', join(dir, 'missing.png'), '--rows', '2'], /missing\.png: cannot read PNG/);
    bad(['--input', good, '--rows', '2', '--class', '1'], /unconditional/);

    // A PNG folder as the data set (its test/ split: complete reads test images); RGB images are
    // converted to the model's one channel.
    mkdirSync(join(dir, 'pngs', 'test'), { recursive: true });
    writePng(join(dir, 'pngs', 'test', 'a.png'), 6, 8, (x) => [x * 50, 0, 200, 255]);
    writePng(join(dir, 'pngs', 'test', 'b.png'), 6, 8, (_x, y) => [0, y * 30, 0, 255]);
    const ds = cli([...base, '--dataset', 'png', '--data-dir', join(dir, 'pngs'), '--index', '1', '--count', '1', '--rows', '0', '--samples', '2']);
    assert.equal(ds.status, 0, ds.stderr);
    bad(['--dataset', 'png', '--data-dir', join(dir, 'pngs'), '--index', '1', '--count', '2', '--rows', '1'], /has 2 images/);

    // sample: --naive and --class checks.
    const s = cli(['sample', '--model', join(dir, 'ck'), '--n', '2', '--no-progress', '--naive', '--out', join(dir, 's.png')]);
    assert.equal(s.status, 0, s.stderr);
    const sc = cli(['sample', '--model', join(dir, 'ck'), '--n', '2', '--no-progress', '--class', 'all', '--out', join(dir, 's.png')]);
    assert.notEqual(sc.status, 0);
    assert.match(sc.stderr, /--class: the model is unconditional/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('completion input of the wrong channel count or size is rejected (imagesToLevels)', () => {
  const config = tiny({ channels: 1, levels: 2, height: 4, width: 3 });
  const set = { name: 'x.png', count: 1, channels: 3, height: 4, width: 3, pixels: new Uint8Array(36), labels: null, numClasses: 0 };
  assert.throws(() => imagesToLevels(set, config), /x\.png has 3 channel\(s\), the model expects 1/);
  assert.throws(() => imagesToLevels({ ...set, channels: 1, width: 5, pixels: new Uint8Array(20) }, config), /x\.png is 5×4, the model expects 3×4/);
  // L = 2: threshold at 128.
  assert.deepEqual(imagesToLevels({ ...set, channels: 1, pixels: Uint8Array.from([0, 127, 128, 255, 0, 0, 0, 0, 0, 0, 0, 0]) }, config).subarray(0, 4), Uint8Array.from([0, 0, 1, 1]));
});

test('the cached sampler picks the incremental network by model class, not by config.arch', () => {
  const real = new PixelCnn(tiny({}), 1);
  const lookalike: AutoregressiveModel = { config: real.config, parameters: () => real.parameters(), forward: (x) => real.forward(x) };
  assert.throws(() => sampleCached(lookalike, { count: 1 }), /cached sampling is not implemented for architecture 'pixelcnn' \(use the naive sampler\)/);
  assert.deepEqual(sampleCached(real, { count: 1, seed: 3 }), sampleNaive(real, { count: 1, seed: 3 }));
});
