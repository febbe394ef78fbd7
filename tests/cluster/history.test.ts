// Jepsen/Elle-style history test: a seeded, bounded, randomized workload of customers on two nodes while the nodes are
// SIGTERMed and SIGKILLed and their PostgreSQL and Redis links are cut and slowed through TCP proxies; every operation
// is recorded (invoke, completion, outcome) and the history is checked against what PostgreSQL holds.
//
// Replay a run:  HISTORY_SEED=<seed> npx ava tests/cluster/history.test.ts
// The seed fixes the shape (customers, products), every customer's choices and the fault schedule; timing differs.
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from '../helpers/cluster-test.ts';
import { TEST_CARD } from '../helpers/app.ts';
import type { ServerChild } from '../helpers/child.ts';
import { ClusterLab, eventually, guests, sleep } from '../helpers/cluster.ts';
import { ProtocolClient, topicOfView } from '../helpers/history-client.ts';
import {
  checkAcknowledgedInJournal,
  checkAnswers,
  checkConvergence,
  checkJournal,
  checkJournalExplained,
  checkNoDuplicates,
  checkRealTimeOrder,
  checkRefusals,
  checkShipmentCancelledFirst,
  checkStock,
  checkViewsMatchReplay,
  History,
  loadFacts,
  REFUSALS,
  replayJournal,
  Rng,
  viewOf,
  type FaultKind,
  type HeldView,
  type Operation,
  type Violation,
} from '../helpers/history.ts';
import { TcpProxy, type ExistingOnCut, type NewOnCut } from '../helpers/tcp-proxy.ts';

const SEED = Rng.seedFromEnv();
const REPLAY = `HISTORY_SEED=${SEED} npx ava tests/cluster/history.test.ts`;
const root = new Rng(SEED);
const shape = root.fork('shape');

/** The run's size: bounded in operations and in wall-clock time. */
const CUSTOMERS = shape.int(8, 12);
const PRODUCTS = shape.int(4, 6);
const STEPS_PER_CUSTOMER = 40;
const WORKLOAD_CAP_MS = 40_000;
const ACK_TIMEOUT_MS = 5_000;
/**
 * Longer than the relay's longest retry backoff (60 s): a delivery that failed again and again while links were cut
 * (a shipment shipped before its order was linked is retried until the link exists) may legitimately wait that long.
 */
const SETTLE_CAP_MS = 75_000;
/** Short payment windows, so unpaid orders expire (and release stock) during the run. */
const NODE_SETTINGS = {
  PAYMENT_WINDOW_MS: '6000',
  SWEEP_INTERVAL_MS: '300',
  RESERVATION_GRACE_MS: '2000',
  SEED_DEMO_DATA: 'false',
  PAYMENT_LATENCY_MS: '5',
  LOG_LEVEL: 'info',
  SHUTDOWN_GRACE_MS: '4000',
};
const DECLINED_CARD = { ...TEST_CARD, cardNumber: '4000000000000002' };

type NodeName = 'A' | 'B';
const NODE_NAMES: readonly NodeName[] = ['A', 'B'];

interface NodeHandle {
  readonly name: NodeName;
  readonly nodeId: string;
  readonly env: Record<string, string>;
  readonly pg: TcpProxy;
  readonly redis: TcpProxy;
  child: ServerChild;
  port: number;
  url: string;
  /** Set while the test itself stops the node, so its exit is not a crash. */
  stopping: boolean;
}

const lab = new ClusterLab();
const history = new History(SEED);
const harness: Violation[] = [];
const nodes = {} as Record<NodeName, NodeHandle>;
const clients: ProtocolClient[] = [];
/** Every node process's log lines (pino JSON on stdout, anything on stderr), for the failure report. */
const nodeLogs: string[] = [];

/** A node's exit the test did not cause is a crash. Its log lines are kept for the report. */
function watch(handle: NodeHandle): void {
  const child = handle.child;
  const keep = (chunk: string) => {
    for (const line of chunk.split('\n')) if (line.trim()) nodeLogs.push(`${history.rel(Date.now())} ${handle.name}[${child.pid}] ${line.slice(0, 2000)}`);
  };
  child.process.stdout?.on('data', keep);
  child.process.stderr?.on('data', keep);
  void child.exited.then(({ code, signal }) => {
    if (!handle.stopping && handle.child === child) {
      harness.push({
        check: 'nodes stay up',
        message: `node ${handle.name} exited by itself (code ${code}, signal ${signal}) at ${history.rel(Date.now())}: ${child.stderr().slice(-1500)}`,
      });
    }
  });
}

