/**
 * Per-layer convolution timings on the shapes of a PixelCNN (by default the training bench config:
 * h 128, d 32, 256 levels, batch 32, 28×28; the binarised-MNIST hour model is --hidden 48
 * --out-hidden 64 --levels 2): forward, backward data and filter gradient of each layer kind,
 * native backend, all threads, best of `--reps` calls (default 15); the filter gradient also as
 * the models' 1×1 layers call it, reading relu(x). A quick way to see which
 * kernel a change moved; the whole-step figure is `node dist/bench/training.js`.
 * With --cold, a 64 MB buffer is written before every timed call, so that operands come from
 * memory as they do inside a training step rather than from a cache warmed by the previous call.
 * Usage: node dist/bench/conv-layers.js [--batch 32] [--reps 15] [--hidden 128] [--out-hidden 32] [--levels 256] [--cold]
 */
import { tryNativeKernels, type Conv2dDims } from '../src/backend/index.js';

const argv = process.argv.slice(2);
const flag = (name: string, dflt: number) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const B = flag('--batch', 32), reps = flag('--reps', 15), H = 28, W = 28;
const h = flag('--hidden', 128), dOut = flag('--out-hidden', 32), L = flag('--levels', 256);
const k = tryNativeKernels();
if (!k) {
  console.error('conv-layers: the native backend is not built (npm run build:native)');
  process.exit(1);
}
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
// [name, in, out, kernel, live taps]
const layers: Array<[string, number, number, number, number[]]> = [
  [`block 1x1 ${h}->${h / 2}`, h, h / 2, 1, [0]],
  [`block 3x3 type B ${h / 2}->${h / 2}`, h / 2, h / 2, 3, range(5)],
  [`block 1x1 ${h / 2}->${h}`, h / 2, h, 1, [0]],
  [`input 7x7 type A 1->${h}`, 1, h, 7, range(24)],
  [`head 1x1 ${h}->${dOut}`, h, dOut, 1, [0]],
  [`head 1x1 ${dOut}->${L}`, dOut, L, 1, [0]],
];
const rand = (n: number) => Float32Array.from({ length: n }, () => Math.random() - 0.5);
const cold = argv.includes('--cold');
const evictor = cold ? new Float32Array(16 << 20) : null;
const best = (fn: () => void) => {
  fn();
  let t = Infinity;
  for (let r = 0; r < reps; r++) {
    if (evictor) evictor.fill(r);
    const t0 = performance.now();
    fn();
    t = Math.min(t, performance.now() - t0);
  }
  return t;
};
console.log(`batch ${B}, best of ${reps}${cold ? ', caches flushed before each call' : ''}: milliseconds (GFLOP/s over live taps)`);
for (const [name, I, O, K, tapList] of layers) {
  const d: Conv2dDims = { batch: B, inChannels: I, outChannels: O, height: H, width: W, kernelH: K, kernelW: K };
  const taps = Int32Array.from(tapList);
  const x = rand(B * I * H * W), w = rand(O * I * K * K), dout = rand(B * O * H * W);
  const out = new Float32Array(B * O * H * W), dx = new Float32Array(B * I * H * W);
  const dw = new Float32Array(O * I * K * K), db = new Float32Array(O);
  const gflop = (2 * B * H * W * I * O * taps.length) / 1e6;
  const cell = (ms: number) => `${ms.toFixed(2)} (${(gflop / ms).toFixed(0)})`;
  const f = best(() => k.conv2dForward(out, x, w, null, d, taps));
  const bd = best(() => k.conv2dBackwardData(dx, dout, w, d, taps, 0, null));
  const bf = best(() => k.conv2dBackwardFilter(dw, db, dout, x, d, taps));
  // the models' 1×1 layers read relu(x), which the filter gradient applies on the fly
  const bfr = best(() => k.conv2dBackwardFilter(dw, db, dout, x, d, taps, true));
  console.log(`${name.padEnd(26)} forward ${cell(f)}  backward data ${cell(bd)}  filter ${cell(bf)}  filter of relu(x) ${cell(bfr)}`);
}
