/**
 * Incremental evaluation of PixelCNN++ (src/models/pixelcnn-plus-plus.ts); see network.ts for the
 * contract. This network cannot be evaluated one pixel at a time through all its layers as the
 * masked ones are: u at (r, c) reads u of row r at columns to the right (computable once row r − 1
 * of the image is complete), and a stride-2 output reads a window of full-resolution positions
 * that become final at different pixels. So every position of every activation is scheduled by
 * its ready time:
 *
 *  - A node is an activation the forward computes: the input planes [2x − 1, 1], u_init, ul_init,
 *    each gated block's c1 = conv_input(concat_elu(x)) (+ nin_skip(concat_elu(a))) and its output
 *    glu(conv_out(concat_elu(c1)) + e) + x, each stride-2 and transposed layer. Its ready time at a
 *    position is the last pixel (raster index) its receptive field reads, −1 for none: the input
 *    at pixel (r, c) is ready at r·W + c; an output is the maximum over its window's input
 *    positions (zero padding and shifted-in zeros read nothing); a stride-2 output (r′, c′) reads
 *    the full-resolution window around (2r′, 2c′), a transposed one the low-resolution positions
 *    of its taps that land on even rows and columns. Built once per image size, in the forward's
 *    order, which is topological.
 *  - After pixel t is sampled (all colours), step(t) computes, node by node in that order, exactly
 *    the positions ready at t, for the whole batch: per term one gather of the window into rows
 *    (position, image) and one GEMM, reading the full buffers of earlier nodes. Every position of
 *    every node is computed once, so an image costs about one forward pass (the stride-2 layers a
 *    quarter of the full-resolution convolution the forward subsamples).
 *  - logitsAt(p, c) runs the steps up to p − 1 and applies nin_out to elu(ul) at p, whose ready
 *    time is below p (checked when the schedule is built). Nothing at p reads p's own colours, so
 *    every colour of p reads the same features; only the head's filters differ.
 *
 * Buffers are (batch, positions, channels) per node: `raw` where something reads the value itself
 * (a residual, a stride-2 or transposed convolution), `ce` = concat_elu = [elu(v), elu(−v)] where a
 * convolution reads it through concat_elu (computed once per position, not once per tap; its first
 * half is the head's elu(ul)). Prefill (completion) runs the model's own forward with an observer
 * and copies every observed node (u_init, ul_init, block outputs, resampling layers) at the
 * positions ready before the first unobserved pixel; the input planes and c1, which the forward
 * does not observe, are then computed from them at those positions.
 */
import { Tensor } from '../../tensor/tensor.js';
import { noGrad } from '../../tensor/autograd.js';
import type { PixelCnnPlusPlus } from '../../models/pixelcnn-plus-plus.js';
import { outputsPerColour } from '../../models/model.js';
import { kernels } from '../../backend/index.js';
import type { IncrementalNetwork } from './network.js';
import { packHead, packLayer, type PackedLayer } from './pack.js';
import { elu } from '../../math/scalar.js';

/** How a term's window maps an output position to its source: same resolution, stride 2, or transposed stride 2. */
type Mode = 'same' | 'down2' | 'up2';

/** A convolution feeding a node: packed weights, what it reads and where. */
interface Term {
  readonly layer: PackedLayer;
  /** Read as one tensor concatenated along channels (all of one resolution). */
  readonly sources: readonly Node[];
  /** 'ce': the convolution reads concat_elu of the concatenated sources; 'raw': the values. */
  readonly form: 'raw' | 'ce';
  /** (positions, taps): the source position each live tap reads at each output position, or −1 (zero). */
  readonly src: Int32Array;
  /** (positions): 0 where the term's shift leaves nothing (not even its bias). */
  readonly live: Uint8Array;
}

