import type { Kernels } from '../kernels.js';
import * as gemm from './gemm.js';
import * as conv2d from './conv2d.js';
import * as softmaxCrossEntropy from './softmax-cross-entropy.js';
import * as elementwise from './elementwise.js';
import * as logisticMixture from './logistic-mixture.js';
import * as dropout from './dropout.js';

/**
 * The pure TypeScript backend: the reference for tests and what a browser runs. Every function a
 * module of this folder exports is a kernel, by its name in the Kernels interface (a kernel added
 * to one of these modules needs no line here; a new module needs its import and spread).
 */
export const jsKernels: Kernels = {
  name: 'js',
  ...gemm,
  ...conv2d,
  ...softmaxCrossEntropy,
  ...elementwise,
  ...logisticMixture,
  ...dropout,
};
