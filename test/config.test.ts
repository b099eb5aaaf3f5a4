// The typed model-config boundary: one parser (src/models/config.ts) for library objects,
// config.json and CLI flags, rejecting unknown keys and bad values with a message naming the key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ConfigError, createModel, defaultGatedPixelCnnConfig, defaultPixelCnnConfig, parseModelConfig, PixelCnn,
  type ModelConfig, type ModelConfigInput,
} from '../src/models/index.js';
import { CheckpointError, loadCheckpoint, saveCheckpoint } from '../src/train/checkpoint.js';
import { saveModel } from '../src/train/model-io.js';

const bin = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'bin', 'pixelcnn.js');
const untyped = (v: unknown) => v as ModelConfigInput;

test('createModel: a misspelt key is an error naming it and the key it resembles', () => {
  // @ts-expect-error: the typed config rejects the typo at compile time too
  const typo: ModelConfigInput = { arch: 'pixelcnn', hiden: 64 };
  assert.throws(() => createModel(typo), (e: Error) => e instanceof ConfigError &&
    /unknown key 'hiden' in the PixelCNN config \(did you mean 'hidden'\?\)/.test(e.message));
  // A key of the other architecture is unknown here too.
  assert.throws(() => createModel(untyped({ arch: 'pixelcnn', layers: 3 })), /unknown key 'layers' in the PixelCNN config/);
  assert.throws(() => createModel(untyped({ arch: 'gated', blocks: 3 })), /unknown key 'blocks' in the Gated PixelCNN config/);
});

test('createModel: missing fields come from the defaults; values are checked with the key named', () => {
  const m = createModel({ arch: 'gated', levels: 2, hidden: 8, outHidden: 8, layers: 2 });
  assert.deepEqual(m.config, { ...defaultGatedPixelCnnConfig, levels: 2, hidden: 8, outHidden: 8, layers: 2 });
  assert.deepEqual(createModel({ arch: 'pixelcnn', hidden: 4, outHidden: 4, blocks: 0 }).config,
    { ...defaultPixelCnnConfig, hidden: 4, outHidden: 4, blocks: 0 });
  const cases: [unknown, RegExp][] = [
    [{ arch: 'pixelcnn', levels: '4' }, /levels must be an integer in \[2, 256\], got "4"/],
    [{ arch: 'pixelcnn', levels: 2.5 }, /levels must be an integer in \[2, 256\], got 2\.5/],
    [{ arch: 'pixelcnn', channels: 2 }, /channels must be 1 or 3, got 2/],
    [{ arch: 'pixelcnn', likelihood: 'gaussian' }, /likelihood must be "softmax" or "sigmoid" or "logistic-mixture", got "gaussian"/],
    [{ arch: 'pixelcnn', numClasses: 10 }, /numClasses must be 0: the residual PixelCNN is unconditional/],
    [{ arch: 'gated', kernel: 4 }, /kernel must be an odd integer in \[3, 15\], got 4/],
    [{ arch: 'gated', channels: 3, outHidden: 2 }, /outHidden must be an integer in \[3, 4096\] \(at least one filter per colour\)/],
    [{ arch: 'gated', height: 0 }, /height must be an integer in \[1, 4096\], got 0/],
    [{ arch: 'pixelcnn', hidden: null }, /hidden must be an even integer in \[2, 4096\], got null/],
    [{ arch: 'nope' }, /unknown model architecture 'nope' \(known: pixelcnn, gated, pixelcnn\+\+\)/],
    [{ hidden: 8 }, /the model config has no "arch"/],
    [[1, 2], /the model config must be an object/],
  ];
  for (const [raw, re] of cases) assert.throws(() => createModel(untyped(raw)), re, JSON.stringify(raw));
});

test('the model constructors use the same parser (strict: every field required)', () => {
  const { blocks: _, ...noBlocks } = defaultPixelCnnConfig;
  assert.throws(() => new PixelCnn(untyped(noBlocks) as typeof defaultPixelCnnConfig), /PixelCNN config: blocks is missing/);
  assert.throws(() => parseModelConfig({ ...defaultPixelCnnConfig, extra: 1 }), /unknown key 'extra'/);
});

