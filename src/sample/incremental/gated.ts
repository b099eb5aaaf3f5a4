/**
 * Incremental evaluation of the Gated PixelCNN (src/models/gated-pixelcnn.ts); see network.ts for
 * the contract. The two stacks are evaluated on different schedules:
 *
 *  - Vertical stack, a whole row at a time. Before its shift the vertical stack at (r, c) reads
 *    rows ≤ r at every column (c + j to the right included), so row r of it is only computable
 *    once image row r is complete. The horizontal stack of row r reads it shifted down one row,
 *    i.e. row r − 1 only. So when generation enters row r (first logitsAt of the row), row r − 1
 *    of the vertical stack is computed for every layer, column and image:
 *
 *        vp_l(r−1, c) = vconv_l(v_{l−1} at rows r−1−k/2 … r−1)           (2h; v_{−1} = x)
 *        v_l (r−1, c) = gate(vp_l + e_l)  → vRing[l] (the last R rows)     (h; l < L − 1)
 *        vh_l(c)      = v2h_l(vp_l(r−1, c))  → vh[l] (B, W, 2h)            (row r's input)
 *
 *    That needs image rows ≤ r − 1 (all final) and the previous layer's v of rows ≤ r − 1 (just
 *    computed, or kept from earlier rows in a ring of R = max kernel/2 + 1 rows). Row 0 reads the
 *    shift's zero padding: vh = v2h's bias.
 *  - Horizontal stack, head and logits, one pixel at a time (all layers at that pixel):
 *
 *        pre  = hconv_l(hIn_l at columns c − k/2 … c of row r) + vh[l](c) + e_l      (2h)
 *        u    = tanh(pre_f)·σ(pre_g)                                                   (h)
 *        skip += skip_l(u);   hOut_l = res_l(u) (+ hIn_l(c) for l > 0) → hRow[l](c)     (h)
 *        logits of colour c = out2_c(ReLU(out1(ReLU(skip))))
 *
 *    hIn_0 is the input x itself; hIn_l = hOut_{l−1}, cached for the current row only (hRow[l],
 *    (B, W, h)), the 1×k convolution reading the earlier columns of that row and the current one.
 *    For C = 3 the pixel is recomputed per colour; the colour masks make every activation at the
 *    pixel independent of its last colour, so after the last colour the caches are final.
 *
 * Class conditioning: e_l = cond.l.weight[class] is added to both gates' pre-activations (not to
 * the vp fed to v2h, as in the model). Prefill (completion) runs the model's own forward (one
 * batched pass, observed through ForwardObserver) and copies from it: v_l of the complete rows
 * (ring), hOut_l of the first unobserved row's observed columns, and vh of that row from vp of the
 * row above.
 *
 * Cost: per image and colour about one forward pass (the vertical stack once per image, the
 * horizontal stack and head once per colour); no allocation per pixel or row.
 */
import { Tensor } from '../../tensor/tensor.js';
import { noGrad } from '../../tensor/autograd.js';
import type { GatedPixelCnn } from '../../models/gated-pixelcnn.js';
import { outputsPerColour } from '../../models/model.js';
import { kernels } from '../../backend/index.js';
import type { IncrementalNetwork } from './network.js';
import { packHead, packLayer, type PackedLayer } from './pack.js';
import { sigmoid } from '../../math/scalar.js';

export interface PackedGatedPixelCnn {
  C: number;
  h: number;
  d: number;
  layers: number;
  /** Output slots per colour (outputsPerColour): L (softmax), 1 (sigmoid) or the mixture's group. */
  perColour: number;
  /** Per layer: vstack.l.conv (taps dy ≤ 0), hstack.l.conv (dy = 0, dx ≤ 0), hstack.l.v2h. */
  vconv: PackedLayer[];
  hconv: PackedLayer[];
  v2h: PackedLayer[];
  /** hstack.l.res for l < L − 1. */
  res: PackedLayer[];
  skip: PackedLayer[];
  /** cond.l.weight (K, 2h) per layer, or null for an unconditional model. */
  cond: Float32Array[] | null;
  out1: PackedLayer;
  /** out2 split by colour: head[c] has the filters j·C + c, j < perColour. */
  head: PackedLayer[];
}

