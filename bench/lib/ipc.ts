// Request/response over the Node IPC channel between the bench parent and its child processes.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

type Handler = (args: any) => unknown;

interface Request {
  readonly id: number;
  readonly cmd: string;
  readonly args?: unknown;
}

/** The `stop` of a child with nothing to close: answer, then exit. */
function exitSoon(): true {
  setImmediate(() => process.exit(0));
  return true;
}

/**
 * Child side: answers the parent's requests with `handlers`, and exits when the
 * parent goes away (its IPC channel closes), so no child outlives a bench run.
 * A child with nothing to close may leave `stop` out: it answers, then exits.
 */
export function serve(given: Record<string, Handler>): void {
  if (!process.send) throw new Error('this file runs as a child of bench/run.ts (it needs an IPC channel)');
  const handlers: Record<string, Handler> = { stop: exitSoon, ...given };
  process.on('message', (message: Request) => {
    const handler = handlers[message.cmd];
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown command ${message.cmd}`);
        return handler(message.args);
      })
      .then(
        (result) => process.send?.({ id: message.id, ok: true, result }),
        (error: unknown) =>
          process.send?.({ id: message.id, ok: false, error: error instanceof Error ? `${error.message}\n${error.stack ?? ''}` : String(error) }),
      );
  });
  process.on('disconnect', () => process.exit(0));
}

/** Child side: an unsolicited message to the parent. */
export function notify(event: string, data: unknown): void {
  process.send?.({ event, data });
}

export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  request<T = any>(cmd: string, args?: unknown, timeoutMs?: number): Promise<T>;
  onEvent(event: string, listener: (data: any) => void): void;
  /** Asks nicely (`stop` command, then SIGTERM), then SIGKILL; resolves when the child is gone. */
  stop(graceMs?: number): Promise<void>;
  kill(): void;
  readonly exited: Promise<number | null>;
}

const live = new Set<Child>();

/** Kills every child still running (used on exit and on signals). */
export function killAll(): void {
  for (const child of live) child.kill();
}

export interface SpawnOptions {
  readonly exposeGc?: boolean;
  /** Write a V8 CPU profile into this folder when the child exits normally. */
  readonly cpuProfDir?: string | undefined;
  readonly env?: Record<string, string>;
  readonly args?: readonly string[];
}

/** Starts `node [--expose-gc] --import tsx <file>` with an IPC channel; its output is forwarded with a `[name]` prefix. */
export function spawnChild(name: string, file: string, options: SpawnOptions = {}): Child {
  installCleanup();
  const nodeArgs = [
    ...(options.exposeGc ? ['--expose-gc'] : []),
    // One folder per child: node writes a profile per thread (main, and tsx's loader thread) with its default names.
    ...(options.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${path.join(options.cpuProfDir, `${name}-${Date.now()}`)}`] : []),
    '--import',
    'tsx',
    path.join(REPO_ROOT, file),
    ...(options.args ?? []),
  ];
  const child = spawn(process.execPath, nodeArgs, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  forward(name, child);
  const pending = new Map<number, { resolve(value: any): void; reject(error: Error): void; timer: NodeJS.Timeout }>();
  const listeners = new Map<string, Array<(data: any) => void>>();
  let nextId = 0;
  const exited = new Promise<number | null>((resolve) => {
    const gone = (code: number | null, why: string) => {
      live.delete(handle);
      for (const { reject, timer } of pending.values()) {
        clearTimeout(timer);
        reject(new Error(`${name} ${why} before answering`));
      }
      pending.clear();
      resolve(code);
    };
    child.once('exit', (code) => gone(code, `exited (code ${code})`));
    // Spawning failed, or a message could not be sent: the first never exits (nothing to wait for), the second
    // is answered by the request's timeout or by the exit.
    child.on('error', (error) => {
      process.stderr.write(`  [${name}] process error: ${error.message}\n`);
      if (child.pid === undefined) gone(null, `could not start (${error.message})`);
    });
  });
  child.on('message', (message: { id?: number; ok?: boolean; result?: unknown; error?: string; event?: string; data?: unknown }) => {
    if (message.event) {
      for (const listener of listeners.get(message.event) ?? []) listener(message.data);
      return;
    }
    const entry = message.id === undefined ? undefined : pending.get(message.id);
    if (!entry) return;
    pending.delete(message.id!);
    clearTimeout(entry.timer);
    if (message.ok) entry.resolve(message.result);
    else entry.reject(new Error(`${name}: ${message.error}`));
  });
  const alive = () => child.exitCode === null && child.signalCode === null;
  const handle: Child = {
    name,
    process: child,
    exited,
    request(cmd, args, timeoutMs = 60_000) {
      if (!alive() || !child.connected) return Promise.reject(new Error(`${name} is not running`));
      const id = ++nextId;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${name}: ${cmd} did not answer within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, { resolve, reject, timer });
        child.send({ id, cmd, args } satisfies Request);
      });
    },
    onEvent(event, listener) {
      listeners.set(event, [...(listeners.get(event) ?? []), listener]);
    },
    kill() {
      if (alive()) child.kill('SIGKILL');
    },
    async stop(graceMs = 10_000) {
      if (!alive()) return;
      await handle.request('stop', undefined, graceMs).catch(() => undefined);
      const timer = setTimeout(() => handle.kill(), graceMs);
      if (alive() && child.connected) child.disconnect();
      await exited;
      clearTimeout(timer);
    },
  };
  live.add(handle);
  return handle;
}

/** Forwards a child's output line by line with a prefix. */
export function forward(name: string, child: ChildProcess): void {
  for (const [stream, target] of [
    [child.stdout, process.stdout],
    [child.stderr, process.stderr],
  ] as const) {
    if (!stream) continue;
    let buffer = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffer += chunk;
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) target.write(`  [${name}] ${line.slice(0, 500)}\n`);
    });
  }
}

/** Registers a cleanup that also runs on SIGINT/SIGTERM and at exit. */
const cleanups: Array<() => void> = [];
export function onCleanup(cleanup: () => void): void {
  installCleanup();
  cleanups.push(cleanup);
}
function runCleanups(): void {
  killAll();
  for (const cleanup of cleanups.splice(0)) {
    try {
      cleanup();
    } catch {
      // best effort
    }
  }
}
let installed = false;
/** Parent side only: children are killed when the bench exits, however it exits. */
function installCleanup(): void {
  if (installed) return;
  installed = true;
  process.once('exit', runCleanups);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      runCleanups();
      process.exit(130);
    });
  }
}
