// Local backing services: a redis-server and a PostgreSQL server started on demand, for cluster tests and `npm run cluster`.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

/** A free TCP port on 127.0.0.1 (asked of the kernel, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`${what} did not come up within ${timeoutMs} ms`);
}

function which(binary: string, candidates: readonly string[] = []): string {
  for (const candidate of candidates) if (existsSync(candidate)) return candidate;
  const found = spawnSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' }).stdout.trim();
  if (!found) throw new Error(`${binary} is not installed (.ci/run installs it: apt-get install redis-server postgresql)`);
  return found;
}

/** What is missing for the local Redis and PostgreSQL starters ([] when both can start). */
export function missingClusterServices(): string[] {
  const missing: string[] = [];
  const has = (binary: string, candidates: readonly string[]) => {
    try {
      which(binary, candidates);
      return true;
    } catch {
      return false;
    }
  };
  if (!has('redis-server', ['/usr/bin/redis-server'])) missing.push('redis-server');
  if (
    !process.env.TEST_POSTGRES_URL &&
    !has('initdb', ['/usr/lib/postgresql/15/bin/initdb', '/usr/lib/postgresql/16/bin/initdb', '/usr/lib/postgresql/17/bin/initdb'])
  ) {
    missing.push('PostgreSQL');
  }
  return missing;
}

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** Stops the server (SIGKILL by default, as an outage would). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
}

/** Starts a redis-server without persistence on `port` (a free one by default). */
export async function startRedis(options: { port?: number } = {}): Promise<RedisServer> {
  const binary = which('redis-server', ['/usr/bin/redis-server']);
  const port = options.port ?? (await freePort());
  let child: ChildProcess | undefined;
  const ping = () =>
    new Promise<boolean>((resolve) => {
      const result = spawnSync(which('redis-cli', ['/usr/bin/redis-cli']), ['-p', String(port), 'ping'], { encoding: 'utf8', timeout: 2000 });
      resolve(result.stdout.trim() === 'PONG');
    });
  const server: RedisServer = {
    url: `redis://127.0.0.1:${port}`,
    port,
    async start() {
      child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], {
        stdio: 'ignore',
      });
      await waitFor(ping, `redis-server on port ${port}`);
    },
    async stop(signal: NodeJS.Signals = 'SIGKILL') {
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill(signal);
      await exited;
    },
  };
  await server.start();
  return server;
}

export interface PostgresServer {
  /** A URL of the server's `postgres` database, for administration. */
  readonly url: string;
  /** Creates a fresh database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
  /**
   * Stops the server process, keeping its data, as a crash (`immediate`, the default) or an orderly restart
   * (`fast`) would; `up()` starts it again on the same port. Absent for a server this did not start (TEST_POSTGRES_URL).
   */
  readonly down?: (mode?: 'immediate' | 'fast') => Promise<void>;
  readonly up?: () => Promise<void>;
}

export interface PostgresOptions {
  /** Keep the cluster in this folder (created on first use, reused after); default: a temp folder removed on stop. */
  readonly dir?: string;
  /** @default a free port */
  readonly port?: number;
  /** Trade durability for speed (fsync off): for tests only. @default true */
  readonly fast?: boolean;
}

/**
 * A PostgreSQL server. TEST_POSTGRES_URL points at an existing one; otherwise
 * a cluster is initialised in a folder (as the `postgres` user when running as
 * root, since PostgreSQL refuses root) and started on a local port.
 */
export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  const existing = process.env.TEST_POSTGRES_URL;
  if (existing) return postgresAt(existing, async () => undefined);

  const bin = path.dirname(which('initdb', ['/usr/lib/postgresql/15/bin/initdb', '/usr/lib/postgresql/16/bin/initdb', '/usr/lib/postgresql/17/bin/initdb']));
  const keep = options.dir !== undefined;
  const dir = options.dir ? path.resolve(options.dir) : mkdtempSync(path.join(tmpdir(), 'emporium-pg-'));
  mkdirSync(dir, { recursive: true });
  const asRoot = process.getuid?.() === 0;
  if (asRoot)
    chownSync(
      dir,
      Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim()),
      Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim()),
    );
  const run = (args: string[]) => {
    const command = asRoot ? ['runuser', '-u', 'postgres', '--', ...args] : args;
    const result = spawnSync(command[0]!, command.slice(1), { encoding: 'utf8', timeout: 60_000 });
    if (result.status !== 0) throw new Error(`${args.join(' ')} failed: ${result.stderr || result.stdout}`);
  };
  const port = options.port ?? (await freePort());
  const data = path.join(dir, 'data');
  if (!existsSync(path.join(data, 'PG_VERSION'))) run([path.join(bin, 'initdb'), '-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const tuning = options.fast === false ? '' : ' -c fsync=off -c synchronous_commit=off -c full_page_writes=off';
  const start = () =>
    run([
      path.join(bin, 'pg_ctl'),
      '-D',
      data,
      '-l',
      path.join(dir, 'log'),
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=400${tuning}`,
      '-w',
      'start',
    ]);
  start();
  let running = true;
  const halt = (mode: 'immediate' | 'fast') => {
    if (!running) return;
    run([path.join(bin, 'pg_ctl'), '-D', data, '-m', mode, 'stop']);
    running = false;
  };
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const server = await postgresAt(url, async () => {
    try {
      halt(keep ? 'fast' : 'immediate');
    } finally {
      if (!keep) rmSync(dir, { recursive: true, force: true });
    }
  });
  return {
    ...server,
    down: async (mode = 'immediate') => halt(mode),
    up: async () => {
      if (running) return;
      start();
      running = true;
      await postgresAt(url, async () => undefined);
    },
  };
}

async function postgresAt(url: string, stop: () => Promise<void>): Promise<PostgresServer> {
  await waitFor(async () => {
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => undefined); // a failure surfaces through the awaited calls
    await client.connect();
    await client.end();
    return true;
  }, `PostgreSQL at ${url}`);
  return {
    url,
    async createDatabase(name) {
      const client = new pg.Client({ connectionString: url });
      client.on('error', () => undefined); // a failure surfaces through the awaited calls
      await client.connect();
      try {
        await client.query(`drop database if exists "${name}" with (force)`);
        await client.query(`create database "${name}"`);
      } finally {
        await client.end();
      }
      const target = new URL(url);
      target.pathname = `/${name}`;
      return target.toString();
    },
    stop,
  };
}
