// Cluster lab: one real Redis, one real PostgreSQL database and N real node processes per test file,
// plus direct PostgreSQL queries for the checks the tests make against what is really stored.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { TestFn } from 'ava';
import pg from 'pg';
import type { Socket } from 'socket.io-client';
import type { Ack } from '../../src/protocol/index.ts';
import { connect, postJson, tempDir } from './app.ts';
import { CHILD_JWT_SECRET, REPO_ROOT, spawnServer, type ServerChild } from './child.ts';
import { startPostgres, startRedis, type PostgresServer, type RedisServer } from './services.ts';

export { eventually, sleep } from './app.ts';

/** Runs `work` over `items` with at most `limit` at once, keeping the order of results. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index]!, index);
      }
    }),
  );
  return results;
}

/**
 * Emits a command and resolves with its ack, or with `undefined` when no ack came
 * (the connection went away, or `timeoutMs` passed). Never rejects.
 */
export function emitAck<T = any>(socket: Socket, event: string, payload: unknown, timeoutMs = 15_000): Promise<Ack<T> | undefined> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (ack: Ack<T> | undefined) => {
      if (settled) return;
      settled = true;
      socket.off('disconnect', onDisconnect);
      resolve(ack);
    };
    const onDisconnect = () => done(undefined);
    socket.once('disconnect', onDisconnect);
    if (!socket.connected) return done(undefined);
    socket.timeout(timeoutMs).emit(event, payload, (error: Error | null, ack: Ack<T>) => done(error ? undefined : ack));
  });
}

export interface ActorRecord {
  readonly id: string;
  readonly kind: string;
  readonly version: number;
  readonly state: string;
  readonly context: any;
}

/** The ids of the Redis connections named `name` (`emporium-pub`, `emporium-sub`), from an admin connection's CLIENT LIST. */
export async function redisClientIds(admin: { client(subcommand: 'LIST'): Promise<unknown> }, name: string): Promise<string[]> {
  return String(await admin.client('LIST'))
    .split('\n')
    .filter((line) => line.includes(` name=${name} `))
    .map((line) => /id=(\d+)/.exec(line)![1]!);
}

