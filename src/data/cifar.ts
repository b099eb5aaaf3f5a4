/**
 * CIFAR-10 "binary version" (cifar-10-binary.tar.gz): batches of 3073-byte records, one label byte
 * then 3072 pixel bytes as R, G, B planes of 32×32 row-major. That is already CHW, so each record
 * is copied into NCHW as is.
 */
import { closeSync, existsSync, lstatSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openRegularFile, readExactly } from './files.js';
import { DataError, type ImageSet } from './image-set.js';
import type { Split } from './mnist.js';

const RECORD = 1 + 3 * 32 * 32;
const PIXELS = RECORD - 1;

/** Batch file names per split, in the order the images are concatenated. */
export const CIFAR10_FILES: Record<Split, readonly string[]> = {
  train: ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'],
  test: ['test_batch.bin'],
};

/** CIFAR-10 class names, index = label. */
export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

function isDir(p: string): boolean {
  try { return statSync(p).isDirectory(); } catch { return false; }
}

/**
 * Loads CIFAR-10 from `dir` (the extracted `cifar-10-batches-bin` folder, or its parent).
 * All missing batch files are named at once so a partial download is diagnosed in one go.
 */
export function loadCifar10(dir: string, split: Split): ImageSet {
  if (!isDir(dir)) throw new DataError(dir, existsSync(dir) ? 'not a directory; expected the CIFAR-10 batch folder' : 'CIFAR-10 directory missing');
  const nested = join(dir, 'cifar-10-batches-bin');
  const root = isDir(nested) ? nested : dir;
  const names = CIFAR10_FILES[split];
  // Only absent files count as missing; a directory or FIFO under the name is named below.
  const missing = names.filter((n) => {
    try { lstatSync(join(root, n)); return false; } catch { return true; }
  });
  if (missing.length > 0) {
    throw new DataError(root, `missing CIFAR-10 ${split} batch file${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
  }

  // Sizes first, so the output is allocated once and nothing is read if any file is malformed.
  const files = names.map((n) => join(root, n));
  const opened: { file: string; fd: number; size: number }[] = [];
  try {
    let count = 0;
    for (const file of files) {
      const { fd, size } = openRegularFile(file, 'a CIFAR-10 batch file');
      opened.push({ file, fd, size });
      if (size === 0 || size % RECORD !== 0) {
        throw new DataError(file, `size ${size} is not a positive multiple of the ${RECORD}-byte CIFAR-10 record`);
      }
      count += size / RECORD;
    }
    return readBatches(opened, count, split);
  } finally {
    for (const o of opened) closeSync(o.fd);
  }
}

function readBatches(opened: { file: string; fd: number; size: number }[], count: number, split: Split): ImageSet {
  const pixels = new Uint8Array(count * PIXELS);
  const labels = new Uint8Array(count);
  let n = 0;
  for (const { file: f, fd, size } of opened) {
    const buf = Buffer.allocUnsafe(size);
    readExactly(f, fd, buf, 0);
    for (let off = 0; off < buf.length; off += RECORD, n++) {
      const label = buf[off];
      if (label >= 10) throw new DataError(f, `label ${label} in record ${off / RECORD} is not a class 0..9`);
      labels[n] = label;
      pixels.set(buf.subarray(off + 1, off + RECORD), n * PIXELS);
    }
  }
  return {
    name: `cifar10:${split}`, count, channels: 3, height: 32, width: 32,
    pixels, labels, numClasses: 10, classNames: CIFAR10_CLASSES.slice(),
  };
}