export function packGatedPixelCnn(model: GatedPixelCnn): PackedGatedPixelCnn {
  const c = model.config;
  return {
    C: c.channels, h: c.hidden, d: c.outHidden, layers: c.layers, perColour: outputsPerColour(c),
    vconv: model.layers.map((l) => packLayer(l.vconv)),
    hconv: model.layers.map((l) => packLayer(l.hconv)),
    v2h: model.layers.map((l) => packLayer(l.v2h)),
    res: model.layers.filter((l) => l.res).map((l) => packLayer(l.res!)),
    skip: model.layers.map((l) => packLayer(l.skip)),
    cond: c.numClasses > 0 ? model.layers.map((l) => Float32Array.from(l.cond!.data)) : null,
    out1: packLayer(model.out1),
    head: packHead(model.out2, c),
  };
}

/**
 * c (m, O) = bias + a (m, K) · w (K × O) through the backend's GEMM (the native one when loaded);
 * with `accumulate`, c += bias + a · w. Buffers may be longer than needed.
 */
function affine(l: PackedLayer, m: number, K: number, a: Float32Array, c: Float32Array, accumulate: boolean): void {
  const O = l.O, bias = l.bias;
  if (accumulate) {
    for (let r = 0; r < m; r++) for (let o = 0; o < O; o++) c[r * O + o] += bias[o];
  } else {
    for (let r = 0; r < m; r++) c.set(bias, r * O);
  }
  kernels().gemm(false, false, m, O, K, a, l.w, c, 1);
}

/** Row r of u (·, h) = tanh(f)·σ(g) of row r of pre (·, 2h), plus the class bias e (2h, at eOff) when given. */
function gateRow(pre: Float32Array, r: number, h: number, e: Float32Array | null, eOff: number, u: Float32Array, uOff: number): void {
  const p = r * 2 * h;
  for (let j = 0; j < h; j++) {
    let f = pre[p + j], g = pre[p + h + j];
    if (e) { f += e[eOff + j]; g += e[eOff + h + j]; }
    u[uOff + j] = Math.tanh(f) * sigmoid(g);
  }
}

export class GatedPixelCnnIncremental implements IncrementalNetwork {
  readonly channels: number;
  readonly outputsPerColour: number;
  readonly input: Float32Array;
  readonly packed: PackedGatedPixelCnn;
  /** Rows of the vertical stack kept: max kernel/2 + 1. */
  private readonly ringRows: number;
  /** Per layer l < L − 1: v_l of the last ringRows rows, (batch, ringRows, W, h), row q in slot q mod ringRows. */
  private readonly vRing: Float32Array[];
  /** Per layer: v2h_l(vp_l(row vhRow − 1)), (batch, W, 2h): the horizontal stack's vertical input for row vhRow. */
  private readonly vh: Float32Array[];
  /** Per layer l < L − 1: hOut_l of the current row, (batch, W, h). */
  private readonly hRow: Float32Array[];
  /** The row vh holds the input of; −1 before anything was computed. */
  private vhRow = -1;
  private classes: Int32Array | null = null;
  /** Scratch: gathered inputs (rows, taps·I), pre-activations (rows, 2h), gated (rows, h), … for rows = batch·W or batch. */
  private readonly gather: Float32Array;
  private readonly pre: Float32Array;
  private readonly u: Float32Array;
  private readonly t: Float32Array;
  private readonly skipSum: Float32Array;
  private readonly o1: Float32Array;

  constructor(private readonly model: GatedPixelCnn, readonly batch: number, readonly height: number, readonly width: number) {
    this.packed = packGatedPixelCnn(model);
    const p = this.packed, c = model.config, h = p.h, W = width;
    this.channels = p.C;
    this.outputsPerColour = p.perColour;
    this.input = new Float32Array(batch * p.C * height * width);
    this.ringRows = (Math.max(c.kernel, c.firstKernel) >> 1) + 1;
    const inner = p.layers - 1;
    this.vRing = Array.from({ length: inner }, () => new Float32Array(batch * this.ringRows * W * h));
    this.vh = Array.from({ length: p.layers }, () => new Float32Array(batch * W * 2 * h));
    this.hRow = Array.from({ length: inner }, () => new Float32Array(batch * W * h));
    const maxK = Math.max(...p.vconv.map((l) => l.dy.length * l.I), ...p.hconv.map((l) => l.dy.length * l.I), h, p.d);
    this.gather = new Float32Array(batch * W * maxK);
    this.pre = new Float32Array(batch * W * 2 * h);
    this.u = new Float32Array(batch * W * h);
    this.t = new Float32Array(batch * h);
    this.skipSum = new Float32Array(batch * h);
    this.o1 = new Float32Array(batch * p.d);
  }

