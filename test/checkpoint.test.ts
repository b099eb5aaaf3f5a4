import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Tensor } from '../src/tensor/tensor.js';
import { Adam } from '../src/nn/adam.js';
import { Rng } from '../src/random/rng.js';
import { PixelCnn, defaultPixelCnnConfig, type PixelCnnConfig } from '../src/models/pixelcnn.js';
import { createModel, defaultGatedPixelCnnConfig, defaultPixelCnnPlusPlusConfig, parameterShapes, parseModelConfig, type ModelConfig } from '../src/models/index.js';
import { loadModel } from '../src/train/model-io.js';
import { decodeSafetensors, encodeSafetensors, halfToFloat, type RawTensor } from '../src/train/safetensors.js';
import { writeFileAtomic } from '../src/train/atomic-write.js';
import {
  CheckpointError, checkCheckpointTarget, checkpointExists, loadCheckpoint, loadParamsInto, saveCheckpoint, updateMetrics,
} from '../src/train/checkpoint.js';

const root = mkdtempSync(join(tmpdir(), 'pixelcnn-ckpt-'));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const fresh = (name: string) => join(root, `${name}-${counter++}`);

const tinyConfig = (over: Partial<PixelCnnConfig> = {}): PixelCnnConfig =>
  ({ ...defaultPixelCnnConfig, hidden: 8, outHidden: 4, blocks: 1, levels: 4, height: 8, width: 8, ...over });

function randomFloats(n: number, rng: Rng): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  return a;
}

/** A header + data file built by hand (header not padded, so data may start unaligned). */
function handBuilt(header: unknown, data: Uint8Array = new Uint8Array(0), headerLength?: bigint): Buffer {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(headerLength ?? BigInt(json.length));
  return Buffer.concat([len, json, data]);
}

function f32Bytes(values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeFloatLE(v, 4 * i));
  return b;
}

function sampleTensors(): Map<string, RawTensor> {
  const rng = new Rng(3);
  return new Map<string, RawTensor>([
    ['b.weight', { shape: [3, 2, 1, 1], data: randomFloats(6, rng) }],
    ['a', { shape: [5], data: randomFloats(5, rng) }],
    ['scalar', { shape: [], data: Float32Array.of(Math.PI) }],
    ['empty', { shape: [0, 4], data: new Float32Array(0) }],
    ['special', { shape: [4], data: Float32Array.of(-0, Infinity, -Infinity, 3.4e38) }],
  ]);
}

// ---------------------------------------------------------------------------------------------
// safetensors

test('safetensors: round trip, including from an unaligned buffer', () => {
  const tensors = sampleTensors();
  const buf = Buffer.from(encodeSafetensors(tensors, { format: 'pt', step: '12' })); // a Uint8Array; Buffer for its methods
  // Re-read from an odd offset inside a larger allocation: the decoder must copy, not alias.
  const shifted = Buffer.alloc(buf.length + 1);
  buf.copy(shifted, 1);
  for (const input of [buf, shifted.subarray(1)]) {
    const { tensors: back, metadata } = decodeSafetensors(input, 'x.safetensors');
    assert.deepEqual(metadata, { format: 'pt', step: '12' });
    assert.deepEqual([...back.keys()].sort(), [...tensors.keys()].sort());
    for (const [name, t] of tensors) {
      const b = back.get(name)!;
      assert.deepEqual(b.shape, t.shape, name);
      assert.deepEqual(Array.from(b.data), Array.from(t.data), name);
      assert.equal(b.data.byteOffset % 4, 0);
    }
  }
  // No metadata → no __metadata__ key.
  const plain = Buffer.from(encodeSafetensors(new Map([['t', { shape: [1], data: Float32Array.of(1) }]])));
  const n = Number(plain.readBigUInt64LE(0));
  assert.ok(!('__metadata__' in JSON.parse(plain.subarray(8, 8 + n).toString('utf8'))));
  assert.deepEqual(decodeSafetensors(plain, 'p').metadata, {});
});

test('safetensors: encoded bytes follow the spec', () => {
  const tensors = new Map<string, RawTensor>([
    ['zeta', { shape: [2, 1], data: Float32Array.of(1.5, -2) }],
    ['alpha', { shape: [1], data: Float32Array.of(0.25) }],
  ]);
  const buf = Buffer.from(encodeSafetensors(tensors, { format: 'pt' }));
  const n = Number(buf.readBigUInt64LE(0));
  assert.equal(n % 8, 0, 'header padded to a multiple of 8');
  const headerText = buf.subarray(8, 8 + n).toString('utf8');
  assert.match(headerText, /^\{.*\} *$/s, 'JSON followed by space padding only');
  assert.ok(headerText.length - headerText.trimEnd().length < 8);
  const header = JSON.parse(headerText);
  assert.deepEqual(header, {
    __metadata__: { format: 'pt' },
    alpha: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
    zeta: { dtype: 'F32', shape: [2, 1], data_offsets: [4, 12] },
  });
  assert.equal(buf.length, 8 + n + 12, 'tensors tightly packed, nothing after them');
  assert.deepEqual(buf.subarray(8 + n), Buffer.concat([f32Bytes([0.25]), f32Bytes([1.5, -2])]));
});

