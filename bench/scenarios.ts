// Scenario drivers shared by every row: a pool of load-client processes, closed-loop round trips, and fan-out
// phases (a driver emits events, client processes report when each one reached all their subscribers).
import { io, type Socket } from 'socket.io-client';
import { now, sleep } from './lib/clock.ts';
import { Histogram, type HistogramData } from './lib/hist.ts';
import { spawnChild, type Child } from './lib/ipc.ts';

export class ClientPool {
  readonly procs: Child[];
  private onDelivered: ((procIndex: number, data: { key: number; at: number }) => void) | undefined;

  constructor(size: number) {
    this.procs = Array.from({ length: size }, (_, i) => spawnChild(`client-${i}`, 'bench/load-client.ts'));
    this.procs.forEach((proc, index) => {
      proc.onEvent('delivered', (data: { key: number; at: number }) => this.onDelivered?.(index, data));
    });
  }

  /** Splits `total` over the first `procs` processes (as evenly as possible). */
  static split(total: number, procs: number): number[] {
    return Array.from({ length: procs }, (_, i) => Math.floor(total / procs) + (i < total % procs ? 1 : 0));
  }

  /** Opens `total` connections spread over the first `procs` processes (or over `urls` in turn, for clusters). */
  async connect(options: { urls: readonly string[]; namespace: string; total: number; procs: number; guest: boolean; token?: string }): Promise<number> {
    const shares = ClientPool.split(options.total, options.procs);
    const connected = await Promise.all(
      shares.map((count, i) =>
        count === 0
          ? { connected: 0 }
          : this.procs[i]!.request<{ connected: number }>(
              'connect',
              { url: options.urls[i % options.urls.length], namespace: options.namespace, count, guest: options.guest, token: options.token },
              180_000,
            ),
      ),
    );
    return connected.reduce((n, c) => n + c.connected, 0);
  }

  async subscribe(options: { kind: 'raw' | 'emporium'; topic: string; total: number; procs: number }): Promise<number> {
    const shares = ClientPool.split(options.total, options.procs);
    const results = await Promise.all(
      shares.map((count, i) =>
        count === 0
          ? { subscribed: 0 }
          : this.procs[i]!.request<{ subscribed: number }>('subscribe', { kind: options.kind, topic: options.topic, count }, 180_000),
      ),
    );
    return results.reduce((n, r) => n + r.subscribed, 0);
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.procs.map((proc) => proc.request('close', undefined, 30_000).catch(() => undefined)));
  }

  deliveredHandler(handler: ((procIndex: number, data: { key: number; at: number }) => void) | undefined): void {
    this.onDelivered = handler;
  }

  async stop(): Promise<void> {
    await Promise.all(this.procs.map((proc) => proc.stop(5_000)));
  }
}

export interface LatencySummary {
  readonly count: number;
  readonly p50: number | null;
  readonly p99: number | null;
  readonly max: number | null;
  readonly mean: number | null;
}

export function summarize(histogram: Histogram): LatencySummary {
  return {
    count: histogram.count,
    p50: histogram.percentile(50),
    p99: histogram.percentile(99),
    max: histogram.count ? histogram.max : null,
    mean: histogram.mean,
  };
}

export interface RoundTripResult extends LatencySummary {
  readonly perSecond: number;
  readonly ops: number;
  readonly errors: number;
  readonly errorSamples: readonly string[];
  readonly clients: number;
  /** Server CPU time (user + system) per answered command, warm-up included; null when the server is not ours. */
  readonly serverCpuMsPerOp: number | null;
  /** Every command answered, warm-up included. */
  readonly allOps: number;
}

