/**
 * The project's one way to read PNG files (PNG folders, `complete --input`).
 *
 * pngjs decodes, but it trusts the file: a missing, truncated or non-zlib IDAT gives back an
 * uninitialised buffer without an error, and the declared size is allocated before anything is
 * checked (a 74-byte file can ask for gigabytes). So every file is checked here first, strictly:
 * signature; IHDR first with valid fields; every chunk's CRC; PLTE where needed; consecutive IDATs;
 * IEND last; no unknown critical chunk; width × height within a cap (before allocating anything);
 * and the concatenated IDAT must inflate (with an output limit) to exactly the number of bytes
 * the header implies, every row starting with a valid filter type. Only then is pngjs given the
 * file, and its result is checked once more against the header.
 */
import { closeSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { openRegularFile, readExactly } from './files.js';
import { DataError, type ImageSet } from './image-set.js';

/** Default cap on width × height: admits any ordinary image (4096×4096) and refuses bombs. */
export const DEFAULT_MAX_IMAGE_PIXELS = 4096 * 4096;

/** A PNG's IHDR. */
export interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  /** 0 gray, 2 RGB, 3 palette, 4 gray + alpha, 6 RGBA. */
  colorType: number;
  interlaced: boolean;
  /** Stored with colour (RGB, RGBA or palette) rather than as gray. */
  color: boolean;
}

