import { Tensor } from '../tensor/tensor.js';
import { result } from '../tensor/autograd.js';
import { addChannelBias, conv2d, gate, shift, type ConvMask } from '../ops/index.js';
import { Conv2dLayer } from '../nn/conv-layer.js';
import { liveTaps, type MaskType } from '../nn/masks.js';
import { Rng } from '../nn/rng.js';
import { type AutoregressiveModel, type BaseModelConfig, logitChannels, validateBaseConfig } from './model.js';

/**
 * Gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN
 * Decoders"): a vertical stack over the rows above and a horizontal stack over the current row
 * to the left, so the receptive field has no blind spot; gated units tanh(W_f∗x) ⊙ σ(W_g∗x); an
 * optional class-conditional bias per layer. Layer l of L (h = hidden, k = kernel; k₀ = firstKernel
 * in layer 0; e_l = cond.l.weight[class], only when numClasses > 0):
 *
 *          v_{l−1} (C or h)                                    h_{l−1} (C or h)
 *             │                                                   │
 *    vstack.l.conv  k×k, rows ≤ centre                 hstack.l.conv  1×k, taps ≤ centre
 *    (= (k/2+1)×k), no colour mask                     centre: colour mask A (l = 0) / B
 *             │ vp (2h)                                           │ (2h)
 *             ├── shift down 1 ── hstack.l.v2h 1×1 (2h→2h) ──────(+)── + e_l
 *          + e_l                                                  │
 *       gate: tanh(f)·σ(g)                               gate: tanh(f)·σ(g)  → u (h)
 *             │                                           │               │
 *          v_l (h)                            hstack.l.skip 1×1 (B)   hstack.l.res 1×1 (B)
 *                                                      │                  │
 *                                          Σ_l skip ───┘      h_l = h_{l−1} + res(u)
 *                                                             (layer 0: h_0 = res(u))
 *
 *   head:  Σ_l skip_l ─ ReLU ─ out1 1×1 (h → d) ─ ReLU ─ out2 1×1 (d → C·L) → logits, o = k·C + c
 *
 * Order. The vertical stack at row r reads rows ≤ r of its input, so v_l(r) depends on pixel rows
 * ≤ r (its own row included, every column). It is passed from layer to layer UN-shifted; only the
 * copy handed to the horizontal stack is shifted down one row, so the horizontal stack at row r
 * sees vertical features of rows < r only, and the row directly above stays reachable at every
 * depth (re-shifting the vertical stack in every layer would push its context up one row per
 * layer). The horizontal stack reads row r left of the pixel, and the pixel itself through the
 * colour mask only.
 *
 * Colours (groups of C interleaved, as in the PixelCNN, src/nn/masks.ts): feature j of h has colour
 * j mod C. A gate's pre-activation has 2h filters, f = [0, h) and g = [h, 2h), and filter o has
 * colour (o mod h) mod C, so f_j and g_j, and the gated u_j, share colour j mod C for any h (h need
 * not be divisible by C). The colour rule applies wherever the current pixel is read: the centre
 * tap of hstack.l.conv (type A in layer 0, where it reads x; type B after) and every 1×1 of the
 * horizontal stack and head (res, skip, out1, out2; type B). Type A is applied exactly once: a
 * second type-A layer (as some published implementations do) would cut the R → G link.
 * The vertical stack and v2h carry no colour mask: after the shift they hold rows < r only, which
 * every colour may read; masking v2h would only withhold vertical features from some colours.
 *
 * Class conditioning (numClasses K > 0): cond.l.weight (K, 2h), an nn.Embedding (N(0, 1) init),
 * row y added to both stacks' gate pre-activations of layer l (V_f·onehot(y), V_g·onehot(y)).
 *
 * Parameters (PyTorch names and layouts; masked weights keep their full k×k / 1×k shape):
 *   vstack.l.conv (2h, C|h, k, k) · hstack.l.conv (2h, C|h, 1, k) · hstack.l.v2h (2h, 2h, 1, 1) ·
 *   hstack.l.res (h, h, 1, 1) for l < L − 1 (the last layer's horizontal output is not read) ·
 *   hstack.l.skip (h, h, 1, 1) · cond.l.weight (K, 2h) · out1 (d, h, 1, 1) · out2 (C·L, d, 1, 1).
 * The masked k×k and 1×k convolutions are initialised like the PyTorch Conv2d of the kernel they
 * stand for ((k/2+1)×k and 1×(k/2+1)): U(±1/√fan_in) with fan_in = inputs × live taps.
 *
 * Receptive field of pixel (r, c), P = k₀/2 + (L − 1)·(k/2): rows r−1−P … r−1, columns c−P … c+P
 * (upper right included), and row r, columns c−P … c−1.
 */
