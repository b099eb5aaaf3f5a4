/**
 * The in-memory form every dataset loader produces, so that training, evaluation and sampling
 * code never needs to know which file format the images came from.
 */
export interface ImageSet {
  /** Where the images came from, e.g. 'mnist:train'; used in logs and error messages. */
  name: string;
  count: number;
  channels: number;
  height: number;
  width: number;
  /** (N, C, H, W) intensities 0..255, NCHW: the layout the models consume, so no transposes later. */
  pixels: Uint8Array;
  /** (N) class labels, or null when the source has none. */
  labels: Uint8Array | null;
  /** Number of classes the labels range over; 0 when unlabelled. */
  numClasses: number;
  /** Optional human-readable class names (index = label), e.g. PNG subfolder names. */
  classNames?: string[];
  /** A line worth telling the user when training starts, e.g. how a PNG folder was split. */
  note?: string;
}

/**
 * Every problem with a data file (missing, malformed, inconsistent) is a DataError, so callers
 * such as the CLI can report it as a user error rather than a crash. The message always names
 * the file and the problem.
 */
export class DataError extends Error {
  /** The file or directory at fault. */
  readonly file: string;
  /** The problem, without the file name. */
  readonly problem: string;

  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'DataError';
    this.file = file;
    this.problem = problem;
  }
}

/** Values per image (C·H·W): the stride between images in `pixels`. */
export function imageSize(set: Pick<ImageSet, 'channels' | 'height' | 'width'>): number {
  return set.channels * set.height * set.width;
}

/**
 * The first `n` images (`set` itself if n >= count). Copies, so that limiting a large set for a
 * quick run lets the full set's memory be freed.
 */
export function firstImages(set: ImageSet, n: number): ImageSet {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`firstImages: n must be a non-negative integer, got ${n}`);
  if (n >= set.count) return set;
  const size = imageSize(set);
  return {
    ...set,
    count: n,
    pixels: set.pixels.slice(0, n * size),
    labels: set.labels ? set.labels.slice(0, n) : null,
  };
}