async function startNode(handle: NodeHandle, port?: number): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      const child = await lab.node(handle.nodeId, { ...handle.env, ...(port ? { PORT: String(port) } : {}) });
      Object.assign(handle, { child, port: Number(new URL(child.url).port), url: child.url, stopping: false });
      watch(handle);
      return;
    } catch (error) {
      history.notes.push(
        `${history.rel(Date.now())} node ${handle.name} start attempt ${attempt} failed: ${String(error).split('\n').slice(0, 12).join(' | ')}`,
      );
      if (attempt >= 3) throw error;
      await sleep(500);
    }
  }
}

test.before(async () => {
  await lab.boot();
  lab.pg.on('error', () => undefined);
  const pgTarget = new URL(lab.databaseUrl);
  for (const name of NODE_NAMES) {
    const pg = await TcpProxy.start({ host: '127.0.0.1', port: Number(pgTarget.port) }, `pg-${name}`);
    const redis = await TcpProxy.start({ host: '127.0.0.1', port: lab.redis.port }, `redis-${name}`);
    const env = { ...NODE_SETTINGS, DATABASE_URL: pg.rewrite(lab.databaseUrl), REDIS_URL: redis.rewrite(lab.redis.url) };
    nodes[name] = { name, nodeId: `node-${name.toLowerCase()}`, env, pg, redis, stopping: false } as unknown as NodeHandle;
  }
  // The first node migrates alone; the second starts once the schema is there.
  await startNode(nodes.A);
  await startNode(nodes.B);
});

test.after.always(async () => {
  // Sockets first, then the nodes, then the proxies, then Redis and PostgreSQL.
  for (const client of clients) client.close();
  for (const handle of Object.values(nodes)) {
    handle.stopping = true;
    handle.child?.kill('SIGKILL');
  }
  await Promise.all(Object.values(nodes).map((handle) => handle.child?.exited));
  await Promise.all(Object.values(nodes).flatMap((handle) => [handle.pg.close(), handle.redis.close()]));
  await lab.dispose();
});

// ---------------------------------------------------------------------------------------------------------------
// Faults: a schedule fixed by the seed, in two lanes that run beside the workload: node faults (SIGTERM and SIGKILL,
// each followed by a restart on the same port and proxies, one node down at a time) and link faults (PostgreSQL and
// Redis links cut or slowed, one after another, for one node or both).

interface PlannedFault {
  readonly kind: FaultKind;
  readonly nodes: readonly NodeName[];
  /** Pause before the fault, after the previous fault of its lane ended. */
  readonly gapMs: number;
  readonly durationMs: number;
  readonly existing: ExistingOnCut;
  readonly incoming: NewOnCut;
  readonly latencyMs: number;
}

const LINK_FAULTS = 7;

function planFault(rng: Rng, kind: FaultKind, gap: [number, number]): PlannedFault {
  // The same number of draws for every fault, whatever its kind.
  const [dNodes, dGap, dDuration, dExisting, dIncoming, dLatency] = rng.draws(6) as [number, number, number, number, number, number];
  const one: NodeName = dNodes < 0.35 || (dNodes >= 0.7 && dNodes < 0.85) ? 'A' : 'B';
  const both = kind !== 'sigterm' && kind !== 'sigkill' && dNodes >= 0.7;
  return {
    kind,
    nodes: both ? ['A', 'B'] : [one],
    gapMs: gap[0] + Math.floor(dGap * (gap[1] - gap[0])),
    durationMs: 300 + Math.floor(dDuration * 1700),
    existing: dExisting < 0.6 ? 'reset' : 'freeze',
    incoming: dIncoming < 0.5 ? 'refuse' : 'stall',
    latencyMs: 20 + Math.floor(dLatency * 80),
  };
}

function planFaults(rng: Rng): { nodeLane: PlannedFault[]; linkLane: PlannedFault[] } {
  const nodeLane = rng.shuffle<FaultKind>(['sigterm', 'sigkill']).map((kind) => planFault(rng, kind, [1000, 4000]));
  const linkKinds: FaultKind[] = ['pg-cut', 'pg-slow', 'redis-cut', 'redis-slow'];
  const linkLane = Array.from({ length: LINK_FAULTS }, (_, i) => planFault(rng, i < linkKinds.length ? linkKinds[i]! : rng.pick(linkKinds), [300, 1500]));
  return { nodeLane, linkLane: rng.shuffle(linkLane) };
}