interface Node {
  /** The forward's observer name, or '' where the forward does not observe it. */
  readonly name: string;
  readonly kind: 'input' | 'sum' | 'gated';
  readonly H: number;
  readonly W: number;
  /** Channels of the node's value (a gated node's terms produce 2·ch). */
  readonly ch: number;
  readonly terms: readonly Term[];
  /** gated: the block input added after the gate, and the class embedding (K, 2·ch) or null. */
  readonly residual: Node | null;
  readonly cond: Float32Array | null;
  readonly ready: Int32Array;
  needRaw: boolean;
  needCe: boolean;
  /** (batch, H·W, ch) and (batch, H·W, 2·ch); empty where not read. */
  raw: Float32Array;
  ce: Float32Array;
  /** Positions by ready time: order[first[t + 1] .. first[t + 2]) are ready at t (−1 ≤ t < pixels). */
  order: Int32Array;
  first: Int32Array;
}

type Model = PixelCnnPlusPlus;
type Block = Model['up'][number]['u'][number];
type Shifted = Model['uInit'];

const EMPTY = new Float32Array(0);

/** A term's source positions and liveness over an H×W output; shift = the forward's shift(conv, down, right). */
function makeTerm(layer: PackedLayer, sources: Node[], form: 'raw' | 'ce', mode: Mode, H: number, W: number,
                  down = 0, right = 0): Term {
  const Hs = sources[0].H, Ws = sources[0].W, T = layer.dy.length;
  const channels = sources.reduce((n, s) => n + s.ch, 0);
  if (sources.some((s) => s.H !== Hs || s.W !== Ws) || layer.I !== (form === 'ce' ? 2 : 1) * channels) {
    throw new Error(`PixelCNN++ cached sampler: a layer of ${layer.I} inputs does not fit its sources (internal error)`);
  }
  const src = new Int32Array(H * W * T).fill(-1), live = new Uint8Array(H * W);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    const p = y * W + x, y0 = y - down, x0 = x - right;
    if (y0 < 0 || x0 < 0) continue;
    live[p] = 1;
    for (let t = 0; t < T; t++) {
      let sy = y0 + layer.dy[t], sx = x0 + layer.dx[t];
      if (mode === 'down2') {
        sy = 2 * y0 + layer.dy[t]; sx = 2 * x0 + layer.dx[t];
      } else if (mode === 'up2') {
        // The transposed convolution reads the zero-interleaved input, cropped to H × W.
        if (sy < 0 || sx < 0 || sy >= H || sx >= W || sy % 2 !== 0 || sx % 2 !== 0) continue;
        sy /= 2; sx /= 2;
      }
      if (sy >= 0 && sx >= 0 && sy < Hs && sx < Ws) src[p * T + t] = sy * Ws + sx;
    }
  }
  for (const s of sources) {
    if (form === 'ce') s.needCe = true;
    else s.needRaw = true;
  }
  return { layer, sources, form, src, live };
}

/**
 * pre (rows, O) += the term's convolution at positions[from .. from + n) of every image (row
 * k·B + b), its bias where the term is live: the sources (or their concat_elu) at the live taps
 * gathered into g (rows, taps·I), then one GEMM.
 */
function convAt(t: Term, positions: Int32Array, from: number, n: number, B: number, g: Float32Array, pre: Float32Array): void {
  const l = t.layer, T = l.dy.length, I = l.I, K = T * I, O = l.O, bias = l.bias, sources = t.sources;
  const ce = t.form === 'ce', half = ce ? I / 2 : I;
  for (let k = 0; k < n; k++) {
    const p = positions[from + k], live = t.live[p] === 1;
    for (let b = 0; b < B; b++) {
      const row = k * B + b;
      if (live) for (let o = 0, at = row * O; o < O; o++) pre[at + o] += bias[o];
      for (let ti = 0; ti < T; ti++) {
        const sp = t.src[p * T + ti], at = row * K + ti * I;
        if (sp < 0) { g.fill(0, at, at + I); continue; }
        let off = at;
        for (let si = 0; si < sources.length; si++) {
          const s = sources[si], ch = s.ch, q = b * s.H * s.W + sp;
          if (ce) {
            // concat_elu of a concatenation: [elu(v) of every source, then elu(−v) of every source].
            const c = s.ce, base = q * 2 * ch;
            for (let i = 0; i < ch; i++) { g[off + i] = c[base + i]; g[off + half + i] = c[base + ch + i]; }
          } else {
            const r = s.raw, base = q * ch;
            for (let i = 0; i < ch; i++) g[off + i] = r[base + i];
          }
          off += ch;
        }
      }
    }
  }
  kernels().gemm(false, false, n * B, O, K, g, l.w, pre, 1);
}

