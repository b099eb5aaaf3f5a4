import { Tensor } from '../tensor/tensor.js';
import { result } from '../tensor/autograd.js';
import { allocate } from '../tensor/arena.js';
import {
  add, addChannelBias, concatChannels, concatElu, conv2d, conv2dStride2, conv2dTranspose2, dropout, dropoutRng, elu,
  embedding, glu, placeKernel, shift, type ConvMask,
} from '../ops/index.js';
import { Conv2dLayer } from '../nn/conv-layer.js';
import { LayerWeight, layerWeightShapes } from '../nn/layer-weight.js';
import { liveTaps } from '../nn/masks.js';
import { Rng } from '../random/rng.js';
import { type AutoregressiveModel, type ForwardObserver, outputChannels } from './model.js';
import { parseConfig, pixelCnnPlusPlusSpec, type PixelCnnPlusPlusConfig } from './config.js';

/**
 * PixelCNN++ (Salimans, Karpathy, Chen, Kingma 2017, "PixelCNN++: Improving the PixelCNN with
 * Discretized Logistic Mixture Likelihood and Other Modifications", ICLR), the architecture of its
 * reference code (openai/pixel-cnn): two streams without masks or blind spot,
 *   u  sees the rows above the pixel      (down-shifted convolutions, 2×3: rows r−1..r, cols c−1..c+1)
 *   ul sees above and to the left         (down-right-shifted convolutions, 2×2: rows r−1..r, cols c−1..c)
 * each a chain of gated residual blocks over three resolutions, an up pass that keeps every
 * output and a down pass that reads them back as shortcuts. F = filters, R = resnets; a block
 * "gr" is
 *
 *        x (F) ──────────────────────────────────────────────────────────────┐
 *          └ concat_elu ─ conv_input (2F → F) ─(+)─ concat_elu ─ dropout ─ conv_out (2F → 2F) ─(+ e)─ a·σ(b) ─(+)→ (F)
 *     a (F or 2F) ─ concat_elu ─ nin_skip 1×1 ─┘   (only when the block has a shortcut input a)
 *
 * with conv = the stream's shifted convolution and e = cond.weight[class] (numClasses > 0: an
 * embedding added to the gate's pre-activation, as in the gated model). The network (H×W, then
 * ⌈H/2⌉, then ⌈H/4⌉: 28 → 14 → 7):
 *
 *   x ─ [2x−1, 1] ─┬ u_init 2×3, shift down ────────────────────── u ─┐ up pass: per resolution
 *                  └ ul_init.0 1×3, shift down + ul_init.1 2×1, shift right ─ ul ─┤ R × (u = gr(u),
 *                                                                                 │   ul = gr(ul, a = u)),
 *     keeping every u and ul (list us, uls) ── downsize_*_stream (stride 2) ── …   │ then stride 2 (not after the last)
 *   down pass: u, ul = the last kept; per resolution (R, then R + 1, R + 1 blocks)
 *     u = gr(u, a = us.pop()),  ul = gr(ul, a = [u, uls.pop()]),  then upsize_*_stream (transposed, stride 2)
 *   logits = nin_out 1×1 (elu(ul)) (F → logitChannels: C·L softmax, C sigmoid), filter o = k·C + c
 *
 * Order. u at row r depends on pixel rows < r: u_init reads rows r−1..r and is shifted down one
 * row, and every later layer of u reads rows ≤ r of its input. ul at (r, c) depends on pixels
 * before (r, c) in raster order: its init reads row r−1 (cols c−1..c+1) and (r, c−1), its layers
 * rows ≤ r and columns ≤ c of ul and rows ≤ r of u. A stride-2 output (r′, c′) is the full-
 * resolution output at (2r′, 2c′), so it depends on pixels before (2r′, 2c′) (ul) or rows < 2r′
 * (u), all before every pixel of its 2×2 block; a transposed convolution's outputs (2i + a, 2j + b)
 * read input (i, j) only at the taps that keep this. The colours of one pixel are independent
 * given the past: nothing reads the current pixel (the logistic mixture likelihood couples them;
 * with the softmax head each colour has its own L logits from the same features).
 *
 * Shifted convolutions run as 3×3 'same' convolutions over their live taps: the parameter keeps
 * the reference's shape (O, I, 2, 3) / (O, I, 2, 2) and is placed into a 3×3 kernel per forward
 * (ops/place-kernel); stride 1 on conv2d, stride 2 on conv2dStride2 (only the outputs kept are
 * computed), transposed stride 2 on conv2dTranspose2 with the weight in ConvTranspose2d's
 * (I, O, kh, kw) layout, placed where the reference's crop puts its window (ops/conv2d-stride2).
 *
 * Input: our models receive x = level / (L − 1) in [0, 1]; like the reference, the network
 * rescales it to [−1, 1] (2x − 1) and appends a plane of ones, which tells the image from the
 * convolutions' zero padding. Weights therefore mean the same as a PyTorch port's.
 *
 * Parameters (the names of the widely used PyTorch port pclucas14/pixel-cnn-pp; a 1×1 "nin" is
 * stored as a conv (O, I, 1, 1), the port's Linear (O, I) reshaped):
 *   down_layers.s.{u_stream,ul_stream}.j.{conv_input.conv, nin_skip, conv_out.conv, cond} ·
 *   up_layers.s.… (u_stream blocks have no nin_skip) · downsize_{u,ul}_stream.s.conv ·
 *   upsize_{u,ul}_stream.s.deconv (I, O, kh, kw) · u_init.conv (F, C+1, 2, 3) ·
 *   ul_init.0.conv (F, C+1, 1, 3) · ul_init.1.conv (F, C+1, 2, 1) · nin_out.
 * Initialisation is PyTorch's default U(±1/√fan_in) (fan_in = inputs × taps), with conv_out
 * scaled by 0.1 like the reference's init_scale, so that every block starts close to the
 * identity; cond.weight ~ N(0, 0.05²) as in the reference.
 *
 * Weight normalisation (config.weightNorm, off by default; Salimans & Kingma 2016), as the reference
 * and the port apply it to every conv, nin and transposed conv: each layer's `weight` becomes
 * `weight_g` and `weight_v`, w = g · v/‖v‖ per slice of the weight's axis 0 (torch's weight_norm
 * with its default dim = 0, which the port uses everywhere: the output filter of a conv or nin,
 * the input filter of a transposed conv's (I, O, kh, kw) weight), g (n, 1, 1, 1). v starts as the
 * weight above and g = ‖v‖, so the initial function is the same as without it. The reference's
 * data-dependent initialisation (g and the bias set from one batch's pre-activation mean and
 * standard deviation) is not implemented: it divides by that deviation, which is 0 for a channel
 * that is constant over the batch (the NaN the reference is known for), it makes the initial model
 * depend on the data instead of the seed alone, and the near-identity init above already keeps
 * the activations' scale.
 *
 * Dropout (p = config.dropout) acts on the second concat_elu of every block, only inside the
 * trainer's withDropout scope while gradients are recorded (ops/dropout): evaluation, sampling
 * and a plain forward never drop.
 */
