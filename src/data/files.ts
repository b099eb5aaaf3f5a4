/**
 * Opening data files safely: every reader in src/data goes through here, so a FIFO, a device, a
 * directory or a symlink loop where a file is expected is refused with a message naming the path,
 * instead of blocking forever in open() or read().
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

/** A DataError for a failed stat/open of `file`, by errno. */
export function fileError(file: string, e: unknown, expected: string): DataError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new DataError(file, 'file missing');
  if (code === 'ELOOP') return new DataError(file, `symlink loop, expected ${expected}`);
  if (code === 'EISDIR') return new DataError(file, `is a directory, expected ${expected}`);
  if (code === 'EACCES' || code === 'EPERM') return new DataError(file, 'cannot read: permission denied');
  if (code === 'ENOTDIR') return new DataError(file, 'file missing (a parent is not a directory)');
  return new DataError(file, `cannot read: ${(e as Error).message}`);
}

/**
 * Opens `file` for reading if it is a regular file (a symlink to one is fine) and returns the fd
 * and size. stat() first, so a FIFO is never opened; O_NONBLOCK as well, so one swapped in between
 * the stat and the open cannot block either; fstat() then decides on what was really opened.
 */
export function openRegularFile(file: string, expected: string): { fd: number; size: number } {
  let fd: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new DataError(file, `is ${kindOf(st)}, expected ${expected}`);
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw e instanceof DataError ? e : fileError(file, e, expected);
  }
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    throw new DataError(file, `is ${kindOf(st)}, expected ${expected}`);
  }
  return { fd, size: st.size };
}

/** Fills `buf` from `fd` at `position`; a short file (changed since its size was read) is a DataError. */
export function readExactly(file: string, fd: number, buf: Uint8Array, position: number): void {
  let done = 0;
  while (done < buf.length) {
    const n = readSync(fd, buf, done, buf.length - done, position + done);
    if (n === 0) throw new DataError(file, `truncated: file ended while reading (changed during read?)`);
    done += n;
  }
}

/**
 * Reads a whole regular file, refusing one larger than `maxBytes` before reading it (its real
 * size, so this is not about forged headers but about not reading a 50 GB file by mistake).
 */
export function readRegularFile(file: string, expected: string, maxBytes: number): Buffer {
  const { fd, size } = openRegularFile(file, expected);
  try {
    if (size > maxBytes) throw new DataError(file, `is ${size} bytes, more than the limit of ${maxBytes} for ${expected}`);
    const buf = Buffer.allocUnsafe(size);
    readExactly(file, fd, buf, 0);
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
