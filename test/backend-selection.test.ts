/**
 * Which backend runs (and how the wasm one manages its memory): native, then wasm, then js (each fallback with one warning saying why),
 * PIXELCNN_BACKEND and --backend forcing one, and the error for a bad choice. Each case runs
 * node in a child process, since the choice is made once per process; the fallbacks run a copy
 * of the compiled package without the addon (and without the wasm module).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { skipWithoutWasm } from './helpers.js';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tryNativeKernels, tryWasmKernels } from '../src/backend/index.js';
import { instantiateWasm, wasmKernels } from '../src/backend/wasm.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const wasm = tryWasmKernels();


/** backendName() in a child process of the package at `pkg`, with env on top of this one's. */
function chosen(pkg: string, env: Record<string, string | undefined>) {
  const script = `import(${JSON.stringify(join(pkg, 'dist', 'src', 'backend', 'index.js'))}).then((m) => console.log(m.backendName()))`;
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete childEnv[k];
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: childEnv, timeout: 60_000 });
  return { status: r.status, name: r.stdout.trim(), stderr: r.stderr };
}

test('PIXELCNN_BACKEND=wasm forces the wasm backend', (t) => {
  if (skipWithoutWasm(t, !!wasm)) return;
  const r = chosen(root, { PIXELCNN_BACKEND: 'wasm' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.name, 'wasm');
});

test('a bad PIXELCNN_BACKEND names the three choices', () => {
  const r = chosen(root, { PIXELCNN_BACKEND: 'gpu' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /PIXELCNN_BACKEND must be 'js', 'native' or 'wasm', got 'gpu'/);
});

test('without the addon Node picks wasm (one warning), without both js (one warning naming both)', (t) => {
  if (skipWithoutWasm(t, !!wasm)) return;
  const pkg = mkdtempSync(join(tmpdir(), 'pixelcnn-select-'));
  try {
    // The compiled package without build/ (no addon); node_modules shared.
    cpSync(join(root, 'package.json'), join(pkg, 'package.json'));
    cpSync(join(root, 'dist', 'src'), join(pkg, 'dist', 'src'), { recursive: true });
    cpSync(join(root, 'wasm'), join(pkg, 'wasm'), { recursive: true });
    symlinkSync(join(root, 'node_modules'), join(pkg, 'node_modules'), 'dir');
    const env = { PIXELCNN_BACKEND: undefined };
    const a = chosen(pkg, env);
    assert.equal(a.status, 0, a.stderr);
    assert.equal(a.name, 'wasm');
    assert.match(a.stderr, /native addon unavailable, using the wasm backend/);
    const forced = chosen(pkg, { PIXELCNN_BACKEND: 'native' });
    assert.notEqual(forced.status, 0);
    assert.match(forced.stderr, /PIXELCNN_BACKEND=native but the native addon cannot load/);

    writeFileSync(join(pkg, 'wasm', 'pixelcnn.wasm'), 'not wasm');
    const b = chosen(pkg, env);
    assert.equal(b.status, 0, b.stderr);
    assert.equal(b.name, 'js');
    assert.match(b.stderr, /native addon and wasm module unavailable, using the slower js backend/);
    const w = chosen(pkg, { PIXELCNN_BACKEND: 'wasm' });
    assert.notEqual(w.status, 0);
    assert.match(w.stderr, /wasm backend unavailable: .*pixelcnn.wasm is not a usable module \(.*\): reinstall the package/);
  } finally {
    rmSync(pkg, { recursive: true, force: true });
  }
});

test('pixelcnn bench --backend wasm --threads 2 runs on wasm with 2 threads and says so', (t) => {
  if (skipWithoutWasm(t, !!wasm)) return;
  const r = spawnSync(process.execPath, [join(root, 'bin', 'pixelcnn.js'), 'bench', '--backend', 'wasm', '--threads', '2', '--hidden', '8',
    '--out-hidden', '8', '--blocks', '1', '--levels', '4', '--size', '6', '--batch', '2', '--steps', '1'],
  { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^wasm \(wasm-simd128, 2 threads\): /m);
});

test('native, when it loads, is chosen before wasm', (t) => {
  if (!tryNativeKernels()) { t.skip('native addon unavailable'); return; }
  const r = chosen(root, { PIXELCNN_BACKEND: undefined });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.name, 'native');
});

test('wasm calls in steady state allocate nothing in the module: its memory stops growing', (t) => {
  if (skipWithoutWasm(t, !!wasm)) return;
  const instance = instantiateWasm(readFileSync(join(root, 'wasm', 'pixelcnn.wasm')));
  const k = wasmKernels(instance);
  const d = { batch: 2, inChannels: 8, outChannels: 16, height: 12, width: 12, kernelH: 3, kernelW: 3 };
  const taps = Int32Array.from([0, 1, 2, 3, 4]);
  const x = new Float32Array(2 * 8 * 144).fill(0.5), w = new Float32Array(16 * 8 * 9).fill(0.25);
  const out = new Float32Array(2 * 16 * 144), dx = new Float32Array(x.length), dw = new Float32Array(w.length);
  const step = () => {
    k.conv2dForward(out, x, w, null, d, taps);
    k.conv2dBackwardData(dx, out, w, d, taps, 0, null);
    k.conv2dBackwardFilter(dw, null, out, x, d, taps);
    k.gemm(false, false, 16, 144, 8, w, x, out, 0);
  };
  step();
  const pages = instance.memoryBytes();
  for (let i = 0; i < 50; i++) step();
  assert.equal(instance.memoryBytes(), pages);
  assert.ok(out.every((v) => v !== 0), 'the kernels wrote their outputs back');
});

// The wasm build is the generic build's arithmetic: the same source, 4 floats per vector, no FMA
// in either (SSE2; wasm SIMD128 has none), so the same operations in the same order.
test('wasm kernels equal the native generic build bit for bit', (t) => {
  if (skipWithoutWasm(t, !!wasm)) return;
  if (!tryNativeKernels()) { t.skip('native addon unavailable'); return; }
  const script = `
    const { tryNativeKernels, tryWasmKernels } = await import(${JSON.stringify(join(root, 'dist', 'src', 'backend', 'index.js'))});
    const { loadNativeAddon } = await import(${JSON.stringify(join(root, 'dist', 'src', 'backend', 'native.js'))});
    const rand = (n, s) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + s) * 0.5);
    const d = { batch: 3, inChannels: 13, outChannels: 21, height: 9, width: 11, kernelH: 3, kernelW: 3 };
    const taps = Int32Array.from([0, 1, 2, 3, 4]);
    const x = rand(3 * 13 * 99, 1), w = rand(21 * 13 * 9, 2), b = rand(21, 3), dout = rand(3 * 21 * 99, 4), res = rand(3 * 21 * 99, 7);
    const lg = rand(3 * 4 * 99, 5), tg = Uint8Array.from({ length: 3 * 99 }, (_, i) => i % 4), gx = rand(3 * 198, 6);
    const run = (k) => {
      const o = { y: new Float32Array(3 * 21 * 99), dx: rand(x.length, 8), dw: new Float32Array(w.length), db: new Float32Array(21),
        c: new Float32Array(37 * 29), nll: new Float64Array(3), dl: new Float32Array(lg.length), g: new Float32Array(3 * 99),
        dg: new Float32Array(3 * 198), r: new Float32Array(x.length), dr: rand(x.length, 9), s: new Float32Array(x.length), acc: rand(x.length, 10) };
      k.conv2dForward(o.y, x, w, b, d, taps, res, true);
      k.conv2dBackwardData(o.dx, dout, w, d, taps, 1, x);
      k.conv2dBackwardFilter(o.dw, o.db, dout, x, d, taps, true);
      k.gemm(true, false, 37, 29, 41, rand(41 * 37, 11), rand(41 * 29, 12), o.c, 0);
      k.softmaxCrossEntropy(o.nll, o.dl, lg, tg, 3, 4, 1, 99, 0.5);
      k.gateForward(o.g, gx, 3, 99);
      k.gateBackward(o.dg, o.g, gx, 3, 99);
      k.reluForward(o.r, x);
      k.reluBackward(o.dr, dout.subarray(0, x.length), x, 1);
      k.add(o.s, x, o.dr);
      k.accumulate(o.acc, x);
      return o;
    };
    const a = run(tryNativeKernels()), b2 = run(tryWasmKernels());
    const differ = Object.keys(a).filter((key) => !a[key].every((v, i) => Object.is(v, b2[key][i])));
    console.log(JSON.stringify({ isa: loadNativeAddon().isa(), differ }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script],
    { encoding: 'utf8', env: { ...process.env, PIXELCNN_ISA: 'generic' }, timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { isa: 'generic', differ: [] });
});