export { defaultPixelCnnPlusPlusConfig, type PixelCnnPlusPlusConfig } from './config.js';

/** 3×3 masks keeping the taps of a kh×kw window at (top, left), shared by every layer of a shape. */
const windowMasks = new Map<string, ConvMask>();
function windowMask(O: number, I: number, kh: number, kw: number, top: number, left: number): ConvMask {
  const key = `${O},${I},${kh},${kw},${top},${left}`;
  let m = windowMasks.get(key);
  if (!m) {
    const values = new Float32Array(O * I * 9);
    for (let j = 0; j < O * I; j++) {
      for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) values[j * 9 + (top + ky) * 3 + left + kx] = 1;
    }
    m = { values, taps: liveTaps(values, 9) };
    windowMasks.set(key, m);
  }
  return m;
}

/**
 * A convolution with a kh×kw window whose taps sit at (top, left) of the 3×3 around the output
 * pixel (2×3 at (0, 0): down-shifted; 2×2 at (0, 0): down-right-shifted), or the transposed one.
 * weight (O, I, kh, kw) (transposed: (I, O, kh, kw)), bias (O); with weight normalisation the weight
 * is g · v/‖v‖ per slice of its axis 0 (nn/layer-weight), as torch's weight_norm does it.
 */
class ShiftedConv {
  readonly bias: Tensor;
  private readonly mask: ConvMask;
  private readonly w: LayerWeight;
  /** Transposed: the window's place and mask in ConvTranspose2d's layout (I, O, 3, 3), unflipped. */
  private readonly deconv: { top: number; left: number; mask: ConvMask } | null;

