/**
 * Kernel benchmark: GFLOP/s of the native backend (1 thread and all threads), the js backend
 * (smaller batch, fewer repeats) and, when /usr/bin/python3 (or python3) can import torch,
 * PyTorch with the same thread counts (bench/torch_kernels.py), with the ratio ours/PyTorch.
 *
 * FLOPs count the live taps only: 2·B·O·I·H·W·taps per pass (backward = data + filter = 2 passes).
 * Masked rows also show the dense-equivalent rate (all kh·kw taps), which is what PyTorch computes.
 * Usage: node dist/bench/kernels.js [--json] [--quick]
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { jsKernels, tryNativeKernels, type Conv2dDims, type Kernels } from '../src/backend/index.js';
import { loadNativeAddon, nativeLoadError } from '../src/backend/native.js';

const args = new Set(process.argv.slice(2));
const asJson = args.has('--json');
const quick = args.has('--quick');
const minTime = quick ? 0.15 : 0.5; // seconds per measurement

interface GemmSpec { kind: 'gemm'; name: string; n: number }
interface ConvSpec { kind: 'conv'; name: string; batch: number; cin: number; cout: number; size: number; k: number; taps: number[] }
type Spec = GemmSpec | ConvSpec;

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const specs: Spec[] = [
  { kind: 'gemm', name: 'gemm 512^3', n: 512 },
  { kind: 'conv', name: 'conv 3x3 dense 64->64', batch: 32, cin: 64, cout: 64, size: 28, k: 3, taps: range(9) },
  { kind: 'conv', name: 'conv 7x7 typeA 1->64', batch: 32, cin: 1, cout: 64, size: 28, k: 7, taps: range(24) },
  { kind: 'conv', name: 'conv 7x7 typeA 64->64', batch: 32, cin: 64, cout: 64, size: 28, k: 7, taps: range(24) },
  { kind: 'conv', name: 'conv 3x3 typeB 64->64', batch: 32, cin: 64, cout: 64, size: 28, k: 3, taps: range(5) },
];
const JS_BATCH = 2;

function rand(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2147483648 - 1;
  }
  return a;
}

/** Median milliseconds of fn over at least 3 runs / minTime seconds (after one warm-up run). */
function timeMs(fn: () => void, budget = minTime, minReps = 3): number {
  fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < minReps || (performance.now() - start < budget * 1000 && times.length < 200)) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1];
}

interface Pass { name: string; flops: number; denseFlops: number }
/** Passes of a row: gemm has one, convolutions forward and backward (data + filter). */
function passes(s: Spec, batch?: number): Pass[] {
  if (s.kind === 'gemm') return [{ name: '', flops: 2 * s.n ** 3, denseFlops: 2 * s.n ** 3 }];
  const B = batch ?? s.batch;
  const per = 2 * B * s.cout * s.cin * s.size * s.size;
  return [
    { name: 'fwd', flops: per * s.taps.length, denseFlops: per * s.k * s.k },
    { name: 'bwd', flops: 2 * per * s.taps.length, denseFlops: 2 * per * s.k * s.k },
  ];
}

/** Milliseconds per pass for one backend. */
function measure(k: Kernels, s: Spec, batch: number | undefined, budget: number, minReps: number): number[] {
  if (s.kind === 'gemm') {
    const n = s.n;
    const a = rand(n * n, 1), b = rand(n * n, 2), c = new Float32Array(n * n);
    return [timeMs(() => k.gemm(false, false, n, n, n, a, b, c, 0), budget, minReps)];
  }
  const B = batch ?? s.batch, HW = s.size * s.size, KK = s.k * s.k;
  const d: Conv2dDims = { batch: B, inChannels: s.cin, outChannels: s.cout, height: s.size, width: s.size, kernelH: s.k, kernelW: s.k };
  const taps = Int32Array.from(s.taps);
  const x = rand(B * s.cin * HW, 3), w = rand(s.cout * s.cin * KK, 4), bias = rand(s.cout, 5);
  const out = new Float32Array(B * s.cout * HW), dout = rand(B * s.cout * HW, 6);
  const dx = new Float32Array(B * s.cin * HW), dw = new Float32Array(s.cout * s.cin * KK), db = new Float32Array(s.cout);
  const fwd = timeMs(() => k.conv2dForward(out, x, w, bias, d, taps), budget, minReps);
  const bwd = timeMs(() => {
    k.conv2dBackwardData(dx, dout, w, d, taps, 1, null);
    k.conv2dBackwardFilter(dw, db, dout, x, d, taps);
  }, budget, minReps);
  return [fwd, bwd];
}

