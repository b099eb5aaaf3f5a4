/**
 * Model configs: every architecture's config type and defaults, the declarative description of
 * their fields (ConfigSpec), the ModelConfig union over `arch`, and the one parser that turns an
 * untyped object into a typed config. The same parser reads a library caller's object, a
 * checkpoint's config.json and the CLI's flags; only the way a key is named in messages differs
 * (`hidden`, `"model.hidden"`, `--hidden`). Model files import their config from here (and
 * re-export it), so this module imports nothing and every layer above can name ModelConfig.
 */

/** What every architecture shares: the data it models and how its outputs are read. */
export interface BaseModelConfig {
  /** Colours per pixel: 1 (gray) or 3 (RGB, modelled R → G → B). */
  channels: 1 | 3;
  /** Levels per colour value (2 for binary images, 256 for 8-bit). */
  levels: number;
  /**
   * 'softmax': L logits per colour (filter o = k·C + c). 'sigmoid': one logit per colour, L = 2
   * only. 'logistic-mixture': a mixture of `mixtures` discretised logistics per pixel (PixelCNN++),
   * L ≥ 3; its output layout is mixtureLayout in src/ops/logistic-mixture.ts.
   */
  likelihood: 'softmax' | 'sigmoid' | 'logistic-mixture';
  /**
   * K: components of the logistic mixture. Only the mixture likelihood reads it; with any other
   * likelihood it stays at its default. Optional in config.json (checkpoints written before it
   * existed load with the default).
   */
  mixtures: number;
  /** Image size the model was trained for (the network itself is fully convolutional). */
  height: number;
  width: number;
  /** Number of classes for class-conditional models; 0 = unconditional. */
  numClasses: number;
}

/**
 * One field of a config: an integer in a range (optionally odd or even), a number in a range, or
 * one of a few values. An `optional` field may be missing even where every field is required
 * (config.json): it was added after checkpoints were written, and those load with the
 * architecture's default.
 */
export type FieldSpec = (
  | { kind: 'int'; min: number | 'channels'; max: number; parity?: 'odd' | 'even' }
  | { kind: 'float'; min: number; max: number }
  | { kind: 'choice'; values: readonly (string | number | boolean)[] }
) & { optional?: boolean };

/**
 * How to parse one architecture's config: its fields beyond BaseModelConfig's, its defaults, and
 * the rules that relate fields (returning a message, or null when the config is fine).
 */
export interface ConfigSpec<C extends BaseModelConfig & { arch: string }> {
  arch: C['arch'];
  /** Human name used in messages, e.g. 'PixelCNN'. */
  title: string;
  fields: { [K in Exclude<keyof C, keyof BaseModelConfig | 'arch'>]: FieldSpec };
  defaults: C;
  rules?: (c: C, name: (key: string) => string) => string | null;
}

export const BASE_FIELDS: { [K in keyof BaseModelConfig]: FieldSpec } = {
  channels: { kind: 'choice', values: [1, 3] },
  levels: { kind: 'int', min: 2, max: 256 },
  likelihood: { kind: 'choice', values: ['softmax', 'sigmoid', 'logistic-mixture'] },
  mixtures: { kind: 'int', min: 1, max: 64, optional: true },
  height: { kind: 'int', min: 1, max: 4096 },
  width: { kind: 'int', min: 1, max: 4096 },
  numClasses: { kind: 'int', min: 0, max: 1000 },
};

/** A config (or flag) value that is missing, unknown or out of range. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface ParseOptions {
  /** Prefix of every message, e.g. 'PixelCNN config' or a config.json path. */
  where?: string;
  /** How a key is named in messages (default: as is). */
  name?: (key: string) => string;
  /** Fill missing fields from the architecture's defaults (library callers); otherwise every field is required (config.json). */
  defaults?: boolean;
}

const show = (v: unknown): string => JSON.stringify(v) ?? String(v);
/** A key or an architecture's name, as the user wrote it. */
const quote = (v: unknown): string => (typeof v === 'string' ? `'${v}'` : show(v));

/** The closest known key to a misspelt one, if it is close (at most two edits). */
function closest(key: string, known: string[]): string | null {
  let best: string | null = null, bestD = 3;
  for (const k of known) {
    const a = key.toLowerCase(), b = k.toLowerCase();
    const d = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      let prev = d[0];
      d[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const t = d[j];
        d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
        prev = t;
      }
    }
    if (d[b.length] < bestD) { bestD = d[b.length]; best = k; }
  }
  return best;
}