  constructor(name: string, inFilters: number, outFilters: number, kh: number, kw: number,
              private readonly top: number, private readonly left: number, rng: Rng,
              private readonly transposed = false, initScale = 1, weightNorm = false) {
    const bound = 1 / Math.sqrt(inFilters * kh * kw);
    const w = new Float32Array(outFilters * inFilters * kh * kw);
    for (let i = 0; i < w.length; i++) w[i] = (rng.uniform() * 2 - 1) * bound * initScale;
    const b = new Float32Array(outFilters);
    for (let i = 0; i < b.length; i++) b[i] = (rng.uniform() * 2 - 1) * bound * initScale;
    const shape = transposed ? [inFilters, outFilters, kh, kw] : [outFilters, inFilters, kh, kw];
    this.w = new LayerWeight(name, w, shape, weightNorm);
    this.bias = new Tensor(b, [outFilters], { requiresGrad: true, name: `${name}.bias` });
    // A transposed kernel, flipped, covers the same window.
    this.mask = windowMask(outFilters, inFilters, kh, kw, top, left);
    // Unflipped, as conv2dTranspose2 reads it, the window sits mirrored in the 3×3.
    this.deconv = transposed
      ? { top: 3 - top - kh, left: 3 - left - kw, mask: windowMask(inFilters, outFilters, kh, kw, 3 - top - kh, 3 - left - kw) }
      : null;
  }

  /** The layer's weight: the parameter, or computed from g and v per read. */
  get weight(): Tensor {
    return this.w.value();
  }

  /** The stride-1 convolution of x, plus `residual`. */
  forward(x: Tensor, residual: Tensor | null = null): Tensor {
    const { weight, bias, mask } = this.placed();
    return conv2d(x, weight, bias, mask, { residual });
  }

  /** The stride-2 convolution of x: `forward`'s outputs at the even rows and columns. */
  forwardStride2(x: Tensor): Tensor {
    const { weight, bias, mask } = this.placed();
    return conv2dStride2(x, weight, bias, mask);
  }

  /** The transposed stride-2 convolution of x to H × W (= forward of the zero-interleaved x). */
  forwardTransposed(x: Tensor, H: number, W: number): Tensor {
    const d = this.deconv!;
    return conv2dTranspose2(x, placeKernel(this.weight, 3, 3, d.top, d.left), this.bias, d.mask, H, W);
  }

  /**
   * The 3×3 'same' convolution this layer is at full resolution: weight (O, I, 3, 3) placed
   * (flipped when transposed: the correlation over the zero-interleaved input; weight-normalised:
   * g · v/‖v‖, computed now), its window's mask, bias. The cached sampler packs it once per sampler
   * (src/sample/incremental).
   */
  placed(): { weight: Tensor; bias: Tensor; mask: ConvMask } {
    return { weight: placeKernel(this.weight, 3, 3, this.top, this.left, this.transposed), bias: this.bias, mask: this.mask };
  }

  params(): Tensor[] {
    return [...this.w.params, this.bias];
  }
}

type Stream = 'u' | 'ul';

/** The stream's shifted convolution: 2×3 down-shifted (u) or 2×2 down-right-shifted (ul). */
function streamConv(stream: Stream, name: string, I: number, O: number, rng: Rng, wn: boolean, initScale = 1): ShiftedConv {
  return new ShiftedConv(name, I, O, 2, stream === 'u' ? 3 : 2, 0, 0, rng, false, initScale, wn);
}

class GatedResnet {
  readonly convInput: ShiftedConv;
  readonly ninSkip: Conv2dLayer | null;
  readonly convOut: ShiftedConv;
  readonly cond: Tensor | null;

  /** skip: filters of the shortcut input a in units of F (0: none, 1: u, 2: [u, ul]); wn: weight normalisation. */
  constructor(readonly name: string, stream: Stream, F: number, skip: number, numClasses: number, rng: Rng, wn: boolean) {
    this.convInput = streamConv(stream, `${name}.conv_input.conv`, 2 * F, F, rng, wn);
    this.ninSkip = skip > 0 ? new Conv2dLayer(`${name}.nin_skip`, 2 * skip * F, F, 1, rng, null, wn) : null;
    this.convOut = streamConv(stream, `${name}.conv_out.conv`, 2 * F, 2 * F, rng, wn, 0.1);
    if (numClasses > 0) {
      const e = new Float32Array(numClasses * 2 * F);
      for (let i = 0; i < e.length; i++) e[i] = 0.05 * rng.normal();
      this.cond = new Tensor(e, [numClasses, 2 * F], { requiresGrad: true, name: `${name}.cond.weight` });
    } else this.cond = null;
  }

