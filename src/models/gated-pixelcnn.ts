import { Tensor } from '../tensor/tensor.js';
import { addChannelBias, embedding, gate, shift } from '../ops/index.js';
import { Conv2dLayer } from '../nn/conv-layer.js';
import { colourAllows, type MaskType } from '../nn/masks.js';
import { Rng } from '../random/rng.js';
import { type AutoregressiveModel, type ForwardObserver, outputChannels } from './model.js';
import { gatedPixelCnnSpec, parseConfig, type GatedPixelCnnConfig } from './config.js';

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
 *   head:  Σ_l skip_l ─ ReLU ─ out1 1×1 (h → d) ─ ReLU ─ out2 1×1 (d → C·P) → outputs, o = j·C + c
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
 *   hstack.l.skip (h, h, 1, 1) · cond.l.weight (K, 2h) · out1 (d, h, 1, 1) · out2 (C·P, d, 1, 1), P = outputsPerColour.
 * The masked k×k and 1×k convolutions are initialised like the PyTorch Conv2d of the kernel they
 * stand for ((k/2+1)×k and 1×(k/2+1)): U(±1/√fan_in) with fan_in = inputs × live taps.
 *
 * Receptive field of pixel (r, c), P = k₀/2 + (L − 1)·(k/2): rows r−1−P … r−1, columns c−P … c+P
 * (upper right included), and row r, columns c−P … c−1.
 */
export { defaultGatedPixelCnnConfig, type GatedPixelCnnConfig } from './config.js';

class GatedLayer {
  readonly vconv: Conv2dLayer;
  /** The horizontal stack's 1×k convolution, stored as PyTorch's (O, I, 1, k): an ordinary masked convolution. */
  readonly hconv: Conv2dLayer;
  readonly v2h: Conv2dLayer;
  readonly res: Conv2dLayer | null;
  readonly skip: Conv2dLayer;
  readonly cond: Tensor | null;

  constructor(readonly index: number, inFilters: number, h: number, k: number, colours: number,
              numClasses: number, last: boolean, rng: Rng) {
    const C = colours, centre = k >> 1, type: MaskType = index === 0 ? 'A' : 'B';
    const colourOut = (o: number) => (o % h) % C;
    this.vconv = new Conv2dLayer(`vstack.${index}.conv`, inFilters, 2 * h, k, rng, (_o, _i, ky) => ky <= centre);
    this.hconv = new Conv2dLayer(`hstack.${index}.conv`, inFilters, 2 * h, [1, k], rng,
      (o, i, _ky, kx) => kx < centre || (kx === centre && colourAllows(type, colourOut(o), i % C)));
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

  /** (v, h) of the previous layer (x, x in layer 0) → (v, h, skip); v and h are null in the last layer. */
  forward(v: Tensor, hIn: Tensor, classes: Int32Array | null, skipsIn: Tensor | null,
          observe?: ForwardObserver): { v: Tensor | null; h: Tensor | null; skip: Tensor } {
    const e = this.cond && classes ? embedding(this.cond, classes) : null;
    const withCond = (t: Tensor) => (e ? addChannelBias(t, e) : t);
    const l = this.index;
    const vp = this.vconv.forward(v);
    observe?.(`vstack.${l}.conv`, vp);
    const hc = this.hconv.forward(hIn);
    observe?.(`hstack.${l}.conv`, hc);
    const hp = this.v2h.forward(shift(vp, 1, 0), false, hc);
    observe?.(`hstack.${l}.v2h`, hp);
    const u = gate(withCond(hp));
    observe?.(`hstack.${l}.gate`, u);
    const skip = this.skip.forward(u, false, skipsIn);
    observe?.(`hstack.${l}.skip`, skip);
    if (!this.res) return { v: null, h: null, skip };
    const vOut = gate(withCond(vp));
    observe?.(`vstack.${l}.gate`, vOut);
    const hOut = this.res.forward(u, false, l === 0 ? null : hIn);
    observe?.(`hstack.${l}.res`, hOut);
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
    this.config = parseConfig(gatedPixelCnnSpec, config, { where: 'Gated PixelCNN config' });
    const { channels: C, hidden: h, outHidden: d, layers: L, numClasses: K } = config;
    const rng = new Rng(seed);
    this.layers = Array.from({ length: L }, (_, l) =>
      new GatedLayer(l, l === 0 ? C : h, h, l === 0 ? config.firstKernel : config.kernel, C, K, l === L - 1, rng));
    this.out1 = new Conv2dLayer('out1', h, d, 1, rng, { type: 'B', colours: C });
    this.out2 = new Conv2dLayer('out2', d, outputChannels(config), 1, rng, { type: 'B', colours: C });
  }

  /** vstack.*, hstack.*, cond.*, out1, out2 (the order of a PyTorch module with those ModuleLists). */
  parameters(): Map<string, Tensor> {
    const ps = this.layers.map((l) => l.params());
    const all = [...ps.flatMap((p) => p.v), ...ps.flatMap((p) => p.h), ...ps.flatMap((p) => p.cond),
      ...this.out1.params(), ...this.out2.params()];
    return new Map(all.map((p) => [p.name, p]));
  }

  /**
   * Outputs (B, C·P, H, W) (see forward in model.ts). `observe` sees, per layer l in order: `vstack.l.conv` (vp, 2h),
   * `hstack.l.conv` (2h), `hstack.l.v2h` (v2h of the shifted vp plus hstack.l.conv: the horizontal
   * gate's pre-activation without the class bias, 2h), `hstack.l.gate` (u, h), `hstack.l.skip` (the
   * running sum of the skip outputs up to l, h), and for l < L − 1 `vstack.l.gate` (v_l, h) and
   * `hstack.l.res` (h_l, residual included, h); then `out1` (before its ReLU) and `out2` (the logits).
   */
  forward(x: Tensor, classes: Int32Array | null = null, observe?: ForwardObserver): Tensor {
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
      const o = layer.forward(v!, h!, cls, skips, observe);
      v = o.v; h = o.h;
      skips = o.skip;  // the running sum of the skip outputs, added inside each skip convolution
    }
    const o1 = this.out1.forward(skips!, true);
    observe?.('out1', o1);
    const logits = this.out2.forward(o1, true);
    observe?.('out2', logits);
    return logits;
  }
}

/**
 * The parameter shapes (by checkpoint name) of the Gated PixelCNN a config describes, without
 * building it: a checkpoint's weights are checked against them before anything is allocated.
 * Must agree with GatedPixelCnn's parameters() (a test compares them).
 */
export function gatedPixelCnnParameterShapes(config: GatedPixelCnnConfig): Map<string, number[]> {
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
  conv('out2', d, outputChannels(config), 1, 1);
  return shapes;
}
