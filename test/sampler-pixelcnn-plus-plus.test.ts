/**
 * The cached sampler for PixelCNN++ (src/sample/incremental/pixelcnn-plus-plus.ts): logits equal
 * a full forward pass of the final images, and the images equal the naive sampler's for a seed,
 * for one and three colours, the softmax and logistic-mixture heads, class conditioning and
 * completion, on image sizes whose halvings round up.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PixelCnnPlusPlus, defaultPixelCnnPlusPlusConfig, type PixelCnnPlusPlusConfig } from '../src/models/pixelcnn-plus-plus.js';
import { sampleNaive } from '../src/sample/naive.js';
import { sampleCached } from '../src/sample/cached.js';
import { loadNativeAddon, nativeLoadError } from '../src/backend/native.js';
import { checkExact, randomLabels, sharpen, withBackend } from './sampler-checks.js';

const tiny = (over: Partial<PixelCnnPlusPlusConfig> = {}): PixelCnnPlusPlusConfig =>
  ({ ...defaultPixelCnnPlusPlusConfig, filters: 6, resnets: 1, dropout: 0, levels: 4, height: 7, width: 6, ...over });

const cases: { what: string; over: Partial<PixelCnnPlusPlusConfig> }[] = [
  { what: 'C=1 softmax L=4', over: { channels: 1 } },
  { what: 'C=3 softmax L=4, 3 classes', over: { channels: 3, numClasses: 3 } },
  { what: 'C=3 logistic mixture L=16, 3 components', over: { channels: 3, levels: 16, likelihood: 'logistic-mixture', mixtures: 3 } },
  { what: 'C=1 sigmoid L=2, resnets 0', over: { channels: 1, levels: 2, likelihood: 'sigmoid', resnets: 0 } },
  { what: 'C=3 logistic mixture L=16, 3 classes, weight-normalised', over: { channels: 3, levels: 16, likelihood: 'logistic-mixture', mixtures: 2, numClasses: 3, weightNorm: true } },
];

/**
 * A weight-normalised model's gains spread away from ‖v‖ (at init g = ‖v‖, so w = v and a sampler
 * reading v instead of g · v/‖v‖ would pass unnoticed); other models unchanged.
 */
function spreadGains(model: PixelCnnPlusPlus): PixelCnnPlusPlus {
  for (const [name, p] of model.parameters()) if (name.endsWith('.weight_g')) for (let i = 0; i < p.size; i++) p.data[i] *= 0.5 + ((i * 7) % 11) / 10;
  return model;
}

for (const [i, { what, over }] of cases.entries()) {
  test(`pixelcnn++: cached sampler logits equal a full forward pass of the final image (${what}, 7×6)`, () => withBackend('js', () => {
    const model = sharpen(spreadGains(new PixelCnnPlusPlus(tiny(over), 3 + i)), 4);
    const classes = model.config.numClasses > 0 ? Int32Array.of(2, 0, 1) : null;
    checkExact(model, { count: 3, seed: 11, classes });
  }));

  test(`pixelcnn++ completion: cached logits equal a full forward pass (${what}, prefixes mid-row and at a row start)`, () => withBackend('js', () => {
    const model = sharpen(spreadGains(new PixelCnnPlusPlus(tiny(over), 5 + i)), 4);
    const { channels: C, levels: L } = model.config, count = 2, HW = 42;
    const classes = model.config.numClasses > 0 ? Int32Array.of(1, 2) : null;
    // The mixture couples a pixel's colours: its prefix is whole pixels.
    const mid = over.likelihood === 'logistic-mixture' ? 0 : C - 1;
    for (const observed of [17 * C + mid, 12 * C]) {
      const given = { labels: randomLabels(count * C * HW, L, observed), observed };
      const labels = checkExact(model, { count, seed: 2, classes, given });
      for (let b = 0; b < count; b++) for (let pos = 0; pos < observed; pos++) {
        const idx = (b * C + (pos % C)) * HW + Math.floor(pos / C);
        assert.equal(labels[idx], given.labels[idx], 'the observed prefix is kept');
      }
    }
  }));

  test(`pixelcnn++: cached and naive samplers give the same images for a seed (${what}, sampling and completion)`, () => withBackend('js', () => {
    const model = sharpen(spreadGains(new PixelCnnPlusPlus(tiny({ ...over, height: 5, width: 5 }), 7 + i)), 3);
    const { channels: C, levels: L } = model.config;
    const classes = model.config.numClasses > 0 ? Int32Array.of(0, 2, 1) : null;
    for (const temperature of [1, 0.7]) {
      const o = { count: 3, seed: 99, temperature, classes };
      const cached = sampleCached(model, o);
      assert.deepEqual(cached, sampleNaive(model, o));
      assert.ok(new Set(cached).size > 1, 'the images are not constant');
    }
    const given = { labels: randomLabels(3 * C * 25, L, 3), observed: 8 * C };
    const o = { count: 3, seed: 5, classes, given };
    assert.deepEqual(sampleCached(model, o), sampleNaive(model, o));
  }));
}

test('pixelcnn++: a 28×28 image (two halvings, 28 → 14 → 7) samples with exact logits', () => withBackend('js', () => {
  checkExact(sharpen(new PixelCnnPlusPlus(tiny({ filters: 4, height: 28, width: 28 }), 1), 4), { count: 1, seed: 1 });
}));

test('pixelcnn++: images of 1×1, 2×3 and 3×1 (halvings down to one pixel) sample with exact logits, like the naive sampler', () => withBackend('js', () => {
  for (const [height, width] of [[1, 1], [2, 3], [3, 1]]) {
    const model = sharpen(new PixelCnnPlusPlus(tiny({ channels: 3, height, width }), height + width), 4);
    const o = { count: 2, seed: 4 };
    assert.deepEqual(checkExact(model, o), sampleNaive(model, o), `${height}×${width}`);
  }
}));

test('pixelcnn++: on the native backend (its GEMM) the logits are exact too, and the images the js backend\'s', (t) => {
  if (!loadNativeAddon()) {
    if (process.env.PIXELCNN_REQUIRE_NATIVE === '1') assert.fail(`PIXELCNN_REQUIRE_NATIVE=1 but the native addon is unavailable: ${nativeLoadError()}`);
    return t.skip(`native addon unavailable: ${nativeLoadError()}`);
  }
  const model = sharpen(new PixelCnnPlusPlus(tiny({ channels: 3, numClasses: 2, filters: 8 }), 21), 4);
  const o = { count: 3, seed: 8, classes: Int32Array.of(1, 0, 1), given: { labels: randomLabels(3 * 3 * 42, 4, 2), observed: 9 * 3 } };
  assert.deepEqual(withBackend('native', () => checkExact(model, o)), withBackend('js', () => sampleCached(model, o)));
});

test('pixelcnn++: a conditional model without class labels is an error', () => withBackend('js', () => {
  const model = new PixelCnnPlusPlus(tiny({ numClasses: 3 }), 1);
  assert.throws(() => sampleCached(model, { count: 2 }), /the model is class-conditional \(3 classes\): give one class per image/);
}));
