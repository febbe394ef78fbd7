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
