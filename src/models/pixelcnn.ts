import { Tensor } from '../tensor/tensor.js';
import { Conv2dLayer } from '../nn/conv-layer.js';
import { Rng } from '../nn/rng.js';
import { type AutoregressiveModel, type BaseModelConfig, logitChannels, validateBaseConfig } from './model.js';

/**
 * PixelCNN (van den Oord et al. 2016, "Pixel Recurrent Neural Networks", section 3.5), as the
 * 2017 practitioner's implementation builds it:
 *
 *   x (C) ─ 7×7 masked A (C → h) ─┬─ [ReLU ─ 1×1 (h → h/2) ─ ReLU ─ 3×3 masked B (h/2 → h/2)
 *                                  │    ─ ReLU ─ 1×1 (h/2 → h)] ─ + ─ … R residual blocks …
 *                                  └──────────────────────────────┘
 *         ─ ReLU ─ 1×1 (h → d) ─ ReLU ─ 1×1 (d → C·L) → logits, filter o = k·C + c
 *
 * Every layer, 1×1 ones included, carries the colour mask (groups of C, interleaved); see
 * src/nn/masks.ts. The residual is added once, in the block.
 */
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
  arch: 'pixelcnn', channels: 1, levels: 256, likelihood: 'softmax', height: 28, width: 28, numClasses: 0,
  hidden: 128, outHidden: 32, blocks: 7,
};

export function validatePixelCnnConfig(c: PixelCnnConfig): void {
  validateBaseConfig(c, 'PixelCNN config');
  const bad = (msg: string): never => { throw new Error(`PixelCNN config: ${msg}`); };
  if (c.arch !== 'pixelcnn') bad(`arch must be 'pixelcnn', got ${c.arch}`);
  if (!Number.isInteger(c.hidden) || c.hidden < 2 || c.hidden % 2 !== 0 || c.hidden > 4096) bad(`hidden must be an even integer in [2, 4096], got ${c.hidden}`);
  if (!Number.isInteger(c.outHidden) || c.outHidden < 1 || c.outHidden > 4096) bad(`outHidden must be an integer in [1, 4096], got ${c.outHidden}`);
  if (!Number.isInteger(c.blocks) || c.blocks < 0 || c.blocks > 256) bad(`blocks must be an integer in [0, 256], got ${c.blocks}`);
  if (c.numClasses !== 0) bad('the residual PixelCNN is unconditional (numClasses must be 0); use the gated model for classes');
}

class ResidualBlock {
  readonly conv1: Conv2dLayer;
  readonly conv2: Conv2dLayer;
  readonly conv3: Conv2dLayer;

  constructor(name: string, h: number, colours: number, rng: Rng) {
    const colour = { type: 'B' as const, colours };
    this.conv1 = new Conv2dLayer(`${name}.conv1`, h, h / 2, 1, rng, colour);
    this.conv2 = new Conv2dLayer(`${name}.conv2`, h / 2, h / 2, 3, rng, colour);
    this.conv3 = new Conv2dLayer(`${name}.conv3`, h / 2, h, 1, rng, colour);
  }

  forward(x: Tensor): Tensor {
    // ReLU → conv, three times (the ReLUs fused into the convolutions).
    return this.conv3.forward(this.conv2.forward(this.conv1.forward(x, true), true), true, x);
  }
}

export class PixelCnn implements AutoregressiveModel<PixelCnnConfig> {
  readonly config: PixelCnnConfig;
  readonly input: Conv2dLayer;
  readonly blocks: ResidualBlock[];
  readonly out1: Conv2dLayer;
  readonly out2: Conv2dLayer;

  constructor(config: PixelCnnConfig, seed = 0) {
    validatePixelCnnConfig(config);
    this.config = { ...config };
    const { channels: C, hidden: h, outHidden: d } = config;
    const rng = new Rng(seed);
    this.input = new Conv2dLayer('input', C, h, 7, rng, { type: 'A', colours: C });
    this.blocks = Array.from({ length: config.blocks }, (_, i) => new ResidualBlock(`blocks.${i}`, h, C, rng));
    this.out1 = new Conv2dLayer('out1', h, d, 1, rng, { type: 'B', colours: C });
    this.out2 = new Conv2dLayer('out2', d, logitChannels(config), 1, rng, { type: 'B', colours: C });
  }

  parameters(): Map<string, Tensor> {
    const layers = [this.input, ...this.blocks.flatMap((b) => [b.conv1, b.conv2, b.conv3]), this.out1, this.out2];
    return new Map(layers.flatMap((l) => l.params()).map((p) => [p.name, p]));
  }

  forward(x: Tensor): Tensor {
    let h = this.input.forward(x);
    for (const block of this.blocks) h = block.forward(h);
    return this.out2.forward(this.out1.forward(h, true), true);
  }
}

/**
 * The parameter shapes (by checkpoint name) of the PixelCNN a config describes, without building
 * it: a checkpoint's weights are checked against them before anything is allocated. Must agree
 * with PixelCnn's parameters() (a test compares them).
 */
export function pixelCnnParameterShapes(config: PixelCnnConfig): Map<string, number[]> {
  validatePixelCnnConfig(config);
  const { channels: C, hidden: h, outHidden: d } = config;
  const shapes = new Map<string, number[]>();
  const conv = (name: string, i: number, o: number, k: number) => {
    shapes.set(`${name}.weight`, [o, i, k, k]);
    shapes.set(`${name}.bias`, [o]);
  };
  conv('input', C, h, 7);
  for (let b = 0; b < config.blocks; b++) {
    conv(`blocks.${b}.conv1`, h, h / 2, 1);
    conv(`blocks.${b}.conv2`, h / 2, h / 2, 3);
    conv(`blocks.${b}.conv3`, h / 2, h, 1);
  }
  conv('out1', h, d, 1);
  conv('out2', d, logitChannels(config), 1);
  return shapes;
}
