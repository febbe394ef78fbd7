// Child-process harness: the real server (`src/main.ts`) in its own process, for crash and restart tests.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NO_ADDRESS_LIMITS } from '../../src/config.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The secret every child of a test shares, so tokens survive a restart. */
export const CHILD_JWT_SECRET = 'child-secret-child-secret-child-secret';

export interface ServerChild {
  readonly url: string;
  readonly pid: number;
  readonly process: ChildProcess;
  /** Sends `signal` (SIGKILL by default); harmless once the child has exited. */
  kill(signal?: NodeJS.Signals): void;
  /** Resolves when the child has exited, with its exit code or the signal that ended it. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** True once the child has exited. */
  hasExited(): boolean;
  /** Everything the child wrote to stderr so far (for failure messages). */
  stderr(): string;
}

/**
 * Starts `node --import tsx src/main.ts` on `dataDir` and resolves once it
 * prints "Emporium is running at <url>". Rejects (and kills the child) when it
 * exits first or does not come up within `startTimeoutMs`.
 */
export function spawnServer(dataDir: string, env: Record<string, string> = {}, startTimeoutMs = 30_000): Promise<ServerChild> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  // The child must run alone on its own SQLite file, whatever the test runner's environment says.
  for (const name of ['DATABASE_URL', 'REDIS_URL', 'TEST_DATABASE_URL', 'ADMIN_EMAIL', 'ADMIN_PASSWORD', 'NODE_ID']) delete childEnv[name];
  Object.assign(childEnv, {
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    JWT_SECRET: CHILD_JWT_SECRET,
    SEED_DEMO_DATA: 'true',
    LOG_LEVEL: 'warn',
    ...NO_ADDRESS_LIMITS,
    ...env,
  });

  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: REPO_ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  let stdout = '';
  let stderr = '';
  let exitedFlag = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      exitedFlag = true;
      resolve({ code, signal });
    });
  });
  // Keep both pipes drained for the child's whole life, so it never blocks on a full pipe.
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-20_000);
  });

  const kill = (signal: NodeJS.Signals = 'SIGKILL') => {
    if (!exitedFlag && child.exitCode === null && child.signalCode === null) child.kill(signal);
  };

  return new Promise<ServerChild>((resolve, reject) => {
    let settled = false;
    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      kill('SIGKILL');
      reject(new Error(`${message}\n--- stdout ---\n${stdout.slice(-4000)}\n--- stderr ---\n${stderr.slice(-4000)}`));
    };
    const timer = setTimeout(() => fail(`server did not start within ${startTimeoutMs} ms`), startTimeoutMs);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      if (settled) return;
      stdout += chunk;
      const match = /Emporium is running at (http:\/\/\S+)/.exec(stdout);
      if (!match) return;
      settled = true;
      clearTimeout(timer);
      resolve({
        url: match[1]!,
        pid: child.pid!,
        process: child,
        kill,
        exited,
        hasExited: () => exitedFlag,
        stderr: () => stderr,
      });
    });
    child.once('error', (error) => fail(`could not spawn the server: ${error.message}`));
    void exited.then(({ code, signal }) => fail(`server exited before it was ready (code ${code}, signal ${signal})`));
  });
}

/** Kills the child with `signal` (SIGKILL by default) and waits for it to be gone. */
export async function killAndWait(child: ServerChild, signal: NodeJS.Signals = 'SIGKILL'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  child.kill(signal);
  return child.exited;
}