export interface PngReadOptions {
  /** Refuse images with more pixels than this (width × height). Default DEFAULT_MAX_IMAGE_PIXELS. */
  maxPixels?: number;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Allowed bit depths per colour type, and samples per pixel. */
const DEPTHS: Record<number, { depths: number[]; samples: number }> = {
  0: { depths: [1, 2, 4, 8, 16], samples: 1 },
  2: { depths: [8, 16], samples: 3 },
  3: { depths: [1, 2, 4, 8], samples: 1 },
  4: { depths: [8, 16], samples: 2 },
  6: { depths: [8, 16], samples: 4 },
};
/** Adam7 passes: x start, y start, x step, y step. */
const ADAM7 = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];
/** A bigger file is no image this project could train on; refuse before reading it. */
const MAX_FILE_BYTES = 1 << 30;

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** CRC-32 as PNG chunks use it (ISO 3309), exported for tests that build PNGs by hand. */
export function crc32(b: Uint8Array): number {
  let c = -1;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

function bad(file: string, problem: string): DataError {
  return new DataError(file, `cannot decode PNG: ${problem}`);
}

/** Parses and checks the signature and IHDR at the start of `b` (at least 33 bytes of it). */
function parseHeader(file: string, b: Uint8Array, maxPixels: number): PngHeader {
  if (b.length < 8 || SIGNATURE.some((v, i) => b[i] !== v)) throw bad(file, 'not a PNG file (bad signature)');
  if (b.length < 33) throw bad(file, `truncated: ${b.length} bytes, too short for a PNG header`);
  const view = new DataView(b.buffer, b.byteOffset, 33);
  const type = Buffer.from(b.subarray(12, 16)).toString('latin1');
  if (view.getUint32(8) !== 13 || type !== 'IHDR') throw bad(file, 'the first chunk is not a 13-byte IHDR');
  if (crc32(b.subarray(12, 29)) !== view.getUint32(29)) throw bad(file, 'CRC mismatch in chunk IHDR');
  const width = view.getUint32(16), height = view.getUint32(20);
  const bitDepth = b[24], colorType = b[25];
  if (width === 0 || height === 0 || width > 0x7fffffff || height > 0x7fffffff) throw bad(file, `invalid size ${width}×${height}`);
  const kind = DEPTHS[colorType];
  if (!kind) throw bad(file, `invalid colour type ${colorType}`);
  if (!kind.depths.includes(bitDepth)) throw bad(file, `invalid bit depth ${bitDepth} for colour type ${colorType}`);
  if (b[26] !== 0 || b[27] !== 0) throw bad(file, 'unknown compression or filter method');
  if (b[28] > 1) throw bad(file, `unknown interlace method ${b[28]}`);
  // Checked before anything is allocated for the pixels.
  if (width * height > maxPixels) {
    throw new DataError(file, `PNG is ${width}×${height} = ${width * height} pixels, more than the limit of ${maxPixels} (raise it with --max-image-pixels)`);
  }
  return { width, height, bitDepth, colorType, interlaced: b[28] === 1, color: colorType === 2 || colorType === 3 || colorType === 6 };
}

/** Row layouts of the filtered image data: [rows, bytes per row without the filter byte] per pass. */
function passes(h: PngHeader): [number, number][] {
  const bits = DEPTHS[h.colorType].samples * h.bitDepth;
  const rowBytes = (w: number) => Math.ceil((w * bits) / 8);
  if (!h.interlaced) return [[h.height, rowBytes(h.width)]];
  const out: [number, number][] = [];
  for (const [x0, y0, dx, dy] of ADAM7) {
    const w = Math.ceil((h.width - x0) / dx), rows = Math.ceil((h.height - y0) / dy);
    if (w > 0 && rows > 0) out.push([rows, rowBytes(w)]);
  }
  return out;
}

/**
 * Walks the chunks of a whole PNG file, checks them, and returns its header and the image data
 * inflated and checked (exact size, valid filter bytes).
 */
function checkPng(file: string, b: Buffer, maxPixels: number): PngHeader {
  const header = parseHeader(file, b, maxPixels);
  const idat: Buffer[] = [];
  let pos = 33, idatDone = false, plte = false, iend = false;
  while (pos < b.length) {
    if (pos + 12 > b.length) throw bad(file, `truncated: ${b.length - pos} stray bytes at ${pos}, too few for a chunk`);
    const len = b.readUInt32BE(pos);
    const type = b.toString('latin1', pos + 4, pos + 8);
    if (!/^[A-Za-z]{4}$/.test(type)) throw bad(file, `invalid chunk type at byte ${pos}`);
    if (len > 0x7fffffff || pos + 12 + len > b.length) throw bad(file, `truncated: chunk ${type} at byte ${pos} declares ${len} bytes, past the end of the file`);
    if (crc32(b.subarray(pos + 4, pos + 8 + len)) !== b.readUInt32BE(pos + 8 + len)) throw bad(file, `CRC mismatch in chunk ${type} at byte ${pos}`);
    const data = b.subarray(pos + 8, pos + 8 + len);
    pos += 12 + len;
    if (type === 'IEND') { iend = true; break; }
    if (type === 'IDAT') {
      if (idatDone) throw bad(file, 'IDAT chunks are not consecutive');
      idat.push(data);
      continue;
    }
    if (idat.length > 0) idatDone = true;
    if (type === 'IHDR') throw bad(file, 'a second IHDR chunk');
    if (type === 'PLTE') {
      if (idat.length > 0) throw bad(file, 'PLTE after IDAT');
      if (len === 0 || len % 3 !== 0 || len / 3 > 256) throw bad(file, `PLTE of ${len} bytes is not 1..256 RGB entries`);
      plte = true;
    } else if ((type.charCodeAt(0) & 0x20) === 0) {
      throw bad(file, `unknown critical chunk ${type}`);
    }
  }
  if (!iend) throw bad(file, 'truncated: no IEND chunk');
  if (pos !== b.length) throw bad(file, `${b.length - pos} bytes of data after IEND`);
  if (idat.length === 0) throw bad(file, 'no IDAT chunk (no image data)');
  if (header.colorType === 3 && !plte) throw bad(file, 'palette image without a PLTE chunk');

  const layout = passes(header);
  const expected = layout.reduce((s, [rows, bytes]) => s + rows * (1 + bytes), 0);
  let raw: Buffer;
  try {
    // One byte over the expected size is enough to know the data is too long.
    raw = inflateSync(Buffer.concat(idat), { maxOutputLength: expected + 1 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw bad(file, `image data inflates to more than the ${expected} bytes its ${header.width}×${header.height} header implies`);
    }
    throw bad(file, `image data is not valid zlib data (${(e as Error).message})`);
  }
  if (raw.length !== expected) {
    throw bad(file, `image data inflates to ${raw.length} bytes, its ${header.width}×${header.height} header implies ${expected}`);
  }
  let at = 0;
  for (const [rows, bytes] of layout) {
    for (let r = 0; r < rows; r++, at += 1 + bytes) {
      if (raw[at] > 4) throw bad(file, `invalid row filter type ${raw[at]}`);
    }
  }
  return header;
}

/** Reads a PNG's header only (the first 33 bytes), checked against the pixel cap. */
export function readPngHeader(file: string, opts: PngReadOptions = {}): PngHeader {
  const { fd, size } = openPng(file);
  try {
    const head = Buffer.alloc(Math.min(size, 33));
    readExactly(file, fd, head, 0);
    return parseHeader(file, head, opts.maxPixels ?? DEFAULT_MAX_IMAGE_PIXELS);
  } finally {
    closeSync(fd);
  }
}

function openPng(file: string): { fd: number; size: number } {
  try {
    return openRegularFile(file, 'a PNG file');
  } catch (e) {
    throw e instanceof DataError ? new DataError(file, `cannot read PNG: ${e.problem}`) : e;
  }
}

/**
 * Reads and fully checks a PNG file, then decodes it to 8-bit RGBA (16-bit is rescaled, palettes
 * and tRNS expanded). Every problem is a DataError naming `file`.
 */
export function decodePng(file: string, opts: PngReadOptions = {}): { header: PngHeader; rgba: Uint8Array } {
  const { fd, size } = openPng(file);
  let bytes: Buffer;
  try {
    if (size > MAX_FILE_BYTES) throw new DataError(file, `cannot read PNG: ${size} bytes is more than the limit of ${MAX_FILE_BYTES}`);
    bytes = Buffer.allocUnsafe(size);
    readExactly(file, fd, bytes, 0);
  } finally {
    closeSync(fd);
  }
  const header = checkPng(file, bytes, opts.maxPixels ?? DEFAULT_MAX_IMAGE_PIXELS);
  let img;
  try {
    img = PNG.sync.read(bytes);
  } catch (e) {
    throw bad(file, (e as Error).message);
  }
  if (img.width !== header.width || img.height !== header.height || img.data.length !== 4 * header.width * header.height) {
    throw bad(file, `decoded size ${img.width}×${img.height} differs from its header`);
  }
  return { header, rgba: img.data };
}

/**
 * Writes an RGBA image into `out` at `offset` as `channels` planes: alpha composited over black,
 * then gray by luma round(0.299R + 0.587G + 0.114B) or R, G, B planes.
 */
export function rgbaToPlanes(rgba: Uint8Array, pixels: number, channels: 1 | 3, out: Uint8Array, offset: number): void {
  for (let p = 0; p < pixels; p++) {
    const a = rgba[4 * p + 3] / 255;
    const r = rgba[4 * p] * a, g = rgba[4 * p + 1] * a, b = rgba[4 * p + 2] * a;
    if (channels === 1) {
      out[offset + p] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
    } else {
      out[offset + p] = Math.round(r);
      out[offset + pixels + p] = Math.round(g);
      out[offset + 2 * pixels + p] = Math.round(b);
    }
  }
}

/** Refuse to allocate more than this for a set of decoded images. */
const MAX_SET_BYTES = 2 ** 31;

/** Reads the headers of PNG files that must all have the size of the first (checked here). */
export function readPngHeaders(files: readonly string[], opts: PngReadOptions = {}): PngHeader[] {
  if (files.length === 0) throw new RangeError('readPngHeaders: no files');
  const headers = files.map((f) => readPngHeader(f, opts));
  const first = headers[0];
  headers.forEach((h, i) => {
    if (h.width !== first.width || h.height !== first.height) {
      throw new DataError(files[i], `is ${h.width}×${h.height} but ${files[0]} (the first image) is ${first.width}×${first.height}; all images must have the same size`);
    }
  });
  return headers;
}

/**
 * Reads PNG files of one size into an ImageSet of `channels` (default: 1 if every file is stored
 * as gray, else 3). Headers are all read and compared first, so a size mismatch or an oversized
 * image is found before anything is decoded, and only one decoded image is held at a time.
 */
export function readPngImages(files: readonly string[], opts: PngReadOptions & { channels?: 1 | 3; name?: string } = {}): ImageSet {
  const headers = readPngHeaders(files, opts);
  const first = headers[0];
  const channels = opts.channels ?? (headers.some((h) => h.color) ? 3 : 1);
  const hw = first.width * first.height, size = channels * hw;
  if (files.length * size > MAX_SET_BYTES) {
    throw new DataError(files[0], `${files.length} images of ${channels}×${first.height}×${first.width} need ${files.length * size} bytes, more than the limit of ${MAX_SET_BYTES}`);
  }
  const pixels = new Uint8Array(files.length * size);
  files.forEach((f, n) => {
    const { header, rgba } = decodePng(f, opts);
    // The file may have changed since its header was read.
    if (header.width !== first.width || header.height !== first.height) throw bad(f, 'changed while reading');
    rgbaToPlanes(rgba, hw, channels, pixels, n * size);
  });
  return { name: opts.name ?? 'png', count: files.length, channels, height: first.height, width: first.width, pixels, labels: null, numClasses: 0 };
}
