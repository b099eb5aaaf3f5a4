/**
 * The command line with hostile or mistaken input: every case ends in one line on stderr naming
 * the file or flag, a non-zero exit, in bounded time and memory, and nothing of the user's changed.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync, existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCheckpoint } from '../src/train/checkpoint.js';

const bin = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'bin', 'pixelcnn.js');
const root = mkdtempSync(join(tmpdir(), 'pixelcnn-cli-safety-'));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const fresh = (name: string) => join(root, `${name}-${counter++}`);

/** Runs the CLI with a 512 MB heap and a time limit; a hang or a crash for memory fails the test. */
function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ['--max-old-space-size=512', bin, ...args], { encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.error, undefined, `${args.join(' ')}: ${r.error?.message}`);
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** The one line a failed command prints. */
function oneLineError(r: { code: number | null; err: string }, what: string): string {
  assert.equal(r.code, 1, `${what}: exit ${r.code}; ${r.err}`);
  const lines = r.err.trimEnd().split('\n');
  assert.equal(lines.length, 1, `${what}: one line, got:\n${r.err}`);
  assert.match(lines[0], /^pixelcnn: error: /);
  return lines[0];
}

/** Everything under `dir` (types, modes and contents; FIFOs are not read) and its siblings' names. */
function snapshot(dir: string): string {
  const h = createHash('sha256');
  const walk = (p: string) => {
    const st = lstatSync(p);
    h.update(`${p} ${st.mode}\n`);
    if (st.isDirectory()) for (const e of readdirSync(p).sort()) walk(join(p, e));
    else if (st.isFile()) h.update(readFileSync(p));
  };
  walk(dir);
  h.update(readdirSync(dirname(dir)).filter((e) => e.includes(basename(dir))).sort().join('\n'));
  return h.digest('hex');
}

const data = ['--dataset', 'mnist', '--limit', '32'];
const small = ['--levels', '2', '--hidden', '8', '--out-hidden', '8', '--blocks', '1', '--batch', '8', '--samples', '0', '--no-progress'];

let good: string | null = null;
/** A small trained checkpoint (made once). */
function goodCheckpoint(): string {
  if (good) return good;
  good = fresh('good');
  const r = cli('train', ...data, ...small, '--steps', '2', '--eval-limit', '8', '--out', good);
  assert.equal(r.code, 0, r.err);
  return good;
}

test('train: an existing checkpoint is never replaced without --force, and --resume may not contradict it', () => {
  const out = goodCheckpoint();
  const before = snapshot(out);
  const again = cli('train', ...data, ...small, '--steps', '1', '--out', out);
  assert.equal(oneLineError(again, 'no --resume'), `pixelcnn: error: ${out} already holds a checkpoint; continue it with --resume, or replace it with --force`);
  assert.equal(snapshot(out), before, 'the trained model is untouched');

  const contradictions: [string[], string][] = [
    [['--levels', '4'], `--levels 4 contradicts the checkpoint in ${out} (levels 2)`],
    [['--hidden', '16'], `--hidden 16 contradicts the checkpoint in ${out} (hidden 8)`],
    [['--arch', 'gated'], `--arch gated contradicts the checkpoint in ${out} (arch pixelcnn)`],
    [['--layers', '3'], `--layers 3 contradicts the checkpoint in ${out} (a pixelcnn model, which has no layers)`],
    [['--dataset', 'fashion-mnist'], `--dataset fashion-mnist contradicts the checkpoint in ${out} (trained with --dataset mnist)`],
    [['--limit', '16'], `--limit 16 contradicts the checkpoint in ${out} (trained with --limit 32)`],
  ];
  for (const [flags, message] of contradictions) {
    const r = cli('train', '--steps', '3', '--resume', '--no-progress', '--samples', '0', ...flags, '--out', out);
    assert.equal(oneLineError(r, flags.join(' ')), `pixelcnn: error: ${message}; leave the flag out to continue it, or train a new model with --force`);
  }
  assert.equal(snapshot(out), before);
  const both = cli('train', '--steps', '3', '--resume', '--force', '--out', out);
  assert.match(oneLineError(both, '--resume --force'), /--resume continues .* --force replaces it: give one of them/);

  // Flags left out take the checkpoint's values (its data set, levels and size), flags that agree are fine.
  const copy = fresh('resumed');
  cpSync(out, copy, { recursive: true });
  const resumed = cli('train', '--steps', '3', '--resume', '--levels', '2', '--no-progress', '--samples', '0', '--eval-limit', '8', '--out', copy);
  assert.equal(resumed.code, 0, resumed.err);
  assert.match(resumed.err, /resuming .* at step 2/);
  assert.match(resumed.err, /2 levels, .*data mnist:train \(32\)/);
  assert.equal(loadCheckpoint(copy).training!.step, 3);
  const recorded = loadCheckpoint(copy).training!.dataset!;
  assert.deepEqual([recorded.name, recorded.dataDir, recorded.limit], ['mnist', null, 32]);

  // --force replaces the model, keeping the user's other files.
  writeFileSync(join(copy, 'notes.txt'), 'mine');
  const forced = cli('train', ...data, ...small, '--hidden', '4', '--steps', '1', '--eval-limit', '8', '--force', '--out', copy);
  assert.equal(forced.code, 0, forced.err);
  const replaced = loadCheckpoint(copy).modelConfig;
  assert.equal(replaced.arch === 'pixelcnn' ? replaced.hidden : NaN, 4);
  assert.equal(readFileSync(join(copy, 'notes.txt'), 'utf8'), 'mine');
});

