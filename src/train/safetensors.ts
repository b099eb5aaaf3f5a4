/**
 * The safetensors format (https://github.com/huggingface/safetensors), read and written by hand:
 *
 *   u64 little-endian N | N bytes of UTF-8 JSON header | byte buffer
 *
 * The header maps tensor names to {dtype, shape, data_offsets: [begin, end]} (offsets relative
 * to the start of the byte buffer) plus an optional "__metadata__" object of string → string.
 * We write F32 (or F16, rounded to nearest even, for shipping weights at half the size), tensors
 * tightly packed in name order, the header padded with spaces so the byte buffer starts at a
 * multiple of 8. We read F32, F64, F16 and BF16 (converted to float32).
 *
 * Decoding is browser-safe: decodeSafetensors takes any Uint8Array (a Node Buffer is one) and uses
 * only DataView, TextDecoder and typed arrays, so the page of `pixelcnn serve` (web/checkpoint.ts,
 * through src/train/checkpoint-format.ts) reads checkpoints with it. Encoding is browser-safe
 * too and returns a plain Uint8Array: the page's training panel downloads what it writes.
 */

export interface RawTensor {
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsContents {
  tensors: Map<string, RawTensor>;
  metadata: Record<string, string>;
}

/** Error for a malformed or unsupported safetensors file; the message names the file. */
export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

/** The safetensors reference implementation refuses headers above 100 MB. */
export const MAX_HEADER_BYTES = 100_000_000;

const DTYPE_BYTES: Record<string, number> = { F32: 4, F64: 8, F16: 2, BF16: 2 };
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function isShape(s: unknown): s is number[] {
  return Array.isArray(s) && s.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0);
}

/** The dtypes encodeSafetensors writes. */
export type WrittenDtype = 'F32' | 'F16';

/**
 * Encodes float32 tensors (and optional string metadata) as a safetensors file, stored as F32 or
 * as F16 (each value rounded to the nearest binary16, ties to even; a finite value beyond
 * binary16's range is an error naming the tensor). Browser-safe (a plain Uint8Array, TextEncoder,
 * DataView): the one encoder of Node checkpoints and of the page's downloads
 * (src/train/checkpoint-format.ts encodeCheckpoint).
 */
export function encodeSafetensors(tensors: Map<string, RawTensor>, metadata?: Record<string, string>, dtype: WrittenDtype = 'F32'): Uint8Array {
  const width = DTYPE_BYTES[dtype];
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new SafetensorsError(`encodeSafetensors: metadata '${k}' must be a string, got ${typeof v}`);
    }
    header.__metadata__ = { ...metadata };
  }
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    if (name === '' || name === '__metadata__') throw new SafetensorsError(`encodeSafetensors: invalid tensor name '${name}'`);
    if (!isShape(t.shape)) throw new SafetensorsError(`encodeSafetensors: tensor '${name}' has invalid shape ${JSON.stringify(t.shape)}`);
    if (!(t.data instanceof Float32Array)) throw new SafetensorsError(`encodeSafetensors: tensor '${name}' data must be a Float32Array`);
    if (elementCount(t.shape) !== t.data.length) {
      throw new SafetensorsError(`encodeSafetensors: tensor '${name}' has ${t.data.length} values for shape [${t.shape.join(', ')}]`);
    }
    const bytes = t.data.length * width;
    header[name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  // Spaces pad the header so that the byte buffer starts at a multiple of 8.
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let pos = 8 + padded;
  for (const name of names) {
    const data = tensors.get(name)!.data;
    if (dtype === 'F16') {
      for (let i = 0; i < data.length; i++) {
        const h = floatToHalf(data[i]);
        if ((h & 0x7c00) === 0x7c00 && Number.isFinite(data[i])) {
          throw new SafetensorsError(`encodeSafetensors: tensor '${name}' holds ${data[i]}, beyond float16's range (±65504)`);
        }
        view.setUint16(pos + 2 * i, h, true);
      }
    } else if (LITTLE_ENDIAN) {
      out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), pos);
    } else {
      for (let i = 0; i < data.length; i++) view.setFloat32(pos + 4 * i, data[i], true);
    }
    pos += data.length * width;
  }
  return out;
}

/**
 * Decodes a safetensors file (browser-safe: no Buffer APIs); `file` names it in error messages. Every tensor is copied into a
 * fresh (aligned) Float32Array. Bytes after the last tensor are ignored; gaps between tensors
 * are allowed, overlapping tensors are not.
 */
