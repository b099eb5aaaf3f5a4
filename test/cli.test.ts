import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, truncateSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { loadCheckpoint } from '../src/train/checkpoint.js';

const bin = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'bin', 'pixelcnn.js');
const dir = mkdtempSync(join(tmpdir(), 'pixelcnn-cli-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 600_000 }); // generous: CI machines are shared
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const model = join(dir, 'tiny');

test('train → eval --json → sample: a tiny binarised MNIST model end to end', () => {
  const t = cli('train', '--dataset', 'mnist', '--limit', '64', '--levels', '2', '--hidden', '8', '--out-hidden', '8',
    '--blocks', '1', '--batch', '16', '--steps', '3', '--samples', '2', '--no-progress', '--out', model);
  assert.equal(t.code, 0, t.err);
  assert.match(t.out, /test bits\/dim: \d+\.\d+ {2}test NLL: \d+\.\d+ nats\/image {2}\(64 images\)/);
  assert.ok(existsSync(join(model, 'samples.png')));

  const e = cli('eval', '--model', model, '--dataset', 'mnist', '--split', 'test', '--limit', '32', '--json');
  assert.equal(e.code, 0, e.err);
  const r = JSON.parse(e.out.trim()) as { bits_per_dim: number; nats_per_image: number; images: number; dims_per_image: number };
  assert.equal(r.images, 32);
  assert.equal(r.dims_per_image, 784);
  assert.ok(Math.abs(r.nats_per_image - r.bits_per_dim * Math.LN2 * 784) < 1e-6 * r.nats_per_image);

  const png = join(dir, 's.png');
  const s = cli('sample', '--model', model, '--n', '4', '--seed', '1', '--naive', '--no-progress', '--out', png);
  assert.equal(s.code, 0, s.err);
  const img = PNG.sync.read(readFileSync(png));
  // 2×2 images of 28×28 at the default scale 2, with 2-pixel gaps around them.
  assert.deepEqual([img.width, img.height], [2 * (2 * 28 + 2) + 2, 2 * (2 * 28 + 2) + 2]);
  const big = join(dir, 's3.png');
  const s3 = cli('sample', '--model', model, '--n', '4', '--seed', '1', '--cols', '4', '--scale', '3', '--no-progress', '--out', big);
  assert.equal(s3.code, 0, s3.err);
  const img3 = PNG.sync.read(readFileSync(big));
  assert.deepEqual([img3.width, img3.height], [4 * (3 * 28 + 2) + 2, 3 * 28 + 4]);
  // Nearest neighbour: each image pixel is a 3×3 block of one colour.
  const at = (x: number, y: number) => img3.data[(y * img3.width + x) * 4];
  for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) {
    for (let d = 1; d < 9; d++) assert.equal(at(2 + 3 * x + (d % 3), 2 + 3 * y + Math.floor(d / 3)), at(2 + 3 * x, 2 + 3 * y));
  }
  const bad = cli('sample', '--model', model, '--scale', '0', '--out', join(dir, 's0.png'));
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--scale/);
});

test('eval takes the data flags left out from the data the checkpoint was trained on', () => {
  const thresholded = join(dir, 'thresholded');
  const t = cli('train', '--dataset', 'mnist', '--binarise', 'threshold', '--limit', '64', '--levels', '2', '--hidden', '8', '--out-hidden', '8',
    '--blocks', '1', '--batch', '16', '--steps', '1', '--samples', '0', '--no-progress', '--out', thresholded);
  assert.equal(t.code, 0, t.err);
  const own = cli('eval', '--model', thresholded, '--limit', '16', '--json');
  assert.equal(own.code, 0, own.err);
  assert.equal((JSON.parse(own.out) as { binarise: string }).binarise, 'threshold');
  const given = cli('eval', '--model', thresholded, '--binarise', 'stochastic', '--limit', '16', '--json');
  assert.equal(given.code, 0, given.err);
  assert.equal((JSON.parse(given.out) as { binarise: string }).binarise, 'stochastic', 'a flag given wins');
});

test('--help works on every command', () => {
  for (const c of ['train', 'eval', 'sample', 'complete', 'export', 'bench', 'serve']) {
    const r = cli(c, '--help');
    assert.equal(r.code, 0, `${c}: ${r.err}`);
    assert.match(r.out, /Usage: pixelcnn/);
  }
});

