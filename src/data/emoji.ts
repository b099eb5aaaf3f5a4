/**
 * Twemoji as a colour data set: the 64×64 RGBA PNGs of the npm package emoji-datasource-twitter
 * (a devDependency; nothing is downloaded), labelled by their emoji.json category. Package code
 * MIT; the graphics are "Twemoji graphics © Twitter, Inc and other contributors, CC-BY 4.0".
 *
 * Images become 32×32 RGB (or 16×16, or the source's 64×64): each 2×2 (4×4) block is averaged in
 * premultiplied alpha (so the colour of transparent pixels does not bleed in) and the result
 * composited over white, which is how emoji are seen on a page.
 *
 * The held-out test split is fixed: an emoji group is held out when a hash of its name says so
 * (about 1 in 10), so it does not depend on --seed or --limit, and an emoji keeps its split when
 * the package adds others. A group is an emoji with all its skin-tone variants (emoji.json
 * skin_variations, and files whose names differ only by skin-tone modifiers or U+FE0F), so the
 * test set holds no recoloured copy of a training image. Byte-identical PNG files (Twemoji draws
 * every family and some flags alike) are kept once.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Rng } from '../random/rng.js';
import { readRegularFile } from './files.js';
import { DataError, type ImageSet } from './image-set.js';
import type { Split } from './mnist.js';
import { decodePng, readPngHeader } from './png.js';

export const EMOJI_PACKAGE = 'emoji-datasource-twitter';

/** The class labels: emoji.json's categories, in Unicode's order (label = index). */
export const EMOJI_CATEGORIES = [
  'Smileys & Emotion', 'People & Body', 'Component', 'Animals & Nature', 'Food & Drink',
  'Travel & Places', 'Activities', 'Objects', 'Symbols', 'Flags',
] as const;

/** Where the images lie inside the package (and inside a --data-dir of the same layout). */
export const EMOJI_IMAGE_DIR = join('img', 'twitter', '64');
const SOURCE_SIZE = 64;
/** The default side of the data set's images. */
export const EMOJI_SIZE = SOURCE_SIZE / 2;
/** The sides the data set can have: the source's, divided by 1, 2 or 4. */
export const EMOJI_SIZES: readonly number[] = [16, 32, 64];

/** emoji.json is 1.3 MB; a file far larger is not it. */
const MAX_JSON_BYTES = 64 << 20;
/** A 64×64 RGBA PNG is at most about 16 KB uncompressed. */
const MAX_PNG_BYTES = 1 << 20;

/**
 * The installed package's folder, found by Node's module resolution from `from` (this module; a
 * test passes another place); a one-line error with the fix when it is not installed.
 */
export function emojiDataDir(from: string | URL = import.meta.url): string {
  try {
    return dirname(createRequire(from).resolve(`${EMOJI_PACKAGE}/package.json`));
  } catch {
    throw new Error(`data set 'emoji' needs the npm package ${EMOJI_PACKAGE}, which is not installed: npm install --save-dev ${EMOJI_PACKAGE}`);
  }
}

export interface EmojiImage {
  /** File name in EMOJI_IMAGE_DIR, e.g. '1f385-1f3fb.png'. */
  file: string;
  /** The skin-tone group's name (its file name without skin-tone modifiers and U+FE0F). */
  group: string;
  /** Index into EMOJI_CATEGORIES. */
  label: number;
}

export interface EmojiSplits {
  train: EmojiImage[];
  test: EmojiImage[];
  /** Byte-identical copies left out. */
  duplicates: number;
}

/** A file name without skin-tone modifiers (U+1F3FB..U+1F3FF) and variation selector 16. */
function groupName(file: string): string {
  return file.replace(/(^|-)(1f3f[b-f]|fe0f)(?=-|\.png$)/g, '').replace(/^-/, '');
}

/** FNV-1a with a murmur3 finaliser, so that the split depends on the name alone. */
function nameHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Whether a group is held out for testing: about one in ten. */
function isTestGroup(group: string): boolean {
  return nameHash(group) % 10 === 0;
}

