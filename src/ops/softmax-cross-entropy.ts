import { Tensor, shapeStr } from '../tensor/tensor.js';
import { kernels } from '../backend/index.js';
import { assertRank, assertTensor, fail } from './check.js';
import { assertLevelTargets, kernelNll, type NllResult } from './nll.js';

/**
 * Categorical likelihood of integer images under per-pixel softmaxes.
 * logits (B, L·C, H, W) with filter o = k·C + c the logit of level k for colour c, i.e. the
 * layout (B, L, C, H, W); targets (B, C, H, W) level labels in [0, L).
 */
export function softmaxCrossEntropy(logits: Tensor, targets: Uint8Array, levels: number, channels: number): NllResult {
  const op = 'softmaxCrossEntropy';
  assertTensor(op, 'logits', logits); assertRank(op, 'logits', logits, 4);
  const [B, LC, H, W] = logits.shape;
  if (!Number.isInteger(levels) || levels < 2 || levels > 256) fail(op, `levels must be an integer in [2, 256], got ${levels}`);
  if (LC !== levels * channels) fail(op, `logits ${shapeStr(logits.shape)} need ${levels}·${channels} = ${levels * channels} channels`);
  assertLevelTargets(op, 'logits', logits, targets, levels, channels);
  const S = H * W, dims = channels * S;
  return kernelNll(logits, dims, (nll, grad) =>
    kernels().softmaxCrossEntropy(nll, grad, logits.data, targets, B, levels, channels, S, 1 / (B * dims)));
}