test('safetensors: reads hand-built files (F64/F16/BF16, unpadded header, gaps, trailing bytes)', () => {
  const f64 = Buffer.alloc(16); f64.writeDoubleLE(1.25, 0); f64.writeDoubleLE(-1e-3, 8);
  const f16 = Buffer.from([0x00, 0x3c, 0x00, 0xc0, 0x00, 0x7c, 0x01, 0x00]); // 1, -2, +inf, 2^-24
  const bf16 = Buffer.from([0x80, 0x3f, 0x49, 0x40]); // 1, 3.140625
  const data = Buffer.concat([f32Bytes([7]), Buffer.alloc(3), f64, f16, bf16, Buffer.from('garbage')]);
  const header = {
    a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
    d: { dtype: 'F64', shape: [2], data_offsets: [7, 23] },
    h: { dtype: 'F16', shape: [2, 2], data_offsets: [23, 31] },
    bf: { dtype: 'BF16', shape: [2], data_offsets: [31, 35] },
    __metadata__: { note: 'hello' },
  };
  const { tensors, metadata } = decodeSafetensors(handBuilt(header, data), 'hand.safetensors');
  assert.deepEqual(metadata, { note: 'hello' });
  assert.deepEqual(Array.from(tensors.get('a')!.data), [7]);
  assert.deepEqual(Array.from(tensors.get('d')!.data), [1.25, Math.fround(-1e-3)]);
  assert.deepEqual(tensors.get('h')!.shape, [2, 2]);
  assert.deepEqual(Array.from(tensors.get('h')!.data), [1, -2, Infinity, 2 ** -24]);
  assert.deepEqual(Array.from(tensors.get('bf')!.data), [1, 3.140625]);
  assert.equal(halfToFloat(0x7e00), NaN);
  assert.equal(halfToFloat(0x3555), 0.333251953125);
});

