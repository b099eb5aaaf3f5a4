/**
 * Reader for the IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/):
 * a 4-byte magic (0, 0, type, number of dims), big-endian uint32 dims, then the data.
 * Only the unsigned-byte type (0x08) is supported since that is all the image datasets use.
 *
 * Files may be plain or gzip; gzip is detected by its 1f 8b magic rather than the name, since
 * distributions ship both and renamed files are common. Headers are never trusted: the declared
 * size is checked against the real (or decompressed) size before anything is allocated for it,
 * so a corrupt header cannot make us allocate gigabytes.
 */
import { closeSync } from 'node:fs';
import { constants as zlibConstants, gunzipSync } from 'node:zlib';
import { openRegularFile, readExactly } from './files.js';
import { DataError } from './image-set.js';

/** An IDX array: its dims and its bytes in row-major order. */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

export interface IdxReadOptions {
  /** Refuse data larger than this many bytes (also caps gzip decompression). Default 1 GiB. */
  maxBytes?: number;
  /** Required number of dims (3 for images, 1 for labels); any when omitted. */
  expectDims?: number;
}

/** Default cap on the data size: the largest real IDX file (MNIST train images) is 47 MB. */
export const DEFAULT_MAX_IDX_BYTES = 1 << 30;

const UBYTE = 0x08;
const TYPE_NAMES: Record<number, string> = {
  0x08: 'unsigned byte', 0x09: 'signed byte', 0x0b: 'int16', 0x0c: 'int32', 0x0d: 'float32', 0x0e: 'float64',
};
const DIM_KIND: Record<number, string> = { 1: 'labels', 3: 'images' };

function hex32(v: number): string {
  return '0x' + (v >>> 0).toString(16).padStart(8, '0');
}

interface Header {
  dims: number[];
  headerBytes: number;
  dataBytes: number;
}

/**
 * Validates the header in `head` (the first bytes of the decoded stream) against `total`, the real
 * decoded length, and returns the layout. Throws DataError for every inconsistency.
 */
function parseHeader(file: string, head: Uint8Array, total: number, opts: IdxReadOptions): Header {
  if (total < 4) throw new DataError(file, `truncated: ${total} bytes, too short for an IDX header`);
  const magic = ((head[0] << 24) | (head[1] << 16) | (head[2] << 8) | head[3]) >>> 0;
  if (head[0] !== 0 || head[1] !== 0) throw new DataError(file, `wrong magic ${hex32(magic)}: not an IDX file`);
  const type = head[2];
  const ndims = head[3];
  if (type !== UBYTE) {
    const name = TYPE_NAMES[type] ?? 'unknown type';
    throw new DataError(file, `unsupported IDX data type 0x${type.toString(16).padStart(2, '0')} (${name}); only unsigned byte (0x08) is supported`);
  }
  if (opts.expectDims !== undefined && ndims !== opts.expectDims) {
    const want = (UBYTE << 8) | opts.expectDims;
    const kind = DIM_KIND[opts.expectDims] ?? `${opts.expectDims}-dim array`;
    throw new DataError(file, `wrong magic ${hex32(magic)}, expected ${hex32(want)} (IDX ${kind})`);
  }
  const headerBytes = 4 + 4 * ndims;
  if (total < headerBytes) throw new DataError(file, `truncated: header needs ${headerBytes} bytes, file has ${total}`);
  const view = new DataView(head.buffer, head.byteOffset, headerBytes);
  const dims: number[] = [];
  let dataBytes = 1;
  for (let i = 0; i < ndims; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    dataBytes *= d; // a double: exact up to 2^53, Infinity beyond, either way comparable below
  }
  const actual = total - headerBytes;
  const shape = dims.join('×');
  if (actual < dataBytes) {
    throw new DataError(file, `truncated: header declares ${shape} = ${dataBytes} data bytes, file has ${actual}`);
  }
  if (actual > dataBytes) {
    throw new DataError(file, `size does not match header: ${shape} = ${dataBytes} data bytes declared, file has ${actual} (${actual - dataBytes} extra)`);
  }
  const max = opts.maxBytes ?? DEFAULT_MAX_IDX_BYTES;
  if (dataBytes > max) throw new DataError(file, `${dataBytes} data bytes exceeds the limit of ${max}`);
  return { dims, headerBytes, dataBytes };
}

/**
 * The whole size (header and data) that the IDX header at the start of a gzip stream declares,
 * from the first 4 KiB of compressed data (which inflate to at most ~4 MB); null when it cannot
 * be read there (the full inflate then reports the problem).
 */
