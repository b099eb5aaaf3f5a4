/** Messages between the page (main.ts) and its workers: sampling (worker.ts) and training (train-worker.ts). */

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

// ---------------------------------------------------------------------------------------------
// The training worker

/** The models the Train panel offers: residual PixelCNNs for binarised 28×28 digits. */
export const TRAIN_PRESETS = {
  tiny: { label: 'tiny (hidden 16, 1 block)', hidden: 16, outHidden: 16, blocks: 1 },
  small: { label: 'small (hidden 24, 2 blocks)', hidden: 24, outHidden: 24, blocks: 2 },
  medium: { label: 'medium (hidden 32, 4 blocks)', hidden: 32, outHidden: 32, blocks: 4 },
} as const;
export type TrainPresetName = keyof typeof TRAIN_PRESETS;
export const DEFAULT_TRAIN_PRESET: TrainPresetName = 'small';

export type ToTrainWorker =
  | { type: 'start'; preset: TrainPresetName; batchSize: number; lr: number; seed: number }
  /** Ends the run after the current step: a last test evaluation, then 'stopped' with the checkpoint. */
  | { type: 'stop' };

export type FromTrainWorker =
  | { type: 'started'; backend: BackendInfo; parameters: number; trainImages: number; testImages: number }
  /** Every step: its training loss (bits/dim) and speed (images/s of this step alone). */
  | { type: 'step'; step: number; epoch: number; bitsPerDim: number; imagesPerSecond: number; elapsedSeconds: number }
  | { type: 'eval'; step: number; bitsPerDim: number; natsPerImage: number; images: number }
  /** A grid of samples from the model as it is at `step` (count, 1, 28, 28 labels). */
  | { type: 'samples'; step: number; count: number; labels: Uint8Array }
  /** The run ended: its checkpoint's two files, as `pixelcnn train` writes them. */
  | { type: 'stopped'; step: number; configText: string; weights: ArrayBuffer }
  | { type: 'error'; message: string };