function checkField(spec: FieldSpec, v: unknown, got: Record<string, unknown>): string | null {
  if (spec.kind === 'choice') {
    return spec.values.includes(v as string | number | boolean) ? null : `must be ${spec.values.map(show).join(' or ')}, got ${show(v)}`;
  }
  if (spec.kind === 'float') {
    return typeof v === 'number' && Number.isFinite(v) && v >= spec.min && v <= spec.max ? null : `must be a number in [${spec.min}, ${spec.max}], got ${show(v)}`;
  }
  const min = spec.min === 'channels' ? Number(got.channels) : spec.min;
  const ok = typeof v === 'number' && Number.isInteger(v) && v >= min && v <= spec.max &&
    (spec.parity === undefined || Math.abs(v % 2) === (spec.parity === 'odd' ? 1 : 0));
  if (ok) return null;
  const kind = spec.parity ? `an ${spec.parity} integer` : 'an integer';
  const why = spec.min === 'channels' ? ' (at least one filter per colour)' : '';
  return `must be ${kind} in [${min}, ${spec.max}]${why}, got ${show(v)}`;
}

/**
 * Parses `raw` as a config of `spec`'s architecture: rejects keys the architecture does not have
 * (naming the closest known one), missing keys (unless `defaults`), and values of the wrong type
 * or range, with a message that names the key. Returns a fresh object with exactly the spec's keys.
 */
export function parseConfig<C extends BaseModelConfig & { arch: string }>(spec: ConfigSpec<C>, raw: unknown, o: ParseOptions = {}): C {
  const name = o.name ?? ((k: string) => k);
  const fail = (msg: string): never => { throw new ConfigError(o.where ? `${o.where}: ${msg}` : msg); };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(`the model config must be an object, got ${show(raw)}`);
  const input = raw as Record<string, unknown>;
  if (input.arch !== spec.arch) fail(`${name('arch')} must be '${spec.arch}', got ${quote(input.arch)}`);
  const fields: Record<string, FieldSpec> = { ...BASE_FIELDS, ...spec.fields };
  const known = ['arch', ...Object.keys(fields)];
  for (const k of Object.keys(input)) {
    if (known.includes(k)) continue;
    const near = closest(k, known);
    fail(`unknown key ${quote(k)} in the ${spec.title} config${near ? ` (did you mean '${near}'?)` : ''}; known keys: ${known.join(', ')}`);
  }
  const out: Record<string, unknown> = { arch: spec.arch };
  const defaults = new Map<string, unknown>(Object.entries(spec.defaults));
  for (const [k, f] of Object.entries(fields)) {
    let v = input[k];
    if (v === undefined) {
      if (!o.defaults && !f.optional) fail(`${name(k)} is missing`);
      v = defaults.get(k);
    }
    out[k] = v;
    const problem = checkField(f, v, out);
    if (problem) fail(`${name(k)} ${problem}`);
  }
  const c = out as C;
  if (c.likelihood === 'sigmoid' && c.levels !== 2) fail(`the sigmoid likelihood needs ${name('levels')} = 2, got ${c.levels}`);
  if (c.likelihood === 'logistic-mixture' && c.levels < 3) {
    fail(`the logistic-mixture likelihood needs ${name('levels')} ≥ 3, got ${c.levels} (for binary images use ${name('likelihood')} softmax or sigmoid)`);
  }
  // One config per model: K means nothing to the other likelihoods, so it keeps its default there.
  if (c.likelihood !== 'logistic-mixture' && c.mixtures !== spec.defaults.mixtures) {
    fail(`${name('mixtures')} applies only to the logistic-mixture likelihood, not ${name('likelihood')} '${c.likelihood}'`);
  }
  const problem = spec.rules?.(c, name) ?? null;
  if (problem) fail(problem);
  return c;
}

// ---------------------------------------------------------------------------------------------
// The architectures (diagrams and papers: src/models/pixelcnn.ts, src/models/gated-pixelcnn.ts,
// src/models/pixelcnn-plus-plus.ts)

export interface PixelCnnConfig extends BaseModelConfig {
  arch: 'pixelcnn';
  /** h: hidden filters. */
  hidden: number;
  /** d: filters of the output head's hidden layer. */
  outHidden: number;
  /** R: residual blocks. */
  blocks: number;
}

export const defaultPixelCnnConfig: PixelCnnConfig = {
  arch: 'pixelcnn', channels: 1, levels: 256, likelihood: 'softmax', mixtures: 10, height: 28, width: 28,
  numClasses: 0, hidden: 128, outHidden: 32, blocks: 7,
};

