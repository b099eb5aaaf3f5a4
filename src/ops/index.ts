/** Every op, each with its forward (through the active kernels) and its backward. */
export { conv2d, denseTaps, type ConvMask } from './conv2d.js';
export { conv2dStride2, conv2dTranspose2 } from './conv2d-stride2.js';
export { relu, tanh, sigmoid, add, mul, elu, concatElu } from './elementwise.js';
export { sum, mean } from './reduce.js';
export { concatChannels, sliceChannels, splitChannels, addChannelBias } from './channels.js';
export { shift } from './shift.js';
export { gate, glu } from './gate.js';
export { softmaxCrossEntropy } from './softmax-cross-entropy.js';
export type { NllResult } from './nll.js';
export { sigmoidCrossEntropy } from './sigmoid-cross-entropy.js';
export { logisticMixtureNll, mixtureLayout, mixtureFilterTable, MIN_LOG_SCALE, type MixtureLayout } from './logistic-mixture.js';
export { dropout, withDropout, dropoutRng } from './dropout.js';
export { placeKernel } from './place-kernel.js';
export { embedding } from './embedding.js';
export { weightNorm } from './weight-norm.js';