export interface GatedPixelCnnConfig extends BaseModelConfig {
  arch: 'gated';
  /** h: gated filters per stack (each gate computes 2h pre-activations). */
  hidden: number;
  /** d: filters of the output head's hidden layer. */
  outHidden: number;
  /** L: gated layers (each with a vertical and a horizontal part). */
  layers: number;
  /** k: kernel size of layers 1 … L−1 (odd): vertical (k/2+1)×k, horizontal 1×(k/2+1). */
  kernel: number;
  /** k₀: kernel size of layer 0 (odd). */
  firstKernel: number;
}

export const defaultGatedPixelCnnConfig: GatedPixelCnnConfig = {
  arch: 'gated', channels: 1, levels: 256, likelihood: 'softmax', height: 28, width: 28, numClasses: 0,
  hidden: 128, outHidden: 32, layers: 8, kernel: 3, firstKernel: 7,
};

export function validateGatedPixelCnnConfig(c: GatedPixelCnnConfig): void {
  validateBaseConfig(c, 'Gated PixelCNN config');
  const bad = (msg: string): never => { throw new Error(`Gated PixelCNN config: ${msg}`); };
  if (c.arch !== 'gated') bad(`arch must be 'gated', got ${c.arch}`);
  if (!Number.isInteger(c.hidden) || c.hidden < c.channels || c.hidden > 4096) bad(`hidden must be an integer in [${c.channels}, 4096] (at least one filter per colour), got ${c.hidden}`);
  if (!Number.isInteger(c.outHidden) || c.outHidden < c.channels || c.outHidden > 4096) bad(`outHidden must be an integer in [${c.channels}, 4096] (at least one filter per colour), got ${c.outHidden}`);
  if (!Number.isInteger(c.layers) || c.layers < 1 || c.layers > 256) bad(`layers must be an integer in [1, 256], got ${c.layers}`);
  for (const k of ['kernel', 'firstKernel'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 3 || c[k] > 15 || c[k] % 2 !== 1) bad(`${k} must be an odd integer in [3, 15], got ${c[k]}`);
  }
}

/** Whether input colour ci may feed output colour co at the current pixel. */
function colourAllows(type: MaskType, co: number, ci: number): boolean {
  return type === 'A' ? ci < co : ci <= co;
}

/**
 * A convolution (PyTorch layout, weight (O, I, kh, kw), bias (O)) with a mask given as a predicate
 * keep(o, i, ky, kx); null keeps everything.
 */
class MaskedConv {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly mask: ConvMask | null;

  constructor(name: string, inFilters: number, outFilters: number, kh: number, kw: number, rng: Rng,
              keep: ((o: number, i: number, ky: number, kx: number) => boolean) | null) {
    const K = kh * kw;
    let mask: ConvMask | null = null;
    if (keep) {
      const values = new Float32Array(outFilters * inFilters * K);
      for (let o = 0; o < outFilters; o++) for (let i = 0; i < inFilters; i++) {
        for (let t = 0; t < K; t++) values[(o * inFilters + i) * K + t] = keep(o, i, Math.floor(t / kw), t % kw) ? 1 : 0;
      }
      if (!values.every((v) => v === 1)) mask = { values, taps: liveTaps(values, K) };
    }
    this.mask = mask;
    const bound = 1 / Math.sqrt(inFilters * (mask ? mask.taps.length : K));
    const w = new Float32Array(outFilters * inFilters * K);
    for (let i = 0; i < w.length; i++) w[i] = (rng.uniform() * 2 - 1) * bound;
    const b = new Float32Array(outFilters);
    for (let i = 0; i < b.length; i++) b[i] = (rng.uniform() * 2 - 1) * bound;
    this.weight = new Tensor(w, [outFilters, inFilters, kh, kw], { requiresGrad: true, name: `${name}.weight` });
    this.bias = new Tensor(b, [outFilters], { requiresGrad: true, name: `${name}.bias` });
  }

  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, this.mask);
  }

  params(): Tensor[] {
    return [this.weight, this.bias];
  }
}