test('train: an output path that cannot take a checkpoint is refused before training', () => {
  const file = fresh('file');
  writeFileSync(file, 'not a directory');
  const r1 = cli('train', ...data, ...small, '--steps', '1000000', '--out', file);
  assert.equal(oneLineError(r1, 'file'), `pixelcnn: error: ${file}: exists and is not a directory (a checkpoint is a directory)`);
  const r2 = cli('train', ...data, ...small, '--steps', '1000000', '--out', join(file, 'run'));
  assert.equal(oneLineError(r2, 'under a file'), `pixelcnn: error: ${join(file, 'run')}: ${file} is not a directory`);
  assert.equal(readFileSync(file, 'utf8'), 'not a directory');
  assert.deepEqual(readdirSync(root).filter((e) => e.includes(basename(file)) && e !== basename(file)), [], 'nothing left beside it');
});

test('train: progress never passes 100%, says the loss is a running average, and the evaluation has its own bar', () => {
  const out = fresh('progress');
  // A time budget of 30 ms: the first step already ends past it.
  const r = cli('train', ...data, ...small.filter((f) => f !== '--no-progress'), '--minutes', '0.0005', '--eval-limit', '16', '--out', out);
  assert.equal(r.code, 0, r.err);
  const percents = [...r.err.matchAll(/^train (\d+)%/gm)].map((m) => Number(m[1]));
  assert.ok(percents.length > 0, r.err);
  assert.ok(percents.every((p) => p <= 100), `train percentages ${percents.join(', ')}`);
  assert.match(r.err, /loss \(running avg\) \d+\.\d+ bits\/dim/);
  assert.match(r.err, /^eval 100% \| 16\/16 test images$/m);
});

test('train: a diverging loss earns one warning; a non-finite one stops the run and keeps the checkpoint', () => {
  const out = fresh('diverge');
  const r = cli('train', ...data, ...small, '--steps', '12', '--lr', '10', '--clip', '0', '--eval-limit', '8', '--out', out);
  const warnings = r.err.split('\n').filter((l) => l.startsWith('warning: '));
  assert.equal(warnings.length, 1, r.err);
  assert.match(warnings[0], /^warning: the training loss is \d+\.\d bits\/dim at step \d+, far above the 1\.00 bits\/dim of a uniform guess over 2 levels: training is diverging/);
});

// ---------------------------------------------------------------------------------------------
// A corpus of broken checkpoints through every command that reads one

/** A small safetensors file from a header (and data). */
function safetensors(header: unknown, dataBytes = 0, headerLength?: bigint): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(headerLength ?? BigInt(json.length));
  return Buffer.concat([len, json, Buffer.alloc(dataBytes)]);
}

