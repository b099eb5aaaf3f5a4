import type { Kernels } from '../kernels.js';
import { gemm } from './gemm.js';
import { conv2dForward, conv2dBackwardData, conv2dBackwardFilter } from './conv2d.js';
import { softmaxCrossEntropy } from './softmax-cross-entropy.js';
import { reluForward, reluBackward, add, accumulate, gateForward, gateBackward } from './elementwise.js';

/** The pure TypeScript backend: the reference for tests and what a browser runs. */
export const jsKernels: Kernels = {
  name: 'js',
  gemm,
  conv2dForward,
  conv2dBackwardData,
  conv2dBackwardFilter,
  softmaxCrossEntropy,
  reluForward,
  reluBackward,
  add,
  accumulate,
  gateForward,
  gateBackward,
};