/**
 * The horizontal stack's 1×k convolution, stored and initialised as PyTorch's (O, I, 1, k) and
 * run as a plain 1×k masked convolution (`inner`; the native backend's padded-plane convolution
 * handles kh = 1 < kw since its one-row padding fix).
 */
class RowConv {
  readonly inner: MaskedConv;

  constructor(name: string, inFilters: number, outFilters: number, k: number, rng: Rng,
              keep: (o: number, i: number, kx: number) => boolean) {
    this.inner = new MaskedConv(name, inFilters, outFilters, 1, k, rng, (o, i, _ky, kx) => keep(o, i, kx));
  }

  get weight(): Tensor { return this.inner.weight; }
  get bias(): Tensor { return this.inner.bias; }
  get mask(): ConvMask | null { return this.inner.mask; }

  forward(x: Tensor): Tensor {
    return this.inner.forward(x);
  }

  params(): Tensor[] {
    return this.inner.params();
  }
}

/** Rows `classes` of an embedding table (K, D) → (B, D); the gradient goes to those rows only. */
function embed(table: Tensor, classes: Int32Array): Tensor {
  const D = table.shape[1], B = classes.length;
  const y = new Float32Array(B * D);
  for (let b = 0; b < B; b++) y.set(table.data.subarray(classes[b] * D, (classes[b] + 1) * D), b * D);
  return result(y, [B, D], [table], (out) => {
    const g = out.grad!, d = table.gradBuffer();
    for (let b = 0; b < B; b++) {
      const row = classes[b] * D;
      for (let j = 0; j < D; j++) d[row + j] += g[b * D + j];
    }
  });
}


class GatedLayer {
  readonly vconv: MaskedConv;
  readonly hconv: RowConv;
  readonly v2h: Conv2dLayer;
  readonly res: Conv2dLayer | null;
  readonly skip: Conv2dLayer;
  readonly cond: Tensor | null;

  constructor(readonly index: number, inFilters: number, h: number, k: number, colours: number,
              numClasses: number, last: boolean, rng: Rng) {
    const C = colours, centre = k >> 1, type: MaskType = index === 0 ? 'A' : 'B';
    const colourOut = (o: number) => (o % h) % C;
    this.vconv = new MaskedConv(`vstack.${index}.conv`, inFilters, 2 * h, k, k, rng, (_o, _i, ky) => ky <= centre);
    this.hconv = new RowConv(`hstack.${index}.conv`, inFilters, 2 * h, k, rng,
      (o, i, kx) => kx < centre || (kx === centre && colourAllows(type, colourOut(o), i % C)));
    this.v2h = new Conv2dLayer(`hstack.${index}.v2h`, 2 * h, 2 * h, 1, rng, null);
    const colour = { type: 'B' as const, colours: C };
    this.res = last ? null : new Conv2dLayer(`hstack.${index}.res`, h, h, 1, rng, colour);
    this.skip = new Conv2dLayer(`hstack.${index}.skip`, h, h, 1, rng, colour);
    if (numClasses > 0) {
      const e = new Float32Array(numClasses * 2 * h);
      for (let i = 0; i < e.length; i++) e[i] = rng.normal();
      this.cond = new Tensor(e, [numClasses, 2 * h], { requiresGrad: true, name: `cond.${index}.weight` });
    } else this.cond = null;
  }

  /** (v, h) of the previous layer (x, x in layer 0) → (v, h, skip); v is null in the last layer. */
  forward(v: Tensor, hIn: Tensor, classes: Int32Array | null, skipsIn: Tensor | null): { v: Tensor | null; h: Tensor | null; skip: Tensor } {
    const e = this.cond && classes ? embed(this.cond, classes) : null;
    const withCond = (t: Tensor) => (e ? addChannelBias(t, e) : t);
    const vp = this.vconv.forward(v);
    const hp = this.v2h.forward(shift(vp, 1, 0), false, this.hconv.forward(hIn));
    const u = gate(withCond(hp));
    const skip = this.skip.forward(u, false, skipsIn);
    const vOut = this.res ? gate(withCond(vp)) : null;
    const hOut = this.res ? this.res.forward(u, false, this.index === 0 ? null : hIn) : null;
    return { v: vOut, h: hOut, skip };
  }

