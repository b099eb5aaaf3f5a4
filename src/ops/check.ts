import { Tensor, shapeStr } from '../tensor/tensor.js';

/** Shape and value checks shared by ops: every error names the op and the shapes. */
export function fail(op: string, msg: string): never {
  throw new Error(`${op}: ${msg}`);
}

export function assertTensor(op: string, what: string, t: unknown): asserts t is Tensor {
  if (!(t instanceof Tensor)) fail(op, `${what} must be a Tensor, got ${t === null ? 'null' : typeof t}`);
  if (!(t.data instanceof Float32Array)) fail(op, `${what} must hold a Float32Array`);
}

export function assertRank(op: string, what: string, t: Tensor, rank: number): void {
  if (t.shape.length !== rank) fail(op, `${what} must have rank ${rank}, got ${shapeStr(t.shape)}`);
}

export function assertSameShape(op: string, a: Tensor, b: Tensor): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    fail(op, `shapes differ: ${shapeStr(a.shape)} vs ${shapeStr(b.shape)}`);
  }
}

export function assertFinite(op: string, what: string, data: ArrayLike<number>): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) fail(op, `${what} has a non-finite value (${data[i]}) at index ${i}`);
  }
}
