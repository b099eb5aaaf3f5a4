/**
 * Buffer recycling for training steps. Every step allocates the same activation and gradient
 * buffers (megabytes each); fresh ones cost a page fault per 4 KiB on first touch, which
 * measured as much time as the ReLUs themselves. Inside `withArena`, ops take buffers from a
 * free list and return them all when the scope ends, so the caller must not keep any op output
 * from inside the scope (the trainer reads the loss before leaving it). Outside a scope,
 * allocation is plain `new Float32Array`.
 */
const MIN_POOLED = 4096;
const free = new Map<number, Float32Array[]>();
let live: Float32Array[] | null = null;

/** A float32 buffer of length n; zero-filled when `zeroed` (otherwise its contents are garbage). */
export function allocate(n: number, zeroed = true): Float32Array {
  if (!live || n < MIN_POOLED) return new Float32Array(n);
  const a = free.get(n)?.pop();
  if (a && zeroed) a.fill(0);
  const buf = a ?? new Float32Array(n);
  live.push(buf);
  return buf;
}

/** Runs fn with buffer recycling; everything allocated inside is reusable after it returns. */
export function withArena<T>(fn: () => T): T {
  const outer = live;
  const mine: Float32Array[] = [];
  live = mine;
  try {
    return fn();
  } finally {
    live = outer;
    for (const a of mine) {
      let list = free.get(a.length);
      if (!list) free.set(a.length, (list = []));
      list.push(a);
    }
  }
}

/** Drops the free lists (e.g. after training, to give the memory back). */
export function clearArena(): void {
  free.clear();
}