  params(): { v: Tensor[]; h: Tensor[]; cond: Tensor[] } {
    return {
      v: this.vconv.params(),
      h: [...this.hconv.params(), ...this.v2h.params(), ...(this.res ? this.res.params() : []), ...this.skip.params()],
      cond: this.cond ? [this.cond] : [],
    };
  }
}

export class GatedPixelCnn implements AutoregressiveModel<GatedPixelCnnConfig> {
  readonly config: GatedPixelCnnConfig;
  readonly layers: GatedLayer[];
  readonly out1: Conv2dLayer;
  readonly out2: Conv2dLayer;

  constructor(config: GatedPixelCnnConfig, seed = 0) {
    validateGatedPixelCnnConfig(config);
    this.config = { ...config };
    const { channels: C, hidden: h, outHidden: d, layers: L, numClasses: K } = config;
    const rng = new Rng(seed);
    this.layers = Array.from({ length: L }, (_, l) =>
      new GatedLayer(l, l === 0 ? C : h, h, l === 0 ? config.firstKernel : config.kernel, C, K, l === L - 1, rng));
    this.out1 = new Conv2dLayer('out1', h, d, 1, rng, { type: 'B', colours: C });
    this.out2 = new Conv2dLayer('out2', d, logitChannels(config), 1, rng, { type: 'B', colours: C });
  }

  /** vstack.*, hstack.*, cond.*, out1, out2 (the order of a PyTorch module with those ModuleLists). */
  parameters(): Map<string, Tensor> {
    const ps = this.layers.map((l) => l.params());
    const all = [...ps.flatMap((p) => p.v), ...ps.flatMap((p) => p.h), ...ps.flatMap((p) => p.cond),
      ...this.out1.params(), ...this.out2.params()];
    return new Map(all.map((p) => [p.name, p]));
  }

  forward(x: Tensor, classes: Int32Array | null = null): Tensor {
    const K = this.config.numClasses;
    let cls: Int32Array | null = null;
    if (K > 0) {
      if (!classes) throw new Error(`Gated PixelCNN: the model is class-conditional (${K} classes): forward needs one class label per image`);
      if (classes.length !== x.shape[0]) throw new Error(`Gated PixelCNN: ${classes.length} class labels for a batch of ${x.shape[0]} images`);
      for (const c of classes) if (!(Number.isInteger(c) && c >= 0 && c < K)) throw new Error(`Gated PixelCNN: class ${c} outside [0, ${K})`);
      cls = classes;
    }
    let v: Tensor | null = x, h: Tensor | null = x, skips: Tensor | null = null;
    for (const layer of this.layers) {
      const o = layer.forward(v!, h!, cls, skips);
      v = o.v; h = o.h;
      skips = o.skip;  // the running sum of the skip outputs, added inside each skip convolution
    }
    return this.out2.forward(this.out1.forward(skips!, true), true);
  }
}

/**
 * The parameter shapes (by checkpoint name) of the Gated PixelCNN a config describes, without
 * building it: a checkpoint's weights are checked against them before anything is allocated.
 * Must agree with GatedPixelCnn's parameters() (a test compares them).
 */
export function gatedPixelCnnParameterShapes(config: GatedPixelCnnConfig): Map<string, number[]> {
  validateGatedPixelCnnConfig(config);
  const { channels: C, hidden: h, outHidden: d, layers: L, numClasses: K } = config;
  const shapes = new Map<string, number[]>();
  const conv = (name: string, i: number, o: number, kh: number, kw: number) => {
    shapes.set(`${name}.weight`, [o, i, kh, kw]);
    shapes.set(`${name}.bias`, [o]);
  };
  for (let l = 0; l < L; l++) {
    const inFilters = l === 0 ? C : h, k = l === 0 ? config.firstKernel : config.kernel;
    conv(`vstack.${l}.conv`, inFilters, 2 * h, k, k);
    conv(`hstack.${l}.conv`, inFilters, 2 * h, 1, k);
    conv(`hstack.${l}.v2h`, 2 * h, 2 * h, 1, 1);
    if (l < L - 1) conv(`hstack.${l}.res`, h, h, 1, 1);
    conv(`hstack.${l}.skip`, h, h, 1, 1);
    if (K > 0) shapes.set(`cond.${l}.weight`, [K, 2 * h]);
  }
  conv('out1', h, d, 1, 1);
  conv('out2', d, logitChannels(config), 1, 1);
  return shapes;
}