test('safetensors: corrupt files fail with errors naming the file and the problem', () => {
  const good = Buffer.from(encodeSafetensors(sampleTensors(), { format: 'pt' }));
  const n = Number(good.readBigUInt64LE(0));
  const file = '/some/where/bad.safetensors';
  const fails = (buf: Uint8Array, re: RegExp, what: string) => assert.throws(() => decodeSafetensors(buf, file), (e: Error) => {
    assert.ok(e.message.includes(file), `${what}: message names the file: ${e.message}`);
    assert.match(e.message, re, what);
    return true;
  }, what);
  // Truncation at every interesting point.
  fails(good.subarray(0, 0), /too short/, 'empty');
  fails(good.subarray(0, 5), /too short/, 'inside the length');
  fails(good.subarray(0, 8), /exceeds the file/, 'length only');
  fails(good.subarray(0, 8 + (n >> 1)), /exceeds the file/, 'inside the header');
  fails(good.subarray(0, 8 + n + 10), /past the end of the data/, 'inside the data');
  fails(good.subarray(0, good.length - 1), /past the end of the data/, 'last byte missing');
  // Absurd header lengths.
  fails(handBuilt('{}', undefined, 1n << 60n), /exceeds the 100000000-byte limit/, 'huge header length');
  fails(handBuilt('{}', undefined, 200_000_000n), /limit/, '200 MB header');
  // Header content.
  fails(handBuilt('{"a": '), /not valid JSON/, 'bad JSON');
  fails(handBuilt(Buffer.from([0x7b, 0xff, 0x7d]).toString('latin1')), /not valid (UTF-8|JSON)/, 'bad bytes');
  fails(handBuilt('[1, 2]'), /not a JSON object/, 'array header');
  fails(handBuilt('42'), /not a JSON object/, 'number header');
  fails(handBuilt({ t: 5 }), /'t'.*not a JSON object/, 'entry not an object');
  fails(handBuilt({ t: { shape: [1], data_offsets: [0, 4] } }, f32Bytes([1])), /'t'.*dtype/, 'missing dtype');
  fails(handBuilt({ t: { dtype: 'F32', data_offsets: [0, 4] } }, f32Bytes([1])), /'t'.*shape/, 'missing shape');
  fails(handBuilt({ t: { dtype: 'F32', shape: [1] } }, f32Bytes([1])), /'t'.*data_offsets/, 'missing offsets');
  fails(handBuilt({ t: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, f32Bytes([1])), /'t'.*non-negative integers/, 'negative dim');
  fails(handBuilt({ t: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, f32Bytes([1])), /'t'.*shape/, 'fractional dim');
  fails(handBuilt({ t: { dtype: 'F32', shape: [1], data_offsets: [0, 4, 8] } }, f32Bytes([1])), /'t'.*data_offsets/, 'three offsets');
  fails(handBuilt({ t: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, f32Bytes([1])), /'t'.*reversed/, 'reversed offsets');
  fails(handBuilt({ t: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, f32Bytes([1])), /'t'.*past the end/, 'offsets out of range');
  fails(handBuilt({ t: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, Buffer.alloc(8)), /'t'.*unsupported dtype 'I64'/, 'wrong dtype');
  fails(handBuilt({ t: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f32Bytes([1, 2])), /'t'.*8 bytes.*needs 12/, 'size mismatch');
  fails(handBuilt({ t: { dtype: 'F32', shape: [2 ** 50, 2 ** 10], data_offsets: [0, 8] } }, f32Bytes([1, 2])), /'t'.*needs/, 'overflowing size');
  fails(handBuilt({
    a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
    b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
  }, f32Bytes([1, 2, 3])), /'a' and 'b' overlap/, 'overlap');
  fails(handBuilt({ __metadata__: { step: 3 } }), /__metadata__ 'step' is not a string/, 'non-string metadata');
  fails(handBuilt({ __metadata__: [] }), /__metadata__ is not a JSON object/, 'metadata array');
});

test('safetensors: the encoder rejects inconsistent input', () => {
  assert.throws(() => encodeSafetensors(new Map([['t', { shape: [3], data: new Float32Array(2) }]])), /'t' has 2 values for shape \[3\]/);
  assert.throws(() => encodeSafetensors(new Map([['__metadata__', { shape: [1], data: new Float32Array(1) }]])), /invalid tensor name/);
  assert.throws(() => encodeSafetensors(new Map([['t', { shape: [-1], data: new Float32Array(1) }]])), /invalid shape/);
});

test('writeFileAtomic: replaces the file and leaves no temporary behind', () => {
  const dir = fresh('atomic');
  mkdirSync(dir);
  const path = join(dir, 'f.txt');
  writeFileAtomic(path, 'one');
  writeFileAtomic(path, Buffer.from('two'));
  assert.equal(readFileSync(path, 'utf8'), 'two');
  assert.deepEqual(readdirSync(dir), ['f.txt']);
  assert.throws(() => writeFileAtomic(join(dir, 'missing', 'f.txt'), 'x'), /ENOENT/);
  assert.deepEqual(readdirSync(dir), ['f.txt']);
});

// ---------------------------------------------------------------------------------------------
// checkpoints

function tinyModelAndAdam(seed: number, config = tinyConfig({ channels: 3 })): { model: PixelCnn; adam: Adam } {
  const model = new PixelCnn(config, seed);
  const adam = new Adam(model.parameters());
  const rng = new Rng(seed + 100);
  for (const name of adam.state.m.keys()) {
    adam.state.m.set(name, randomFloats(adam.state.m.get(name)!.length, rng));
    adam.state.v.set(name, randomFloats(adam.state.v.get(name)!.length, rng).map(Math.abs));
  }
  adam.state.step = 7 + seed;
  return { model, adam };
}

function save(dir: string, model: PixelCnn, adam: Adam | null, step: number, metrics?: Record<string, number>): void {
  saveCheckpoint(dir, {
    modelConfig: { ...model.config }, params: model.parameters(),
    training: { step, epoch: 0, indexInEpoch: step * 4, imagesSeen: step * 4, elapsedSeconds: 1.5, options: { seed: 3, lr: 1e-3 } },
    metrics, optimizer: adam?.state,
  });
}

function inputBatch(config: PixelCnnConfig, batch: number, seed: number): Tensor {
  const { channels: C, height: H, width: W, levels: L } = config;
  const rng = new Rng(seed);
  const x = Tensor.zeros([batch, C, H, W]);
  for (let i = 0; i < x.size; i++) x.data[i] = rng.int(L) / (L - 1);
  return x;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test('checkpoint: round trip of a PixelCNN, its Adam state, training state and metrics', () => {
  const dir = fresh('ck');
  const { model, adam } = tinyModelAndAdam(1);
  save(dir, model, adam, 5, { test_bits_per_dim: 1.25, test_nats_per_image: 300 });
  assert.deepEqual(readdirSync(dir).sort(), ['config.json', 'model.safetensors', 'optimizer.safetensors']);
  assert.deepEqual(readdirSync(root).filter((e) => e.startsWith(dir.split('/').pop()!)), [dir.split('/').pop()]);

  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  assert.equal(config.format, 'pixelcnn-checkpoint');
  assert.equal(config.version, 1);
  assert.deepEqual(config.model, { ...model.config });
  assert.equal(config.training.step, 5);
  assert.deepEqual(config.metrics, { test_bits_per_dim: 1.25, test_nats_per_image: 300 });
  assert.ok(!Number.isNaN(Date.parse(config.created)));
  const modelFile = decodeSafetensors(readFileSync(join(dir, 'model.safetensors')), 'model');
  assert.equal(modelFile.metadata.format, 'pt');
  assert.deepEqual(modelFile.tensors.get('blocks.0.conv2.weight')!.shape, [4, 4, 3, 3]);
  const optFile = decodeSafetensors(readFileSync(join(dir, 'optimizer.safetensors')), 'opt');
  assert.equal(optFile.metadata.step, '8');
  assert.deepEqual(optFile.tensors.get('m.input.weight')!.shape, [8, 3, 7, 7]);

  const ck = loadCheckpoint(dir);
  assert.equal(ck.dir, dir);
  assert.deepEqual(ck.modelConfig, { ...model.config });
  assert.deepEqual(ck.training, config.training);
  assert.deepEqual(ck.metrics, config.metrics);
  const other = new PixelCnn(ck.modelConfig as unknown as PixelCnnConfig, 99);
  const x = inputBatch(model.config, 2, 5);
  assert.ok(maxAbsDiff(other.forward(x).data, model.forward(x).data) > 1e-3, 'a different seed gives a different model');
  loadParamsInto(other, ck.params, dir);
  for (const [name, p] of model.parameters()) assert.deepEqual(other.parameters().get(name)!.data, p.data, name);
  assert.equal(maxAbsDiff(other.forward(x).data, model.forward(x).data), 0);

  assert.ok(ck.optimizer);
  const adam2 = new Adam(other.parameters());
  adam2.loadState(ck.optimizer);
  assert.equal(adam2.state.step, 8);
  for (const name of model.parameters().keys()) {
    assert.deepEqual(adam2.state.m.get(name), adam.state.m.get(name));
    assert.deepEqual(adam2.state.v.get(name), adam.state.v.get(name));
  }

  // Without optimizer, training or metrics.
  const dir2 = fresh('ck-bare');
  saveCheckpoint(dir2, { modelConfig: { ...model.config }, params: model.parameters() });
  const bare = loadCheckpoint(dir2);
  assert.equal(bare.optimizer, null);
  assert.equal(bare.training, undefined);
  assert.equal(bare.metrics, undefined);
});

test('checkpoint: loading into a model of another shape lists every offending parameter', () => {
  const dir = fresh('ck-shape');
  const { model } = tinyModelAndAdam(2);
  save(dir, model, null, 1);
  const ck = loadCheckpoint(dir);
  const wider = new PixelCnn(tinyConfig({ channels: 3, hidden: 10 }));
  const before = Float32Array.from(wider.parameters().get('out2.bias')!.data);
  assert.throws(() => loadParamsInto(wider, ck.params, dir), (e: Error) => {
    assert.ok(e instanceof CheckpointError);
    assert.ok(e.message.startsWith(dir));
    for (const name of ['input.weight', 'input.bias', 'blocks.0.conv1.weight', 'blocks.0.conv3.bias', 'out1.weight']) {
      assert.ok(e.message.includes(name), `${name} in: ${e.message}`);
    }
    assert.match(e.message, /input\.weight \(checkpoint \[8, 3, 7, 7\], model \[10, 3, 7, 7\]\)/);
    assert.ok(!/out2\.bias/.test(e.message), 'out2.bias fits');
    return true;
  });
  assert.deepEqual(wider.parameters().get('out2.bias')!.data, before, 'nothing copied on failure');

  const deeper = new PixelCnn(tinyConfig({ channels: 3, blocks: 2 }));
  assert.throws(() => loadParamsInto(deeper, ck.params, dir), /missing: blocks\.1\.conv1\.weight, blocks\.1\.conv1\.bias/);
  const extra = new Map(ck.params);
  extra.set('bogus', { shape: [1], data: new Float32Array(1) });
  extra.delete('out2.bias');
  assert.throws(() => loadParamsInto(new PixelCnn(model.config), extra, dir), /missing: out2\.bias; unexpected: bogus/);

  const nan = new Map(ck.params);
  const bad = Float32Array.from(ck.params.get('out1.weight')!.data);
  bad[3] = NaN;
  nan.set('out1.weight', { shape: ck.params.get('out1.weight')!.shape, data: bad });
  assert.throws(() => loadParamsInto(new PixelCnn(model.config), nan, dir), /'out1\.weight' holds a non-finite value \(NaN at index 3\)/);

  // Weight normalisation divides by ‖v‖ per slice of axis 0: a zero slice is refused, not a NaN weight.
  const wn = createModel({ ...defaultPixelCnnPlusPlusConfig, filters: 2, resnets: 0, levels: 4, height: 4, width: 4, weightNorm: true });
  const params = new Map([...wn.parameters()].map(([n, p]) => [n, { shape: [...p.shape], data: Float32Array.from(p.data) }]));
  loadParamsInto(wn, params, 'wn.safetensors');
  params.get('nin_out.weight_v')!.data.fill(0, 2, 4);  // (4, 2, 1, 1): slice 1
  assert.throws(() => loadParamsInto(wn, params, 'wn.safetensors'),
    /^CheckpointError: wn\.safetensors: parameter 'nin_out\.weight_v' is zero in slice 1 of its first axis \(weight normalisation divides by its norm\)$/);
});

test('checkpoint: broken directories fail with CheckpointError naming the file', () => {
  const { model, adam } = tinyModelAndAdam(3, tinyConfig());
  const base = fresh('ck-broken');
  save(base, model, adam, 1);
  const variant = (name: string, mutate: (dir: string) => void): string => {
    const dir = fresh(name);
    save(dir, model, adam, 1);
    mutate(dir);
    return dir;
  };
  const fails = (dir: string, file: string, re: RegExp) => assert.throws(() => loadCheckpoint(dir), (e: Error) => {
    assert.ok(e instanceof CheckpointError, `${e.name}: ${e.message}`);
    assert.ok(e.message.includes(join(dir, file)), `names ${file}: ${e.message}`);
    assert.match(e.message, re);
    return true;
  });
  const cfgPath = (d: string) => join(d, 'config.json');
  const editConfig = (d: string, f: (c: Record<string, unknown>) => void) => {
    const c = JSON.parse(readFileSync(cfgPath(d), 'utf8'));
    f(c);
    writeFileSync(cfgPath(d), JSON.stringify(c));
  };
  assert.throws(() => loadCheckpoint(join(root, 'nope')), (e: Error) => e instanceof CheckpointError && /nope: checkpoint directory does not exist/.test(e.message));
  fails(variant('no-config', (d) => rmSync(cfgPath(d))), '', /config\.json: missing/);
  fails(variant('bad-json', (d) => writeFileSync(cfgPath(d), '{"format": ')), 'config.json', /not valid JSON/);
  fails(variant('not-object', (d) => writeFileSync(cfgPath(d), '[]')), 'config.json', /not a JSON object/);
  fails(variant('format', (d) => editConfig(d, (c) => { c.format = 'other'; })), 'config.json', /"format" is "other"/);
  fails(variant('version', (d) => editConfig(d, (c) => { c.version = 2; })), 'config.json', /version 2 was written by a newer version/);
  fails(variant('no-model', (d) => editConfig(d, (c) => { delete c.model; })), 'config.json', /"model".*missing/);
  fails(variant('no-arch', (d) => editConfig(d, (c) => { delete (c.model as Record<string, unknown>).arch; })), 'config.json', /no "arch"/);
  fails(variant('no-weights', (d) => rmSync(join(d, 'model.safetensors'))), 'model.safetensors', /missing/);
  fails(variant('trunc-weights', (d) => {
    const b = readFileSync(join(d, 'model.safetensors'));
    writeFileSync(join(d, 'model.safetensors'), b.subarray(0, b.length - 100));
  }), 'model.safetensors', /past the end of the data/);
  fails(variant('garbage-weights', (d) => writeFileSync(join(d, 'model.safetensors'), 'hello world, not tensors')), 'model.safetensors', /header length|limit/);
  fails(variant('trunc-opt', (d) => {
    const b = readFileSync(join(d, 'optimizer.safetensors'));
    writeFileSync(join(d, 'optimizer.safetensors'), b.subarray(0, 20));
  }), 'optimizer.safetensors', /exceeds the file/);
  // Files of two different saves mixed by hand.
  fails(variant('mixed', (d) => writeFileSync(join(d, 'model.safetensors'), readFileSync(join(base, 'model.safetensors')))),
    'model.safetensors', /different save than config\.json/);
});

test('checkpoint: an interrupted save leaves the last complete checkpoint loadable', () => {
  const dir = fresh('ck-crash');
  const a = tinyModelAndAdam(4, tinyConfig()), b = tinyModelAndAdam(5, tinyConfig()), c = tinyModelAndAdam(6, tinyConfig());
  const stepOf = () => loadCheckpoint(dir).training!.step;
  const paramsOf = () => loadCheckpoint(dir).params.get('input.weight')!.data;
  save(dir, a.model, a.adam, 1);
  writeFileSync(join(dir, 'samples.png'), 'png bytes');
  mkdirSync(join(dir, 'extra'));
  writeFileSync(join(dir, 'extra', 'notes.txt'), 'notes');
  save(dir, b.model, b.adam, 2);
  assert.equal(stepOf(), 2);
  assert.deepEqual(paramsOf(), b.model.input.weight.data);
  assert.equal(readFileSync(join(dir, 'samples.png'), 'utf8'), 'png bytes', 'other files are carried over');
  assert.equal(readFileSync(join(dir, 'extra', 'notes.txt'), 'utf8'), 'notes');

  // The swap's siblings: hidden, marked, with a generation id.
  const base = basename(dir);
  const sibling = (kind: 'new' | 'old', gen: string) => join(root, `.${base}.pixelcnn-${kind}-${gen}-0123456789ab`);
  const leftovers = () => readdirSync(root).filter((e) => e.startsWith(`.${base}.pixelcnn-`));

  // 1. Crash while writing the new checkpoint: a half-written new sibling and a stray atomic-write temp.
  mkdirSync(sibling('new', 'aaaa'));
  writeFileSync(join(sibling('new', 'aaaa'), 'optimizer.safetensors'), 'partial');
  writeFileSync(join(dir, 'samples.png.tmp-123-abcdef012345'), 'partial png');
  assert.equal(stepOf(), 2);
  assert.deepEqual(paramsOf(), b.model.input.weight.data);

  // 2. Crash between the two renames: <dir> is gone, the old sibling is the previous complete one.
  renameSync(dir, sibling('old', 'aaab'));
  assert.ok(!existsSync(dir));
  const ck = loadCheckpoint(dir);
  assert.equal(ck.dir, sibling('old', 'aaab'));
  assert.equal(ck.training!.step, 2);
  assert.ok(ck.optimizer);
  // ... and the next save recovers, keeping the other files and dropping the stale temporaries.
  save(dir, c.model, c.adam, 3);
  assert.equal(stepOf(), 3);
  assert.deepEqual(leftovers(), []);
  assert.deepEqual(readdirSync(dir).sort(), ['config.json', 'extra', 'model.safetensors', 'optimizer.safetensors', 'samples.png']);

  // 3. Crash after the swap but before removing the old sibling: <dir> wins.
  mkdirSync(sibling('old', 'aaac'));
  writeFileSync(join(sibling('old', 'aaac'), 'config.json'), '{}');
  assert.equal(stepOf(), 3);
  assert.deepEqual(paramsOf(), c.model.input.weight.data);
  updateMetrics(dir, { test_bits_per_dim: 2 });
  save(dir, a.model, null, 4);
  assert.equal(stepOf(), 4);
  assert.equal(loadCheckpoint(dir).optimizer, null, 'no stale optimizer state from the previous save');
  assert.equal(loadCheckpoint(dir).metrics, undefined);
  assert.deepEqual(leftovers(), []);

  // The working directory (or one containing it) is never swapped away.
  assert.throws(() => saveCheckpoint(process.cwd(), { modelConfig: { ...a.model.config }, params: a.model.parameters() }), /working directory/);
});

test('checkpoint: updateMetrics merges into config.json', () => {
  const dir = fresh('ck-metrics');
  const { model, adam } = tinyModelAndAdam(7, tinyConfig());
  save(dir, model, adam, 3, { test_bits_per_dim: 1.5, test_images: 10 });
  updateMetrics(dir, { test_bits_per_dim: 1.25, sample_seconds: 4 });
  const ck = loadCheckpoint(dir);
  assert.deepEqual(ck.metrics, { test_bits_per_dim: 1.25, test_images: 10, sample_seconds: 4 });
  assert.equal(ck.training!.step, 3);
  assert.ok(ck.optimizer, 'the rest of the checkpoint is untouched and still consistent');
  assert.deepEqual(readdirSync(dir).sort(), ['config.json', 'model.safetensors', 'optimizer.safetensors']);
  const bare = fresh('ck-metrics-bare');
  saveCheckpoint(bare, { modelConfig: { ...model.config }, params: model.parameters() });
  updateMetrics(bare, { x: NaN, y: 1 });
  assert.deepEqual(loadCheckpoint(bare).metrics, { x: NaN, y: 1 });
  assert.throws(() => updateMetrics(join(root, 'nope'), { x: 1 }), CheckpointError);
});

// ---------------------------------------------------------------------------------------------
// Safety: the user's files, non-finite values, hostile files

/** A FIFO at `path` (false where mkfifo is unavailable). */
function mkfifo(path: string): boolean {
  return spawnSync('mkfifo', [path]).status === 0;
}

test('checkpoint: a save never touches what the project did not write (DIR.old, DIR.tmp, files inside DIR, its mode)', (t) => {
  const dir = fresh('ck-user');
  const { model, adam } = tinyModelAndAdam(9, tinyConfig());
  // The user's own siblings with the names the swap used to take.
  for (const s of ['.old', '.tmp']) {
    mkdirSync(`${dir}${s}`);
    writeFileSync(join(`${dir}${s}`, 'mine.txt'), `user ${s}`);
  }
  save(dir, model, adam, 1);
  chmodSync(dir, 0o700);
  writeFileSync(join(dir, 'notes.txt'), 'my notes');
  mkdirSync(join(dir, 'private'));
  chmodSync(join(dir, 'private'), 0o750);
  writeFileSync(join(dir, 'private', 'a.txt'), 'a');
  const fifo = mkfifo(join(dir, 'pipe'));
  save(dir, model, adam, 2);
  save(dir, model, adam, 3);
  for (const s of ['.old', '.tmp']) {
    assert.deepEqual(readdirSync(`${dir}${s}`), ['mine.txt'], `${s} kept`);
    assert.equal(readFileSync(join(`${dir}${s}`, 'mine.txt'), 'utf8'), `user ${s}`);
  }
  assert.equal(loadCheckpoint(dir).training!.step, 3);
  assert.equal(statSync(dir).mode & 0o777, 0o700, 'the directory keeps its mode');
  assert.equal(statSync(join(dir, 'private')).mode & 0o777, 0o750);
  assert.equal(readFileSync(join(dir, 'notes.txt'), 'utf8'), 'my notes');
  assert.equal(readFileSync(join(dir, 'private', 'a.txt'), 'utf8'), 'a');
  if (fifo) assert.ok(lstatSync(join(dir, 'pipe')).isFIFO(), 'a FIFO the user put there is carried over');
  else t.diagnostic('mkfifo unavailable: FIFO part skipped');
  assert.deepEqual(readdirSync(root).filter((e) => e.includes(`${basename(dir)}.pixelcnn-`)), [], 'no swap siblings left');

  // <dir> missing and a user's <dir>.old (even one holding a checkpoint): neither read nor pulled in.
  const other = fresh('ck-user-old');
  save(`${other}.old`, model, adam, 7);
  writeFileSync(join(`${other}.old`, 'theirs.txt'), 'x');
  assert.throws(() => loadCheckpoint(other), /does not exist/);
  save(other, model, adam, 1);
  assert.deepEqual(readdirSync(other).sort(), ['config.json', 'model.safetensors', 'optimizer.safetensors']);
  assert.deepEqual(readdirSync(`${other}.old`).sort(), ['config.json', 'model.safetensors', 'optimizer.safetensors', 'theirs.txt']);
  assert.equal(loadCheckpoint(`${other}.old`).training!.step, 7);
});

test('checkpoint: non-finite weights or optimizer state are never written, and are refused when read', () => {
  const dir = fresh('ck-nan');
  const { model, adam } = tinyModelAndAdam(10, tinyConfig());
  save(dir, model, adam, 1);
  const before = readFileSync(join(dir, 'config.json'), 'utf8');
  const w = model.parameters().get('out1.weight')!;
  const keep = w.data[2];
  w.data[2] = NaN;
  assert.throws(() => save(dir, model, adam, 2), /not saved: parameter 'out1\.weight' holds a non-finite value \(NaN at index 2\)/);
  w.data[2] = keep;
  adam.state.v.get('input.bias')!.fill(Infinity);
  assert.throws(() => save(dir, model, adam, 2), /not saved: Adam second moment 'input\.bias' holds a non-finite value \(Infinity at index 0\)/);
  assert.equal(readFileSync(join(dir, 'config.json'), 'utf8'), before, 'the previous checkpoint is kept');
  assert.deepEqual(readdirSync(root).filter((e) => e.includes(`${basename(dir)}.pixelcnn-`)), []);

  // An optimizer file with NaN (written by something else): the error names the tensor.
  const optPath = join(dir, 'optimizer.safetensors');
  const opt = decodeSafetensors(readFileSync(optPath), optPath);
  opt.tensors.get('m.out2.bias')!.data[1] = NaN;
  writeFileSync(optPath, encodeSafetensors(opt.tensors, opt.metadata));
  assert.throws(() => loadCheckpoint(dir), (e: Error) => e instanceof CheckpointError &&
    e.message === `${optPath}: tensor 'm.out2.bias' holds a non-finite value (NaN at index 1); the optimizer state is corrupt`);
});

test('checkpoint: the training state is validated, naming the field', () => {
  const { model, adam } = tinyModelAndAdam(11, tinyConfig());
  const cases: [string, unknown, RegExp][] = [
    ['step', -1, /"training\.step" must be an integer in \[0, 2\^48\], got -1/],
    ['step', 1.5, /"training\.step" must be an integer .*got 1\.5/],
    ['step', 1e300, /"training\.step" must be an integer .*got 1e\+300/],
    ['epoch', -3, /"training\.epoch" must be an integer .*got -3/],
    ['indexInEpoch', 2.25, /"training\.indexInEpoch" must be an integer .*got 2\.25/],
    ['indexInEpoch', 2 ** 60, /"training\.indexInEpoch" must be an integer/],
    ['imagesSeen', '12', /"training\.imagesSeen" must be an integer .*got "12"/],
    ['elapsedSeconds', -1, /"training\.elapsedSeconds" must be a number ≥ 0, got -1/],
    ['options', 5, /"training\.options" is not an object/],
    ['dataset', { name: 3 }, /"training\.dataset\.name" must be a string or null, got 3/],
    ['dataset', { name: 'mnist', limit: -2 }, /"training\.dataset\.limit" must be a positive integer or null, got -2/],
  ];
  for (const [key, value, re] of cases) {
    const dir = fresh('ck-state');
    save(dir, model, adam, 1);
    const path = join(dir, 'config.json');
    const c = JSON.parse(readFileSync(path, 'utf8'));
    c.training[key] = value;
    writeFileSync(path, JSON.stringify(c));
    assert.throws(() => loadCheckpoint(dir), (e: Error) => {
      assert.ok(e instanceof CheckpointError);
      assert.ok(e.message.startsWith(`${path}: `), e.message);
      assert.match(e.message, re);
      return true;
    }, `${key} = ${JSON.stringify(value)}`);
  }
  // An older checkpoint's plain data-set name is read (and dropped).
  const dir = fresh('ck-state-old');
  save(dir, model, adam, 1);
  const path = join(dir, 'config.json');
  const c = JSON.parse(readFileSync(path, 'utf8'));
  c.training.dataset = 'mnist:train';
  writeFileSync(path, JSON.stringify(c));
  assert.equal(loadCheckpoint(dir).training!.dataset, undefined);
  assert.equal(checkpointExists(dir), true);
  assert.equal(checkpointExists(join(root, 'nothing-here')), false);
});

test('checkpoint: FIFOs and symlink loops in place of checkpoint files are refused at once', (t) => {
  const { model, adam } = tinyModelAndAdam(12, tinyConfig());
  for (const file of ['config.json', 'model.safetensors', 'optimizer.safetensors']) {
    const dir = fresh('ck-fifo');
    save(dir, model, adam, 1);
    rmSync(join(dir, file));
    if (!mkfifo(join(dir, file))) { t.skip('mkfifo unavailable'); return; }
    assert.throws(() => loadCheckpoint(dir), (e: Error) => e instanceof CheckpointError &&
      e.message === `${join(dir, file)}: is a FIFO (named pipe), expected a regular file (a checkpoint holds plain files)`, file);
  }
  const dir = fresh('ck-loop');
  save(dir, model, adam, 1);
  rmSync(join(dir, 'config.json'));
  symlinkSync('config.json', join(dir, 'config.json'));
  assert.throws(() => loadCheckpoint(dir), /config\.json: symlink loop, expected a regular file/);
});

test('parameterShapes: equal to the built model\'s parameters, for every architecture', () => {
  const configs: ModelConfig[] = [
    { ...defaultPixelCnnConfig, hidden: 6, outHidden: 3, blocks: 2, levels: 4, height: 5, width: 5 },
    { ...defaultPixelCnnConfig, channels: 3, hidden: 4, outHidden: 5, blocks: 0, levels: 2, likelihood: 'sigmoid', height: 4, width: 4 },
    { ...defaultGatedPixelCnnConfig, hidden: 5, outHidden: 3, layers: 3, kernel: 5, firstKernel: 3, levels: 3, height: 6, width: 6 },
    { ...defaultGatedPixelCnnConfig, channels: 3, numClasses: 4, hidden: 6, outHidden: 6, layers: 1, levels: 4, height: 4, width: 4 },
    { ...defaultPixelCnnPlusPlusConfig, filters: 3, resnets: 2, levels: 4, height: 8, width: 8 },
    { ...defaultPixelCnnPlusPlusConfig, channels: 3, numClasses: 3, filters: 2, resnets: 0, levels: 16, likelihood: 'logistic-mixture', mixtures: 2, height: 6, width: 6 },
    { ...defaultPixelCnnPlusPlusConfig, channels: 3, filters: 3, resnets: 1, levels: 4, height: 6, width: 6, weightNorm: true },
  ];
  for (const c of configs) {
    const built = new Map([...createModel(c).parameters()].map(([n, p]) => [n, [...p.shape]]));
    assert.deepEqual(parameterShapes(c), built, JSON.stringify(c));
  }
  // An unknown architecture never gets this far: the config parser refuses it.
  assert.throws(() => parseModelConfig({ arch: 'transformer' }), /unknown model architecture 'transformer'/);
});

test('loadModel: a config asking for a huge model beside small weights fails before the model is built', () => {
  const dir = fresh('ck-huge');
  const { model, adam } = tinyModelAndAdam(13, tinyConfig());
  save(dir, model, adam, 1);
  const path = join(dir, 'config.json');
  const c = JSON.parse(readFileSync(path, 'utf8'));
  Object.assign(c.model, { hidden: 4096, outHidden: 4096, blocks: 256 }); // ~10 GB of float32 if built
  writeFileSync(path, JSON.stringify(c));
  assert.throws(() => loadModel(dir), (e: Error) => e instanceof CheckpointError &&
    e.message.startsWith(`${join(dir, 'model.safetensors')}: the parameters do not fit the pixelcnn model; missing: blocks.1.conv1.weight`) &&
    / and \d+ more/.test(e.message));
  c.model.arch = 'transformer';
  writeFileSync(path, JSON.stringify(c));
  assert.throws(() => loadModel(dir), (e: Error) => e.message === `${path}: unknown model architecture 'transformer' (known: pixelcnn, gated, pixelcnn++)`);
});

test('checkCheckpointTarget: an output path that cannot take a checkpoint is refused before any work', (t) => {
  const file = fresh('a-file');
  writeFileSync(file, 'x');
  assert.throws(() => checkCheckpointTarget(file), (e: Error) => e.message === `${file}: exists and is not a directory (a checkpoint is a directory)`);
  assert.throws(() => checkCheckpointTarget(join(file, 'sub')), (e: Error) => e.message === `${join(file, 'sub')}: ${file} is not a directory`);
  checkCheckpointTarget(join(fresh('missing-parents'), 'a', 'b')); // created on the first save
  const ro = fresh('read-only');
  mkdirSync(ro, { mode: 0o500 });
  if (process.getuid?.() === 0) { t.diagnostic('running as root: permissions are not enforced, read-only case skipped'); return; }
  assert.throws(() => checkCheckpointTarget(join(ro, 'out')), /cannot write into .*read-only.* \(permission denied\)/);
});