interface TorchResult { torch: string; threads: number; rows: Record<string, { fwd_ms: number; bwd_ms?: number }> }
function runTorch(threads: number): TorchResult | string {
  const here = dirname(fileURLToPath(import.meta.url));
  // dist/bench/kernels.js → bench/torch_kernels.py at the package root; bench/kernels.ts (tsx) → alongside.
  const script = [join(here, 'torch_kernels.py'), join(here, '..', '..', 'bench', 'torch_kernels.py')].find(existsSync);
  if (!script) return 'bench/torch_kernels.py not found';
  for (const py of ['/usr/bin/python3', 'python3']) {
    const probe = spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' });
    if (probe.status !== 0) continue;
    const r = spawnSync(py, [script, '--threads', String(threads), '--min-time', String(minTime), '--spec', JSON.stringify(specs)],
      {
        encoding: 'utf8', maxBuffer: 1 << 24,
        // BLAS libraries ignore torch.set_num_threads for torch.mm: pin them too
        env: { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) },
      });
    if (r.status !== 0) return `torch_kernels.py failed: ${(r.stderr || '').trim().split('\n').pop()}`;
    return JSON.parse(r.stdout) as TorchResult;
  }
  return 'no python3 with torch (apt-get install python3-torch)';
}

const gf = (flops: number, ms: number) => flops / (ms * 1e6);

function main(): void {
  const native = tryNativeKernels();
  const addon = loadNativeAddon();
  const allThreads = os.availableParallelism();
  const threadCounts = allThreads > 1 ? [1, allThreads] : [1];
  const result: Record<string, unknown> = {
    cpu: os.cpus()[0]?.model ?? 'unknown', threads: allThreads, isa: addon ? addon.isa() : null,
    native: native ? 'available' : `unavailable: ${nativeLoadError()}`, jsBatch: JS_BATCH, rows: [] as unknown[],
  };
  const torch: Record<number, TorchResult | string> = {};
  for (const t of threadCounts) torch[t] = runTorch(t);
  result.torch = Object.fromEntries(threadCounts.map((t) => [t, typeof torch[t] === 'string' ? torch[t] : (torch[t] as TorchResult).torch]));

  const rows: Array<Record<string, unknown>> = [];
  for (const s of specs) {
    const ps = passes(s);
    const nat: Record<number, number[]> = {};
    if (native && addon) {
      const before = addon.getThreads();
      for (const t of threadCounts) { addon.setThreads(t); nat[t] = measure(native, s, undefined, minTime, 3); }
      addon.setThreads(before);
    }
    const jsPs = passes(s, JS_BATCH);
    const jsMs = measure(jsKernels, s, s.kind === 'conv' ? JS_BATCH : undefined, 0, 1);
    ps.forEach((p, i) => {
      const row: Record<string, unknown> = { kernel: s.name, pass: p.name, flops: p.flops, denseFlops: p.denseFlops };
      for (const t of threadCounts) {
        if (nat[t]) row[`native${t}t`] = { ms: nat[t][i], gflops: gf(p.flops, nat[t][i]), denseGflops: gf(p.denseFlops, nat[t][i]) };
        const tr = torch[t];
        if (typeof tr !== 'string') {
          const tms = i === 0 ? tr.rows[s.name].fwd_ms : tr.rows[s.name].bwd_ms!;
          row[`torch${t}t`] = { ms: tms, gflops: gf(p.flops, tms), denseGflops: gf(p.denseFlops, tms) };
          if (nat[t]) row[`ratio${t}t`] = tms / nat[t][i]; // > 1: ours is faster
        }
      }
      row.js = { ms: jsMs[i], gflops: gf(jsPs[i].flops, jsMs[i]), denseGflops: gf(jsPs[i].denseFlops, jsMs[i]) };
      rows.push(row);
    });
  }
  result.rows = rows;
  if (asJson) {
    console.log(JSON.stringify(result));
    return;
  }
  console.log(`cpu: ${result.cpu} (${allThreads} threads), native: ${native ? `isa ${result.isa}` : result.native}`);
  for (const t of threadCounts) console.log(`pytorch ${t}t: ${typeof torch[t] === 'string' ? torch[t] : (torch[t] as TorchResult).torch}`);
  console.log(`GFLOP/s over live taps (dense-equivalent in parentheses for masked convolutions); js at batch ${JS_BATCH}; ratio = PyTorch time / ours (> 1: ours faster)\n`);
  const cols = ['kernel', 'pass', ...threadCounts.map((t) => `native ${t}t`), 'js', ...threadCounts.flatMap((t) => [`torch ${t}t`, `ours/torch ${t}t`])];
  const fmt = (v: unknown, masked: boolean) => {
    if (v === undefined) return '-';
    const o = v as { gflops: number; denseGflops: number };
    return masked ? `${o.gflops.toFixed(1)} (${o.denseGflops.toFixed(1)})` : o.gflops.toFixed(1);
  };
  const table = rows.map((r) => {
    const masked = (r.flops as number) !== (r.denseFlops as number);
    return [r.kernel as string, r.pass as string, ...threadCounts.map((t) => fmt(r[`native${t}t`], masked)), fmt(r.js, masked),
      ...threadCounts.flatMap((t) => [fmt(r[`torch${t}t`], masked), r[`ratio${t}t`] === undefined ? '-' : `${(r[`ratio${t}t`] as number).toFixed(2)}x`])];
  });
  const widths = cols.map((c, i) => Math.max(c.length, ...table.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ');
  console.log(line(cols));
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  for (const r of table) console.log(line(r));
}

main();