/** Closed loop: every client sends its next command as soon as the previous one is answered. */
export async function roundTrip(
  pool: ClientPool,
  options: {
    readonly urls: readonly string[];
    readonly namespace: string;
    readonly clients: number;
    readonly procs: number;
    readonly op: 'echo' | 'addItem' | 'checkout';
    readonly guest: boolean;
    readonly products: readonly string[];
    readonly warmupMs: number;
    readonly durationMs: number;
    /** The server process, when it answers `cpu` (its CPU time in ms). */
    readonly server?: Child | undefined;
  },
): Promise<RoundTripResult> {
  try {
    const connected = await pool.connect({
      urls: options.urls,
      namespace: options.namespace,
      total: options.clients,
      procs: options.procs,
      guest: options.guest,
    });
    if (connected !== options.clients) throw new Error(`only ${connected} of ${options.clients} clients connected`);
    if (options.op === 'addItem') await Promise.all(pool.procs.slice(0, options.procs).map((proc) => proc.request('carts', undefined, 120_000)));
    const measureFrom = now() + 300 + options.warmupMs;
    const measureUntil = measureFrom + options.durationMs;
    const cpuBefore: number | undefined = await options.server?.request('cpu');
    const results = await Promise.all(
      pool.procs
        .slice(0, options.procs)
        .map((proc) =>
          proc.request<{ ops: number; allOps: number; errors: number; errorSamples: string[]; histogram: HistogramData; clients: number }>(
            'loop',
            { op: options.op, products: options.products, measureFrom, measureUntil, maxOpsPerClient: 10_000_000 },
            options.warmupMs + options.durationMs + 60_000,
          ),
        ),
    );
    const cpuAfter: number | undefined = await options.server?.request('cpu');
    const histogram = Histogram.from(...results.map((r) => r.histogram));
    const ops = results.reduce((n, r) => n + r.ops, 0);
    const allOps = results.reduce((n, r) => n + r.allOps, 0);
    return {
      ...summarize(histogram),
      perSecond: ops / (options.durationMs / 1000),
      ops,
      errors: results.reduce((n, r) => n + r.errors, 0),
      errorSamples: [...new Set(results.flatMap((r) => r.errorSamples))].slice(0, 5),
      clients: results.reduce((n, r) => n + r.clients, 0),
      serverCpuMsPerOp: cpuBefore !== undefined && cpuAfter !== undefined && allOps > 0 ? (cpuAfter - cpuBefore) / allOps : null,
      allOps,
    };
  } finally {
    await pool.closeAll();
  }
}