/** Seed of the fixed image order, which mixes the categories so that --limit takes some of each. */
const ORDER_SEED = 0xe3011;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkDir(dir: string): void {
  let st;
  try { st = statSync(dir); } catch { throw new DataError(dir, `directory missing; data set 'emoji' reads the layout of the npm package ${EMOJI_PACKAGE}`); }
  if (!st.isDirectory()) throw new DataError(dir, 'not a directory');
  try { st = statSync(join(dir, 'emoji.json')); } catch { st = null; }
  if (!st) {
    throw new DataError(dir, `has no emoji.json; data set 'emoji' reads the layout of the npm package ${EMOJI_PACKAGE} (emoji.json and ${EMOJI_IMAGE_DIR}/*.png)`);
  }
}

/** The images emoji.json lists with a Twitter image, each with its category and group. */
function listImages(dir: string): EmojiImage[] {
  const file = join(dir, 'emoji.json');
  let entries: unknown;
  try {
    entries = JSON.parse(readRegularFile(file, 'a JSON file', MAX_JSON_BYTES).toString('utf8'));
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(file, `not valid JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(entries)) throw new DataError(file, 'expected an array of emoji');
  const bad = (i: number, problem: string) => new DataError(file, `emoji ${i}: ${problem}`);
  const imageOf = (i: number, v: unknown): string | null => {
    if (!isObject(v) || v.has_img_twitter !== true) return null;
    // Only plain code-point names, so no entry can name a file outside the image folder.
    if (typeof v.image !== 'string' || !/^[0-9a-f]+(-[0-9a-f]+)*\.png$/.test(v.image)) throw bad(i, `image ${JSON.stringify(v.image)} is not a file name like 1f600.png`);
    return v.image;
  };
  // Union-find over emoji, joined by their skin variations and by their images' group names.
  const parent: number[] = [];
  const find = (i: number): number => { while (parent[i] !== i) i = parent[i] = parent[parent[i]]; return i; };
  const owner = new Map<string, number>();
  const found: { file: string; emoji: number; label: number }[] = [];
  entries.forEach((e: unknown, i) => {
    parent.push(i);
    if (!isObject(e)) throw bad(i, 'not an object');
    const files = [imageOf(i, e)];
    if (e.skin_variations !== undefined) {
      if (!isObject(e.skin_variations)) throw bad(i, '"skin_variations" is not an object');
      for (const v of Object.values(e.skin_variations)) files.push(imageOf(i, v));
    }
    if (files.every((f) => f === null)) return;
    const label = EMOJI_CATEGORIES.indexOf(e.category as (typeof EMOJI_CATEGORIES)[number]);
    if (label < 0) throw bad(i, `category ${JSON.stringify(e.category)} is not one of ${EMOJI_CATEGORIES.join(', ')}`);
    for (const f of files) {
      if (f === null) continue;
      found.push({ file: f, emoji: i, label });
      const g = groupName(f), o = owner.get(g);
      if (o === undefined) owner.set(g, i);
      else parent[find(i)] = find(o);
    }
  });
  if (found.length === 0) throw new DataError(file, 'lists no emoji with a Twitter image');
  // A group's name: the smallest of its members' group names, the same however the file is ordered.
  const name = new Map<number, string>();
  for (const f of found) {
    const root = find(f.emoji), g = groupName(f.file), n = name.get(root);
    if (n === undefined || g < n) name.set(root, g);
  }
  const seen = new Set<string>();
  return found
    .filter((f) => !seen.has(f.file) && seen.add(f.file))
    .map((f) => ({ file: f.file, group: name.get(find(f.emoji))!, label: f.label }))
    .sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

/**
 * The train and test images of an emoji folder (the package's layout): every image emoji.json
 * lists with a Twitter image, byte-identical copies dropped (the first by file name kept), split
 * by group (see the file comment), each split in a fixed shuffled order.
 */
export function emojiSplits(dir: string = emojiDataDir()): EmojiSplits {
  checkDir(dir);
  const images = listImages(dir);
  const hashes = new Set<string>();
  const unique = images.filter((im) => {
    const bytes = readRegularFile(join(dir, EMOJI_IMAGE_DIR, im.file), 'a PNG file', MAX_PNG_BYTES);
    const h = createHash('sha1').update(bytes).digest('hex');
    return !hashes.has(h) && hashes.add(h);
  });
  const order = new Rng(ORDER_SEED).shuffle(Array.from(unique, (_, i) => i));
  const shuffled = Array.from(order, (i) => unique[i]);
  return {
    train: shuffled.filter((im) => !isTestGroup(im.group)),
    test: shuffled.filter((im) => isTestGroup(im.group)),
    duplicates: images.length - unique.length,
  };
}

/**
 * Writes a 64×64 RGBA image as size×size RGB planes at `offset` (size one of EMOJI_SIZES): the box
 * average of the premultiplied colour over each (64/size)² block, composited over white. (The PNG
 * folder loader composites over black, which suits white-on-black digits; emoji are drawn for a
 * light page.)
 */
export function downsampleOverWhite(rgba: Uint8Array, out: Uint8Array, offset: number, size: number = EMOJI_SIZE): void {
  if (!EMOJI_SIZES.includes(size)) throw new RangeError(`emoji size ${size} is not one of ${EMOJI_SIZES.join(', ')}`);
  const s = SOURCE_SIZE, f = s / size, n = f * f, plane = size * size;
  const sum = [0, 0, 0];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      sum[0] = sum[1] = sum[2] = 0;
      let alpha = 0;
      for (let dy = 0; dy < f; dy++) {
        for (let dx = 0; dx < f; dx++) {
          const p = ((f * y + dy) * s + f * x + dx) * 4, a = rgba[p + 3];
          alpha += a;
          for (let c = 0; c < 3; c++) sum[c] += rgba[p + c] * a;
        }
      }
      // Premultiplied mean colour plus white times the mean transparency, all over n·255.
      for (let c = 0; c < 3; c++) out[offset + c * plane + y * size + x] = Math.round((sum[c] / 255 + n * 255 - alpha) / n);
    }
  }
}

/**
 * One split of the emoji data set as 3×size×size images (default 32) labelled by category
 * (EMOJI_CATEGORIES). `limit` decodes only the first images of the split (its order is fixed).
 */
export function loadEmoji(split: Split, opts: { dir?: string; limit?: number; size?: number } = {}): ImageSet {
  const side = opts.size ?? EMOJI_SIZE;
  if (!EMOJI_SIZES.includes(side)) throw new Error(`emoji images can be ${EMOJI_SIZES.join(', ')} pixels wide, not ${side}`);
  const dir = opts.dir ?? emojiDataDir();
  const splits = emojiSplits(dir);
  const all = splits[split];
  if (all.length === 0) throw new DataError(dir, `has no emoji in the ${split} split`);
  const images = opts.limit === undefined ? all : all.slice(0, opts.limit);
  const size = 3 * side * side;
  const pixels = new Uint8Array(images.length * size);
  images.forEach((im, n) => {
    const file = join(dir, EMOJI_IMAGE_DIR, im.file);
    // The header first, so that a large image is refused before it is decoded.
    const { width, height } = readPngHeader(file);
    if (width !== SOURCE_SIZE || height !== SOURCE_SIZE) {
      throw new DataError(file, `is ${width}×${height}; the emoji data set reads ${SOURCE_SIZE}×${SOURCE_SIZE} images`);
    }
    const { header, rgba } = decodePng(file);
    if (header.width !== SOURCE_SIZE || header.height !== SOURCE_SIZE) throw new DataError(file, 'changed while reading');
    downsampleOverWhite(rgba, pixels, n * size, side);
  });
  return {
    name: `emoji:${split}`, count: images.length, channels: 3, height: side, width: side, pixels,
    labels: Uint8Array.from(images, (im) => im.label), numClasses: EMOJI_CATEGORIES.length, classNames: [...EMOJI_CATEGORIES],
    note: `emoji (Twemoji graphics © Twitter, Inc and other contributors, CC-BY 4.0): ${splits.train.length} training images, ` +
      `${splits.test.length} held out for testing (whole emoji with their skin tones); ${splits.duplicates} byte-identical copies left out`,
  };
}
