/** Messages between the page (main.ts) and the sampling worker (worker.ts). */

export interface ModelConfigView {
  arch: string;
  channels: number;
  levels: number;
  likelihood: string;
  height: number;
  width: number;
  numClasses: number;
  [key: string]: unknown;
}

export interface ModelInfo {
  config: ModelConfigView;
  /** config.json "metrics" (null values = not finite), or null when none are recorded. */
  metrics: Record<string, number | null> | null;
  /** Number of parameters (scalars). */
  parameters: number;
  created: string | null;
  /** A few facts from config.json "training", when present. */
  training: { step?: number; dataset?: string; elapsedSeconds?: number } | null;
}

export interface SampleRequest {
  type: 'sample';
  id: number;
  count: number;
  temperature: number;
  seed: number;
  /** One class per image for class-conditional models, else null. */
  classes: number[] | null;
  /** Completion: labels (count, C, H, W) of which the first `observed` positions are kept. */
  given: { labels: Uint8Array; observed: number } | null;
}

export type ToWorker =
  | { type: 'load'; configText: string; weights: ArrayBuffer }
  | SampleRequest;

/** The kernels the worker runs: wasm, or js when the wasm module cannot load (reason says why). */
export interface BackendInfo {
  name: 'wasm' | 'js';
  /** e.g. 'wasm-simd128, 1 thread', or why wasm is not used. */
  detail: string;
}

export type FromWorker =
  /** msPerPosition: worker time per generated position of one image, from a short trial run. */
  | { type: 'loaded'; info: ModelInfo; backend: BackendInfo; msPerPosition: number }
  /** Partial labels: positions < start + done are final, the rest 0. */
  | { type: 'progress'; id: number; done: number; total: number; labels: Uint8Array }
  | { type: 'done'; id: number; labels: Uint8Array; ms: number; previewAgreed: boolean }
  | { type: 'error'; id: number | null; message: string };