/** Writes v (rounded to float32, as the forward stores it) as channel j of image b at position p: raw and concat_elu. */
function store(node: Node, b: number, p: number, j: number, v: number): void {
  v = Math.fround(v);
  const q = b * node.H * node.W + p, ch = node.ch;
  if (node.needRaw) node.raw[q * ch + j] = v;
  if (node.needCe) {
    const at = q * 2 * ch + j;
    node.ce[at] = elu(v);
    node.ce[at + ch] = elu(-v);
  }
}

/**
 * The gated block's epilogue at the rows of positions[from .. from + n): with (a, g) = pre + the
 * image's class embedding, v = a·σ(g) + x (the block input at the same position).
 */
function gateAt(node: Node, positions: Int32Array, from: number, n: number, B: number, pre: Float32Array, classes: Int32Array | null): void {
  const F = node.ch, x = node.residual!, xr = x.raw, e = node.cond, HW = node.H * node.W;
  for (let k = 0; k < n; k++) {
    const p = positions[from + k];
    for (let b = 0; b < B; b++) {
      const at = (k * B + b) * 2 * F, eOff = e ? classes![b] * 2 * F : 0, xOff = (b * HW + p) * F;
      for (let j = 0; j < F; j++) {
        let a = pre[at + j], s = pre[at + F + j];
        if (e) { a = Math.fround(a + e[eOff + j]); s = Math.fround(s + e[eOff + F + j]); }
        store(node, b, p, j, a / (1 + Math.exp(-s)) + xr[xOff + j]);
      }
    }
  }
}

export class PixelCnnPlusPlusIncremental implements IncrementalNetwork {
  readonly channels: number;
  readonly outputsPerColour: number;
  readonly input: Float32Array;
  /** Every node in the forward's (topological) order. */
  private readonly nodes: Node[] = [];
  /** The last ul, which the head reads. */
  private readonly final: Node;
  private readonly head: PackedLayer[];
  /** Most positions one node computes in one step: the scratch's row capacity is batch · cap. */
  private readonly cap: number;
  private readonly gather: Float32Array;
  private readonly pre: Float32Array;
  private classes: Int32Array | null = null;
  /** Steps run so far: every position ready at t ≤ done is computed (−2: none, not even t = −1). */
  private done = -2;

