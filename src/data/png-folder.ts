/**
 * A folder of PNG files as an ImageSet, for training on one's own images. Either a flat folder of
 * *.png (unlabelled) or a folder of class subfolders each holding *.png (label = index of the
 * subfolder in sorted order), the common "ImageFolder" layout.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../random/rng.js';
import { DataError, type ImageSet } from './image-set.js';
import { readPngHeaders, readPngImages, type PngReadOptions } from './png.js';

export interface PngFolderOptions extends PngReadOptions {
  /**
   * 1: grayscale (luma 0.299R + 0.587G + 0.114B, rounded); 3: RGB. Default: 1 if every PNG is
   * stored as grayscale, else 3, so a folder of gray digits does not become 3 identical planes.
   */
  channels?: 1 | 3;
  /** Only the training part or the held-out test part (heldOutImages); default all images. */
  part?: 'train' | 'test';
}

/** Code-unit order, so the image order (and hence labels and splits) is the same in every locale. */
function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isDirectory(p: string): boolean {
  try { return statSync(p).isDirectory(); } catch { return false; }
}

function listDir(dir: string): { pngs: string[]; subdirs: string[] } {
  const entries = readdirSync(dir, { withFileTypes: true }).filter((e) => !e.name.startsWith('.'));
  const pngs: string[] = [];
  const subdirs: string[] = [];
  for (const e of entries) {
    // A symlink loop is no directory: it is then read as a file and refused with its name.
    const isDir = e.isDirectory() || (e.isSymbolicLink() && isDirectory(join(dir, e.name)));
    if (isDir) subdirs.push(e.name);
    else if (e.name.toLowerCase().endsWith('.png')) pngs.push(e.name);
  }
  return { pngs: pngs.sort(byName), subdirs: subdirs.sort(byName) };
}

/** Seed of the held-out permutation: fixed, so every run (and `eval`) sees the same split. */
const HOLDOUT_SEED = 0x5eed7e57;

/**
 * Which images of a folder without train/ and test/ are held out for testing: the first
 * max(1, floor(n/10)) indices of a permutation of 0..n−1 seeded with a fixed seed (none when
 * n < 2). Depends only on n, so it is the same in every run, for every --seed and --limit.
 */
export function heldOutImages(n: number): Set<number> {
  const perm = Array.from({ length: n }, (_, i) => i);
  const rng = new Rng(HOLDOUT_SEED);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  return new Set(n < 2 ? [] : perm.slice(0, Math.max(1, Math.floor(n / 10))));
}

/**
 * Loads the PNGs in `dir` (sorted by name; by class folder then name in the labelled layout).
 * All images must have the same size. Alpha is composited over black. With `part`, only the
 * training or the held-out test images (see heldOutImages) are decoded; the headers of all are
 * checked either way, so both parts agree on size and channels.
 */
export function loadPngFolder(dir: string, opts: PngFolderOptions = {}): ImageSet {
  let st;
  try { st = statSync(dir); } catch { throw new DataError(dir, 'directory missing'); }
  if (!st.isDirectory()) throw new DataError(dir, 'not a directory');

  const top = listDir(dir);
  let files: string[] = [];
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

  const headers = readPngHeaders(files, opts);
  const channels = opts.channels ?? (headers.some((h) => h.color) ? 3 : 1);
  if (channels !== 1 && channels !== 3) throw new RangeError(`loadPngFolder: channels must be 1 or 3, got ${channels}`);

  let note: string | undefined;
  if (opts.part) {
    const held = heldOutImages(files.length);
    const keep = (_: unknown, i: number) => held.has(i) === (opts.part === 'test');
    if (opts.part === 'test' && held.size === 0) {
      throw new DataError(dir, `has only ${files.length} image, too few to hold one out for testing; add images or use train/ and test/ subfolders`);
    }
    note = `training on ${files.length - held.size} images of ${dir}, testing on the ${held.size} held out ` +
      '(it has no train/ and test/ subfolders: a fixed, seeded 10% is held out)';
    files = files.filter(keep);
    if (labelList) labelList = labelList.filter(keep);
  }
  const set = readPngImages(files, { channels, maxPixels: opts.maxPixels });
  return {
    ...set,
    name: `png:${dir}`,
    ...(note ? { note } : {}),
    labels: labelList ? Uint8Array.from(labelList) : null,
    numClasses: classNames ? classNames.length : 0,
    ...(classNames ? { classNames } : {}),
  };
}