/** One cluster per test file: Redis, a PostgreSQL database, the nodes, the sockets and a pg pool for checks. */
export class ClusterLab {
  redis!: RedisServer;
  postgres!: PostgresServer;
  databaseUrl!: string;
  /** Direct PostgreSQL access for assertions (not through any node). */
  pg!: pg.Pool;
  readonly nodes: ServerChild[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly dirs: Array<{ cleanup(): void }> = [];
  private categoryReady: Promise<unknown> | undefined;

  async boot(): Promise<void> {
    [this.redis, this.postgres] = await Promise.all([startRedis(), startPostgres()]);
    this.databaseUrl = await this.postgres.createDatabase(`emporium_cluster_${process.pid}_${randomBytes(4).toString('hex')}`);
    this.pg = new pg.Pool({ connectionString: this.databaseUrl, max: 4 });
    // An idle client cut off by the teardown's `drop database … with (force)` (or a PostgreSQL restart in a test)
    // reports it here; without a listener it would crash the test process.
    this.pg.on('error', () => undefined);
  }

  /**
   * The life of a cluster test file: before its tests, boots Redis and PostgreSQL and runs `start` (which
   * starts the nodes it needs); after them, disposes of everything (failing on saga anomalies).
   *
   * @example
   * const lab = new ClusterLab();
   * let a: ServerChild;
   * let b: ServerChild;
   * lab.install(test, async () => {
   *   [a, b] = await lab.cluster(2);
   * });
   */
  install(test: Pick<TestFn, 'before' | 'after'>, start: () => Promise<void>): this {
    test.before(async () => {
      await this.boot();
      await start();
    });
    test.after.always(() => this.dispose());
    return this;
  }

  /** Starts one node on the shared database and Redis. */
  async node(nodeId: string, env: Record<string, string> = {}): Promise<ServerChild> {
    const dir = tempDir('emporium-cluster-');
    this.dirs.push(dir);
    const child = await spawnServer(dir.dir, {
      DATABASE_URL: this.databaseUrl,
      REDIS_URL: this.redis.url,
      NODE_ID: nodeId,
      JWT_SECRET: CHILD_JWT_SECRET,
      PAYMENT_LATENCY_MS: '5',
      // The cluster tests drive a few principals from several sockets in tight loops (correctness under load, not
      // abuse): the per-principal command and cart limits are off here, and proven in tests/integration/limits.test.ts.
      MAX_COMMANDS_PER_PRINCIPAL_PER_SECOND: '0',
      CARTS_PER_MINUTE: '0',
      MAX_OPEN_CARTS: '0',
      ...env,
    });
    this.nodes.push(child);
    return child;
  }

  /** Starts `count` nodes: the first migrates and seeds alone, the others then start together. */
  async cluster(
    count: number,
    env: Record<string, string> | ((index: number) => Record<string, string>) = {},
  ): Promise<[ServerChild, ServerChild, ...ServerChild[]]> {
    if (count < 2) throw new Error('a cluster has at least two nodes');
    const envOf = (i: number) => (typeof env === 'function' ? env(i) : env);
    const first = await this.node('node-a', envOf(0));
    const rest = await Promise.all(Array.from({ length: count - 1 }, (_, i) => this.node(`node-${String.fromCharCode(98 + i)}`, envOf(i + 1))));
    return [first, rest[0]!, ...rest.slice(1)];
  }

  async store(node: ServerChild | string, token: string): Promise<Socket> {
    const socket = await connect(typeof node === 'string' ? node : node.url, '/store', token);
    this.sockets.add(socket);
    return socket;
  }

  async warehouse(node: ServerChild | string, token: string): Promise<Socket> {
    const socket = await connect(typeof node === 'string' ? node : node.url, '/warehouse', token);
    this.sockets.add(socket);
    return socket;
  }

  /** Creates a staff account with the real `create-staff` command (a child process), then logs in through `url`. */
  async staffToken(url: string): Promise<string> {
    const email = `staff-${randomBytes(4).toString('hex')}@example.com`;
    const password = 'warehouse-password';
    const dir = tempDir('emporium-staff-');
    this.dirs.push(dir);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: this.databaseUrl,
      STAFF_PASSWORD: password,
      JWT_SECRET: CHILD_JWT_SECRET,
      DATA_DIR: dir.dir,
    };
    delete env.REDIS_URL;
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/create-staff.ts', email, 'Cluster', 'Staff'], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += String(chunk)));
    child.stderr.on('data', (chunk) => (output += String(chunk)));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0) throw new Error(`create-staff exited with ${code}: ${output}`);
    const { status, body } = await postJson<{ token: string; customer: { role: string } }>(`${url}/api/auth/login`, { email, password });
    if (status !== 200 || body.customer.role !== 'staff') throw new Error(`staff login failed: ${status} ${JSON.stringify(body)}`);
    return body.token;
  }

  /** Inserts a product with exactly `onHand` units straight into PostgreSQL (its own test category). */
  async insertProduct(onHand: number, price = 1000): Promise<string> {
    const now = Date.now();
    this.categoryReady ??= this.pg.query(`insert into categories (id, slug, name) values ('cat_cluster', 'cluster', 'Cluster tests') on conflict do nothing`);
    await this.categoryReady;
    const id = `prod_${randomBytes(16).toString('hex')}`;
    await this.pg.query(
      `insert into products (id, sku, name, category_id, price, currency, on_hand, reserved, stock_version, created_at, updated_at)
       values ($1, $2, $3, 'cat_cluster', $4, 'EUR', $5, 0, 0, $6, $6)`,
      [id, `CL-${id.slice(5, 17)}`, `Cluster product ${id.slice(-6)}`, price, onHand, now],
    );
    return id;
  }

  async actor(id: string): Promise<ActorRecord | undefined> {
    const { rows } = await this.pg.query<{ id: string; kind: string; version: number; state: string; snapshot: string }>(
      'select id, kind, version, state, snapshot from actors where id = $1',
      [id],
    );
    const row = rows[0];
    return (
      row && { id: row.id, kind: row.kind, version: Number(row.version), state: row.state, context: (JSON.parse(row.snapshot) as { context: unknown }).context }
    );
  }

  async journalVersions(actorId: string): Promise<number[]> {
    const { rows } = await this.pg.query<{ version: number }>('select version from actor_journal where actor_id = $1 order by version', [actorId]);
    return rows.map((row) => Number(row.version));
  }

  async stock(productId: string): Promise<{ onHand: number; reserved: number; activeReserved: number }> {
    const { rows } = await this.pg.query<{ on_hand: number; reserved: number; active: string | null }>(
      `select on_hand, reserved, (select sum(quantity) from reservations r where r.product_id = p.id and r.status = 'active') as active
       from products p where id = $1`,
      [productId],
    );
    const row = rows[0]!;
    return { onHand: Number(row.on_hand), reserved: Number(row.reserved), activeReserved: Number(row.active ?? 0) };
  }

  /** `reserved == sum(active reservations) <= on_hand` for every product; returns the violations. */
  async invariantProblems(): Promise<string[]> {
    const { rows } = await this.pg.query<{ id: string; on_hand: number; reserved: number; active: string | null }>(
      `select p.id, p.on_hand, p.reserved, (select sum(quantity) from reservations r where r.product_id = p.id and r.status = 'active') as active from products p`,
    );
    const problems: string[] = [];
    for (const row of rows) {
      const active = Number(row.active ?? 0);
      if (Number(row.reserved) !== active) problems.push(`${row.id}: reserved ${row.reserved} != active reservations ${active}`);
      if (Number(row.reserved) > Number(row.on_hand) || Number(row.reserved) < 0) problems.push(`${row.id}: reserved ${row.reserved} > on_hand ${row.on_hand}`);
    }
    return problems;
  }

  async count(sql: string, params: unknown[] = []): Promise<number> {
    const { rows } = await this.pg.query<{ n: string | number }>(sql, params);
    return Number(rows[0]?.n ?? 0);
  }

  async pendingOutbox(): Promise<number> {
    return this.count('select count(*) as n from outbox where dispatched_at is null');
  }

  /** Saga steps refused by actors that had not taken them, summed over the live nodes (`emporium_saga_anomalies`): each is a bug. */
  async sagaAnomalies(): Promise<number> {
    let total = 0;
    for (const node of this.nodes.filter((candidate) => !candidate.hasExited())) {
      const text = await fetch(`${node.url}/metrics`, { signal: AbortSignal.timeout(2_000) })
        .then((response) => response.text())
        .catch(() => '');
      for (const line of text.split('\n')) if (line.startsWith('emporium_saga_anomalies{')) total += Number(line.split(' ').pop());
    }
    return total;
  }

  /** Stops everything the lab started. Fails (after cleaning up) if a live node recorded a saga anomaly. */
  async dispose(): Promise<void> {
    const anomalies = await this.sagaAnomalies().catch(() => 0);
    for (const socket of this.sockets) socket.close();
    for (const node of this.nodes) node.kill('SIGKILL');
    await Promise.all(this.nodes.map((node) => node.exited));
    await this.pg?.end().catch(() => undefined);
    // A shared server (TEST_POSTGRES_URL) outlives the run: leave it as it was.
    if (this.postgres && this.databaseUrl) {
      const admin = new pg.Client({ connectionString: this.postgres.url });
      admin.on('error', () => undefined);
      await admin
        .connect()
        .then(() => admin.query(`drop database if exists "${new URL(this.databaseUrl).pathname.slice(1)}" with (force)`))
        .catch(() => undefined)
        .finally(() => admin.end().catch(() => undefined));
    }
    await this.redis?.stop().catch(() => undefined);
    await this.postgres?.stop().catch(() => undefined);
    for (const dir of this.dirs) dir.cleanup();
    if (anomalies > 0) throw new Error(`${anomalies} saga step(s) were refused by actors that had not taken them (emporium_saga_anomalies); see the node logs`);
  }
}

/** `count` guest identities from `POST /api/auth/guest`. */
export async function guests(url: string, count: number): Promise<Array<{ token: string; guestId: string }>> {
  return mapLimit(Array.from({ length: count }), 20, async () => {
    const { status, body } = await postJson<{ token: string; guestId: string }>(`${url}/api/auth/guest`, {});
    if (status !== 200) throw new Error(`guest token: ${status}`);
    return body;
  });
}

export async function guestTokens(url: string, count: number): Promise<string[]> {
  return (await guests(url, count)).map((guest) => guest.token);
}

/** True once `url` answers /ready with 503, or no longer answers at all (a node shutting down). */
export async function notReady(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(500) });
    await response.body?.cancel();
    return response.status === 503;
  } catch {
    return true; // not listening any more
  }
}