const editConfig = (dir: string, f: (c: Record<string, any>) => void) => { // eslint-disable-line @typescript-eslint/no-explicit-any
  const path = join(dir, 'config.json');
  const c = JSON.parse(readFileSync(path, 'utf8'));
  f(c);
  writeFileSync(path, JSON.stringify(c));
};
const fifo = (path: string) => { rmSync(path); assert.equal(spawnSync('mkfifo', [path]).status, 0, 'mkfifo'); };

const corpus: [string, (dir: string) => void, (dir: string) => string][] = [
  ['bad JSON', (d) => writeFileSync(join(d, 'config.json'), '{"format": "pixelcnn-checkpoint", '),
    (d) => `${join(d, 'config.json')}: not valid JSON`],
  ['huge sizes, tiny weights', (d) => editConfig(d, (c) => Object.assign(c.model, { hidden: 4096, outHidden: 4096, blocks: 256 })),
    (d) => `${join(d, 'model.safetensors')}: the parameters do not fit the pixelcnn model; missing: blocks.1.conv1.weight`],
  ['unknown arch', (d) => editConfig(d, (c) => { c.model.arch = 'transformer'; }),
    (d) => `${join(d, 'config.json')}: unknown model architecture 'transformer'`],
  ['negative step', (d) => editConfig(d, (c) => { c.training.step = -5; }),
    (d) => `${join(d, 'config.json')}: "training.step" must be an integer in [0, 2^48], got -5`],
  ['fractional epoch', (d) => editConfig(d, (c) => { c.training.epoch = 0.5; }),
    (d) => `${join(d, 'config.json')}: "training.epoch" must be an integer in [0, 2^48], got 0.5`],
  ['huge index', (d) => editConfig(d, (c) => { c.training.indexInEpoch = 1e300; }),
    (d) => `${join(d, 'config.json')}: "training.indexInEpoch" must be an integer in [0, 2^48], got 1e+300`],
  ['huge header length', (d) => writeFileSync(join(d, 'model.safetensors'), safetensors({}, 0, 1n << 62n)),
    (d) => `${join(d, 'model.safetensors')}: header length 4611686018427387904 exceeds the 100000000-byte limit`],
  ['shapes beyond the file', (d) => writeFileSync(join(d, 'model.safetensors'),
    safetensors({ 'input.weight': { dtype: 'F32', shape: [1 << 20, 1 << 10], data_offsets: [0, 2 ** 32] } }, 16)),
    (d) => `${join(d, 'model.safetensors')}: tensor 'input.weight': data_offsets [0, 4294967296] run past the end of the data (16 bytes)`],
  ['FIFO as config.json', (d) => fifo(join(d, 'config.json')),
    (d) => `${join(d, 'config.json')}: is a FIFO (named pipe), expected a regular file (a checkpoint holds plain files)`],
  ['FIFO as model.safetensors', (d) => fifo(join(d, 'model.safetensors')),
    (d) => `${join(d, 'model.safetensors')}: is a FIFO (named pipe), expected a regular file (a checkpoint holds plain files)`],
  ['symlink loop', (d) => { rmSync(join(d, 'config.json')); symlinkSync('config.json', join(d, 'config.json')); },
    (d) => `${join(d, 'config.json')}: symlink loop, expected a regular file`],
];

for (const [name, breakIt, message] of corpus) {
  test(`broken checkpoint (${name}): eval, sample and train --resume give one line naming the file and field, and change nothing`, () => {
    const dir = fresh('broken');
    cpSync(goodCheckpoint(), dir, { recursive: true });
    breakIt(dir);
    const before = snapshot(dir);
    const png = join(root, `${basename(dir)}.png`);
    const runs: [string, string[]][] = [
      ['eval', ['eval', '--model', dir, ...data, '--no-progress']],
      ['sample', ['sample', '--model', dir, '--n', '1', '--no-progress', '--out', png]],
      ['train --resume', ['train', '--resume', '--steps', '5', '--no-progress', '--out', dir]],
    ];
    for (const [what, args] of runs) {
      const line = oneLineError(cli(...args), what);
      assert.ok(line.startsWith(`pixelcnn: error: ${message(dir)}`), `${what}: ${line}`);
      assert.equal(snapshot(dir), before, `${what} changed nothing`);
    }
    assert.ok(!existsSync(png), 'no sample written');
  });
}