  /**
   * Runs the model's forward on `input` and copies from it: v_l (vstack.l.gate) of the complete
   * rows still in the ring, hOut_l (hstack.l.res) of row r0's observed columns, and vh of row r0
   * from vp (vstack.l.conv) of row r0 − 1, through v2h as verticalRow computes it.
   */
  prefill(classes: Int32Array | null, pixels: number): void {
    const p = this.packed;
    if (p.cond) {
      if (!classes || classes.length !== this.batch) throw new Error(`cached sampler: the gated model is class-conditional: prefill needs ${this.batch} class labels`);
      this.classes = Int32Array.from(classes);
    }
    if (pixels <= 0) return;
    const B = this.batch, C = p.C, H = this.height, W = this.width, HW = H * W, h = p.h, h2 = 2 * h, R = this.ringRows;
    const r0 = Math.floor(pixels / W), c0 = pixels % W, vpRow = this.pre;
    // What to copy from which named activation (see GatedPixelCnn.forward).
    const copy = new Map<string, (src: Float32Array) => void>();
    for (let l = 0; l < p.layers; l++) {
      if (r0 > 0) copy.set(`vstack.${l}.conv`, (src) => {
        for (let b = 0; b < B; b++) for (let j = 0; j < h2; j++) {
          const plane = (b * h2 + j) * HW + (r0 - 1) * W;
          for (let c = 0; c < W; c++) vpRow[(b * W + c) * h2 + j] = src[plane + c];
        }
        affine(p.v2h[l], B * W, h2, vpRow, this.vh[l], false);
      });
      if (l === p.layers - 1) continue;
      const ring = this.vRing[l], hr = this.hRow[l];
      copy.set(`vstack.${l}.gate`, (src) => {
        for (let b = 0; b < B; b++) for (let j = 0; j < h; j++) {
          const plane = (b * h + j) * HW;
          for (let q = Math.max(0, r0 - R); q < r0; q++) {
            for (let c = 0; c < W; c++) ring[((b * R + q % R) * W + c) * h + j] = src[plane + q * W + c];
          }
        }
      });
      copy.set(`hstack.${l}.res`, (src) => {
        for (let b = 0; b < B; b++) for (let j = 0; j < h; j++) {
          const plane = (b * h + j) * HW + r0 * W;
          for (let c = 0; c < c0; c++) hr[(b * W + c) * h + j] = src[plane + c];
        }
      });
    }
    noGrad(() => {
      const x = new Tensor(Float32Array.from(this.input), [B, C, H, W]);
      this.model.forward(x, this.classes, (name, t) => copy.get(name)?.(t.data));
    });
    // Row 0 reads the shift's zero padding, which ensureRow fills in from vhRow = −1.
    if (r0 > 0) this.vhRow = r0;
  }

  /** Brings the vertical stack up to row r: vh holds the horizontal stack's input of row r. */
  private ensureRow(r: number): void {
    if (this.vhRow < 0) {
      // Row 0: the shifted vertical features are the zero padding, so v2h gives its bias.
      const p = this.packed, W = this.width, h2 = 2 * p.h;
      for (let l = 0; l < p.layers; l++) {
        const bias = p.v2h[l].bias, dst = this.vh[l];
        for (let bc = 0; bc < this.batch * W; bc++) dst.set(bias, bc * h2);
      }
      this.vhRow = 0;
    }
    while (this.vhRow < r) this.verticalRow(this.vhRow++);
  }