  forward(x: Tensor, a: Tensor | null, classes: Int32Array | null, drop: { p: number; rng: Rng } | null,
          observe?: ForwardObserver): Tensor {
    let c1 = this.convInput.forward(concatElu(x));
    if (a) c1 = this.ninSkip!.forward(concatElu(a), false, c1);
    let h = concatElu(c1);
    if (drop) h = dropout(h, drop.p, drop.rng);
    let c2 = this.convOut.forward(h);
    if (this.cond && classes) c2 = addChannelBias(c2, embedding(this.cond, classes));
    const out = glu(c2, x);
    observe?.(this.name, out);
    return out;
  }

  params(): Tensor[] {
    return [...this.convInput.params(), ...(this.ninSkip ? this.ninSkip.params() : []), ...this.convOut.params(),
      ...(this.cond ? [this.cond] : [])];
  }
}

/** One resolution's blocks of both streams. */
class Stage {
  readonly u: GatedResnet[];
  readonly ul: GatedResnet[];

  constructor(name: string, blocks: number, down: boolean, F: number, numClasses: number, rng: Rng, wn: boolean) {
    // The up pass's u blocks have no shortcut, its ul blocks read u; the down pass's u blocks
    // read the kept u, its ul blocks the new u and the kept ul.
    this.u = Array.from({ length: blocks }, (_, j) => new GatedResnet(`${name}.u_stream.${j}`, 'u', F, down ? 1 : 0, numClasses, rng, wn));
    this.ul = Array.from({ length: blocks }, (_, j) => new GatedResnet(`${name}.ul_stream.${j}`, 'ul', F, down ? 2 : 1, numClasses, rng, wn));
  }

  params(): Tensor[] {
    return [...this.u.flatMap((b) => b.params()), ...this.ul.flatMap((b) => b.params())];
  }
}

/** The network's input: [2x − 1, 1] per image, (B, C, H, W) → (B, C + 1, H, W). */
function inputPlanes(x: Tensor): Tensor {
  const [B, C, H, W] = x.shape, n = C * H * W, HW = H * W;
  const y = allocate(B * (n + HW), false), xd = x.data;
  for (let b = 0; b < B; b++) {
    const s = b * n, d = b * (n + HW);
    for (let i = 0; i < n; i++) y[d + i] = 2 * xd[s + i] - 1;
    y.fill(1, d + n, d + n + HW);
  }
  return result(y, [B, C + 1, H, W], [x], (out) => {
    const g = out.grad!, dx = x.gradBuffer();
    for (let b = 0; b < B; b++) for (let i = 0; i < n; i++) dx[b * n + i] += 2 * g[b * (n + HW) + i];
  });
}

const RESOLUTIONS = 3;

export class PixelCnnPlusPlus implements AutoregressiveModel<PixelCnnPlusPlusConfig> {
  readonly config: PixelCnnPlusPlusConfig;
  readonly up: Stage[];
  readonly down: Stage[];
  readonly downsizeU: ShiftedConv[];
  readonly downsizeUl: ShiftedConv[];
  readonly upsizeU: ShiftedConv[];
  readonly upsizeUl: ShiftedConv[];
  readonly uInit: ShiftedConv;
  readonly ulInit: [ShiftedConv, ShiftedConv];
  readonly ninOut: Conv2dLayer;

