import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * Writes `data` to `path` so that readers see either the old file or the complete new one:
 * write `<path>.tmp-<pid>-<random>` in the same directory, fsync it, rename it over the target,
 * then fsync the directory (best effort) so the rename itself survives a power cut.
 * The temporary file is removed if anything fails before the rename.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = join(dirname(path), `${basename(path)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let fd: number | null = openSync(tmp, 'wx');
  try {
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== null) { try { closeSync(fd); } catch { /* already failing */ } }
    try { unlinkSync(tmp); } catch { /* never created or already renamed */ }
    throw e;
  }
  fsyncDir(dirname(path));
}

/** fsync a directory so renames and new entries in it are durable; best effort (some platforms refuse). */
export function fsyncDir(dir: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Windows and some file systems cannot fsync a directory; nothing more we can do.
  } finally {
    if (fd !== null) { try { closeSync(fd); } catch { /* ignore */ } }
  }
}