function declaredGzipBytes(compressed: Buffer): number | null {
  let head: Buffer;
  try {
    head = gunzipSync(compressed.subarray(0, 4096), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  } catch {
    return null;
  }
  if (head.length < 4 || head[0] !== 0 || head[1] !== 0) return null;
  const headerBytes = 4 + 4 * head[3];
  if (head.length < headerBytes) return null;
  let data = 1;
  for (let i = 0; i < head[3]; i++) data *= head.readUInt32BE(4 + 4 * i);
  return headerBytes + data;
}

/** Reads an unsigned-byte IDX file, plain or gzip. Every problem is a DataError naming `file`. */
export function readIdx(file: string, opts: IdxReadOptions = {}): IdxArray {
  const { fd, size } = openRegularFile(file, 'an IDX file');
  try {
    const magic = new Uint8Array(Math.min(size, 4));
    readExactly(file, fd, magic, 0);

    if (size >= 2 && magic[0] === 0x1f && magic[1] === 0x8b) {
      // The compressed size is real, so reading it whole is safe; the decompressed size is not,
      // hence the cap. The header is then checked against the decompressed length.
      const max = opts.maxBytes ?? DEFAULT_MAX_IDX_BYTES;
      // gzip never shrinks data by less than its small framing, so a larger file cannot fit the cap.
      if (size > max + (1 << 20)) throw new DataError(file, `${size} bytes of gzip data exceeds the limit of ${max}`);
      const compressed = Buffer.allocUnsafe(size);
      readExactly(file, fd, compressed, 0);
      // Inflate no more than the header declares (plus a little, so that a small excess is
      // reported exactly by parseHeader), so a gzip bomb costs what its header admits to, not `max`.
      const declared = declaredGzipBytes(compressed);
      const byHeader = declared !== null && declared <= max;
      const limit = declared !== null && byHeader ? declared + (1 << 16) : max + 4 + 4 * 255;
      let raw: Buffer;
      try {
        raw = gunzipSync(compressed, { maxOutputLength: limit });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ERR_BUFFER_TOO_LARGE') {
          if (byHeader) throw new DataError(file, `size does not match header: decompresses to more than the ${declared} bytes it declares`);
          throw new DataError(file, `decompresses to more than the limit of ${max} bytes`);
        }
        throw new DataError(file, `corrupt or truncated gzip data: ${(e as Error).message}`);
      }
      const h = parseHeader(file, raw, raw.length, opts);
      return { dims: h.dims, data: new Uint8Array(raw.buffer, raw.byteOffset + h.headerBytes, h.dataBytes) };
    }

    const head = new Uint8Array(Math.min(size, 4 + 4 * 255));
    readExactly(file, fd, head, 0);
    const h = parseHeader(file, head, size, opts);
    const data = new Uint8Array(h.dataBytes); // only now: the size is known to be real
    readExactly(file, fd, data, h.headerBytes);
    return { dims: h.dims, data };
  } finally {
    closeSync(fd);
  }
}

/** Reads an IDX image file (magic 0x00000803): N×H×W unsigned bytes. */
export function readIdxImages(file: string, opts: Omit<IdxReadOptions, 'expectDims'> = {}):
  { count: number; height: number; width: number; pixels: Uint8Array } {
  const { dims, data } = readIdx(file, { ...opts, expectDims: 3 });
  return { count: dims[0], height: dims[1], width: dims[2], pixels: data };
}

/** Reads an IDX label file (magic 0x00000801): N unsigned bytes. */
export function readIdxLabels(file: string, opts: Omit<IdxReadOptions, 'expectDims'> = {}): Uint8Array {
  return readIdx(file, { ...opts, expectDims: 1 }).data;
}

/** Encodes an unsigned-byte IDX file (uncompressed), e.g. to write test fixtures or exports. */
export function encodeIdx(dims: readonly number[], data: Uint8Array): Buffer {
  if (dims.length > 255) throw new RangeError(`encodeIdx: at most 255 dims, got ${dims.length}`);
  const n = dims.reduce((a, b) => a * b, 1);
  if (n !== data.length) throw new RangeError(`encodeIdx: dims ${dims.join('×')} = ${n} but data has ${data.length} bytes`);
  const out = Buffer.alloc(4 + 4 * dims.length + data.length);
  out[2] = UBYTE;
  out[3] = dims.length;
  dims.forEach((d, i) => out.writeUInt32BE(d, 4 + 4 * i));
  out.set(data, 4 + 4 * dims.length);
  return out;
}
