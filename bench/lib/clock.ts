// One clock for every bench process on this machine: wall-clock milliseconds with sub-millisecond resolution.
// performance.timeOrigin is taken from the system clock when each process starts, so readings of different
// processes on one machine are comparable (to well under a millisecond over a bench run).
export const now = (): number => performance.timeOrigin + performance.now();

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `work` over `items` with at most `limit` at once. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index]!, index);
      }
    }),
  );
  return results;
}

/** Forces full garbage collections (the process must run with --expose-gc). */
export async function fullGc(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Heap in use after full GCs, and the memory outside the V8 heap (Buffers, native). */
export async function heapAfterGc(): Promise<{ heapUsed: number; external: number; arrayBuffers: number; rss: number }> {
  await fullGc();
  const { heapUsed, external, arrayBuffers, rss } = process.memoryUsage();
  return { heapUsed, external, arrayBuffers, rss };
}
