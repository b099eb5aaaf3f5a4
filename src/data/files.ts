/**
 * Opening files safely: every reader of data files (src/data) and of checkpoint files
 * (src/train/checkpoint.ts) goes through here, so a FIFO, a device, a directory or a symlink loop
 * where a file is expected is refused with a message naming the path, instead of blocking forever
 * in open() or read().
 */
import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { DataError } from './image-set.js';

/** What a non-regular file is, for the message. */
function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/** What a file is expected to be, for messages, and the error its problems raise. */
export interface FileKind {
  /** e.g. 'an IDX file'. */
  expected: string;
  /** The error for a problem with `file` (default: DataError). */
  error?: (file: string, problem: string) => Error;
  /** What a missing file means (default 'file missing'). */
  missing?: string;
}

const kindOfFile = (k: string | FileKind): Required<FileKind> => {
  const o = typeof k === 'string' ? { expected: k } : k;
  return { error: (f, p) => new DataError(f, p), missing: 'file missing', ...o };
};

/** The error for a failed stat/open of `file`, by errno. */
export function fileError(file: string, e: unknown, kind: string | FileKind): Error {
  const { expected, error, missing } = kindOfFile(kind);
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return error(file, missing);
  if (code === 'ELOOP') return error(file, `symlink loop, expected ${expected}`);
  if (code === 'EISDIR') return error(file, `is a directory, expected ${expected}`);
  if (code === 'EACCES' || code === 'EPERM') return error(file, 'cannot read: permission denied');
  if (code === 'ENOTDIR') return error(file, `${missing} (a parent is not a directory)`);
  return error(file, `cannot read: ${(e as Error).message}`);
}

/**
 * Opens `file` for reading if it is a regular file (a symlink to one is fine) and returns the fd
 * and size. stat() first, so a FIFO is never opened; O_NONBLOCK as well, so one swapped in between
 * the stat and the open cannot block either; fstat() then decides on what was really opened.
 */
export function openRegularFile(file: string, kind: string | FileKind): { fd: number; size: number } {
  const { expected, error } = kindOfFile(kind);
  let st: Stats;
  try {
    st = statSync(file);
  } catch (e) {
    throw fileError(file, e, kind);
  }
  if (!st.isFile()) throw error(file, `is ${kindOf(st)}, expected ${expected}`);
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw fileError(file, e, kind);
  }
  st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    throw error(file, `is ${kindOf(st)}, expected ${expected}`);
  }
  return { fd, size: st.size };
}

/** Fills `buf` from `fd` at `position`; a short file (changed since its size was read) is an error of `kind`. */
export function readExactly(file: string, fd: number, buf: Uint8Array, position: number, kind: string | FileKind = 'a file'): void {
  let done = 0;
  while (done < buf.length) {
    const n = readSync(fd, buf, done, buf.length - done, position + done);
    if (n === 0) throw kindOfFile(kind).error(file, `truncated: file ended while reading (changed during read?)`);
    done += n;
  }
}

/**
 * Reads a whole regular file, refusing one larger than `maxBytes` before reading it (its real
 * size, so this is not about forged headers but about not reading a 50 GB file by mistake).
 */
export function readRegularFile(file: string, kind: string | FileKind, maxBytes: number): Buffer {
  const { fd, size } = openRegularFile(file, kind);
  try {
    const { expected, error } = kindOfFile(kind);
    if (size > maxBytes) throw error(file, `is ${size} bytes, more than the limit of ${maxBytes} for ${expected}`);
    const buf = Buffer.allocUnsafe(size);
    readExactly(file, fd, buf, 0, kind);
    return buf;
  } finally {
    closeSync(fd);
  }
}

/** Reads at most the first `n` bytes of a regular file (fewer when it is shorter). */
export function readFileHead(file: string, expected: string, n: number): { head: Buffer; size: number } {
  const { fd, size } = openRegularFile(file, expected);
  try {
    const head = Buffer.alloc(Math.min(n, size));
    readExactly(file, fd, head, 0);
    return { head, size };
  } finally {
    closeSync(fd);
  }
}
