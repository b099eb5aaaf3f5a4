/**
 * Binary images (labels 0/1) packed eight to a byte: the training data the page of `pixelcnn
 * serve` ships (scripts/build-web.mjs writes assets/mnist-{train,test}.bin, the training panel
 * reads them). Browser-safe (no Node imports).
 *
 *   "PCNB" | u32 LE count | u16 LE height | u16 LE width | count·H·W bits, most significant first
 *
 * A 28×28 digit is 98 bytes (the 8-bit intensities would be 784).
 */
import { fixedLevels } from './levels.js';
import { DataError, firstImages, type ImageSet } from './image-set.js';

const MAGIC = [0x50, 0x43, 0x4e, 0x42]; // "PCNB"
const HEADER_BYTES = 12;

/**
 * The page's MNIST: the first images of each split, one stochastic binarisation each. The test
 * split's draw is the one `pixelcnn eval` makes (the trainer's TEST_BINARISATION_SEED, 2017, over
 * the whole test set: its first images get the same bits), so the page's test bits/dim on these
 * images equal `pixelcnn eval --limit 500`'s.
 */
export const PAGE_MNIST = {
  train: { images: 4000, seed: 1 },
  test: { images: 500, seed: 2017 },
} as const;

/** Packs `count` images of H×W labels (each 0 or 1) into the format above. */
export function packBinaryImages(labels: Uint8Array, count: number, height: number, width: number): Uint8Array {
  const n = count * height * width;
  if (labels.length !== n) throw new RangeError(`packBinaryImages: ${labels.length} labels for ${count} images of ${height}×${width}`);
  if (count > 0xffffffff || height > 0xffff || width > 0xffff) throw new RangeError(`packBinaryImages: ${count} images of ${height}×${width} do not fit the header`);
  const out = new Uint8Array(HEADER_BYTES + Math.ceil(n / 8));
  out.set(MAGIC);
  const view = new DataView(out.buffer);
  view.setUint32(4, count, true);
  view.setUint16(8, height, true);
  view.setUint16(10, width, true);
  for (let i = 0; i < n; i++) {
    const v = labels[i];
    if (v > 1) throw new RangeError(`packBinaryImages: label ${v} at ${i} is not 0 or 1`);
    if (v) out[HEADER_BYTES + (i >> 3)] |= 0x80 >> (i & 7);
  }
  return out;
}

/**
 * Reads packed images as an ImageSet of one channel with intensities 0 and 255 (so binarising them,
 * stochastically or by threshold, gives back the packed bits). `file` names it in errors
 * (DataError); `name` becomes the set's name.
 */
export function unpackBinaryImages(bytes: Uint8Array, file: string, name: string): ImageSet {
  if (bytes.length < HEADER_BYTES || MAGIC.some((m, i) => bytes[i] !== m)) {
    throw new DataError(file, 'not a packed binary image file (it does not start with "PCNB")');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(4, true), height = view.getUint16(8, true), width = view.getUint16(10, true);
  const n = count * height * width, want = HEADER_BYTES + Math.ceil(n / 8);
  if (count === 0 || height === 0 || width === 0) throw new DataError(file, `holds no images (${count} of ${height}×${width})`);
  if (bytes.length !== want) throw new DataError(file, `${bytes.length} bytes, but ${count} images of ${height}×${width} take ${want}: truncated or corrupt`);
  const pixels = new Uint8Array(n);
  for (let i = 0; i < n; i++) pixels[i] = bytes[HEADER_BYTES + (i >> 3)] & (0x80 >> (i & 7)) ? 255 : 0;
  return { name, count, channels: 1, height, width, pixels, labels: null, numClasses: 0 };
}

/** The page's asset of one split (PAGE_MNIST) from the full MNIST split `set` (one channel). */
export function packPageMnist(set: ImageSet, split: keyof typeof PAGE_MNIST): Uint8Array {
  const { images, seed } = PAGE_MNIST[split];
  const first = firstImages(set, images);
  const labels = fixedLevels(first, { levels: 2, binarise: 'stochastic' }, seed);
  return packBinaryImages(labels, first.count, first.height, first.width);
}
