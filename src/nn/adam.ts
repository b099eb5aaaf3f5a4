import type { Tensor } from '../tensor/tensor.js';

export interface AdamOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** L2 penalty added to the gradient (as torch.optim.Adam's weight_decay and chainer's WeightDecay hook). */
  weightDecay: number;
  /** Clip the global gradient norm to this value; 0 disables clipping. */
  clipNorm: number;
}

export const defaultAdamOptions: AdamOptions = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, clipNorm: 1.0 };

/** Serializable optimiser state: moments per parameter name and the step count. */
export interface AdamState {
  step: number;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
}

/** Adam (Kingma & Ba 2015) over named parameters, with global-norm gradient clipping. */
export class Adam {
  readonly options: AdamOptions;
  readonly params: Map<string, Tensor>;
  state: AdamState;

  constructor(params: Map<string, Tensor>, options: Partial<AdamOptions> = {}) {
    this.options = { ...defaultAdamOptions, ...options };
    this.params = params;
    this.state = { step: 0, m: new Map(), v: new Map() };
    for (const [name, p] of params) {
      this.state.m.set(name, new Float32Array(p.size));
      this.state.v.set(name, new Float32Array(p.size));
    }
  }

  /** The global L2 norm of all gradients (before clipping). */
  gradNorm(): number {
    let s = 0;
    for (const p of this.params.values()) {
      const g = p.grad;
      if (!g) continue;
      for (let i = 0; i < g.length; i++) s += g[i] * g[i];
    }
    return Math.sqrt(s);
  }

  /** One update with learning rate lr (defaults to options.lr); returns the pre-clip gradient norm. */
  step(lr = this.options.lr): number {
    const { beta1, beta2, eps, weightDecay, clipNorm } = this.options;
    const norm = this.gradNorm();
    if (!Number.isFinite(norm)) throw new Error(`Adam: gradient norm is ${norm}; training diverged (lower the learning rate)`);
    const scale = clipNorm > 0 && norm > clipNorm ? clipNorm / norm : 1;
    const t = ++this.state.step;
    const c1 = 1 - Math.pow(beta1, t), c2 = 1 - Math.pow(beta2, t);
    const stepSize = lr / c1;
    for (const [name, p] of this.params) {
      const g = p.grad;
      if (!g) continue;
      const m = this.state.m.get(name)!, v = this.state.v.get(name)!, w = p.data;
      for (let i = 0; i < w.length; i++) {
        const gi = g[i] * scale + weightDecay * w[i];
        m[i] = beta1 * m[i] + (1 - beta1) * gi;
        v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
        w[i] -= stepSize * m[i] / (Math.sqrt(v[i] / c2) + eps);
      }
    }
    return norm;
  }

  zeroGrad(): void {
    for (const p of this.params.values()) p.zeroGrad();
  }

  /** Replaces the state (resume); checks that every parameter has moments of the right size. */
  loadState(state: AdamState): void {
    for (const [name, p] of this.params) {
      const m = state.m.get(name), v = state.v.get(name);
      if (!m || !v) throw new Error(`Adam.loadState: no moments for parameter '${name}'`);
      if (m.length !== p.size || v.length !== p.size) {
        throw new Error(`Adam.loadState: moments for '${name}' have ${m.length}/${v.length} values, parameter has ${p.size}`);
      }
    }
    this.state = state;
  }
}