export function decodeSafetensors(buf: Uint8Array, file: string): SafetensorsContents {
  const bad = (msg: string): never => { throw new SafetensorsError(`${file}: ${msg}`); };
  if (buf.length < 8) bad(`not a safetensors file: ${buf.length} bytes, too short for the 8-byte header length`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) bad(`header length ${n64} exceeds the ${MAX_HEADER_BYTES}-byte limit (corrupt or not a safetensors file)`);
  const n = Number(n64);
  if (8 + n > buf.length) bad(`header length ${n} exceeds the file (${buf.length} bytes): truncated or not a safetensors file`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + n));
  } catch {
    return bad('header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return bad(`header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) bad('header is not a JSON object');
  const dataStart = 8 + n, dataLen = buf.length - dataStart;

  const metadata: Record<string, string> = {};
  const entries: { name: string; dtype: string; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) bad('__metadata__ is not a JSON object');
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== 'string') bad(`__metadata__ '${k}' is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) bad(`tensor '${name}': entry is not a JSON object`);
    const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
    if (typeof dtype !== 'string') bad(`tensor '${name}': missing or invalid "dtype"`);
    if (!isShape(shape)) bad(`tensor '${name}': "shape" must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)) {
      bad(`tensor '${name}': "data_offsets" must be [begin, end] with non-negative integers, got ${JSON.stringify(offsets)}`);
    }
    const width = DTYPE_BYTES[dtype as string];
    if (width === undefined) bad(`tensor '${name}': unsupported dtype '${dtype}' (supported: ${Object.keys(DTYPE_BYTES).join(', ')})`);
    const [begin, end] = offsets as number[];
    if (begin > end) bad(`tensor '${name}': data_offsets [${begin}, ${end}] are reversed`);
    if (end > dataLen) bad(`tensor '${name}': data_offsets [${begin}, ${end}] run past the end of the data (${dataLen} bytes): truncated file?`);
    const count = elementCount(shape as number[]);
    if (!Number.isSafeInteger(count * width) || end - begin !== count * width) {
      bad(`tensor '${name}': data_offsets [${begin}, ${end}] hold ${end - begin} bytes, but ${dtype}[${(shape as number[]).join(', ')}] needs ${count * width}`);
    }
    entries.push({ name, dtype: dtype as string, shape: shape as number[], begin, end });
  }
  const byBegin = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < byBegin.length; i++) {
    const p = byBegin[i - 1], q = byBegin[i];
    if (q.begin < p.end) bad(`tensors '${p.name}' and '${q.name}' overlap (data_offsets [${p.begin}, ${p.end}] and [${q.begin}, ${q.end}])`);
  }

  const tensors = new Map<string, RawTensor>();
  for (const e of entries) {
    tensors.set(e.name, { shape: [...e.shape], data: convert(buf, dataStart + e.begin, dataStart + e.end, e.dtype) });
  }
  return { tensors, metadata };
}

function convert(buf: Uint8Array, begin: number, end: number, dtype: string): Float32Array {
  const width = DTYPE_BYTES[dtype];
  const count = (end - begin) / width;
  const out = new Float32Array(count);
  if (dtype === 'F32' && LITTLE_ENDIAN) {
    // Copy the bytes (the source may be unaligned); the result is a fresh aligned array.
    new Uint8Array(out.buffer).set(buf.subarray(begin, end));
    return out;
  }
  const view = new DataView(buf.buffer, buf.byteOffset + begin, end - begin);
  switch (dtype) {
    case 'F32': for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true); break;
    case 'F64': for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, true); break;
    case 'F16': for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(2 * i, true)); break;
    case 'BF16': {
      const f = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < count; i++) { f.setUint32(0, view.getUint16(2 * i, true) << 16); out[i] = f.getFloat32(0); }
      break;
    }
    default: throw new Error(`unreachable dtype ${dtype}`);
  }
  return out;
}

const f32 = new Float32Array(1), f32Bits = new Uint32Array(f32.buffer);

/** number → IEEE 754 binary16 bits: through float32, then rounded to nearest, ties to even (as numpy and torch). */
export function floatToHalf(x: number): number {
  f32[0] = x;
  const bits = f32Bits[0];
  const sign = (bits >>> 16) & 0x8000, exp = (bits >>> 23) & 0xff, frac = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (frac !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  // Normal: drop 13 fraction bits; subnormal (e ≤ 0): the implicit 1 joins and 14 - e bits go.
  const shift = e > 0 ? 13 : 14 - e;
  if (shift > 24) return sign;
  const m = e > 0 ? frac : frac | 0x800000;
  const kept = m >>> shift, rest = m & ((1 << shift) - 1), halfway = 1 << (shift - 1);
  const rounded = kept + (rest > halfway || (rest === halfway && (kept & 1) === 1) ? 1 : 0);
  // A carry out of the fraction moves into the exponent (up to infinity), as the format intends.
  return sign | ((e > 0 ? e << 10 : 0) + rounded);
}

/** IEEE 754 binary16 → number. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1, exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}