/** A socket.io-client connection for a driver, with acks checked. */
export async function driverSocket(url: string, namespace: string, token?: string): Promise<Socket> {
  const socket = io(url + namespace, { auth: token ? { token } : {}, transports: ['websocket'], reconnection: false, forceNew: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return socket;
}

export async function ackData<T = any>(socket: Socket, event: string, payload: unknown, timeoutMs = 30_000): Promise<T> {
  const ack = (await socket.timeout(timeoutMs).emitWithAck(event, payload)) as { ok: boolean; data?: T; error?: { code: string; message: string } };
  if (!ack.ok) throw new Error(`${event}: ${ack.error?.code} ${ack.error?.message}`);
  return ack.data as T;
}

export interface FanoutResult extends LatencySummary {
  /** Pushes received by subscribers per second, from the first event's send to the last receipt. */
  readonly perSecond: number;
  readonly events: number;
  readonly completedEvents: number;
  readonly deliveries: number;
  readonly expectedDeliveries: number;
  readonly unmatched: number;
  readonly subscribers: number;
  readonly seconds: number;
  readonly window: number;
  readonly negativeLatencies: number;
  /** Server CPU time (user + system) per delivery during the measured phase; null when the server is not ours. */
  readonly serverCpuMsPerDelivery: number | null;
}

/**
 * Sends events with at most `window` not yet delivered everywhere: an event counts as delivered when every
 * client process holding subscribers has reported all of them received it. `fire` sends one event and resolves
 * with its version (and when it was sent); `times` gives the reference time of each version after the phase
 * (the commit / emit time from the server, or the driver's send time).
 */
export async function fanoutPhase(
  pool: ClientPool,
  options: {
    readonly procs: number;
    readonly subscribers: number;
    readonly fire: () => Promise<{ version: number; sentAt: number }>;
    readonly times: (driverTimes: Record<string, number>) => Promise<Record<string, number>>;
    readonly reset: () => Promise<void>;
    readonly warmupEvents: number;
    readonly durationMs: number;
    readonly maxEvents: number;
    readonly window: number;
    readonly drainTimeoutMs?: number;
    /** The server process, when it answers `cpu` (its CPU time in ms). */
    readonly server?: Child | undefined;
  },
): Promise<FanoutResult> {
  const shares = ClientPool.split(options.subscribers, options.procs);
  const reporting = shares.filter((n) => n > 0).length;
  const driverTimes: Record<string, number> = {};

  const phase = (maxEvents: number, durationMs: number) =>
    new Promise<{ sent: number; completed: number; start: number; errors: string[] }>((resolve) => {
      const reports = new Map<number, number>();
      let outstanding = 0;
      let sent = 0;
      let completed = 0;
      let stopping = false;
      let finished = false;
      const errors: string[] = [];
      const start = now();
      const end = start + durationMs;
      const finish = () => {
        if (finished) return;
        finished = true;
        clearTimeout(drainTimer);
        pool.deliveredHandler(undefined);
        resolve({ sent, completed, start, errors });
      };
      let drainTimer: NodeJS.Timeout | undefined;
      const stop = () => {
        if (stopping) return;
        stopping = true;
        drainTimer = setTimeout(finish, options.drainTimeoutMs ?? 30_000);
      };
      const pump = () => {
        while (!stopping && outstanding < options.window) {
          if (sent >= maxEvents || now() >= end) {
            stop();
            break;
          }
          outstanding++;
          sent++;
          options.fire().then(
            ({ version, sentAt }) => {
              driverTimes[String(version)] = sentAt;
            },
            (error: unknown) => {
              errors.push(String(error));
              outstanding--;
              stop();
            },
          );
        }
        if (stopping && outstanding <= 0) finish();
      };
      pool.deliveredHandler((_proc, { key }) => {
        const n = (reports.get(key) ?? 0) + 1;
        reports.set(key, n);
        if (n < reporting) return;
        reports.delete(key);
        outstanding--;
        completed++;
        pump();
      });
      pump();
    });

  await phase(options.warmupEvents, 60_000);
  await Promise.all(pool.procs.slice(0, options.procs).map((proc) => proc.request('resetReceipts')));
  await options.reset();
  for (const key of Object.keys(driverTimes)) delete driverTimes[key];
  await sleep(50);

  const cpuBefore: number | undefined = await options.server?.request('cpu');
  const { sent, completed, start, errors } = await phase(options.maxEvents, options.durationMs);
  const cpuAfter: number | undefined = await options.server?.request('cpu');
  if (errors.length > 0) throw new Error(`fan-out driver failed: ${errors[0]}`);
  const times = await options.times(driverTimes);
  const stats = await Promise.all(
    pool.procs
      .slice(0, options.procs)
      .map((proc) => proc.request<{ deliveries: number; unmatched: number; lastAt: number; histogram: HistogramData }>('fanoutStats', { times }, 60_000)),
  );
  const histogram = Histogram.from(...stats.map((s) => s.histogram));
  const deliveries = stats.reduce((n, s) => n + s.deliveries, 0);
  const lastAt = Math.max(...stats.map((s) => s.lastAt));
  const seconds = (lastAt - start) / 1000;
  return {
    ...summarize(histogram),
    perSecond: deliveries / seconds,
    events: sent,
    completedEvents: completed,
    deliveries,
    expectedDeliveries: sent * options.subscribers,
    unmatched: stats.reduce((n, s) => n + s.unmatched, 0),
    subscribers: options.subscribers,
    seconds,
    window: options.window,
    negativeLatencies: histogram.negative,
    serverCpuMsPerDelivery: cpuBefore !== undefined && cpuAfter !== undefined && deliveries > 0 ? (cpuAfter - cpuBefore) / deliveries : null,
  };
}

// ---------------------------------------------------------------- a limited drop

export interface DropOptions {
  readonly url: string;
  readonly staffToken: string;
  readonly productId: string;
  readonly listPrice: number;
  readonly quota: number;
  readonly buyers: number;
  readonly watchers: number;
  readonly procs: number;
  /** The drop starts this long after it is created. */
  readonly leadMs: number;
  /** Least pause between the buyers' adds and the rush (their carts' debounced recommendation pushes); then until the server is quiet. */
  readonly settleMs: number;
  /** The server process (answers `cpu`, `info`, `commitTimes`, `availableTimes`). */
  readonly server: Child;
}

interface PushStats {
  readonly deliveries: number;
  readonly unmatched: number;
  readonly firstAt: number;
  readonly lastAt: number;
  readonly histogram: HistogramData;
}

interface CheckoutOutcome {
  readonly sentAt: number;
  readonly answeredAt: number | null;
  readonly code: string;
  readonly unitPrice?: number;
  readonly quantity?: number;
}

export interface DropResult {
  readonly quota: number;
  readonly buyers: number;
  readonly watchers: number;
  readonly offerId: string;
  readonly listPrice: number;
  readonly dropPrice: number;
  /** From the drop's startsAt to the driver's receipt of offer:started (the sweep moves it to live). */
  readonly startLagMs: number;
  /** From the first checkout sent to the commit of the stock transaction that claimed the last drop unit. */
  readonly sellOutMs: number | null;
  /** From the first checkout sent to the last answer. */
  readonly lastAnswerMs: number;
  /** Answers by code (OK, SOLD_OUT, CONFLICT, LIMIT_REACHED, NO_ACK…). */
  readonly codes: Record<string, number>;
  /** OK answers whose order holds the unit at the drop price / at another price (a cart re-priced by the sell-out before its checkout ran). */
  readonly soldAtDropPrice: number;
  readonly soldAtOtherPrice: number;
  /** The server's word after the rush: the offer's state and remaining units, and the units the product's stock lost. */
  readonly server: { readonly state: string; readonly remaining: number | null; readonly stockTaken: number };
  /** Every way "exactly `quota` sold" or "every watcher got the last level" failed; empty when all held. */
  readonly problems: readonly string[];
  /** Watcher receipts of stock:changed + offer:remaining per second, from the first checkout sent to the last receipt. */
  readonly perSecond: number;
  readonly deliveries: number;
  /** Delays from the commit of the stock change whose level the push carries. */
  readonly stock: LatencySummary & { readonly deliveries: number; readonly unmatched: number };
  readonly remaining: LatencySummary & { readonly deliveries: number; readonly unmatched: number };
  readonly stockPerWatcher: { readonly mean: number; readonly min: number; readonly max: number };
  readonly remainingPerWatcher: { readonly mean: number; readonly min: number; readonly max: number };
  /** Stock versions the rush committed (what an uncoalesced stream would push to each watcher). */
  readonly stockChanges: number;
  readonly watchersWithLastLevel: number;
  readonly watchersSawSoldOut: number;
  readonly serverCpuMs: number;
  /** How long each step took (ms): connecting watchers and buyers, the adds, the pause before the rush, the wait for the last pushes. */
  readonly phases: { readonly connect: number; readonly add: number; readonly settle: number; readonly drain: number };
}

/** Polls `check` every `everyMs` until it is true or `timeoutMs` passed; resolves with its last answer. */
export async function until(check: () => Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const deadline = now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (now() >= deadline) return false;
    await sleep(everyMs);
  }
}

/**
 * A limited drop of `quota` units with `buyers` buyers (a guest each, one cart each, the drop's product added once
 * it is live) who all check out at once, and `watchers` sockets on `product:<id>` counting its pushes.
 */
export async function dropPhase(pool: ClientPool, o: DropOptions): Promise<DropResult> {
  const procs = pool.procs.slice(0, o.procs);
  const sum = <T>(results: readonly T[], pick: (r: T) => number) => results.reduce((n, r) => n + pick(r), 0);
  const watcherShares = ClientPool.split(o.watchers, o.procs);
  const buyerShares = ClientPool.split(o.buyers, o.procs);
  const topic = `product:${o.productId}`;
  let mark = now();
  const lap = () => {
    const at = now();
    const ms = at - mark;
    mark = at;
    return ms;
  };
  const watching = await Promise.all(
    procs.map((proc, i) =>
      watcherShares[i] ? proc.request<{ watchers: number }>('dropWatchers', { url: o.url, count: watcherShares[i], topic }, 180_000) : { watchers: 0 },
    ),
  );
  if (sum(watching, (w) => w.watchers) !== o.watchers) throw new Error(`only ${sum(watching, (w) => w.watchers)} of ${o.watchers} watchers subscribed`);
  const buying = await Promise.all(
    procs.map((proc, i) => (buyerShares[i] ? proc.request<{ buyers: number }>('dropBuyers', { url: o.url, count: buyerShares[i] }, 180_000) : { buyers: 0 })),
  );
  if (sum(buying, (b) => b.buyers) !== o.buyers) throw new Error(`only ${sum(buying, (b) => b.buyers)} of ${o.buyers} buyers have a cart`);

  const connect = lap();
  const staff = await driverSocket(o.url, '/warehouse', o.staffToken);
  try {
    // The drop, starting shortly: the driver follows the offers topic for its start.
    const startedAt = new Map<string, number>();
    staff.on('offer:started', (view: { id?: string }) => {
      if (typeof view?.id === 'string' && !startedAt.has(view.id)) startedAt.set(view.id, now());
    });
    await ackData(staff, 'subscribe', { topic: 'offers' });
    const dropPrice = Math.floor(o.listPrice / 2);
    const startsAt = Date.now() + o.leadMs;
    const { offer } = await ackData<{ offer: { id: string } }>(staff, 'offer:create', {
      sort: 'drop',
      name: 'Bench drop',
      productId: o.productId,
      dropPrice,
      quota: o.quota,
      perCustomerLimit: 1,
      startsAt,
    });
    if (!(await until(async () => startedAt.has(offer.id), o.leadMs + 15_000, 20))) throw new Error(`the drop did not start within ${o.leadMs + 15_000} ms`);
    const startLagMs = startedAt.get(offer.id)! - startsAt;

    // Live: every buyer adds one unit, at the drop price.
    lap();
    const added = await Promise.all(
      procs.map((proc, i) =>
        buyerShares[i]
          ? proc.request<{ atDropPrice: number; samples: string[] }>('dropAdd', { productId: o.productId, dropPrice, offerId: offer.id }, 180_000)
          : { atDropPrice: 0, samples: [] },
      ),
    );
    const atDropPrice = sum(added, (a) => a.atDropPrice);
    if (atDropPrice !== o.buyers)
      throw new Error(`${o.buyers - atDropPrice} of ${o.buyers} buyers' lines are not at the drop price: ${added.flatMap((a) => a.samples).join('; ')}`);
    const add = lap();
    // Each add schedules its cart's recommendations (debounced): let them pass, until the server is quiet (bounded).
    await sleep(o.settleMs);
    await until(
      async () => {
        const c0: number = await o.server.request('cpu');
        await sleep(250);
        return (await o.server.request<number>('cpu')) - c0 < 25;
      },
      30_000,
      0,
    );
    const settle = lap();

    // The rush: every buyer checks out at the same instant.
    const before = (await ackData<{ stock: { available: number; version: number } }>(staff, 'stock:get', { productId: o.productId })).stock;
    await Promise.all(procs.map((proc) => proc.request('dropResetReceipts')));
    await o.server.request('clearCommitTimes');
    const cpuBefore: number = await o.server.request('cpu');
    const at = now() + 300;
    const outcomes = (
      await Promise.all(procs.map((proc, i) => (buyerShares[i] ? proc.request<CheckoutOutcome[]>('dropCheckout', { at, timeoutMs: 60_000 }, 120_000) : [])))
    ).flat();
    const firstSent = Math.min(...outcomes.map((x) => x.sentAt));
    const lastAnswer = Math.max(...outcomes.map((x) => x.answeredAt ?? x.sentAt));
    const codes: Record<string, number> = {};
    for (const x of outcomes) codes[x.code] = (codes[x.code] ?? 0) + 1;
    const sold = outcomes.filter((x) => x.code === 'OK');
    const soldAtDropPrice = sold.filter((x) => x.unitPrice === dropPrice && x.quantity === 1).length;

    // What the server says, once every answer is in: the offer, and the units the stock lost.
    const after = (await ackData<{ stock: { available: number; version: number } }>(staff, 'stock:get', { productId: o.productId })).stock;
    const watchState = () =>
      Promise.all(
        procs.map((proc) =>
          proc.request<{ watchers: number; finalLevel: number; soldOut: number; lost: number }>('dropWatchState', { version: after.version }),
        ),
      );
    // Every watcher gets the last level (at most one coalescing window late) and the sell-out.
    await until(async () => {
      const states = await watchState();
      return sum(states, (s) => s.finalLevel) === o.watchers && sum(states, (s) => s.soldOut) === o.watchers;
    }, 15_000);
    const cpuAfter: number = await o.server.request('cpu');
    const drain = now() - lastAnswer;
    const states = await watchState();
    const view = (await ackData<{ view: { state: string; drop: { remaining: number } | null } }>(staff, 'subscribe', { topic: `offer:${offer.id}` })).view;
    const stockTaken = before.available - after.available;

    const problems: string[] = [];
    if (soldAtDropPrice !== o.quota) problems.push(`${soldAtDropPrice} units sold at the drop price, not ${o.quota}`);
    if (view.drop?.remaining !== 0 || view.state !== 'soldOut')
      problems.push(`the offer is ${view.state} with ${view.drop?.remaining} remaining, not soldOut with 0`);
    if (stockTaken !== sum(sold, (x) => x.quantity ?? 0)) problems.push(`the stock lost ${stockTaken} units for ${sold.length} orders`);
    if (codes.NO_ACK) problems.push(`${codes.NO_ACK} checkouts were not answered within 60 s`);
    const lost = sum(states, (s) => s.lost);
    if (lost > 0) problems.push(`${lost} buyer or watcher sockets were disconnected by the server or the transport`);
    const watchersWithLastLevel = sum(states, (s) => s.finalLevel);
    const watchersSawSoldOut = sum(states, (s) => s.soldOut);
    if (watchersWithLastLevel !== o.watchers) problems.push(`${o.watchers - watchersWithLastLevel} watchers never got the last stock level`);
    if (watchersSawSoldOut !== o.watchers) problems.push(`${o.watchers - watchersSawSoldOut} watchers never got offer:remaining 0 (soldOut)`);

    // Reference times: the commit of each stock version; a drop's remaining r is the level after quota − r claims.
    const stockTimes: Record<string, number> = await o.server.request('commitTimes');
    const availableTimes: Record<string, number> = await o.server.request('availableTimes');
    const remainingTimes: Record<string, number> = {};
    for (let r = 0; r < o.quota; r++) {
      const t = availableTimes[String(before.available - (o.quota - r))];
      if (t !== undefined) remainingTimes[String(r)] = t;
    }
    const soldOutCommit = availableTimes[String(before.available - o.quota)];
    const stats = await Promise.all(
      procs.map((proc) =>
        proc.request<{
          watchers: number;
          stock: PushStats;
          remaining: PushStats;
          stockPerWatcher: { sum: number; min: number; max: number };
          remainingPerWatcher: { sum: number; min: number; max: number };
        }>('dropWatchStats', { stockTimes, remainingTimes }, 60_000),
      ),
    );
    const pushes = (pick: (s: (typeof stats)[number]) => PushStats) => {
      const histogram = Histogram.from(...stats.map((s) => pick(s).histogram));
      return { ...summarize(histogram), deliveries: sum(stats, (s) => pick(s).deliveries), unmatched: sum(stats, (s) => pick(s).unmatched) };
    };
    const perWatcher = (pick: (s: (typeof stats)[number]) => { sum: number; min: number; max: number }) => ({
      mean: sum(stats, (s) => pick(s).sum) / o.watchers,
      min: Math.min(...stats.filter((s) => s.watchers > 0).map((s) => pick(s).min)),
      max: Math.max(...stats.filter((s) => s.watchers > 0).map((s) => pick(s).max)),
    });
    const stock = pushes((s) => s.stock);
    const remaining = pushes((s) => s.remaining);
    const lastReceipt = Math.max(...stats.flatMap((s) => [s.stock.lastAt, s.remaining.lastAt]));
    const deliveries = stock.deliveries + remaining.deliveries;
    return {
      quota: o.quota,
      buyers: o.buyers,
      watchers: o.watchers,
      offerId: offer.id,
      listPrice: o.listPrice,
      dropPrice,
      startLagMs,
      sellOutMs: soldOutCommit === undefined ? null : soldOutCommit - firstSent,
      lastAnswerMs: lastAnswer - firstSent,
      codes,
      soldAtDropPrice,
      soldAtOtherPrice: sold.length - soldAtDropPrice,
      server: { state: view.state, remaining: view.drop?.remaining ?? null, stockTaken },
      problems,
      perSecond: deliveries > 0 ? deliveries / ((lastReceipt - firstSent) / 1000) : 0,
      deliveries,
      stock,
      remaining,
      stockPerWatcher: perWatcher((s) => s.stockPerWatcher),
      remainingPerWatcher: perWatcher((s) => s.remainingPerWatcher),
      stockChanges: after.version - before.version,
      watchersWithLastLevel,
      watchersSawSoldOut,
      serverCpuMs: cpuAfter - cpuBefore,
      phases: { connect, add, settle, drain },
    };
  } finally {
    staff.close();
    await pool.closeAll();
  }
}

// ---------------------------------------------------------------- recommendation latency

export interface RecommendationResult {
  /** recommendations:updated for the acked cart version, from the cart:addItem ack (the debounce included). */
  readonly fromAck: LatencySummary;
  /** The same, from the cart:addItem send. */
  readonly fromSend: LatencySummary;
  /** The reference: a `subscribe` round trip to the cart's recommendations (computed afresh, no debounce). */
  readonly subscribe: LatencySummary;
  readonly missing: number;
  readonly inCart: number;
  readonly errors: number;
  readonly errorSamples: readonly string[];
}

export async function recommendationPhase(
  pool: ClientPool,
  o: {
    readonly url: string;
    readonly clients: number;
    readonly procs: number;
    readonly cartsPerClient: number;
    readonly addsPerCart: number;
    readonly products: readonly string[];
    readonly pushTimeoutMs: number;
    readonly durationMs: number;
  },
): Promise<RecommendationResult> {
  const shares = ClientPool.split(o.clients, o.procs);
  const deadline = now() + o.durationMs;
  try {
    const results = await Promise.all(
      shares.map((count, i) =>
        count === 0
          ? undefined
          : pool.procs[i]!.request<{
              fromAck: HistogramData;
              fromSend: HistogramData;
              subscribe: HistogramData;
              missing: number;
              inCart: number;
              errors: number;
              errorSamples: string[];
            }>(
              'recommendations',
              {
                url: o.url,
                clients: count,
                cartsPerClient: o.cartsPerClient,
                addsPerCart: o.addsPerCart,
                products: o.products,
                firstClient: shares.slice(0, i).reduce((n, c) => n + c, 0),
                pushTimeoutMs: o.pushTimeoutMs,
                deadline,
              },
              o.durationMs + o.addsPerCart * (o.pushTimeoutMs + 60_000) + 180_000,
            ),
      ),
    );
    const done = results.filter((r) => r !== undefined);
    const merged = (pick: (r: (typeof done)[number]) => HistogramData) => summarize(Histogram.from(...done.map(pick)));
    return {
      fromAck: merged((r) => r.fromAck),
      fromSend: merged((r) => r.fromSend),
      subscribe: merged((r) => r.subscribe),
      missing: done.reduce((n, r) => n + r.missing, 0),
      inCart: done.reduce((n, r) => n + r.inCart, 0),
      errors: done.reduce((n, r) => n + r.errors, 0),
      errorSamples: [...new Set(done.flatMap((r) => r.errorSamples))].slice(0, 5),
    };
  } finally {
    await pool.closeAll();
  }
}