  constructor(config: PixelCnnPlusPlusConfig, seed = 0) {
    this.config = parseConfig(pixelCnnPlusPlusSpec, config, { where: 'PixelCNN++ config' });
    const { channels: C, filters: F, resnets: R, numClasses: K, weightNorm: wn } = this.config;
    const rng = new Rng(seed);
    const between = (f: (s: number) => ShiftedConv) => Array.from({ length: RESOLUTIONS - 1 }, (_, s) => f(s));
    this.down = Array.from({ length: RESOLUTIONS }, (_, s) => new Stage(`down_layers.${s}`, s === 0 ? R : R + 1, true, F, K, rng, wn));
    this.up = Array.from({ length: RESOLUTIONS }, (_, s) => new Stage(`up_layers.${s}`, R, false, F, K, rng, wn));
    this.downsizeU = between((s) => streamConv('u', `downsize_u_stream.${s}.conv`, F, F, rng, wn));
    this.downsizeUl = between((s) => streamConv('ul', `downsize_ul_stream.${s}.conv`, F, F, rng, wn));
    this.upsizeU = between((s) => new ShiftedConv(`upsize_u_stream.${s}.deconv`, F, F, 2, 3, 0, 0, rng, true, 1, wn));
    this.upsizeUl = between((s) => new ShiftedConv(`upsize_ul_stream.${s}.deconv`, F, F, 2, 2, 0, 0, rng, true, 1, wn));
    this.uInit = streamConv('u', 'u_init.conv', C + 1, F, rng, wn);
    this.ulInit = [
      new ShiftedConv('ul_init.0.conv', C + 1, F, 1, 3, 1, 0, rng, false, 1, wn),  // row r, cols c−1..c+1; shifted down
      new ShiftedConv('ul_init.1.conv', C + 1, F, 2, 1, 0, 1, rng, false, 1, wn),  // rows r−1..r, col c; shifted right
    ];
    this.ninOut = new Conv2dLayer('nin_out', F, outputChannels(this.config), 1, rng, null, wn);
  }

  /** In the order of the PyTorch port's module: down_layers, up_layers, downsize_*, upsize_*, u_init, ul_init, nin_out. */
  parameters(): Map<string, Tensor> {
    const all = [
      ...this.down.flatMap((s) => s.params()), ...this.up.flatMap((s) => s.params()),
      ...this.downsizeU.flatMap((c) => c.params()), ...this.downsizeUl.flatMap((c) => c.params()),
      ...this.upsizeU.flatMap((c) => c.params()), ...this.upsizeUl.flatMap((c) => c.params()),
      ...this.uInit.params(), ...this.ulInit.flatMap((c) => c.params()), ...this.ninOut.params(),
    ];
    return new Map(all.map((p) => [p.name, p]));
  }

  /**
   * Logits (B, C·L or C, H, W). `observe` sees `u_init` and `ul_init` (after their shifts), every
   * gated block's output by its prefix (`up_layers.s.u_stream.j`, …, residual included) in the
   * order computed (per block index j: u then ul), `downsize_u_stream.s` / `downsize_ul_stream.s`
   * (the stride-2 outputs), `upsize_u_stream.s` / `upsize_ul_stream.s` (the transposed
   * convolutions' outputs) and `nin_out` (the logits).
   */
  forward(x: Tensor, classes: Int32Array | null = null, observe?: ForwardObserver): Tensor {
    const { channels: C, numClasses: K } = this.config;
    if (x.shape.length !== 4 || x.shape[1] !== C) throw new Error(`PixelCNN++: input [${x.shape.join(', ')}] is not (B, ${C}, H, W)`);
    let cls: Int32Array | null = null;
    if (K > 0) {
      if (!classes) throw new Error(`PixelCNN++: the model is class-conditional (${K} classes): forward needs one class label per image`);
      if (classes.length !== x.shape[0]) throw new Error(`PixelCNN++: ${classes.length} class labels for a batch of ${x.shape[0]} images`);
      for (const c of classes) if (!(Number.isInteger(c) && c >= 0 && c < K)) throw new Error(`PixelCNN++: class ${c} outside [0, ${K})`);
      cls = classes;
    }
    const sizes: [number, number][] = [[x.shape[2], x.shape[3]]];
    for (let s = 1; s < RESOLUTIONS; s++) sizes.push([Math.ceil(sizes[s - 1][0] / 2), Math.ceil(sizes[s - 1][1] / 2)]);
    const rng = this.config.dropout > 0 ? dropoutRng() : null;
    const drop = rng ? { p: this.config.dropout, rng } : null;

    const xin = inputPlanes(x);
    let u = shift(this.uInit.forward(xin), 1, 0);
    observe?.('u_init', u);
    let ul = add(shift(this.ulInit[0].forward(xin), 1, 0), shift(this.ulInit[1].forward(xin), 0, 1));
    observe?.('ul_init', ul);

    // Up pass: keep every output for the down pass.
    const us = [u], uls = [ul];
    for (let s = 0; s < RESOLUTIONS; s++) {
      const stage = this.up[s];
      for (let j = 0; j < stage.u.length; j++) {
        u = stage.u[j].forward(u, null, cls, drop, observe);
        ul = stage.ul[j].forward(ul, u, cls, drop, observe);
        us.push(u); uls.push(ul);
      }
      if (s < RESOLUTIONS - 1) {
        u = this.downsizeU[s].forwardStride2(u);
        observe?.(`downsize_u_stream.${s}`, u);
        ul = this.downsizeUl[s].forwardStride2(ul);
        observe?.(`downsize_ul_stream.${s}`, ul);
        us.push(u); uls.push(ul);
      }
    }

    // Down pass: from the coarsest resolution back, reading the kept outputs in reverse.
    u = us.pop()!; ul = uls.pop()!;
    for (let s = 0; s < RESOLUTIONS; s++) {
      const stage = this.down[s];
      for (let j = 0; j < stage.u.length; j++) {
        u = stage.u[j].forward(u, us.pop()!, cls, drop, observe);
        ul = stage.ul[j].forward(ul, concatChannels([u, uls.pop()!]), cls, drop, observe);
      }
      if (s < RESOLUTIONS - 1) {
        const [h, w] = sizes[RESOLUTIONS - 2 - s];
        u = this.upsizeU[s].forwardTransposed(u, h, w);
        observe?.(`upsize_u_stream.${s}`, u);
        ul = this.upsizeUl[s].forwardTransposed(ul, h, w);
        observe?.(`upsize_ul_stream.${s}`, ul);
      }
    }
    const logits = this.ninOut.forward(elu(ul));
    observe?.('nin_out', logits);
    return logits;
  }
}

