// Row 6: the cluster. One node on PostgreSQL (A) against two nodes on the same kind of PostgreSQL database
// with Redis between them (B): cart:addItem round trips and stock:changed fan-out. Nodes are real
// `node --import tsx src/main.ts` processes; Redis and PostgreSQL come from scripts/local-services.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { NO_ABUSE_LIMITS } from '../src/config.ts';
import { startPostgres, startRedis, type PostgresServer, type RedisServer } from '../scripts/local-services.ts';
import { now, sleep } from './lib/clock.ts';
import { forward, onCleanup, REPO_ROOT } from './lib/ipc.ts';
import { ackData, type ClientPool, driverSocket, fanoutPhase, roundTrip, type FanoutResult, type RoundTripResult } from './scenarios.ts';

const JWT_SECRET = 'bench-cluster-secret-bench-cluster-secret';
const ADMIN = { email: 'bench-admin@example.com', password: 'bench-admin-password' };

interface NodeProcess {
  readonly url: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

async function startNode(name: string, env: Record<string, string>, cpuProfDir?: string): Promise<NodeProcess> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'emporium-bench-node-'));
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const key of ['DATABASE_URL', 'REDIS_URL', 'ADMIN_EMAIL', 'ADMIN_PASSWORD', 'NODE_ID']) delete childEnv[key];
  const profile = cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${path.join(cpuProfDir, name)}`] : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', 'src/main.ts'], {
    cwd: REPO_ROOT,
    env: {
      ...childEnv,
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      JWT_SECRET,
      SEED_DEMO_DATA: 'true',
      LOG_LEVEL: 'warn',
      PAYMENT_LATENCY_MS: '0',
      ...NO_ABUSE_LIMITS,
      // The fan-out row times every stock:changed by its version: no coalescing unless a caller's env asks for it.
      STOCK_PUSH_WINDOW_MS: '0',
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
      NODE_ID: name,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  onCleanup(kill);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      kill();
      reject(new Error(`${name} did not start within 60 s: ${out.slice(-2000)}`));
    }, 60_000);
    const onData = (chunk: Buffer) => {
      out += String(chunk);
      const match = /Emporium is running at (\S+)/.exec(out);
      if (!match) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      resolve(match[1]!);
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before starting: ${out.slice(-2000)}`));
    });
  });
  forward(name, child);
  return {
    url,
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(kill, 10_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function insertProducts(databaseUrl: string, count: number): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  client.on('error', () => undefined); // a failure surfaces through the awaited calls
  await client.connect();
  try {
    await client.query(`insert into categories (id, slug, name) values ('cat_bench', 'bench', 'Bench') on conflict (id) do nothing`);
    const ids: string[] = [];
    const at = Date.now();
    for (let i = 0; i < count; i++) {
      const id = `prod_${randomBytes(16).toString('hex')}`;
      await client.query(
        `insert into products (id, sku, name, category_id, price, currency, on_hand, reserved, stock_version, created_at, updated_at)
         values ($1, $2, $3, 'cat_bench', $4, 'EUR', 1000000, 0, 0, $5, $5)`,
        [id, `BENCH-${id.slice(5, 17)}`, `Bench product ${i}`, 1000 + i, at],
      );
      ids.push(id);
    }
    return ids;
  } finally {
    await client.end();
  }
}

async function adminToken(url: string): Promise<string> {
  const response = await fetch(`${url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ADMIN) });
  if (!response.ok) throw new Error(`admin login: HTTP ${response.status}`);
  return ((await response.json()) as { token: string }).token;
}

export interface ClusterSizes {
  readonly clients: number;
  readonly subscribers: number;
  readonly procs: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly window: number;
  readonly warmupEvents: number;
  readonly maxEvents: number;
}

export interface ClusterSetupResult {
  readonly roundTrip: RoundTripResult;
  readonly fanout: FanoutResult;
  /** PostgreSQL rows read (sequential and index fetches, every table) per `cart:addItem` answered, warm-up included. */
  readonly rowsReadPerAck: number | null;
  /** CPU time of the Emporium node processes (both, for the cluster) per `cart:addItem` answered, warm-up included (Linux). */
  readonly nodeCpuMsPerAck: number | null;
}

/** User + system CPU time of these processes so far, in ms (from /proc; null where there is none). */
function cpuMsOf(pids: readonly (number | undefined)[]): number | null {
  try {
    let ticks = 0;
    for (const pid of pids) {
      // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    }
    return ticks * 10; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

/** Rows PostgreSQL read so far in this database, every table: sequential reads plus index fetches. */
async function rowsRead(databaseUrl: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  client.on('error', () => undefined); // a failure surfaces through the awaited calls
  await client.connect();
  try {
    // Each backend publishes its counts at most once a second: wait them out, then read afresh.
    await sleep(1200);
    const { rows } = await client.query<{ n: string | null }>('select sum(seq_tup_read + coalesce(idx_tup_fetch, 0))::text as n from pg_stat_user_tables');
    return Number(rows[0]?.n ?? 0);
  } finally {
    await client.end();
  }
}

/** Runs both scenarios against `urls` (one node, or two: clients alternate between them, the driver uses the first). */
async function scenarios(pool: ClientPool, nodes: readonly NodeProcess[], databaseUrl: string, sizes: ClusterSizes): Promise<ClusterSetupResult> {
  const urls = nodes.map((node) => node.url);
  const pids = nodes.map((node) => node.child.pid);
  const products = await insertProducts(databaseUrl, 20);
  const token = await adminToken(urls[0]!);
  const readBefore = await rowsRead(databaseUrl);
  const cpuBefore = cpuMsOf(pids);
  const rt = await roundTrip(pool, {
    urls,
    namespace: '/store',
    clients: sizes.clients,
    procs: Math.min(2, pool.procs.length),
    op: 'addItem',
    guest: true,
    products,
    warmupMs: sizes.warmupMs,
    durationMs: sizes.durationMs,
  });
  const cpuAfter = cpuMsOf(pids);
  const readAfter = await rowsRead(databaseUrl);
  const rowsReadPerAck = rt.allOps > 0 ? (readAfter - readBefore) / rt.allOps : null;
  const nodeCpuMsPerAck = rt.allOps > 0 && cpuBefore !== null && cpuAfter !== null ? (cpuAfter - cpuBefore) / rt.allOps : null;

  const productId = products[0]!;
  const driver = await driverSocket(urls[0]!, '/warehouse', token);
  try {
    const connected = await pool.connect({ urls, namespace: '/store', total: sizes.subscribers, procs: sizes.procs, guest: true });
    if (connected !== sizes.subscribers) throw new Error(`only ${connected} of ${sizes.subscribers} subscribers connected`);
    await pool.subscribe({ kind: 'emporium', topic: `product:${productId}`, total: sizes.subscribers, procs: sizes.procs });
    const fanout = await fanoutPhase(pool, {
      procs: sizes.procs,
      subscribers: sizes.subscribers,
      fire: async () => {
        const sentAt = now();
        const data = await ackData<{ stock: { version: number } }>(driver, 'stock:restock', { productId, quantity: 1 });
        return { version: data.stock.version, sentAt };
      },
      // The nodes are plain src/main.ts processes: latency runs from the driver's send of stock:restock.
      times: async (driverTimes) => driverTimes,
      reset: async () => undefined,
      warmupEvents: sizes.warmupEvents,
      durationMs: sizes.durationMs,
      maxEvents: sizes.maxEvents,
      window: sizes.window,
    });
    return { roundTrip: rt, fanout, rowsReadPerAck, nodeCpuMsPerAck };
  } finally {
    driver.close();
    await pool.closeAll();
  }
}

export type ClusterOutcome = { readonly skipped: string } | { readonly single: ClusterSetupResult; readonly cluster: ClusterSetupResult };

/** `cpuProfDir`: each node writes a V8 CPU profile under `<cpuProfDir>/<node name>` when it exits. */
export async function runCluster(pool: ClientPool, sizes: ClusterSizes, cpuProfDir?: string): Promise<ClusterOutcome> {
  let redis: RedisServer | undefined;
  let postgres: PostgresServer | undefined;
  const nodes: NodeProcess[] = [];
  try {
    try {
      redis = await startRedis();
      onCleanup(() => void redis?.stop());
      postgres = await startPostgres();
      onCleanup(() => void postgres?.stop());
    } catch (error) {
      return { skipped: `needs redis-server and PostgreSQL (${error instanceof Error ? error.message.split('\n')[0] : String(error)})` };
    }
    const tag = `${process.pid}_${randomBytes(3).toString('hex')}`;

    const singleDb = await postgres.createDatabase(`emporium_bench_single_${tag}`);
    const single = await startNode('node-single', { DATABASE_URL: singleDb }, cpuProfDir);
    nodes.push(single);
    const singleResult = await scenarios(pool, [single], singleDb, sizes);
    await single.stop();
    await sleep(200);

    const clusterDb = await postgres.createDatabase(`emporium_bench_cluster_${tag}`);
    const a = await startNode('node-a', { DATABASE_URL: clusterDb, REDIS_URL: redis!.url }, cpuProfDir);
    nodes.push(a);
    const b = await startNode('node-b', { DATABASE_URL: clusterDb, REDIS_URL: redis!.url }, cpuProfDir);
    nodes.push(b);
    const clusterResult = await scenarios(pool, [a, b], clusterDb, sizes);
    return { single: singleResult, cluster: clusterResult };
  } finally {
    await Promise.all(nodes.map((node) => node.stop().catch(() => undefined)));
    await redis?.stop().catch(() => undefined);
    redis = undefined;
    await postgres?.stop().catch(() => undefined);
    postgres = undefined;
  }
}