  /** Row q of the vertical stack, every layer, column and image; vh becomes row q + 1's input. */
  private verticalRow(q: number): void {
    const p = this.packed, B = this.batch, C = p.C, H = this.height, W = this.width, HW = H * W, h = p.h, h2 = 2 * h;
    const R = this.ringRows, slot = q % R, x = this.input, BW = B * W;
    const g = this.gather, vp = this.pre, cls = this.classes;
    for (let l = 0; l < p.layers; l++) {
      const vc = p.vconv[l], T = vc.dy.length, I = vc.I, K = T * I;
      const prev = l > 0 ? this.vRing[l - 1] : null, ring = l < p.layers - 1 ? this.vRing[l] : null;
      // Gather (B·W, taps·I): v_{l−1} (or x) at the live taps of every column of row q.
      for (let b = 0; b < B; b++) for (let c = 0; c < W; c++) {
        const rowAt = (b * W + c) * K;
        for (let ti = 0; ti < T; ti++) {
          const y = q + vc.dy[ti], xx = c + vc.dx[ti], at = rowAt + ti * I;
          if (y < 0 || xx < 0 || xx >= W) { g.fill(0, at, at + I); continue; }
          if (prev) {
            const s = ((b * R + y % R) * W + xx) * h;
            for (let i = 0; i < I; i++) g[at + i] = prev[s + i];
          } else {
            for (let i = 0; i < C; i++) g[at + i] = x[(b * C + i) * HW + y * W + xx];
          }
        }
      }
      affine(vc, BW, K, g, vp, false);
      if (ring) {
        const e = p.cond ? p.cond[l] : null;
        for (let b = 0; b < B; b++) {
          const eOff = e ? cls![b] * h2 : 0;
          for (let c = 0; c < W; c++) gateRow(vp, b * W + c, h, e, eOff, ring, ((b * R + slot) * W + c) * h);
        }
      }
      affine(p.v2h[l], BW, h2, vp, this.vh[l], false);
    }
  }

  logitsAt(pixel: number, colour: number, out: Float32Array): void {
    const p = this.packed, B = this.batch, C = p.C, W = this.width, HW = this.height * W, h = p.h, h2 = 2 * h;
    const r = Math.floor(pixel / W), c = pixel % W;
    this.ensureRow(r);
    const g = this.gather, pre = this.pre, u = this.u, t = this.t, s = this.skipSum, o1 = this.o1;
    const x = this.input, cls = this.classes, last = p.layers - 1;
    for (let l = 0; l <= last; l++) {
      const hc = p.hconv[l], T = hc.dy.length, I = hc.I, K = T * I, prev = l > 0 ? this.hRow[l - 1] : null;
      // Gather (B, taps·I): hIn at columns c + dx (dy = 0, dx ≤ 0) of row r.
      for (let b = 0; b < B; b++) for (let ti = 0; ti < T; ti++) {
        const xx = c + hc.dx[ti], at = b * K + ti * I;
        if (xx < 0) { g.fill(0, at, at + I); continue; }
        if (prev) {
          const src = (b * W + xx) * h;
          for (let i = 0; i < I; i++) g[at + i] = prev[src + i];
        } else {
          for (let i = 0; i < C; i++) g[at + i] = x[(b * C + i) * HW + r * W + xx];
        }
      }
      affine(hc, B, K, g, pre, false);
      const vh = this.vh[l], e = p.cond ? p.cond[l] : null;
      for (let b = 0; b < B; b++) {
        const vo = (b * W + c) * h2, po = b * h2;
        for (let j = 0; j < h2; j++) pre[po + j] += vh[vo + j];
        gateRow(pre, b, h, e, e ? cls![b] * h2 : 0, u, b * h);
      }
      affine(p.skip[l], B, h, u, s, l > 0);
      if (l < last) {
        affine(p.res[l], B, h, u, t, false);
        const hr = this.hRow[l];
        for (let b = 0; b < B; b++) {
          const d = (b * W + c) * h, to = b * h;
          if (prev) for (let j = 0; j < h; j++) hr[d + j] = prev[d + j] + t[to + j];
          else for (let j = 0; j < h; j++) hr[d + j] = t[to + j];
        }
      }
    }
    for (let i = 0; i < B * h; i++) if (!(s[i] > 0)) s[i] = 0;
    affine(p.out1, B, h, s, o1, false);
    for (let i = 0; i < B * p.d; i++) if (!(o1[i] > 0)) o1[i] = 0;
    affine(p.head[colour], B, p.d, o1, out, false);
  }
}