test('config.json: a misspelt, missing or bad model key is a checkpoint error naming the file and the key', () => {
  const root = mkdtempSync(join(tmpdir(), 'pixelcnn-config-'));
  try {
    const dir = join(root, 'ck');
    saveModel(dir, createModel({ arch: 'pixelcnn', levels: 2, hidden: 4, outHidden: 4, blocks: 1, height: 6, width: 6 }));
    const path = join(dir, 'config.json');
    const good = readFileSync(path, 'utf8');
    const edit = (f: (m: Record<string, unknown>) => void) => {
      const c = JSON.parse(good) as { model: Record<string, unknown> };
      f(c.model);
      writeFileSync(path, JSON.stringify(c));
    };
    const fails = (re: RegExp) => assert.throws(() => loadCheckpoint(dir), (e: Error) => {
      assert.ok(e instanceof CheckpointError, e.message);
      assert.ok(e.message.startsWith(`${path}: `), e.message);
      assert.match(e.message, re);
      return true;
    });
    edit((m) => { m.outHiden = m.outHidden; delete m.outHidden; });
    fails(/unknown key 'outHiden' in the PixelCNN config \(did you mean 'outHidden'\?\)/);
    edit((m) => { delete m.blocks; });
    fails(/"model\.blocks" is missing/);
    edit((m) => { m.hidden = 5; });
    fails(/"model\.hidden" must be an even integer in \[2, 4096\], got 5/);
    edit((m) => { m.levels = 3; m.likelihood = 'sigmoid'; });
    fails(/the sigmoid likelihood needs "model\.levels" = 2, got 3/);
    writeFileSync(path, good);
    assert.equal(loadCheckpoint(dir).modelConfig.arch, 'pixelcnn');
    // Nothing writes a config.json that would not load.
    const m = createModel({ arch: 'pixelcnn', hidden: 4, outHidden: 4, blocks: 0 });
    assert.throws(() => saveCheckpoint(join(root, 'bad'), { modelConfig: untyped({ ...m.config, hiden: 3 }) as ModelConfig, params: m.parameters() }),
      (e: Error) => e instanceof CheckpointError && /unknown key 'hiden'/.test(e.message));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('CLI: a model flag the parser rejects is one line naming the flag', () => {
  const cases: [string[], RegExp][] = [
    [['--arch', 'gated', '--kernel', '4'], /--kernel must be an odd integer in \[3, 15\], got 4/],
    [['--arch', 'gated', '--first-kernel', '17'], /--first-kernel must be an odd integer in \[3, 15\], got 17/],
    [['--hidden', '7'], /--hidden must be an even integer in \[2, 4096\], got 7/],
    [['--arch', 'gated', '--channels', '3', '--hidden', '2'], /--hidden must be an integer in \[3, 4096\] \(at least one filter per colour\), got 2/],
    [['--likelihood', 'sigmoid', '--levels', '4'], /the sigmoid likelihood needs --levels = 2, got 4/],
    [['--blocks', '300'], /--blocks must be an integer in \[0, 256\], got 300/],
    [['--hidden', 'x'], /--hidden.*expected an integer ≥ 0, got 'x'/],
  ];
  for (const [flags, re] of cases) {
    const r = spawnSync(process.execPath, [bin, 'bench', '--steps', '1', '--size', '4', '--batch', '1', ...flags], { encoding: 'utf8', timeout: 120_000 });
    assert.notEqual(r.status, 0, flags.join(' '));
    assert.match(r.stderr, re, flags.join(' '));
    assert.equal(r.stderr.trim().split('\n').filter((l) => !l.startsWith('(add --help')).length, 1, r.stderr);
  }
});

test('CLI: bench --conditional measures a class-conditional model on random labels (--classes)', () => {
  const run = (extra: string[]) => spawnSync(process.execPath, [bin, 'bench', '--arch', 'gated', '--conditional', '--classes', '3',
    '--hidden', '4', '--out-hidden', '4', '--layers', '2', '--levels', '4', '--size', '4', '--json', ...extra], { encoding: 'utf8', timeout: 120_000 });
  const train = run(['--steps', '1', '--batch', '2']);
  assert.equal(train.status, 0, train.stderr);
  const t = JSON.parse(train.stdout);
  assert.equal(t.config.numClasses, 3);
  assert.ok(t.train_images_per_s > 0);
  const sample = run(['--sample', '--batches', '2', '--naive-positions', '1']);
  assert.equal(sample.status, 0, sample.stderr);
  const s = JSON.parse(sample.stdout);
  assert.equal(s.config.numClasses, 3);
  assert.ok(s.results[0].cached_images_per_s > 0);
  const bad = spawnSync(process.execPath, [bin, 'bench', '--conditional', '--steps', '1', '--size', '4'], { encoding: 'utf8', timeout: 120_000 });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /--conditional needs --arch gated or pixelcnn\+\+/);
  const stray = spawnSync(process.execPath, [bin, 'bench', '--classes', '3', '--steps', '1', '--size', '4'], { encoding: 'utf8', timeout: 120_000 });
  assert.notEqual(stray.status, 0);
  assert.match(stray.stderr, /--classes needs --conditional/);
});
