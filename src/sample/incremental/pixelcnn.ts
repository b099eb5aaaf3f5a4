/**
 * Incremental evaluation of the residual PixelCNN (src/models/pixelcnn.ts); see network.ts for
 * the contract. Per pixel and image:
 *
 *   h   = input7×7A(x at the 24/25 live taps)                       (h)
 *   per block j:  a1 = ReLU(conv1(ReLU(h)))  → cache_j[b, pixel, :]  (h/2)
 *                 a2 = ReLU(conv2(cache_j at the 5 live 3×3 taps))   (h/2)
 *                 h += conv3(a2)                                     (h)
 *   o1  = ReLU(out1(ReLU(h)))                                        (d)
 *   outputs of colour c = out2 filters j·C + c (o1)                  (P = outputsPerColour)
 *
 * Only the input of a layer with spatial extent needs a cache: the 7×7 conv reads `input`
 * itself, each 3×3 conv reads cache_j (batch, H·W, h/2), pixel-major so a tap is one contiguous
 * vector. Everything else is per-pixel scratch.
 *
 * Weights are packed once per sampler call (packPixelCnn, with pack.ts): the mask multiplied in,
 * dead taps dropped, laid out (K, O); the output layer split per colour. The same packing is what
 * the native sampler receives (src/sample/cached.ts). Prefill (completion) runs the model's own
 * forward and copies the block caches from it.
 */
import { Tensor } from '../../tensor/tensor.js';
import { noGrad } from '../../tensor/autograd.js';
import type { PixelCnn } from '../../models/pixelcnn.js';
import { outputsPerColour } from '../../models/model.js';
import type { KernelAddon } from '../../backend/addon.js';
import type { IncrementalNetwork, NativeGenerate } from './network.js';
import { packHead, packLayer, type PackedLayer } from './pack.js';

export interface PackedPixelCnn {
  C: number;
  h: number;
  d: number;
  blocks: number;
  /** Output slots per colour (outputsPerColour): L (softmax), 1 (sigmoid) or the mixture's group. */
  perColour: number;
  input: PackedLayer;
  /** conv1, conv2, conv3 of every block, in order. */
  blockLayers: PackedLayer[];
  out1: PackedLayer;
  /** out2 split by colour: head[c] has the filters j·C + c, j < perColour. */
  head: PackedLayer[];
}

export function packPixelCnn(model: PixelCnn): PackedPixelCnn {
  const c = model.config;
  return {
    C: c.channels, h: c.hidden, d: c.outHidden, blocks: c.blocks, perColour: outputsPerColour(c),
    input: packLayer(model.input),
    blockLayers: model.blocks.flatMap((b) => [packLayer(b.conv1), packLayer(b.conv2), packLayer(b.conv3)]),
    out1: packLayer(model.out1),
    head: packHead(model.out2, c),
  };
}

/** out (O) = bias + g (K) · w (K × O), skipping zero inputs (ReLU outputs are half zeros). */
function matvec(l: PackedLayer, g: Float64Array, K: number, out: Float64Array, accumulate: boolean): void {
  const O = l.O, w = l.w, bias = l.bias;
  if (accumulate) for (let o = 0; o < O; o++) out[o] += bias[o];
  else for (let o = 0; o < O; o++) out[o] = bias[o];
  for (let k = 0; k < K; k++) {
    const v = g[k];
    if (v === 0) continue;
    const row = k * O;
    for (let o = 0; o < O; o++) out[o] += v * w[row + o];
  }
}

export class PixelCnnIncremental implements IncrementalNetwork {
  readonly channels: number;
  readonly outputsPerColour: number;
  readonly input: Float32Array;
  readonly packed: PackedPixelCnn;
  /** Per block: relu(conv1(relu(h))) as (batch, H·W, h/2); views of cacheAll (blocks, batch, H·W, h/2). */
  readonly caches: Float32Array[];
  readonly cacheAll: Float32Array;
  private readonly gather: Float64Array;
  private readonly hBuf: Float64Array;
  private readonly a1: Float64Array;
  private readonly a2: Float64Array;
  private readonly o1: Float64Array;
  private readonly logits: Float64Array;

  constructor(private readonly model: PixelCnn, readonly batch: number, readonly height: number, readonly width: number) {
    this.packed = packPixelCnn(model);
    const p = this.packed, HW = height * width, h2 = p.h / 2;
    this.channels = p.C;
    this.outputsPerColour = p.perColour;
    this.input = new Float32Array(batch * p.C * HW);
    const per = batch * HW * h2;
    this.cacheAll = new Float32Array(p.blocks * per);
    this.caches = Array.from({ length: p.blocks }, (_, j) => this.cacheAll.subarray(j * per, (j + 1) * per));
    const maxK = Math.max(p.input.dy.length * p.C, ...p.blockLayers.map((l) => l.dy.length * l.I), p.h, p.d);
    this.gather = new Float64Array(maxK);
    this.hBuf = new Float64Array(p.h);
    this.a1 = new Float64Array(h2);
    this.a2 = new Float64Array(h2);
    this.o1 = new Float64Array(p.d);
    this.logits = new Float64Array(p.perColour);
  }

