/**
 * Bit-identity check for native refactors: runs every addon function on fixed seeded inputs and
 * prints one SHA-256 per function (and one over all) for each compiled instruction set, each in
 * a child process with PIXELCNN_ISA set (native/src/cpu.cc). Record the lines before a change
 * that must not alter results, rerun after, and diff.
 * Inputs cover vector tails (odd lengths, channel counts that are not multiples of 16), masked
 * taps, NaN / −0 / ±Inf through the ReLUs, 1-4 images per sampler group and the thread pool.
 * Usage: node dist/bench/native-hash.js [generic|avx2|avx512 ...]  (default: all three)
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadNativeAddon, nativeLoadError } from '../src/backend/native.js';
import { useBackend } from '../src/backend/index.js';
import { PixelCnn, defaultPixelCnnConfig, type PixelCnnConfig } from '../src/models/pixelcnn.js';
import { sampleCached } from '../src/sample/cached.js';

type Typed = Float32Array | Float64Array | Uint8Array | Int32Array;

/** Deterministic values in [−1, 1) (an LCG; the same on every run). */
function rand(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2147483648 - 1;
  }
  return a;
}

/** rand with special values sprinkled in, for the ReLUs' exact semantics. */
function special(n: number, seed: number): Float32Array {
  const a = rand(n, seed), sp = [NaN, -0, 0, Infinity, -Infinity];
  for (let i = 0; i < n; i += 7) a[i] = sp[(i / 7) % sp.length];
  return a;
}

