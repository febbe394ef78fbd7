// WAL checkpoints off the event loop: a worker thread with its own connection copies the write-ahead log back into
// the database file (and syncs it), so commands never wait for it.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const require = createRequire(import.meta.url);

/**
 * The worker: opens the file and, when the log holds `pages` pages not yet copied back (SQLite's own cadence) or has
 * stopped growing, runs a PASSIVE checkpoint — it copies what it can without waiting for (or blocking) the
 * application's connection, which keeps writing the log meanwhile. Checkpointing on a timer instead (every 200 ms)
 * synced the database file so often during a rush that the tail of the commits waiting behind those syncs grew
 * (the bench's drop row). CommonJS, as `eval` workers are.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 1000');
db.pragma('synchronous = ' + workerData.synchronous);
// The WAL-index (the -shm file, https://sqlite.org/walformat.html) says how many frames the log holds (mxFrame, at
// byte 16 of its header) and how many a checkpoint already copied back (nBackfill, at byte 96), in native byte order.
const shm = workerData.file + '-shm';
const header = Buffer.alloc(100);
let shmFd;
const pendingFrames = () => {
  try {
    shmFd ??= fs.openSync(shm, 'r');
    if (fs.readSync(shmFd, header, 0, 100, 0) < 100) return 0;
    return Math.max(0, header.readUInt32LE(16) - header.readUInt32LE(96));
  } catch {
    return 0;
  }
};
let timer;
let lastPending = 0;
let quietTicks = 0;
const tick = () => {
  try {
    const pending = pendingFrames();
    quietTicks = pending === lastPending ? quietTicks + 1 : 0;
    lastPending = pending;
    // Like SQLite's own checkpoint (every 1,000 pages), and also once the log stops growing for a second.
    if (pending >= workerData.pages || (pending > 0 && quietTicks * workerData.intervalMs >= 1000)) {
      const [result] = db.pragma('wal_checkpoint(PASSIVE)');
      lastPending = 0;
      quietTicks = 0;
      if (result && result.busy) parentPort.postMessage({ busy: true });
    }
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.message || error) });
  }
  timer = setTimeout(tick, workerData.intervalMs);
};
timer = setTimeout(tick, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  clearTimeout(timer);
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {}
  try { if (shmFd !== undefined) fs.closeSync(shmFd); } catch {}
  db.close();
  parentPort.postMessage({ stopped: true });
});
`;

export interface Checkpointer {
  /** Runs a last checkpoint, closes the worker's connection and ends the worker. */
  stop(): Promise<void>;
}

export interface CheckpointerOptions {
  readonly file: string;
  /** How often the worker looks at the log's length. @default 100 */
  readonly intervalMs?: number;
  /** Copy the log back once it holds this many pages not yet copied (or once it stops growing). @default 1000 */
  readonly pages?: number;
  /** The worker's `synchronous` setting (it is the one syncing the database file). */
  readonly synchronous: 'normal' | 'full';
  /** A checkpoint that failed (logged; the application's connection still checkpoints past its own bound). */
  readonly onError?: (message: string) => void;
}

/**
 * Starts the checkpointing worker for a WAL database file. The application's connection keeps SQLite's automatic
 * checkpoint at a high bound as a fallback: if this worker ever stops, the log still cannot grow without limit.
 */
export function startCheckpointer(o: CheckpointerOptions): Checkpointer {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      file: o.file,
      intervalMs: o.intervalMs ?? 100,
      pages: o.pages ?? 1000,
      synchronous: o.synchronous,
      driver: require.resolve('better-sqlite3'),
    },
  });
  // It must never keep the process alive: stop() ends it, and a process that exits without stop() loses nothing.
  worker.unref();
  let exited = false;
  const exit = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  void exit.then(() => (exited = true));
  worker.on('message', (message: { error?: string }) => {
    if (message.error) o.onError?.(message.error);
  });
  worker.on('error', (error) => o.onError?.(error.message));
  return {
    async stop() {
      if (exited) return;
      const stopped = new Promise<void>((resolve) => {
        const listener = (message: { stopped?: boolean }) => {
          if (message.stopped) resolve();
        };
        worker.on('message', listener);
      });
      worker.postMessage('stop');
      // A worker that does not answer within a second is ended anyway (the main connection checkpoints on close).
      await Promise.race([stopped, exit, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
      await worker.terminate();
    },
  };
}
