import { Tensor } from '../tensor/tensor.js';
import { Conv2dLayer } from '../nn/conv-layer.js';
import { Rng } from '../random/rng.js';
import { type AutoregressiveModel, type ForwardObserver, outputChannels } from './model.js';
import { parseConfig, pixelCnnSpec, type PixelCnnConfig } from './config.js';

/**
 * PixelCNN (van den Oord et al. 2016, "Pixel Recurrent Neural Networks", section 3.5), as the
 * 2017 practitioner's implementation builds it:
 *
 *   x (C) ─ 7×7 masked A (C → h) ─┬─ [ReLU ─ 1×1 (h → h/2) ─ ReLU ─ 3×3 masked B (h/2 → h/2)
 *                                  │    ─ ReLU ─ 1×1 (h/2 → h)] ─ + ─ … R residual blocks …
 *                                  └──────────────────────────────┘
 *         ─ ReLU ─ 1×1 (h → d) ─ ReLU ─ 1×1 (d → C·P) → outputs, filter o = j·C + c
 *
 * (P = outputsPerColour: L logits for softmax, 1 for sigmoid, the mixture's slots.)
 *
 * Every layer, 1×1 ones included, carries the colour mask (groups of C, interleaved); see
 * src/nn/masks.ts. The residual is added once, in the block.
 */
export { defaultPixelCnnConfig, type PixelCnnConfig } from './config.js';

class ResidualBlock {
  readonly conv1: Conv2dLayer;
  readonly conv2: Conv2dLayer;
  readonly conv3: Conv2dLayer;

  constructor(readonly name: string, h: number, colours: number, rng: Rng) {
    const colour = { type: 'B' as const, colours };
    this.conv1 = new Conv2dLayer(`${name}.conv1`, h, h / 2, 1, rng, colour);
    this.conv2 = new Conv2dLayer(`${name}.conv2`, h / 2, h / 2, 3, rng, colour);
    this.conv3 = new Conv2dLayer(`${name}.conv3`, h / 2, h, 1, rng, colour);
  }

  forward(x: Tensor, observe?: ForwardObserver): Tensor {
    // ReLU → conv, three times (the ReLUs fused into the convolutions).
    const a1 = this.conv1.forward(x, true);
    observe?.(`${this.name}.conv1`, a1);
    const a2 = this.conv2.forward(a1, true);
    observe?.(`${this.name}.conv2`, a2);
    const out = this.conv3.forward(a2, true, x);
    observe?.(`${this.name}.conv3`, out);
    return out;
  }
}

export class PixelCnn implements AutoregressiveModel<PixelCnnConfig> {
  readonly config: PixelCnnConfig;
  readonly input: Conv2dLayer;
  readonly blocks: ResidualBlock[];
  readonly out1: Conv2dLayer;
  readonly out2: Conv2dLayer;

  constructor(config: PixelCnnConfig, seed = 0) {
    this.config = parseConfig(pixelCnnSpec, config, { where: 'PixelCNN config' });
    const { channels: C, hidden: h, outHidden: d } = config;
    const rng = new Rng(seed);
    this.input = new Conv2dLayer('input', C, h, 7, rng, { type: 'A', colours: C });
    this.blocks = Array.from({ length: config.blocks }, (_, i) => new ResidualBlock(`blocks.${i}`, h, C, rng));
    this.out1 = new Conv2dLayer('out1', h, d, 1, rng, { type: 'B', colours: C });
    this.out2 = new Conv2dLayer('out2', d, outputChannels(config), 1, rng, { type: 'B', colours: C });
  }

  parameters(): Map<string, Tensor> {
    const layers = [this.input, ...this.blocks.flatMap((b) => [b.conv1, b.conv2, b.conv3]), this.out1, this.out2];
    return new Map(layers.flatMap((l) => l.params()).map((p) => [p.name, p]));
  }

  /**
   * Outputs (B, C·P, H, W) (see forward in model.ts); the model is unconditional, so classes are ignored. `observe`
   * sees, in order: `input`, then per block j `blocks.j.conv1`, `blocks.j.conv2` (both before the
   * ReLU the next convolution applies) and `blocks.j.conv3` (the block's output, residual
   * included), then `out1` and `out2` (the logits).
   */
  forward(x: Tensor, _classes: Int32Array | null = null, observe?: ForwardObserver): Tensor {
    let h = this.input.forward(x);
    observe?.('input', h);
    for (const block of this.blocks) h = block.forward(h, observe);
    const o1 = this.out1.forward(h, true);
    observe?.('out1', o1);
    const logits = this.out2.forward(o1, true);
    observe?.('out2', logits);
    return logits;
  }
}

/**
 * The parameter shapes (by checkpoint name) of the PixelCNN a config describes, without building
 * it: a checkpoint's weights are checked against them before anything is allocated. Must agree
 * with PixelCnn's parameters() (a test compares them).
 */
export function pixelCnnParameterShapes(config: PixelCnnConfig): Map<string, number[]> {
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
  conv('out2', d, outputChannels(config), 1);
  return shapes;
}