function child(): void {
  const addon = loadNativeAddon();
  if (!addon) throw new Error(`native addon unavailable: ${nativeLoadError()}`);
  const results: [string, Typed[]][] = [];
  const record = (name: string, ...outs: Typed[]) => results.push([name, outs.map((o) => o.slice())]);

  // gemm, all transpositions, overwrite and accumulate, serial and pooled sizes.
  for (const [m, n, k] of [[7, 13, 5], [67, 45, 300], [130, 270, 129]]) {
    for (const ta of [false, true]) for (const tb of [false, true]) for (const beta of [0, 1] as const) {
      const c = rand(m * n, 3);
      addon.gemm(ta, tb, m, n, k, rand(m * k, 1), rand(k * n, 2), c, beta);
      record(`gemm ${m}x${n}x${k} ${+ta}${+tb} beta${beta}`, c);
    }
  }

  // Convolutions: 1x1, 3x3 masked, 5x5 masked (causal taps), 7x7 all taps.
  const convs = [
    { B: 3, I: 5, O: 7, H: 9, W: 11, K: 1, taps: [0] },
    { B: 2, I: 16, O: 24, H: 13, W: 10, K: 3, taps: [0, 1, 2, 3, 4] },
    { B: 4, I: 12, O: 20, H: 8, W: 17, K: 5, taps: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] },
    { B: 2, I: 3, O: 32, H: 12, W: 12, K: 7, taps: Array.from({ length: 49 }, (_, i) => i) },
  ];
  for (const { B, I, O, H, W, K, taps: t } of convs) {
    const taps = Int32Array.from(t), name = `conv ${B},${I},${O},${H},${W},${K}x${K}`;
    const xs = B * I * H * W, os = B * O * H * W, ws = O * I * K * K;
    const x = special(xs, 10), w = rand(ws, 11), bias = rand(O, 12), res = rand(os, 13), dout = rand(os, 14);
    for (const relu of [false, true]) for (const r of [null, res]) for (const b of [null, bias]) {
      const out = new Float32Array(os);
      addon.conv2dForward(out, x, w, b, B, I, O, H, W, K, K, taps, r, relu);
      record(`${name} forward relu${+relu} res${+!!r} bias${+!!b}`, out);
    }
    const gate = special(xs, 15);
    for (const beta of [0, 1]) for (const g of [null, gate]) {
      const dx = rand(xs, 16);
      addon.conv2dBackwardData(dx, dout, w, B, I, O, H, W, K, K, taps, beta, g);
      record(`${name} backwardData beta${beta} gate${+!!g}`, dx);
    }
    for (const relu of [false, true]) for (const withBias of [false, true]) {
      const dw = new Float32Array(ws), db = withBias ? new Float32Array(O) : null;
      addon.conv2dBackwardFilter(dw, db, dout, x, B, I, O, H, W, K, K, taps, relu);
      record(`${name} backwardFilter relu${+relu} bias${+withBias}`, dw, ...(db ? [db] : []));
    }
    // Stride 2: output ⌈H/2⌉ × ⌈W/2⌉.
    const hs = B * O * Math.ceil(H / 2) * Math.ceil(W / 2), dhalf = rand(hs, 17);
    for (const beta of [0, 1] as const) for (const b of [null, bias]) {
      const out = rand(hs, 18);
      addon.conv2dStride2Forward(out, x, w, b, B, I, O, H, W, K, K, taps, beta);
      record(`${name} stride2 forward beta${beta} bias${+!!b}`, out);
    }
    for (const beta of [0, 1] as const) {
      const dx = rand(xs, 16);
      addon.conv2dStride2BackwardData(dx, dhalf, w, B, I, O, H, W, K, K, taps, beta);
      record(`${name} stride2 backwardData beta${beta}`, dx);
    }
    for (const withBias of [false, true]) {
      const dw = new Float32Array(ws), db = withBias ? new Float32Array(O) : null;
      addon.conv2dStride2BackwardFilter(dw, db, dhalf, x, B, I, O, H, W, K, K, taps);
      record(`${name} stride2 backwardFilter bias${+withBias}`, dw, ...(db ? [db] : []));
    }
  }

  for (const [B, L, C, S] of [[3, 7, 3, 37], [2, 256, 1, 784], [1, 2, 3, 5000]]) {
    const logits = rand(B * L * C * S, 20).map((v) => v * 8);
    const targets = Uint8Array.from(rand(B * C * S, 21), (v) => Math.floor((v + 1) / 2 * L) % L);
    const nll = new Float64Array(B), dl = new Float32Array(B * L * C * S);
    addon.softmaxCrossEntropy(nll, dl, logits, targets, B, L, C, S, 0.37);
    record(`softmaxCrossEntropy ${B},${L},${C},${S}`, nll, dl);
    const nll2 = new Float64Array(B);
    addon.softmaxCrossEntropy(nll2, null, logits, targets, B, L, C, S, 1);
    record(`softmaxCrossEntropy ${B},${L},${C},${S} no grad`, nll2);
  }

  // Elementwise: a short length, one task's worth and more, not multiples of any vector width.
  for (const n of [37, 1021, 200_003]) {
    const x = special(n, 30), dy = rand(n, 31), a = rand(n, 32), b = special(n, 33);
    const y = new Float32Array(n);
    addon.reluForward(y, x);
    record(`reluForward ${n}`, y);
    for (const beta of [0, 1] as const) {
      const dx = rand(n, 34);
      addon.reluBackward(dx, dy, x, beta);
      record(`reluBackward ${n} beta${beta}`, dx);
    }
    const s = new Float32Array(n);
    addon.add(s, a, b);
    record(`add ${n}`, s);
    const acc = rand(n, 35);
    addon.accumulate(acc, b);
    record(`accumulate ${n}`, acc);
  }

  for (const [planes, size] of [[3, 37], [64, 784], [5, 70_001]]) {
    const x = rand(planes * size, 36), bias = rand(planes, 37), y = new Float32Array(planes * size);
    addon.channelBiasForward(y, x, bias, planes, size);
    const dbias = rand(planes, 38);
    addon.channelBiasBackward(dbias, x, planes, size);
    record(`channelBias ${planes},${size}`, y, dbias);
  }

  for (const [B, n] of [[3, 37], [2, 1000], [4, 10_007]]) {
    const x = rand(B * 2 * n, 40).map((v) => v * 6), dy = rand(B * n, 41);
    const y = new Float32Array(B * n);
    addon.gateForward(y, x, B, n);
    const dx = rand(B * 2 * n, 42);
    addon.gateBackward(dx, dy, x, B, n);
    record(`gate ${B},${n}`, y, dx);
  }

  // The cached sampler through the library, logits of every draw included. hidden 24 and
  // outHidden 40 leave tails at every vector width; counts 5-7 give groups of 1-3 after a 4.
  useBackend('native');
  const base: PixelCnnConfig = { ...defaultPixelCnnConfig, hidden: 24, outHidden: 40, blocks: 2, height: 7, width: 6 };
  const models: [string, PixelCnnConfig][] = [
    ['C3 L4', { ...base, channels: 3, levels: 4 }],
    ['C1 L256', { ...base, channels: 1, levels: 256, hidden: 32, outHidden: 64 }],
    ['C1 L2 sigmoid', { ...base, channels: 1, levels: 2, likelihood: 'sigmoid' }],
  ];
  for (const [label, config] of models) {
    const model = new PixelCnn(config, 7);
    for (const p of model.parameters().values()) if (p.name?.startsWith('out2')) for (let i = 0; i < p.size; i++) p.data[i] *= 4;
    for (const [count, temperature] of [[5, 1], [6, 0.7], [7, 0]]) {
      const logits: number[] = [];
      const labels = sampleCached(model, { count, seed: 3, temperature, onLogits: (_, l) => logits.push(...l) });
      record(`sampleCached ${label} count${count} T${temperature}`, labels, Float32Array.from(logits));
    }
  }

  const all = createHash('sha256');
  for (const [name, outs] of results) {
    const h = createHash('sha256');
    for (const o of outs) { h.update(new Uint8Array(o.buffer, o.byteOffset, o.byteLength)); all.update(new Uint8Array(o.buffer, o.byteOffset, o.byteLength)); }
    console.log(`${h.digest('hex').slice(0, 16)}  ${name}`);
  }
  console.log(`${all.digest('hex')}  ALL (${addon.isa()})`);
}

if (process.env.PIXELCNN_HASH_CHILD === '1') {
  child();
} else {
  const wanted = process.argv.slice(2);
  for (const isa of wanted.length ? wanted : ['generic', 'avx2', 'avx512']) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url)], {
      env: { ...process.env, PIXELCNN_ISA: isa, PIXELCNN_HASH_CHILD: '1' },
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    });
    if (r.status !== 0) {
      console.error(`native-hash: PIXELCNN_ISA=${isa} failed (status ${r.status}):\n${r.stderr}`);
      process.exit(1);
    }
    console.log(`== PIXELCNN_ISA=${isa}`);
    process.stdout.write(r.stdout);
  }
}
