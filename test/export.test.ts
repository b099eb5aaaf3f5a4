/**
 * Float16 weights (floatToHalf, encodeSafetensors 'F16') and `pixelcnn export`, which writes a
 * checkpoint's model for shipping: no optimizer state, optionally float16.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeSafetensors, encodeSafetensors, floatToHalf, halfToFloat } from '../src/train/safetensors.js';
import { encodeCheckpoint } from '../src/train/checkpoint-format.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import { createModel } from '../src/models/index.js';
import { Adam } from '../src/nn/adam.js';

const bin = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'bin', 'pixelcnn.js');
const root = mkdtempSync(join(tmpdir(), 'pixelcnn-export-'));
after(() => rmSync(root, { recursive: true, force: true }));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('floatToHalf: every binary16 value comes back to its own bits; NaN stays NaN', () => {
  for (let h = 0; h < 0x10000; h++) {
    const x = halfToFloat(h);
    if (Number.isNaN(x)) assert.ok(Number.isNaN(halfToFloat(floatToHalf(x))), `NaN ${h.toString(16)}`);
    else assert.equal(floatToHalf(x), h, `0x${h.toString(16)} = ${x}`);
  }
});

test('floatToHalf: rounds to nearest with ties to even, overflows to infinity, underflows to signed zero', () => {
  const ulpAt1 = 2 ** -10;
  assert.equal(floatToHalf(1 + ulpAt1 / 2), 0x3c00, 'a tie goes to the even 1.0');
  assert.equal(floatToHalf(1 + 1.5 * ulpAt1), 0x3c02, 'a tie goes to the even 1 + 2 ulp');
  assert.equal(floatToHalf(1 + ulpAt1 / 2 + 2 ** -20), 0x3c01, 'above the tie rounds up');
  assert.equal(floatToHalf(2 - ulpAt1 / 4), 0x4000, 'a carry out of the fraction moves the exponent');
  assert.equal(floatToHalf(65504), 0x7bff);
  assert.equal(floatToHalf(65519), 0x7bff, 'below the midpoint to infinity');
  assert.equal(floatToHalf(65520), 0x7c00, 'the tie with 2^16 goes to infinity');
  assert.equal(floatToHalf(-1e6), 0xfc00);
  assert.equal(floatToHalf(2 ** -24), 0x0001, 'the smallest subnormal');
  assert.equal(floatToHalf(2 ** -25), 0x0000, 'half of it ties to zero');
  assert.equal(floatToHalf(1.5 * 2 ** -24), 0x0002, 'a subnormal tie goes to even');
  assert.equal(floatToHalf(2 ** -14 - 2 ** -25), 0x0400, 'the largest subnormal rounds up into the normals');
  assert.equal(floatToHalf(-0), 0x8000);
  assert.equal(floatToHalf(-1e-30), 0x8000);
  assert.equal(floatToHalf(Infinity), 0x7c00);
});

test('encodeSafetensors F16: two bytes a value, read back as the rounded float32; out of range is an error naming the tensor', () => {
  const values = Float32Array.from([0.1, -2.5, 1e-6, 3.14159, 0]);
  const bytes = encodeSafetensors(new Map([['w', { shape: [5], data: values }]]), { format: 'pt' }, 'F16');
  const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))).w.dtype, 'F16');
  assert.equal(bytes.length, 8 + headerLength + 2 * values.length);
  const back = decodeSafetensors(bytes, 'w.safetensors').tensors.get('w')!.data;
  assert.deepEqual(Array.from(back), Array.from(values, (x) => halfToFloat(floatToHalf(x))));
  assert.ok(Math.abs(back[0] - 0.1) < 1e-4 && back[0] !== Math.fround(0.1));
  assert.throws(() => encodeSafetensors(new Map([['big', { shape: [2], data: Float32Array.from([1, 70000]) }]]), undefined, 'F16'),
    /tensor 'big' holds 70000, beyond float16's range/);
});

test('encodeCheckpoint: float16 weights are refused beside an optimizer state (a run resumes exactly)', () => {
  const model = createModel({ arch: 'pixelcnn', channels: 1, levels: 2, likelihood: 'sigmoid', height: 4, width: 4, numClasses: 0, hidden: 4, outHidden: 4, blocks: 1 });
  const adam = new Adam(model.parameters());
  assert.throws(() => encodeCheckpoint({ modelConfig: { ...model.config }, params: model.parameters(), optimizer: adam.state, weightsDtype: 'F16' }, 'g', 'here'),
    /here: float16 weights are for shipping a model, not for resuming/);
  const files = encodeCheckpoint({ modelConfig: { ...model.config }, params: model.parameters(), weightsDtype: 'F16' }, 'g', 'here');
  assert.equal(files.optimizer, null);
});

test('pixelcnn export: the model without the optimizer state; --float16 halves the file and keeps the NLL close', () => {
  const run = join(root, 'run');
  const t = cli('train', '--dataset', 'mnist', '--limit', '64', '--levels', '256', '--hidden', '8', '--out-hidden', '8', '--blocks', '1',
    '--batch', '16', '--steps', '4', '--ema', '0.9', '--eval-limit', '32', '--samples', '0', '--no-progress', '--out', run);
  assert.equal(t.code, 0, t.err);
  const nll = (dir: string, ...flags: string[]) => {
    const e = cli('eval', '--model', dir, '--limit', '32', '--json', '--no-progress', ...flags);
    assert.equal(e.code, 0, e.err);
    return (JSON.parse(e.out.trim()) as { bits_per_dim: number }).bits_per_dim;
  };
  const original = nll(run);

  const plain = join(root, 'plain');
  const p = cli('export', '--model', run, '--out', plain);
  assert.equal(p.code, 0, p.err);
  assert.deepEqual(readdirSync(plain).sort(), ['config.json', 'model.safetensors']);
  assert.equal(nll(plain), original, 'float32: the same weights');
  const ck = loadCheckpoint(plain), source = loadCheckpoint(run);
  assert.deepEqual(ck.metrics, source.metrics, 'float32: the recorded metrics stay');
  assert.deepEqual(ck.training?.dataset, source.training?.dataset, 'the data set record stays (eval takes it)');

  const half = join(root, 'half');
  const h = cli('export', '--model', run, '--out', half, '--float16');
  assert.equal(h.code, 0, h.err);
  assert.match(h.out, /model\.safetensors [\d.]+ MB \(float16; the largest change from rounding is [\d.e+-]+/);
  const halfBytes = statSync(join(half, 'model.safetensors')).size, plainBytes = statSync(join(plain, 'model.safetensors')).size;
  assert.ok(halfBytes < 0.6 * plainBytes, `${halfBytes} bytes against ${plainBytes}`);
  assert.equal(loadCheckpoint(half).metrics, undefined, 'float16: the float32 metrics are dropped');
  const rounded = nll(half);
  assert.notEqual(rounded, original);
  assert.ok(Math.abs(rounded - original) < 1e-3, `float16 ${rounded} against ${original}`);

  const live = join(root, 'live');
  assert.equal(cli('export', '--model', run, '--out', live, '--live-weights').code, 0);
  assert.equal(nll(live), nll(run, '--live-weights'));

  // Refusals: one line, exit 1, nothing written.
  const again = cli('export', '--model', run, '--out', half);
  assert.equal(again.code, 1);
  assert.equal(again.err, `pixelcnn: error: ${half} already holds a checkpoint; replace it with --force\n`);
  const same = cli('export', '--model', run, '--out', run);
  assert.equal(same.code, 1);
  assert.equal(same.err, 'pixelcnn: error: --out is the --model directory: export writes a new one\n');
  const missing = cli('export', '--model', join(root, 'nope'), '--out', join(root, 'nope-out'));
  assert.equal(missing.code, 1);
  assert.match(missing.err, /nope/);
  assert.ok(!existsSync(join(root, 'nope-out')));
  const forced = cli('export', '--model', run, '--out', half, '--force');
  assert.equal(forced.code, 0, forced.err);
  assert.equal(readFileSync(join(half, 'config.json'), 'utf8').includes('"metrics"'), true, 'float32 again: metrics back');
});