export const pixelCnnSpec: ConfigSpec<PixelCnnConfig> = {
  arch: 'pixelcnn',
  title: 'PixelCNN',
  fields: {
    hidden: { kind: 'int', min: 2, max: 4096, parity: 'even' },
    outHidden: { kind: 'int', min: 1, max: 4096 },
    blocks: { kind: 'int', min: 0, max: 256 },
  },
  defaults: defaultPixelCnnConfig,
  rules: (c, name) => (c.numClasses !== 0
    ? `${name('numClasses')} must be 0: the residual PixelCNN is unconditional (use the gated model for classes)` : null),
};

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
  arch: 'gated', channels: 1, levels: 256, likelihood: 'softmax', mixtures: 10, height: 28, width: 28,
  numClasses: 0, hidden: 128, outHidden: 32, layers: 8, kernel: 3, firstKernel: 7,
};

export const gatedPixelCnnSpec: ConfigSpec<GatedPixelCnnConfig> = {
  arch: 'gated',
  title: 'Gated PixelCNN',
  fields: {
    hidden: { kind: 'int', min: 'channels', max: 4096 },
    outHidden: { kind: 'int', min: 'channels', max: 4096 },
    layers: { kind: 'int', min: 1, max: 256 },
    kernel: { kind: 'int', min: 3, max: 15, parity: 'odd' },
    firstKernel: { kind: 'int', min: 3, max: 15, parity: 'odd' },
  },
  defaults: defaultGatedPixelCnnConfig,
};

export interface PixelCnnPlusPlusConfig extends BaseModelConfig {
  arch: 'pixelcnn++';
  /** F: filters of both streams at every resolution. */
  filters: number;
  /** R: gated residual blocks per resolution in the up pass (the down pass has R, R + 1, R + 1). */
  resnets: number;
  /** p: dropout probability inside each gated residual block (training only). */
  dropout: number;
  /**
   * Weight normalisation of every conv, nin and transposed conv (parameters `weight_g`, `weight_v`
   * instead of `weight`; src/models/pixelcnn-plus-plus.ts). Optional in config.json (checkpoints
   * written before it existed load without it).
   */
  weightNorm: boolean;
}

export const defaultPixelCnnPlusPlusConfig: PixelCnnPlusPlusConfig = {
  arch: 'pixelcnn++', channels: 1, levels: 256, likelihood: 'softmax', height: 28, width: 28, numClasses: 0,
  mixtures: 10, filters: 32, resnets: 1, dropout: 0.1, weightNorm: false,
};

export const pixelCnnPlusPlusSpec: ConfigSpec<PixelCnnPlusPlusConfig> = {
  arch: 'pixelcnn++',
  title: 'PixelCNN++',
  fields: {
    filters: { kind: 'int', min: 1, max: 4096 },
    resnets: { kind: 'int', min: 0, max: 64 },
    dropout: { kind: 'float', min: 0, max: 0.95 },
    weightNorm: { kind: 'choice', values: [false, true], optional: true },
  },
  defaults: defaultPixelCnnPlusPlusConfig,
};

/** Every architecture's config, told apart by `arch`. */
export type ModelConfig = PixelCnnConfig | GatedPixelCnnConfig | PixelCnnPlusPlusConfig;
export type Arch = ModelConfig['arch'];

/** The architectures, in the order help texts list them. */
export const ARCHS: readonly Arch[] = ['pixelcnn', 'gated', 'pixelcnn++'];

/** What a library caller may pass: `arch` and any of its fields; the rest come from the defaults. */
export type ModelConfigInput = { [A in Arch]: { arch: A } & Partial<Extract<ModelConfig, { arch: A }>> }[Arch];

const isArch = (a: unknown): a is Arch => typeof a === 'string' && (ARCHS as readonly string[]).includes(a);

/** Parses any architecture's config (see parseConfig): dispatches on `arch`. */
export function parseModelConfig(raw: unknown, o: ParseOptions = {}): ModelConfig {
  const name = o.name ?? ((k: string) => k);
  const fail = (msg: string): never => { throw new ConfigError(o.where ? `${o.where}: ${msg}` : msg); };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail(`the model config must be an object, got ${show(raw)}`);
  const arch = (raw as { arch?: unknown }).arch;
  if (arch === undefined) return fail(`the model config has no "arch" (${name('arch')})`);
  if (!isArch(arch)) return fail(`unknown model architecture ${quote(arch)} (known: ${ARCHS.join(', ')})`);
  switch (arch) {
    case 'pixelcnn': return parseConfig(pixelCnnSpec, raw, o);
    case 'gated': return parseConfig(gatedPixelCnnSpec, raw, o);
    case 'pixelcnn++': return parseConfig(pixelCnnPlusPlusSpec, raw, o);
  }
}