test('nonsense flags exit 2 with a message naming the flag', () => {
  const cases: [string[], RegExp][] = [
    [['train', '--levels', 'banana', '--steps', '1', '--out', join(dir, 'x')], /--levels.*expected an integer in \[2, 256\], got 'banana'/],
    [['train', '--levels', '300', '--steps', '1', '--out', join(dir, 'x')], /expected an integer in \[2, 256\], got '300'/],
    [['train', '--dataset', 'imagenet', '--steps', '1', '--out', join(dir, 'x')], /Allowed choices are mnist, fashion-mnist, cifar10, emoji, png/],
    [['train', '--lr', '-1', '--steps', '1', '--out', join(dir, 'x')], /--lr.*expected a number > 0/],
    [['train', '--ema', '1', '--steps', '1', '--out', join(dir, 'x')], /--ema.*expected a number ≥ 0 and < 1, got '1'/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['eval'], /required option '--model <dir>' not specified/],
  ];
  for (const [args, re] of cases) {
    const r = cli(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}`);
    assert.match(r.err, re);
  }
});

test('train without a length, and a missing or corrupt model, exit 1 with a clear message and no stack', () => {
  const r1 = cli('train', '--out', join(dir, 'y'));
  assert.equal(r1.code, 1);
  assert.match(r1.err, /say how long to train: --steps, --epochs or --minutes/);
  const r2 = cli('sample', '--model', join(dir, 'nope'), '--out', join(dir, 'n.png'));
  assert.equal(r2.code, 1);
  assert.match(r2.err, /nope/);
  assert.doesNotMatch(r2.err, /at .*\.js:\d+/);
  const file = join(model, 'model.safetensors');
  truncateSync(file, Math.floor(statSync(file).size / 2));
  const r3 = cli('eval', '--model', model, '--limit', '8');
  assert.equal(r3.code, 1);
  assert.match(r3.err, /model\.safetensors/);
  assert.doesNotMatch(r3.err, /at .*\.js:\d+/);
});

test('train --ema then --resume: the weight average travels through the checkpoint', () => {
  const out = join(dir, 'ema');
  const common = ['--dataset', 'mnist', '--limit', '32', '--levels', '2', '--hidden', '8', '--out-hidden', '8',
    '--blocks', '1', '--batch', '8', '--ema', '0.9', '--samples', '0', '--no-progress', '--out', out];
  const a = cli('train', ...common, '--steps', '2');
  assert.equal(a.code, 0, a.err);
  const b = cli('train', ...common, '--steps', '5', '--resume');
  assert.equal(b.code, 0, b.err);
  assert.match(b.err, /resuming .* at step 2/);
  const ck = loadCheckpoint(out);
  assert.equal(ck.average?.updates, 5);
  assert.equal(ck.average?.decay, 0.9);
  // eval reads the average by default, the live weights on request.
  const evalJson = (...extra: string[]) => {
    const r = cli('eval', '--model', out, '--dataset', 'mnist', '--limit', '16', '--json', ...extra);
    assert.equal(r.code, 0, r.err);
    return JSON.parse(r.out.trim()) as { bits_per_dim: number; weights?: string };
  };
  const avg = evalJson(), live = evalJson('--live-weights');
  assert.equal(live.weights, 'live');
  assert.notEqual(avg.bits_per_dim, live.bits_per_dim);
  const plain = join(dir, 'plain');
  assert.equal(cli('train', ...common.slice(0, common.indexOf('--ema')), '--samples', '0', '--no-progress', '--steps', '1', '--out', plain).code, 0);
  const r = cli('eval', '--model', plain, '--dataset', 'mnist', '--limit', '16', '--live-weights');
  assert.equal(r.code, 1);
  assert.match(r.err, /holds no weight average \(train with --ema\)/);
});

test('CIFAR-10 directory that does not exist: the error names it', () => {
  const r = cli('train', '--dataset', 'cifar10', '--data-dir', join(dir, 'no-cifar'), '--steps', '1', '--out', join(dir, 'c'));
  assert.equal(r.code, 1);
  assert.match(r.err, /no-cifar/);
});
