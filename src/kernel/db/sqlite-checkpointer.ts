// WAL checkpoints off the event loop: a worker thread with its own connection copies the write-ahead log back into
// the database file (and syncs it), so commands never wait for it.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const require = createRequire(import.meta.url);

/**
 * The worker: opens the file, and every `intervalMs` runs a PASSIVE checkpoint — it copies what it can without
 * waiting for (or blocking) the application's connection, which keeps writing the log meanwhile. CommonJS, as
 * `eval` workers are.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 1000');
db.pragma('synchronous = ' + workerData.synchronous);
let timer;
const tick = () => {
  try {
    const [result] = db.pragma('wal_checkpoint(PASSIVE)');
    if (result && result.busy) parentPort.postMessage({ busy: true });
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
  /** How often the log is copied back. @default 200 */
  readonly intervalMs?: number;
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
    workerData: { file: o.file, intervalMs: o.intervalMs ?? 200, synchronous: o.synchronous, driver: require.resolve('better-sqlite3') },
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
