/**
 * A folder of PNG files as an ImageSet, for training on one's own images. Either a flat folder of
 * *.png (unlabelled) or a folder of class subfolders each holding *.png (label = index of the
 * subfolder in sorted order), the common "ImageFolder" layout.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { DataError, type ImageSet } from './image-set.js';

export interface PngFolderOptions {
  /**
   * 1: grayscale (luma 0.299R + 0.587G + 0.114B, rounded); 3: RGB. Default: 1 if every PNG is
   * stored as grayscale, else 3, so a folder of gray digits does not become 3 identical planes.
   */
  channels?: 1 | 3;
}

/** Code-unit order, so the image order (and hence labels and splits) is the same in every locale. */
function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function listDir(dir: string): { pngs: string[]; subdirs: string[] } {
  const entries = readdirSync(dir, { withFileTypes: true }).filter((e) => !e.name.startsWith('.'));
  const pngs: string[] = [];
  const subdirs: string[] = [];
  for (const e of entries) {
    const isDir = e.isDirectory() || (e.isSymbolicLink() && statSync(join(dir, e.name), { throwIfNoEntry: false })?.isDirectory());
    if (isDir) subdirs.push(e.name);
    else if (e.name.toLowerCase().endsWith('.png')) pngs.push(e.name);
  }
  return { pngs: pngs.sort(byName), subdirs: subdirs.sort(byName) };
}

/** Refuse to allocate more than this for the pixels (a corrupt IHDR can declare 2^31 × 2^31). */
const MAX_BYTES = 2 ** 31;

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

interface PngFile { file: string; bytes: Buffer; width: number; height: number; color: boolean }

/**
 * Reads a PNG file and its IHDR (size and colour type) without decoding, so sizes can be checked
 * and the output allocated before any image is decoded, and only one decoded image is held at once.
 */
function readPngHeader(file: string): PngFile {
  const bytes = readFileSync(file);
  if (bytes.length < 33 || PNG_SIGNATURE.some((v, i) => bytes[i] !== v) || bytes.toString('latin1', 12, 16) !== 'IHDR') {
    throw new DataError(file, 'cannot decode PNG: not a PNG file (bad signature or header)');
  }
  const colorType = bytes[25];
  // 0: gray, 4: gray+alpha; 2, 6: RGB(A); 3: palette (treated as colour).
  return { file, bytes, width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20), color: colorType !== 0 && colorType !== 4 };
}

function decodeRgba(png: PngFile): Uint8Array {
  let img;
  try {
    img = PNG.sync.read(png.bytes); // always 8-bit RGBA: 16-bit is rescaled, palettes expanded
  } catch (e) {
    throw new DataError(png.file, `cannot decode PNG: ${(e as Error).message}`);
  }
  if (img.width !== png.width || img.height !== png.height) {
    throw new DataError(png.file, `cannot decode PNG: decoded size ${img.width}×${img.height} differs from its header`);
  }
  return img.data;
}

/**
 * Loads every PNG in `dir` (sorted by name; by class folder then name in the labelled layout).
 * All images must have the same size. Alpha is composited over black.
 */
export function loadPngFolder(dir: string, opts: PngFolderOptions = {}): ImageSet {
  let st;
  try { st = statSync(dir); } catch { throw new DataError(dir, 'directory missing'); }
  if (!st.isDirectory()) throw new DataError(dir, 'not a directory');

  const top = listDir(dir);
  const files: string[] = [];
  let labelList: number[] | null = null;
  let classNames: string[] | undefined;
  if (top.pngs.length === 0 && top.subdirs.length > 0) {
    labelList = [];
    classNames = top.subdirs;
    top.subdirs.forEach((sub, cls) => {
      for (const f of listDir(join(dir, sub)).pngs) { files.push(join(dir, sub, f)); labelList!.push(cls); }
    });
  } else {
    for (const f of top.pngs) files.push(join(dir, f));
  }
  if (files.length === 0) throw new DataError(dir, 'no .png files found');
  if (classNames && classNames.length > 256) throw new DataError(dir, `${classNames.length} class folders; at most 256 are supported`);

  const images = files.map(readPngHeader);
  const first = images[0];
  for (const im of images) {
    if (im.width !== first.width || im.height !== first.height) {
      throw new DataError(im.file, `is ${im.width}×${im.height} but ${first.file} (the first image) is ${first.width}×${first.height}; all images must have the same size`);
    }
  }
  const channels = opts.channels ?? (images.some((im) => im.color) ? 3 : 1);
  if (channels !== 1 && channels !== 3) throw new RangeError(`loadPngFolder: channels must be 1 or 3, got ${channels}`);

  const hw = first.width * first.height;
  const size = channels * hw;
  if (images.length * size > MAX_BYTES) {
    throw new DataError(dir, `${images.length} images of ${channels}×${first.height}×${first.width} need ${images.length * size} bytes, more than the limit of ${MAX_BYTES}`);
  }
  const pixels = new Uint8Array(images.length * size);
  images.forEach((im, n) => {
    const d = decodeRgba(im);
    const base = n * size;
    for (let p = 0; p < hw; p++) {
      const a = d[4 * p + 3] / 255;
      const r = d[4 * p] * a, g = d[4 * p + 1] * a, b = d[4 * p + 2] * a;
      if (channels === 1) {
        pixels[base + p] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
      } else {
        pixels[base + p] = Math.round(r);
        pixels[base + hw + p] = Math.round(g);
        pixels[base + 2 * hw + p] = Math.round(b);
      }
    }
  });

  return {
    name: `png:${dir}`, count: images.length, channels, height: first.height, width: first.width,
    pixels,
    labels: labelList ? Uint8Array.from(labelList) : null,
    numClasses: classNames ? classNames.length : 0,
    ...(classNames ? { classNames } : {}),
  };
}
