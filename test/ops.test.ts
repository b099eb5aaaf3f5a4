// Every op in one line each (see opTest in helpers.ts): forward against the js reference and
// gradients against finite differences, on the js and the native backend. Adding an op adds a line.
import * as ops from '../src/ops/index.js';
import { pixelCnnMask } from '../src/nn/masks.js';
import { Rng } from '../src/random/rng.js';
import { opTest } from './helpers.js';

const maskB = pixelCnnMask('B', 4, 3, 3, 3, 3), maskA = pixelCnnMask('A', 5, 3, 7, 7, 3);
const labels = (n: number, levels: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) % levels);
const kink = { minAbs: 0.05, grad: { eps: 1e-3 } };  // inputs away from ReLU's kink
const nll = { scale: 3, grad: { atol: 1e-5, rtol: 5e-2 } };  // a float32 scalar loss

opTest('conv2d', [[2, 3, 5, 4], [4, 3, 3, 3], [4]], (x, w, b) => ops.conv2d(x, w, b));
opTest('conv2d no-bias 1x1', [[2, 4, 3, 3], [3, 4, 1, 1]], (x, w) => ops.conv2d(x, w, null));
opTest('conv2d mask=B colours=3', [[2, 3, 5, 4], [4, 3, 3, 3], [4]], (x, w, b) => ops.conv2d(x, w, b, maskB));
opTest('conv2d mask=A colours=3 7x7', [[1, 3, 6, 6], [5, 3, 7, 7], [5]], (x, w, b) => ops.conv2d(x, w, b, maskA));
opTest('conv2d 1x3', [[2, 4, 3, 5], [6, 4, 1, 3], [6]], (x, w, b) => ops.conv2d(x, w, b));
opTest('conv2d relu=true', [[2, 3, 5, 4], [4, 3, 3, 3], [4]], (x, w, b) => ops.conv2d(x, w, b, maskB, { relu: true }), kink);
opTest('conv2d relu=true residual', [[2, 3, 4, 4], [4, 3, 3, 3], [4], [2, 4, 4, 4]],
  (x, w, b, r) => ops.conv2d(x, w, b, maskB, { relu: true, residual: r }), kink);
opTest('relu', [[2, 3, 4, 5]], ops.relu, kink);
opTest('tanh', [[2, 3, 4, 5]], ops.tanh, { grad: { eps: 1e-3 } });
opTest('sigmoid', [[2, 3, 4, 5]], ops.sigmoid, { grad: { eps: 1e-3 } });
opTest('add', [[2, 3, 4, 4], [2, 3, 4, 4]], ops.add);
opTest('mul', [[2, 3, 4, 4], [2, 3, 4, 4]], ops.mul);
opTest('sum', [[2, 3, 4, 4]], ops.sum, { grad: { atol: 1e-4 } });
opTest('mean', [[2, 3, 4, 4]], ops.mean);
opTest('concatChannels', [[2, 2, 3, 3], [2, 3, 3, 3]], (a, b) => ops.concatChannels([a, b]));
opTest('sliceChannels start=1 count=2', [[2, 4, 3, 3]], (x) => ops.sliceChannels(x, 1, 2));
opTest('splitChannels sizes=[2,3] part 1', [[2, 5, 3, 3]], (x) => ops.splitChannels(x, [2, 3])[1]);
opTest('addChannelBias', [[2, 4, 3, 3], [2, 4]], ops.addChannelBias);
opTest('shift down=1', [[2, 3, 4, 5]], (x) => ops.shift(x, 1, 0));
opTest('shift right=1', [[2, 3, 4, 5]], (x) => ops.shift(x, 0, 1));
opTest('gate', [[2, 6, 3, 4]], ops.gate, { grad: { eps: 1e-3 } });
opTest('softmaxCrossEntropy L=4 C=3', [[2, 12, 3, 3]], (z) => ops.softmaxCrossEntropy(z, labels(54, 4), 4, 3).loss, nll);
opTest('sigmoidCrossEntropy', [[2, 3, 3, 3]], (z) => ops.sigmoidCrossEntropy(z, labels(54, 2)).loss, nll);
// Edge levels 0 and 4 among the labels; RGB: coupling coefficients and the unused slots.
opTest('logisticMixtureNll L=5 C=3 K=2', [[2, 24, 3, 3]], (p) => ops.logisticMixtureNll(p, labels(54, 5), 5, 3, 2).loss, nll);
opTest('logisticMixtureNll L=256 C=1 K=3', [[2, 9, 3, 3]], (p) => ops.logisticMixtureNll(p, labels(18, 256), 256, 1, 3).loss, nll);
opTest('elu', [[2, 3, 4, 5]], ops.elu, { grad: { eps: 1e-3 }, minAbs: 0.05 });
opTest('concatElu', [[2, 3, 4, 5]], ops.concatElu, { grad: { eps: 1e-3 }, minAbs: 0.05 });
opTest('glu', [[2, 6, 3, 4]], (x) => ops.glu(x), { grad: { eps: 1e-3 } });
opTest('glu residual', [[2, 6, 3, 4], [2, 3, 3, 4]], ops.glu, { grad: { eps: 1e-3 } });
opTest('dropout p=0.4', [[2, 3, 4, 5]], (x) => ops.dropout(x, 0.4, new Rng(9)));
opTest('conv2dStride2 5x6', [[2, 3, 5, 6], [4, 3, 3, 3], [4]], (x, w, b) => ops.conv2dStride2(x, w, b));
opTest('conv2dStride2 mask=B no-bias 6x7', [[2, 3, 6, 7], [4, 3, 3, 3]], (x, w) => ops.conv2dStride2(x, w, null, maskB));
opTest('conv2dTranspose2 3x3 to 5x6', [[2, 3, 3, 3], [3, 4, 3, 3], [4]], (x, w, b) => ops.conv2dTranspose2(x, w, b, null, 5, 6));
opTest('conv2dTranspose2 mask=B 3x4 to 6x7', [[2, 4, 3, 4], [4, 3, 3, 3], [3]], (x, w, b) => ops.conv2dTranspose2(x, w, b, maskB, 6, 7));
opTest('placeKernel 2x3 in 3x3', [[4, 3, 2, 3]], (w) => ops.placeKernel(w, 3, 3, 0, 0));
opTest('placeKernel transposed 2x2 in 3x3 at (0,1)', [[3, 4, 2, 2]], (w) => ops.placeKernel(w, 3, 3, 0, 1, true));
opTest('embedding', [[4, 6]], (t) => ops.embedding(t, Int32Array.of(3, 0, 3)));
opTest('weightNorm g (4,1,1,1) v (4,3,2,3)', [[4, 1, 1, 1], [4, 3, 2, 3]], ops.weightNorm);