const FAULTS = planFaults(root.fork('faults'));

async function stopAndRestart(handle: NodeHandle, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  const window = history.faultStarted(signal === 'SIGTERM' ? 'sigterm' : 'sigkill', [handle.name], `${signal} then restart on port ${handle.port}`);
  handle.stopping = true;
  const child = handle.child;
  child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([child.exited, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), 20_000)))]);
  clearTimeout(timer);
  window.exitedAt = Date.now();
  if (!exit) {
    harness.push({ check: 'nodes stay up', message: `node ${handle.name} did not exit within 20 s of ${signal}: ${child.stderr().slice(-1500)}` });
    child.kill('SIGKILL');
    await child.exited;
  } else if (signal === 'SIGTERM' && (exit.code !== 0 || exit.signal !== null)) {
    harness.push({
      check: 'nodes stay up',
      message: `node ${handle.name} exited with code ${exit.code} signal ${exit.signal} after SIGTERM: ${child.stderr().slice(-1500)}`,
    });
  }
  await startNode(handle, handle.port);
  history.faultEnded(window);
}

async function runFault(fault: PlannedFault): Promise<void> {
  const targets = fault.nodes.map((name) => nodes[name]);
  switch (fault.kind) {
    case 'sigterm':
    case 'sigkill':
      return stopAndRestart(targets[0]!, fault.kind === 'sigterm' ? 'SIGTERM' : 'SIGKILL');
    case 'pg-cut':
    case 'redis-cut': {
      const proxies = targets.map((handle) => (fault.kind === 'pg-cut' ? handle.pg : handle.redis));
      const window = history.faultStarted(fault.kind, fault.nodes, `${fault.durationMs} ms, open connections ${fault.existing}, new ones ${fault.incoming}`);
      for (const proxy of proxies) proxy.cut({ existing: fault.existing, incoming: fault.incoming });
      await sleep(fault.durationMs);
      for (const proxy of proxies) proxy.restore();
      history.faultEnded(window);
      return;
    }
    case 'pg-slow':
    case 'redis-slow': {
      const proxies = targets.map((handle) => (fault.kind === 'pg-slow' ? handle.pg : handle.redis));
      const window = history.faultStarted(fault.kind, fault.nodes, `${fault.durationMs} ms, +${fault.latencyMs} ms per chunk`);
      for (const proxy of proxies) proxy.slow(fault.latencyMs);
      await sleep(fault.durationMs);
      for (const proxy of proxies) proxy.restore();
      history.faultEnded(window);
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Customers: each has a connection to each node and makes seeded choices, one step at a time.

const RETRYABLE = new Set(['UNAVAILABLE', 'INTERNAL', 'CONFLICT']);

class Customer {
  readonly clients: Record<NodeName, ProtocolClient>;
  /** Ack views by entity id (highest version wins), beside what the connections hold from pushes. */
  private readonly acked = new Map<string, { version: number; state: string; [field: string]: any }>();
  cartId: string | undefined;
  orderId: string | undefined;
  /** A create, checkout or payment without a definite answer: sent again, same requestId, at the next steps (§9). */
  pending: { command: string; payload: any; attempts: number } | undefined;

  constructor(
    readonly name: string,
    readonly owner: string,
    token: string,
    readonly rng: Rng,
    readonly products: readonly string[],
  ) {
    this.clients = {
      A: new ProtocolClient({
        name: `${name}@A`,
        customer: name,
        owner,
        node: 'A',
        url: nodes.A.url,
        token,
        history,
        rng: rng.fork('reconnect A'),
        ackTimeoutMs: ACK_TIMEOUT_MS,
      }),
      B: new ProtocolClient({
        name: `${name}@B`,
        customer: name,
        owner,
        node: 'B',
        url: nodes.B.url,
        token,
        history,
        rng: rng.fork('reconnect B'),
        ackTimeoutMs: ACK_TIMEOUT_MS,
      }),
    };
    clients.push(this.clients.A, this.clients.B);
  }

  /** The newest view of an entity this customer has, from its acks and its connections' subscriptions. */
  latest(kind: 'cart' | 'order', id: string): { version: number; state: string; [field: string]: any } | undefined {
    const candidates = [this.acked.get(id), ...NODE_NAMES.map((node) => this.clients[node].held.get(`${kind}:${id}`)?.view as any)];
    return candidates.filter(Boolean).sort((x, y) => y.version - x.version)[0];
  }

  /** Sends through `node`, or through the other node when that one is not connected; undefined when neither is. */
  async send(node: NodeName, command: string, payload: unknown, group?: string, phase = 'workload'): Promise<Operation | undefined> {
    const order = node === 'A' ? (['A', 'B'] as const) : (['B', 'A'] as const);
    for (const candidate of order) {
      const op = await this.clients[candidate].send(command, payload, { group, phase });
      if (op) {
        await this.learn(op);
        return op;
      }
    }
    return undefined;
  }

  /** The same command with the same requestId to both nodes at once. */
  async sendBoth(command: string, payload: unknown, group: string): Promise<Operation[]> {
    const ops = await Promise.all(NODE_NAMES.map((node) => this.clients[node].send(command, payload, { group, phase: 'workload' })));
    const sent = ops.filter((op): op is Operation => op !== undefined);
    for (const op of sent) await this.learn(op);
    return sent;
  }

  async follow(topic: string): Promise<void> {
    if (this.clients.A.followed.has(topic)) return;
    await Promise.all(NODE_NAMES.map((node) => this.clients[node].follow(topic, 'follow')));
  }

  /** Takes in an answer: newer views, new carts and orders (followed on both connections), shipments of its orders. */
  private async learn(op: Operation): Promise<void> {
    const ref = viewOf(op);
    if (!ref || ref.kind === 'product' || ref.kind === 'shipment') return;
    const known = this.acked.get(ref.id);
    if (!known || ref.view.version > known.version) this.acked.set(ref.id, ref.view);
    if (op.command === 'cart:create') {
      this.cartId = ref.id;
      this.orderId = undefined;
    }
    if (op.command === 'cart:checkout') this.orderId = ref.id;
    await this.follow(topicOfView(ref.kind, ref.view));
    if (ref.kind === 'order' && ref.view.shipmentId) await this.follow(`shipment:${ref.view.shipmentId}`);
  }

  /** Remembers an idempotent command that got no definite answer (or could not be sent), to send again with the same requestId. */
  private settleAnswer(command: string, payload: unknown, ops: readonly Operation[]): void {
    const definite = ops.some((op) => op.outcome?.type === 'ok' || (op.outcome?.type === 'refused' && !RETRYABLE.has(op.outcome.code)));
    if (definite) {
      if (this.pending?.payload === payload) this.pending = undefined;
      return;
    }
    const current = this.pending;
    const attempts = current && current.payload === payload ? current.attempts + 1 : 1;
    this.pending = attempts >= 5 ? undefined : { command, payload, attempts };
  }

  async retryPending(node: NodeName, phase = 'workload'): Promise<void> {
    const pending = this.pending!;
    const op = await this.send(node, pending.command, pending.payload, undefined, phase);
    this.settleAnswer(pending.command, pending.payload, op ? [op] : []);
  }

  /** One step: a fixed number of draws, then the command they choose given what the customer knows now. */
  async step(n: number): Promise<number> {
    const [dNode, dKind, dProduct, dQty, dDup, dCard, dThink] = this.rng.draws(7) as [number, number, number, number, number, number, number];
    const node: NodeName = dNode < 0.5 ? 'A' : 'B';
    const think = 120 + Math.floor(dThink * 480);
    if (this.pending) {
      await this.retryPending(node);
      return think;
    }
    const cart = this.cartId ? this.latest('cart', this.cartId) : undefined;
    if (!cart || cart.state === 'expired') {
      await this.createCart(node, n);
      return think;
    }
    if (cart.state === 'checkingOut') {
      await this.send(node, 'cart:get', { cartId: this.cartId });
      return think;
    }
    if (cart.state === 'checkedOut') {
      this.orderId ??= cart.orderId ?? undefined;
      const order = this.orderId ? this.latest('order', this.orderId) : undefined;
      if (!this.orderId) await this.createCart(node, n);
      else if (!order || order.state === 'authorizing') await this.send(node, 'order:get', { orderId: this.orderId });
      else if (order.state === 'awaitingPayment') {
        if (dKind < 0.6) await this.pay(node, n, dCard < 0.25, dDup < 0.35);
        else if (dKind < 0.72) await this.send(node, 'order:cancel', { orderId: this.orderId });
        else await this.send(node, 'order:get', { orderId: this.orderId });
      } else if ((order.state === 'paid' || order.state === 'fulfilling') && dKind < 0.65) {
        await this.send(node, 'order:cancel', { orderId: this.orderId });
      } else {
        await this.createCart(node, n);
      }
      return think;
    }
    const productId = this.products[Math.floor(dProduct * this.products.length)]!;
    const hasItems = ((cart.items as unknown[] | undefined) ?? []).length > 0;
    if (dKind < 0.38 || (dKind >= 0.64 && !hasItems))
      await this.send(node, 'cart:addItem', { cartId: this.cartId, productId, quantity: 1 + Math.floor(dQty * 2) });
    else if (dKind < 0.48) await this.send(node, 'cart:setQuantity', { cartId: this.cartId, productId, quantity: Math.floor(dQty * 4) });
    else if (dKind < 0.56) await this.send(node, 'cart:removeItem', { cartId: this.cartId, productId });
    else if (dKind < 0.64) await this.send(node, 'cart:get', { cartId: this.cartId });
    else await this.checkout(node, n, dDup < 0.35);
    return think;
  }

  private async createCart(node: NodeName, n: number): Promise<void> {
    const payload = { requestId: `${this.name}-cart-${n}` };
    const op = await this.send(node, 'cart:create', payload);
    this.settleAnswer('cart:create', payload, op ? [op] : []);
  }

  private async checkout(node: NodeName, n: number, both: boolean): Promise<void> {
    const payload = { cartId: this.cartId, requestId: `${this.name}-checkout-${n}` };
    const ops = both
      ? await this.sendBoth('cart:checkout', payload, `${this.name}-checkout-${n}`)
      : [await this.send(node, 'cart:checkout', payload)].filter((op): op is Operation => !!op);
    this.settleAnswer('cart:checkout', payload, ops);
  }

  private async pay(node: NodeName, n: number, declined: boolean, both: boolean): Promise<void> {
    const payload = { orderId: this.orderId, requestId: `${this.name}-pay-${n}`, payment: declined ? DECLINED_CARD : TEST_CARD };
    const ops = both
      ? await this.sendBoth('order:pay', payload, `${this.name}-pay-${n}`)
      : [await this.send(node, 'order:pay', payload)].filter((op): op is Operation => !!op);
    this.settleAnswer('order:pay', payload, ops);
  }
}

// ---------------------------------------------------------------------------------------------------------------

async function storedVersions(): Promise<Map<string, number>> {
  const versions = new Map<string, number>();
  const actors = await lab.pg.query<{ id: string; kind: string; version: number }>('select id, kind, version from actors');
  for (const row of actors.rows) versions.set(`${row.kind}:${row.id}`, Number(row.version));
  const products = await lab.pg.query<{ id: string; stock_version: string | number }>('select id, stock_version from products');
  for (const row of products.rows) versions.set(`product:${row.id}`, Number(row.stock_version));
  return versions;
}

function heldViews(): HeldView[] {
  return clients.flatMap((client) => [...client.followed].map((topic) => ({ client: client.name, topic, version: client.held.get(topic)?.version })));
}

test('history: seeded workload over two nodes under crashes, shutdowns and cut or slow links is linearizable per actor and converges', async (t) => {
  t.log(`seed ${SEED}: ${CUSTOMERS} customers, ${PRODUCTS} products, ${STEPS_PER_CUSTOMER} steps each; replay with ${REPLAY}`);
  console.error(`history test seed ${SEED} (replay: ${REPLAY})`);
  const shapeOfStock = root.fork('stock');
  const initialOnHand = new Map<string, number>();
  const products: string[] = [];
  for (let i = 0; i < PRODUCTS; i++) {
    const onHand = shapeOfStock.int(3, 6);
    const id = await lab.insertProduct(onHand, shapeOfStock.int(5, 30) * 100);
    products.push(id);
    initialOnHand.set(id, onHand);
  }
  const identities = await guests(nodes.A.url, CUSTOMERS);
  const customers = identities.map(
    ({ token, guestId }, i) => new Customer(`c${String(i).padStart(2, '0')}`, guestId, token, root.fork(`customer ${i}`), products),
  );
  await Promise.all(clients.map((client) => client.ready()));
  for (const customer of customers) for (const productId of products) await customer.follow(`product:${productId}`);
  const planned = (lane: PlannedFault[]) =>
    lane.map((f) => `${f.kind}(${f.nodes.join('+')}, after ${f.gapMs} ms${f.kind.startsWith('sig') ? '' : `, ${f.durationMs} ms`})`).join(', ');
  t.log(`faults planned: nodes ${planned(FAULTS.nodeLane)}; links ${planned(FAULTS.linkLane)}`);

  // The workload and the faults, together.
  history.begin();
  const startedAt = Date.now();
  const lane = async (faults: readonly PlannedFault[]) => {
    for (const fault of faults) {
      await sleep(fault.gapMs);
      await runFault(fault).catch((error: unknown) =>
        harness.push({ check: 'fault runner', message: `${fault.kind} on ${fault.nodes.join('+')}: ${String(error).slice(0, 3000)}` }),
      );
    }
  };
  const faults = Promise.all([lane(FAULTS.nodeLane), lane(FAULTS.linkLane)]);
  let skipped = 0;
  await Promise.all(
    customers.map(async (customer) => {
      for (let n = 0; n < STEPS_PER_CUSTOMER; n++) {
        if (Date.now() - startedAt > WORKLOAD_CAP_MS) {
          skipped += STEPS_PER_CUSTOMER - n;
          return;
        }
        await sleep(await customer.step(n));
      }
    }),
  );
  const workloadMs = Date.now() - startedAt;
  await faults;
  t.log(`workload ${workloadMs} ms (${skipped} steps skipped at the cap), faults done after ${Date.now() - startedAt} ms`);

  // Heal and settle: every link restored, both nodes up, every client connected, pending retries sent.
  for (const handle of Object.values(nodes)) {
    handle.pg.restore();
    handle.redis.restore();
    if (handle.child.hasExited()) await startNode(handle, handle.port);
  }
  await eventually(async () => clients.every((client) => client.connected), 'every client reconnecting', 20_000).catch((error: Error) =>
    harness.push({
      check: 'settle',
      message: `${error.message}: ${clients
        .filter((c) => !c.connected)
        .map((c) => c.name)
        .join(', ')}`,
    }),
  );
  await Promise.all(
    customers.map(async (customer, i) => {
      for (let attempt = 0; customer.pending && attempt < 5; attempt++) {
        await customer.retryPending(NODE_NAMES[(i + attempt) % 2]!, 'settle');
        if (customer.pending) await sleep(300);
      }
    }),
  );
  const settleStarted = Date.now();
  const unsettled = async () => {
    const { rows } = await lab.pg.query<{ what: string; n: string }>(
      `select 'outbox' as what, count(*) as n from outbox where dispatched_at is null
       union all select 'cart ' || state, count(*) from actors where kind = 'cart' and state = 'checkingOut' group by state
       union all select 'order ' || state, count(*) from actors where kind = 'order' and state in ('awaitingPayment', 'authorizing', 'paid') group by state`,
    );
    return rows.filter((row) => Number(row.n) > 0).map((row) => `${row.what}: ${row.n}`);
  };
  let lastUnsettled: string[] = [];
  await eventually(async () => (lastUnsettled = await unsettled()).length === 0, 'the cluster settling', SETTLE_CAP_MS, 300).catch(async () => {
    // What still waits, for the diagnosis: each undelivered flow delivery with its attempts, its next try and its claim.
    const { rows } = await lab.pg.query(
      `select d.flow, o.type, d.actor_id, d.state, d.attempts, d.claimed_by, d.claimed_until, d.last_error
         from outbox_deliveries d join outbox o on o.seq = d.seq where d.state <> 'done' order by d.seq limit 10`,
    );
    harness.push({ check: 'settle', message: `not settled after ${SETTLE_CAP_MS} ms: ${lastUnsettled.join(', ')}; waiting: ${JSON.stringify(rows)}` });
  });
  t.log(`settled in ${Date.now() - settleStarted} ms`);

  // Convergence: every client that followed the rules holds the stored version of every topic it follows.
  let lagging: Violation[] = [];
  await eventually(
    async () => {
      const versions = await storedVersions();
      lagging = heldViews()
        .filter((held) => held.version !== versions.get(held.topic))
        .map((held) => ({
          check: 'convergence',
          message: `${held.client} holds ${held.topic} v${held.version ?? 'none'}, stored v${versions.get(held.topic) ?? 'none'}`,
        }));
      return lagging.length === 0;
    },
    'every client converging',
    10_000,
    250,
  ).catch(() => undefined);

  // The checks, on what PostgreSQL holds now.
  const facts = await loadFacts(lab.pg, products);
  const replay = replayJournal(facts);
  const results: Array<[string, Violation[]]> = [
    ['harness (nodes, settling)', harness],
    ['journal versions unique and gapless', checkJournal(facts)],
    ['replay equals stored snapshot', replay.violations],
    ['real-time order', checkRealTimeOrder(history)],
    ['acknowledged operations are in the journal', checkAcknowledgedInJournal(history, facts)],
    ['journal entries come from operations that may have written', checkJournalExplained(history, facts)],
    ['views and pushes match the journal', checkViewsMatchReplay(history, replay)],
    ['refusal codes as documented', checkRefusals(history, facts, replay)],
    ['answers as documented', checkAnswers(history)],
    ['no duplicate orders or charges', checkNoDuplicates(history, facts)],
    ['a fulfilling order is cancelled after its shipment', checkShipmentCancelledFirst(facts, replay)],
    [
      'stock',
      [
        ...checkStock(facts, initialOnHand),
        ...(await lab.invariantProblems()).filter((p) => products.some((id) => p.startsWith(id))).map((message) => ({ check: 'stock', message })),
      ],
    ],
    ['convergence', lagging.length > 0 ? checkConvergence(heldViews(), facts, history) : []],
  ];

  const outcomes = new Map<string, number>();
  for (const op of history.ops) {
    const key = op.outcome?.type === 'refused' ? `refused ${op.outcome.code}` : (op.outcome?.type ?? 'pending');
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
  }
  t.log(
    `${history.ops.length} operations: ${[...outcomes]
      .sort()
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}`,
  );
  t.log(
    `${facts.actors.filter((a) => a.kind === 'order').length} orders, ${facts.charges.filter((c) => c.kind === 'charge' && c.status === 'succeeded').length} charges, ${history.pushes.length} pushes`,
  );
  for (const fault of history.faults) t.log(history.describeFault(fault));
  for (const note of history.notes) t.log(note);
  for (const handle of Object.values(nodes)) {
    const metrics = await fetch(`${handle.url}/metrics`)
      .then((r) => r.text())
      .catch(() => '');
    const pick = (name: string) => /\n?([^\n]*)/.exec(metrics.split('\n').find((line) => line.startsWith(`${name} `)) ?? '')?.[1] ?? `${name} ?`;
    t.log(
      `node ${handle.name}: ${pick('emporium_redis_up')}, ${pick('emporium_redis_dropped_publishes')}, proxies pg ${JSON.stringify(handle.pg.stats)} redis ${JSON.stringify(handle.redis.stats)}`,
    );
  }
  t.log(`refusals allowed: ${REFUSALS.why.join('; ')}`);

  const violations = results.flatMap(([, list]) => list);
  for (const [name, list] of results) t.log(`${list.length === 0 ? 'ok  ' : 'FAIL'} ${name}${list.length ? ` (${list.length})` : ''}`);
  if (violations.length > 0) {
    const file = path.join(tmpdir(), `emporium-history-${SEED}.json`);
    const connections = clients.map((c) => ({
      client: c.name,
      connects: c.connects,
      resyncs: c.resyncs,
      disconnects: c.disconnects.map((d) => `${history.rel(d.at)} ${d.reason}`),
    }));
    writeFileSync(
      file,
      JSON.stringify(
        {
          seed: SEED,
          startedAt: history.startedAt,
          faults: history.faults,
          notes: history.notes,
          violations,
          connections,
          ops: history.ops,
          pushes: history.pushes,
          journal: facts.journal,
          nodeLogs,
        },
        null,
        1,
      ),
    );
    for (const [name, list] of results) for (const violation of list.slice(0, 15)) t.log(`[${name}] ${violation.message}`);
    t.log(`full history: ${file}`);
  }
  t.is(
    violations.length,
    0,
    `seed ${SEED}: ${violations.length} violations (${results
      .filter(([, l]) => l.length)
      .map(([n, l]) => `${n}: ${l.length}`)
      .join('; ')}); replay with ${REPLAY}`,
  );
});