/**
 * The parameter shapes the constructor creates, by name, without allocating them (a checkpoint's
 * weights are checked against these before the model is built); a test compares the two.
 */
export function pixelCnnPlusPlusParameterShapes(config: PixelCnnPlusPlusConfig): Map<string, number[]> {
  const { channels: C, filters: F, resnets: R, numClasses: K, weightNorm } = config;
  const shapes = new Map<string, number[]>();
  const conv = (name: string, shape: number[], out = shape[0]) => {
    for (const [n, s] of layerWeightShapes(name, shape, weightNorm)) shapes.set(n, s);
    shapes.set(`${name}.bias`, [out]);
  };
  const resnet = (name: string, stream: Stream, skip: number) => {
    const kw = stream === 'u' ? 3 : 2;
    conv(`${name}.conv_input.conv`, [F, 2 * F, 2, kw]);
    if (skip > 0) conv(`${name}.nin_skip`, [F, 2 * skip * F, 1, 1]);
    conv(`${name}.conv_out.conv`, [2 * F, 2 * F, 2, kw]);
    if (K > 0) shapes.set(`${name}.cond.weight`, [K, 2 * F]);
  };
  const stage = (name: string, blocks: number, down: boolean) => {
    for (let j = 0; j < blocks; j++) resnet(`${name}.u_stream.${j}`, 'u', down ? 1 : 0);
    for (let j = 0; j < blocks; j++) resnet(`${name}.ul_stream.${j}`, 'ul', down ? 2 : 1);
  };
  for (let s = 0; s < RESOLUTIONS; s++) stage(`down_layers.${s}`, s === 0 ? R : R + 1, true);
  for (let s = 0; s < RESOLUTIONS; s++) stage(`up_layers.${s}`, R, false);
  for (let s = 0; s < RESOLUTIONS - 1; s++) conv(`downsize_u_stream.${s}.conv`, [F, F, 2, 3]);
  for (let s = 0; s < RESOLUTIONS - 1; s++) conv(`downsize_ul_stream.${s}.conv`, [F, F, 2, 2]);
  for (let s = 0; s < RESOLUTIONS - 1; s++) conv(`upsize_u_stream.${s}.deconv`, [F, F, 2, 3], F);
  for (let s = 0; s < RESOLUTIONS - 1; s++) conv(`upsize_ul_stream.${s}.deconv`, [F, F, 2, 2], F);
  conv('u_init.conv', [F, C + 1, 2, 3]);
  conv('ul_init.0.conv', [F, C + 1, 1, 3]);
  conv('ul_init.1.conv', [F, C + 1, 2, 1]);
  conv('nin_out', [outputChannels(config), F, 1, 1]);
  return shapes;
}