test('train --resume: a data position beyond the data set is an error naming the field', () => {
  const dir = fresh('position');
  cpSync(goodCheckpoint(), dir, { recursive: true });
  editConfig(dir, (c) => { c.training.indexInEpoch = 5000; });
  const line = oneLineError(cli('train', '--resume', '--steps', '5', '--no-progress', '--out', dir), 'index');
  assert.equal(line, `pixelcnn: error: ${join(dir, 'config.json')}: "training.indexInEpoch" is 5000, beyond the 32 images of mnist:train`);
});

test('train --resume: training flags left out continue the checkpoint\'s (the budget too), given ones replace them', () => {
  const dir = fresh('options');
  const started = cli('train', ...data, ...small, '--batch', '4', '--lr', '0.003', '--lr-schedule', 'cosine', '--warmup', '1',
    '--ema', '0.9', '--seed', '5', '--clip', '2', '--eval-limit', '4', '--steps', '2', '--out', dir);
  assert.equal(started.code, 0, started.err);
  // An interrupted run: its budget was 3 steps, it stopped at 2.
  editConfig(dir, (c) => { c.training.options.steps = 3; });
  const resumed = cli('train', '--resume', '--no-progress', '--samples', '0', '--out', dir);
  assert.equal(resumed.code, 0, resumed.err);
  assert.match(resumed.err, /resuming .* at step 2; continuing its --batch 4 --lr 0\.003 --lr-schedule cosine --warmup 1 --clip 2 --ema 0\.9 --seed 5 --eval-limit 4 --steps 3\n/);
  const after = loadCheckpoint(dir).training!;
  assert.equal(after.step, 3, 'the recorded budget of 3 steps');
  assert.equal(after.imagesSeen, 12, 'batch 4 throughout');
  assert.deepEqual(
    [after.options!.batchSize, after.options!.lr, after.options!.lrSchedule, after.options!.warmupSteps, after.options!.ema, after.options!.seed, after.options!.clipNorm, after.options!.steps],
    [4, 0.003, 'cosine', 1, 0.9, 5, 2, 3]);

  // A flag given replaces the recorded value; a budget given replaces the whole recorded budget.
  const extended = cli('train', '--resume', '--lr', '0.001', '--epochs', '1', '--no-progress', '--samples', '0', '--out', dir);
  assert.equal(extended.code, 0, extended.err);
  assert.doesNotMatch(extended.err, /--lr |--steps/);
  const last = loadCheckpoint(dir).training!.options!;
  assert.deepEqual([last.lr, last.epochs, last.steps, last.batchSize], [0.001, 1, undefined, 4]);
  assert.equal(loadCheckpoint(dir).training!.imagesSeen, 32, 'one epoch of the 32 images');
});

test('train --resume: a recorded training option that its flag would refuse is an error naming the field', () => {
  const cases: [(o: Record<string, unknown>) => void, string][] = [
    [(o) => { o.lr = 'fast'; }, `"training.options.lr" is "fast": expected a number > 0 and ≤ 10, got 'fast'`],
    [(o) => { o.lrSchedule = 'linear'; }, `"training.options.lrSchedule" is "linear": Allowed choices are constant, cosine, exp.`],
    [(o) => { o.batchSize = 0.5; }, `"training.options.batchSize" is 0.5: expected an integer in [1, 65536], got '0.5'`],
    [(o) => { o.flip = 'yes'; }, `"training.options.flip" is "yes", not true or false`],
    [(o) => { o.seed = [1]; }, `"training.options.seed" is [1], not a value of --seed`],
  ];
  for (const [breakIt, message] of cases) {
    const dir = fresh('option');
    cpSync(goodCheckpoint(), dir, { recursive: true });
    editConfig(dir, (c) => breakIt(c.training.options));
    const before = snapshot(dir);
    const line = oneLineError(cli('train', '--resume', '--steps', '5', '--no-progress', '--out', dir), message);
    assert.equal(line, `pixelcnn: error: ${join(dir, 'config.json')}: ${message}`);
    assert.equal(snapshot(dir), before);
  }
});
