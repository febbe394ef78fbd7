// `npm run cluster`: N Emporium nodes on one local PostgreSQL and one local Redis, behind a round-robin TCP load balancer.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { parseCli } from '../src/cli/args.ts';
import { startPostgres, startRedis, type PostgresServer, type RedisServer } from './local-services.ts';

const cli = await parseCli({
  name: 'cluster',
  usage: `usage: npm run cluster [-- --nodes <n>] [--port <port>] [--data-dir <dir>]

Starts N Emporium nodes on one PostgreSQL and one Redis, behind a round-robin TCP load balancer on
127.0.0.1:<port>; the nodes listen on the ports after it. Redis (port 6390) and PostgreSQL (port 5440, kept
in <dir>/postgres) are started locally unless REDIS_URL / DATABASE_URL are set. Ctrl-C stops everything.

options:
  --nodes <n>        how many nodes, 1 to 16 (default 3)
  --port <port>      the load balancer's port (default PORT, else 3000)
  --data-dir <dir>   where the cluster keeps its data and JWT secret (default ./data/cluster)
  -h, --help         this text

exit status: 0 stopped by Ctrl-C; 1 failed to start; 2 bad usage.
`,
  options: {
    nodes: { type: 'string', default: '3' },
    port: { type: 'string', default: process.env.PORT ?? '3000' },
    'data-dir': { type: 'string', default: './data/cluster' },
  },
});
const nodeCount = cli.integer('nodes', { min: 1, max: 16 })!;
const publicPort = cli.integer('port', { min: 1, max: 65_535 - nodeCount })!;
const dataDir = path.resolve(cli.values['data-dir']);

const log = (message: string) => process.stdout.write(`[cluster] ${message}\n`);

/** One secret for every node, kept with the cluster's data, so a token from any node works on all. */
function sharedSecret(): string {
  const file = path.join(dataDir, 'jwt-secret');
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('base64url'), { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

async function ensureDatabase(serverUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: serverUrl });
  client.on('error', () => undefined); // a failure surfaces through the awaited calls
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (!rowCount) await client.query(`create database "${name}"`);
  } finally {
    await client.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

function startNode(index: number, env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; port: number }> {
  const port = publicPort + 1 + index;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1', NODE_ID: `node-${index + 1}`, DATA_DIR: path.join(dataDir, `node-${index + 1}`) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      for (const line of chunk.split('\n').filter(Boolean)) {
        if (line.startsWith('Emporium is running')) resolve({ child, port });
        process.stdout.write(`[node-${index + 1}] ${line}\n`);
      }
    });
    child.once('exit', (code) => reject(new Error(`node-${index + 1} exited with ${code} before it was ready`)));
  });
}

/** Round-robin over the nodes that accept connections; WebSocket upgrades pass through as plain TCP. */
function loadBalancer(ports: readonly number[]) {
  let next = 0;
  return createServer((client: Socket) => {
    const tryPort = (attempt: number) => {
      const port = ports[next++ % ports.length]!;
      const upstream = createConnection({ port, host: '127.0.0.1' });
      upstream.once('connect', () => {
        client.pipe(upstream).pipe(client);
      });
      upstream.once('error', () => {
        // That node is down: try the next one, as a real load balancer's health check would.
        if (attempt + 1 < ports.length) tryPort(attempt + 1);
        else client.destroy();
      });
      client.once('error', () => upstream.destroy());
      client.once('close', () => upstream.destroy());
    };
    tryPort(0);
  });
}

let redis: RedisServer | undefined;
let postgres: PostgresServer | undefined;
const children: ChildProcess[] = [];

async function main(): Promise<void> {
  mkdirSync(dataDir, { recursive: true });
  const redisUrl = process.env.REDIS_URL ?? (redis = await startRedis({ port: 6390 })).url;
  log(`redis ${redisUrl}`);
  let databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    postgres = await startPostgres({ dir: path.join(dataDir, 'postgres'), port: 5440, fast: false });
    databaseUrl = await ensureDatabase(postgres.url, 'emporium');
  }
  log(`database ${databaseUrl}`);
  const env = { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, JWT_SECRET: process.env.JWT_SECRET ?? sharedSecret() };

  // The first node migrates and seeds; the others start once it is up.
  const nodes = [await startNode(0, env)];
  nodes.push(...(await Promise.all(Array.from({ length: nodeCount - 1 }, (_, i) => startNode(i + 1, env)))));
  const balancer = loadBalancer(nodes.map((node) => node.port));
  await new Promise<void>((resolve) => balancer.listen(publicPort, '127.0.0.1', resolve));
  children.push(...nodes.map((node) => node.child));
  log(`${nodeCount} nodes on ports ${nodes.map((node) => node.port).join(', ')}; load balancer on http://127.0.0.1:${publicPort}`);
  log('Ctrl-C stops everything');
}

let stopping = false;
async function shutdown(code = 0): Promise<void> {
  if (stopping) return;
  stopping = true;
  log('stopping');
  await Promise.all(
    children.map(
      (child) =>
        new Promise((resolve) => {
          if (child.exitCode !== null) return resolve(undefined);
          child.once('exit', resolve);
          child.kill('SIGTERM');
        }),
    ),
  );
  await redis?.stop('SIGTERM');
  await postgres?.stop();
  process.exit(code);
}
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());

main().catch(async (error: unknown) => {
  process.stderr.write(`[cluster] ${error instanceof Error ? error.message : String(error)}\n`);
  await shutdown(1);
});