  constructor(private readonly model: Model, readonly batch: number, readonly height: number, readonly width: number) {
    const c = model.config, F = c.filters, S = model.up.length;
    this.channels = c.channels;
    this.outputsPerColour = outputsPerColour(c);
    this.input = new Float32Array(batch * c.channels * height * width);
    const sizes: [number, number][] = [[height, width]];
    for (let s = 1; s < S; s++) sizes.push([Math.ceil(sizes[s - 1][0] / 2), Math.ceil(sizes[s - 1][1] / 2)]);

    // The graph, mirroring PixelCnnPlusPlus.forward.
    this.final = noGrad(() => {
      const conv = (l: Shifted, sources: Node[], form: 'raw' | 'ce', mode: Mode, [H, W]: [number, number], down = 0, right = 0) =>
        makeTerm(packLayer(l.placed()), sources, form, mode, H, W, down, right);
      const block = (b: Block, x: Node, a: Node[], size: [number, number]): Node => {
        const terms = [conv(b.convInput, [x], 'ce', 'same', size)];
        if (a.length > 0) terms.push(makeTerm(packLayer(b.ninSkip!), a, 'ce', 'same', ...size));
        const c1 = this.node('', 'sum', size, F, terms);
        return this.node(b.name, 'gated', size, F, [conv(b.convOut, [c1], 'ce', 'same', size)], x,
          b.cond ? Float32Array.from(b.cond.data) : null);
      };
      const xin = this.node('', 'input', sizes[0], c.channels + 1, []);
      let u = this.node('u_init', 'sum', sizes[0], F, [conv(model.uInit, [xin], 'raw', 'same', sizes[0], 1, 0)]);
      let ul = this.node('ul_init', 'sum', sizes[0], F, [
        conv(model.ulInit[0], [xin], 'raw', 'same', sizes[0], 1, 0), conv(model.ulInit[1], [xin], 'raw', 'same', sizes[0], 0, 1)]);
      const us = [u], uls = [ul];
      for (let s = 0; s < S; s++) {
        const stage = model.up[s];
        for (let j = 0; j < stage.u.length; j++) {
          u = block(stage.u[j], u, [], sizes[s]);
          ul = block(stage.ul[j], ul, [u], sizes[s]);
          us.push(u); uls.push(ul);
        }
        if (s < S - 1) {
          u = this.node(`downsize_u_stream.${s}`, 'sum', sizes[s + 1], F, [conv(model.downsizeU[s], [u], 'raw', 'down2', sizes[s + 1])]);
          ul = this.node(`downsize_ul_stream.${s}`, 'sum', sizes[s + 1], F, [conv(model.downsizeUl[s], [ul], 'raw', 'down2', sizes[s + 1])]);
          us.push(u); uls.push(ul);
        }
      }
      u = us.pop()!; ul = uls.pop()!;
      for (let s = 0; s < S; s++) {
        const stage = model.down[s], size = sizes[S - 1 - s];
        for (let j = 0; j < stage.u.length; j++) {
          u = block(stage.u[j], u, [us.pop()!], size);
          ul = block(stage.ul[j], ul, [u, uls.pop()!], size);
        }
        if (s < S - 1) {
          const to = sizes[S - 2 - s];
          u = this.node(`upsize_u_stream.${s}`, 'sum', to, F, [conv(model.upsizeU[s], [u], 'raw', 'up2', to)]);
          ul = this.node(`upsize_ul_stream.${s}`, 'sum', to, F, [conv(model.upsizeUl[s], [ul], 'raw', 'up2', to)]);
        }
      }
      return ul;
    });
    this.final.needCe = true;
    this.head = packHead(model.ninOut, c);
    const HW = height * width;
    for (let p = 0; p < HW; p++) {
      if (this.final.ready[p] >= p) {
        throw new Error(`PixelCNN++ cached sampler: the features of pixel ${p} read pixel ${this.final.ready[p]} (internal error: not autoregressive)`);
      }
    }

    // Schedules (a counting sort of positions by ready time) and buffers.
    let cap = 1, maxK = F, maxO = 1;
    for (const node of this.nodes) {
      const n = node.H * node.W, first = new Int32Array(HW + 2), order = new Int32Array(n);
      for (let p = 0; p < n; p++) first[node.ready[p] + 2]++;
      for (let t = 0; t <= HW; t++) {
        cap = Math.max(cap, first[t + 1]);
        first[t + 1] += first[t];
      }
      const next = first.slice(0, HW + 1);
      for (let p = 0; p < n; p++) order[next[node.ready[p] + 1]++] = p;
      node.order = order; node.first = first;
      if (node.needRaw) node.raw = new Float32Array(batch * n * node.ch);
      if (node.needCe) node.ce = new Float32Array(batch * n * 2 * node.ch);
      for (const t of node.terms) { maxK = Math.max(maxK, t.layer.dy.length * t.layer.I); maxO = Math.max(maxO, t.layer.O); }
    }
    this.cap = cap;
    this.gather = new Float32Array(batch * cap * maxK);
    this.pre = new Float32Array(batch * cap * maxO);
  }

  /** Adds a node with its ready times: the maximum over its terms' live windows (and its residual) of its sources' ready times. */
  private node(name: string, kind: Node['kind'], [H, W]: [number, number], ch: number, terms: Term[],
               residual: Node | null = null, cond: Float32Array | null = null): Node {
    const ready = new Int32Array(H * W).fill(-1);
    if (kind === 'input') {
      for (let p = 0; p < H * W; p++) ready[p] = p;
    }
    for (const t of terms) {
      const T = t.layer.dy.length;
      for (let p = 0; p < H * W; p++) {
        if (!t.live[p]) continue;
        let r = ready[p];
        for (let ti = 0; ti < T; ti++) {
          const sp = t.src[p * T + ti];
          if (sp >= 0) for (const s of t.sources) r = Math.max(r, s.ready[sp]);
        }
        ready[p] = r;
      }
    }
    if (residual) {
      residual.needRaw = true;
      for (let p = 0; p < H * W; p++) ready[p] = Math.max(ready[p], residual.ready[p]);
    }
    const node: Node = {
      name, kind, H, W, ch, terms, residual, cond, ready, needRaw: kind === 'input', needCe: false,
      raw: EMPTY, ce: EMPTY, order: new Int32Array(0), first: new Int32Array(0),
    };
    this.nodes.push(node);
    return node;
  }

