import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PixelCnn, defaultPixelCnnConfig, type PixelCnnConfig } from '../src/models/pixelcnn.js';
import { Tensor } from '../src/tensor/tensor.js';
import { noGrad } from '../src/tensor/autograd.js';
import { Rng } from '../src/random/rng.js';
import { assertAutoregressive } from './causality.js';

const tiny = (over: Partial<PixelCnnConfig>): PixelCnnConfig =>
  ({ ...defaultPixelCnnConfig, hidden: 24, outHidden: 24, blocks: 2, levels: 4, height: 5, width: 5, ...over });

for (const channels of [1, 3] as const) {
  for (const likelihood of ['softmax', 'sigmoid'] as const) {
    test(`autoregressive order: PixelCNN C=${channels} ${likelihood} 5×5, blocks=2`, () => {
      const model = new PixelCnn(tiny({ channels, likelihood, levels: likelihood === 'sigmoid' ? 2 : 4 }), 5);
      const deps = assertAutoregressive('PixelCNN', model, 5, 5);
      if (channels === 3) {
        // Colour order within a pixel: B reads R and G, G reads R (exercised, not only allowed).
        const C = 3, i = 12;
        assert.equal(deps[i * C + 2][i * C + 0], 1, 'B at pixel 12 reads R at pixel 12');
        assert.equal(deps[i * C + 2][i * C + 1], 1, 'B at pixel 12 reads G at pixel 12');
        assert.equal(deps[i * C + 1][i * C + 0], 1, 'G at pixel 12 reads R at pixel 12');
      }
      // The pixel to the left and the one above are read.
      const C = channels;
      assert.equal(deps[12 * C][11 * C], 1);
      assert.equal(deps[12 * C][7 * C], 1);
    });
  }
}

test('PixelCNN parameter names and PyTorch layouts', () => {
  const m = new PixelCnn(tiny({ channels: 3, levels: 4 }));
  const p = m.parameters();
  assert.deepEqual([...p.keys()], [
    'input.weight', 'input.bias',
    'blocks.0.conv1.weight', 'blocks.0.conv1.bias', 'blocks.0.conv2.weight', 'blocks.0.conv2.bias', 'blocks.0.conv3.weight', 'blocks.0.conv3.bias',
    'blocks.1.conv1.weight', 'blocks.1.conv1.bias', 'blocks.1.conv2.weight', 'blocks.1.conv2.bias', 'blocks.1.conv3.weight', 'blocks.1.conv3.bias',
    'out1.weight', 'out1.bias', 'out2.weight', 'out2.bias',
  ]);
  assert.deepEqual(p.get('input.weight')!.shape, [24, 3, 7, 7]);
  assert.deepEqual(p.get('blocks.0.conv2.weight')!.shape, [12, 12, 3, 3]);
  assert.deepEqual(p.get('out2.weight')!.shape, [12, 24, 1, 1]);
});

test('PixelCNN config validation names the field', () => {
  assert.throws(() => new PixelCnn(tiny({ hidden: 7 })), /hidden must be an even integer/);
  assert.throws(() => new PixelCnn(tiny({ levels: 1 })), /levels must be an integer in \[2, 256\]/);
  assert.throws(() => new PixelCnn(tiny({ likelihood: 'sigmoid', levels: 4 })), /sigmoid likelihood needs levels = 2/);
});

test('PixelCNN forward observer: every layer output in order, the tensors the forward computes, logits unchanged', () => {
  const m = new PixelCnn(tiny({ channels: 3, levels: 4 }), 2);
  const rng = new Rng(1), x = Tensor.zeros([2, 3, 5, 5]);
  for (let i = 0; i < x.size; i++) x.data[i] = rng.uniform();
  const seen = new Map<string, Tensor>();
  const logits = noGrad(() => m.forward(x, null, (name, t) => seen.set(name, t)));
  assert.deepEqual([...seen.keys()], ['input', 'blocks.0.conv1', 'blocks.0.conv2', 'blocks.0.conv3',
    'blocks.1.conv1', 'blocks.1.conv2', 'blocks.1.conv3', 'out1', 'out2']);
  assert.equal(seen.get('out2'), logits);
  assert.deepEqual(noGrad(() => m.forward(x)).data, logits.data);
  // Outputs as the fused forward makes them: conv1 before its ReLU, conv3 with the residual.
  const b = m.blocks[1];
  const c1 = noGrad(() => b.conv1.forward(seen.get('blocks.0.conv3')!, true));
  assert.deepEqual(c1.data, seen.get('blocks.1.conv1')!.data);
  assert.ok(c1.data.some((v) => v < 0), 'conv1 is observed before the ReLU');
  const c3 = noGrad(() => b.conv3.forward(seen.get('blocks.1.conv2')!, true, seen.get('blocks.0.conv3')!));
  assert.deepEqual(c3.data, seen.get('blocks.1.conv3')!.data);
});