  /** Runs the model's forward on `input` and copies relu(blocks.j.conv1) of pixels [0, pixels) into cache_j. */
  prefill(_classes: Int32Array | null, pixels: number): void {
    if (pixels <= 0) return;
    const B = this.batch, C = this.channels, H = this.height, W = this.width, HW = H * W;
    const h2 = this.packed.h / 2;
    const block = new Map(this.caches.map((cache, j) => [`blocks.${j}.conv1`, cache]));
    noGrad(() => {
      const x = new Tensor(Float32Array.from(this.input), [B, C, H, W]);
      this.model.forward(x, null, (name, a1) => {
        const cache = block.get(name);
        if (!cache) return;
        const src = a1.data;
        for (let b = 0; b < B; b++) for (let ch = 0; ch < h2; ch++) {
          const s = (b * h2 + ch) * HW;
          for (let q = 0; q < pixels; q++) {
            const v = src[s + q];
            cache[(b * HW + q) * h2 + ch] = v > 0 ? v : 0; // the ReLU conv2 applies to its input
          }
        }
      });
    });
  }

  logitsAt(pixel: number, colour: number, out: Float32Array): void {
    const p = this.packed, B = this.batch, C = p.C, H = this.height, W = this.width, HW = H * W;
    const h2 = p.h / 2, py = Math.floor(pixel / W), px = pixel % W;
    const g = this.gather, h = this.hBuf, a1 = this.a1, a2 = this.a2, o1 = this.o1, lg = this.logits;
    const x = this.input, L = p.perColour, head = p.head[colour];
    for (let b = 0; b < B; b++) {
      // Input layer: gather x at the live taps (zero outside the image).
      const l0 = p.input, T0 = l0.dy.length;
      for (let t = 0; t < T0; t++) {
        const y = py + l0.dy[t], xx = px + l0.dx[t];
        const inside = y >= 0 && xx >= 0 && xx < W; // dy ≤ 0 and y ≤ py < H
        for (let i = 0; i < C; i++) g[t * C + i] = inside ? x[(b * C + i) * HW + y * W + xx] : 0;
      }
      matvec(l0, g, T0 * C, h, false);
      for (let j = 0; j < p.blocks; j++) {
        const c1 = p.blockLayers[3 * j], c2 = p.blockLayers[3 * j + 1], c3 = p.blockLayers[3 * j + 2];
        for (let i = 0; i < p.h; i++) g[i] = h[i] > 0 ? h[i] : 0;
        matvec(c1, g, p.h, a1, false);
        const cache = this.caches[j], at = (b * HW + pixel) * h2;
        for (let i = 0; i < h2; i++) cache[at + i] = a1[i] > 0 ? a1[i] : 0;
        const T2 = c2.dy.length;
        for (let t = 0; t < T2; t++) {
          const y = py + c2.dy[t], xx = px + c2.dx[t];
          if (y >= 0 && xx >= 0 && xx < W) {
            const s = (b * HW + y * W + xx) * h2;
            for (let i = 0; i < h2; i++) g[t * h2 + i] = cache[s + i];
          } else {
            for (let i = 0; i < h2; i++) g[t * h2 + i] = 0;
          }
        }
        matvec(c2, g, T2 * h2, a2, false);
        for (let i = 0; i < h2; i++) g[i] = a2[i] > 0 ? a2[i] : 0;
        matvec(c3, g, h2, h, true);
      }
      for (let i = 0; i < p.h; i++) g[i] = h[i] > 0 ? h[i] : 0;
      matvec(p.out1, g, p.h, o1, false);
      for (let i = 0; i < p.d; i++) g[i] = o1[i] > 0 ? o1[i] : 0;
      matvec(head, g, p.d, lg, false);
      for (let k = 0; k < L; k++) out[b * L + k] = lg[k];
    }
  }

  /**
   * The addon's sampleCachedPixelCnn over this network's packed weights and buffers. Layers are
   * flattened in the order input, blocks (conv1, conv2, conv3)…, out1, head[0..C−1]:
   * weights = per layer w (K × O) then bias (O); meta = per layer I, O, T, dy[T], dx[T];
   * dims = [B, C, H, W, h, d, blocks, perColour, levels].
   */
  nativeGenerator(addon: Pick<KernelAddon, 'sampleCachedPixelCnn'>): NativeGenerate | null {
    const fn = addon.sampleCachedPixelCnn;
    // The addon draws softmax and sigmoid levels only; the mixture runs on the js path.
    if (typeof fn !== 'function' || this.model.config.likelihood === 'logistic-mixture') return null;
    const p = this.packed, layers = [p.input, ...p.blockLayers, p.out1, ...p.head];
    const weights = new Float32Array(layers.reduce((n, l) => n + l.w.length + l.bias.length, 0));
    const meta: number[] = [];
    let at = 0;
    for (const l of layers) {
      weights.set(l.w, at); at += l.w.length;
      weights.set(l.bias, at); at += l.bias.length;
      meta.push(l.I, l.O, l.dy.length, ...l.dy, ...l.dx);
    }
    const metaArr = Int32Array.from(meta);
    const levels = this.model.config.levels;
    const dims = Int32Array.from([this.batch, p.C, this.height, this.width, p.h, p.d, p.blocks, p.perColour, levels]);
    return (labels, start, end, temperature, rngState, logitsOut) =>
      fn.call(addon, weights, metaArr, dims, this.input, labels, this.cacheAll, start, end, temperature, rngState, logitsOut);
  }
}
