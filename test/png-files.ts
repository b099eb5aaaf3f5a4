/**
 * PNG files built byte by byte, good and malformed, for the tests of the PNG reader: pngjs can
 * write neither palettes nor broken files.
 */
import { deflateSync } from 'node:zlib';
import { crc32 } from '../src/data/png.js';

export function chunk(type: string, data: Uint8Array = new Uint8Array(0)): Buffer {
  const b = Buffer.alloc(12 + data.length);
  b.writeUInt32BE(data.length, 0);
  b.write(type, 4, 'latin1');
  b.set(data, 8);
  b.writeUInt32BE(crc32(b.subarray(4, 8 + data.length)), 8 + data.length);
  return b;
}

export const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export function ihdr(width: number, height: number, bitDepth = 8, colorType = 0, interlace = 0): Buffer {
  const d = Buffer.alloc(13);
  d.writeUInt32BE(width, 0);
  d.writeUInt32BE(height, 4);
  d.set([bitDepth, colorType, 0, 0, interlace], 8);
  return chunk('IHDR', d);
}

const SAMPLES: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const ADAM7 = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];

/**
 * The filtered image data (filter type 0 on every row) of a w×h image whose row bytes are given
 * by `byte(x, y, k)` for byte k of a row (x, y: the pass's first pixel of the row, unused mostly).
 */
export function rawImage(w: number, h: number, bitDepth: number, colorType: number, interlace: number, byte: (row: number, k: number) => number): Buffer {
  const bits = SAMPLES[colorType] * bitDepth;
  const passes = interlace ? ADAM7.map(([x0, y0, dx, dy]) => [Math.ceil((w - x0) / dx), Math.ceil((h - y0) / dy)]) : [[w, h]];
  const rows: number[] = [];
  let r = 0;
  for (const [pw, ph] of passes) {
    if (pw <= 0 || ph <= 0) continue;
    const rb = Math.ceil((pw * bits) / 8);
    for (let y = 0; y < ph; y++, r++) {
      rows.push(0);
      for (let k = 0; k < rb; k++) rows.push(byte(r, k) & 255);
    }
  }
  return Buffer.from(rows);
}

export interface PngParts {
  width: number; height: number; bitDepth?: number; colorType?: number; interlace?: number;
  /** Extra chunks between IHDR and IDAT (PLTE, tRNS). */
  before?: Buffer[];
  /** The IDAT payload; default: the deflated rawImage with byte pattern (row·7 + k·13). */
  idat?: Buffer | null;
}

/** A whole PNG file from its parts (idat null: no IDAT chunk at all). */
export function makePng(p: PngParts): Buffer {
  const bitDepth = p.bitDepth ?? 8, colorType = p.colorType ?? 0, interlace = p.interlace ?? 0;
  const idat = p.idat === undefined
    ? deflateSync(rawImage(p.width, p.height, bitDepth, colorType, interlace, (r, k) => r * 7 + k * 13))
    : p.idat;
  return Buffer.concat([
    SIGNATURE, ihdr(p.width, p.height, bitDepth, colorType, interlace), ...(p.before ?? []),
    ...(idat ? [chunk('IDAT', idat)] : []), chunk('IEND'),
  ]);
}