  /**
   * Runs the model's forward on `input`, copies every observed node at its positions ready before
   * pixel `pixels`, then computes the others (the input planes, c1) there from them.
   */
  prefill(classes: Int32Array | null, pixels: number): void {
    if (this.model.config.numClasses > 0) {
      if (!classes || classes.length !== this.batch) throw new Error(`cached sampler: the PixelCNN++ model is class-conditional: prefill needs ${this.batch} class labels`);
      this.classes = Int32Array.from(classes);
    }
    this.done = -2;
    if (pixels <= 0) return;
    const B = this.batch, C = this.channels, H = this.height, W = this.width, last = pixels - 1;
    const upTo = (node: Node) => node.first[last + 2];
    const observed = new Map(this.nodes.filter((n) => n.name !== '').map((n) => [n.name, n]));
    noGrad(() => {
      const x = new Tensor(Float32Array.from(this.input), [B, C, H, W]);
      this.model.forward(x, this.classes, (name, t) => {
        const node = observed.get(name);
        if (!node) return;
        const src = t.data, HW = node.H * node.W, ch = node.ch, n = upTo(node);
        for (let k = 0; k < n; k++) {
          const p = node.order[k];
          for (let b = 0; b < B; b++) for (let j = 0; j < ch; j++) store(node, b, p, j, src[(b * ch + j) * HW + p]);
        }
      });
    });
    for (const node of this.nodes) if (node.name === '') this.evaluate(node, 0, upTo(node));
    this.done = last;
  }

  logitsAt(pixel: number, colour: number, out: Float32Array): void {
    while (this.done < pixel - 1) this.step(++this.done);
    const B = this.batch, u = this.final, F = u.ch, HW = u.H * u.W, g = this.gather, head = this.head[colour], P = head.O;
    for (let b = 0; b < B; b++) {
      const base = (b * HW + pixel) * 2 * F;
      for (let j = 0; j < F; j++) g[b * F + j] = u.ce[base + j]; // elu(ul)
      out.set(head.bias, b * P);
    }
    kernels().gemm(false, false, B, P, F, g, head.w, out, 1);
  }

  /** Computes every node's positions ready at pixel t (t = −1: those that read no pixel). */
  private step(t: number): void {
    for (const node of this.nodes) this.evaluate(node, node.first[t + 1], node.first[t + 2]);
  }

  /** Computes node at positions order[from .. to), for every image, in chunks of the scratch's capacity. */
  private evaluate(node: Node, from: number, to: number): void {
    const B = this.batch, positions = node.order;
    for (let a = from; a < to; a += this.cap) {
      const n = Math.min(to - a, this.cap);
      if (node.kind === 'input') {
        const x = this.input, C = this.channels, HW = node.H * node.W;
        for (let k = 0; k < n; k++) {
          const p = positions[a + k];
          for (let b = 0; b < B; b++) {
            for (let i = 0; i < C; i++) store(node, b, p, i, 2 * x[(b * C + i) * HW + p] - 1);
            store(node, b, p, C, 1); // the plane of ones that tells the image from the zero padding
          }
        }
        continue;
      }
      const pre = this.pre, O = node.terms[0].layer.O;
      pre.fill(0, 0, n * B * O);
      for (const t of node.terms) convAt(t, positions, a, n, B, this.gather, pre);
      if (node.kind === 'gated') {
        gateAt(node, positions, a, n, B, pre, this.classes);
      } else {
        for (let k = 0; k < n; k++) {
          const p = positions[a + k];
          for (let b = 0; b < B; b++) for (let j = 0, at = (k * B + b) * O; j < O; j++) store(node, b, p, j, pre[at + j]);
        }
      }
    }
  }
}
