// Abuse limits: per socket, per principal and per client address, on connections, on commands per second and on
// attempts per minute. Each limit is a number from the config; 0 turns it off. Counts are per node (a cluster of N
// nodes behind a balancer allows up to N times as much), except where a module counts in the database.
import type { IncomingMessage } from 'node:http';
import proxyAddr from '@fastify/proxy-addr';
import { TokenBucket } from './rate-limit.ts';

/** Token buckets by key (a principal, an address), forgotten once idle and full again. */
export class KeyedBuckets {
  private readonly buckets = new Map<string, { bucket: TokenBucket; used: number }>();
  private swept: number;

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    this.swept = now();
  }

  /** Takes one token of `key`'s bucket; true when there was one, always true when the limit is off. */
  take(key: string): boolean {
    if (this.perSecond <= 0) return true;
    const now = this.now();
    if (now - this.swept > 10_000) this.sweep(now);
    let entry = this.buckets.get(key);
    if (!entry) {
      entry = { bucket: new TokenBucket(this.perSecond, this.now), used: now };
      this.buckets.set(key, entry);
    }
    entry.used = now;
    return entry.bucket.take();
  }

  get size(): number {
    return this.buckets.size;
  }

  /** A bucket unused for a second has refilled: dropping it changes nothing. */
  private sweep(now: number): void {
    this.swept = now;
    for (const [key, entry] of this.buckets) if (now - entry.used > 1000) this.buckets.delete(key);
  }
}

/** How many of something each key holds at once (connections of an address, sockets of a principal). */
export class KeyedCounts {
  private readonly counts = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** Whether `key` may take one more (always, when the limit is off). */
  allows(key: string): boolean {
    return this.max <= 0 || (this.counts.get(key) ?? 0) < this.max;
  }

  /** Counts one more for `key`; the returned function gives it back (once). */
  hold(key: string): () => void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.counts.get(key) ?? 1) - 1;
      if (left <= 0) this.counts.delete(key);
      else this.counts.set(key, left);
    };
  }

  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }
}

/**
 * Attempts per key in fixed windows (password attempts and guest tokens per client address): `hit` counts one
 * and answers undefined while at most `max` fell in the current window of `windowMs`, else the milliseconds until
 * it ends. Local to the node, or shared by every node through Redis in a cluster.
 */
export interface AttemptCounter {
  hit(key: string, max: number, windowMs: number): Promise<number | undefined>;
}

/** This node's own count. */
export class LocalAttempts implements AttemptCounter {
  private readonly windows = new Map<string, { start: number; hits: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  async hit(key: string, max: number, windowMs: number): Promise<number | undefined> {
    const now = this.now();
    let window = this.windows.get(key);
    if (!window || now - window.start >= windowMs) {
      if (this.windows.size > 10_000) for (const [old, w] of this.windows) if (now - w.start >= windowMs) this.windows.delete(old);
      window = { start: now, hits: 0 };
      this.windows.set(key, window);
    }
    window.hits++;
    return window.hits > max ? Math.max(1, window.start + windowMs - now) : undefined;
  }
}

/** The minimal Redis a shared count needs (ioredis). */
export interface RedisLike {
  multi(): {
    incr(key: string): unknown;
    pexpire(key: string, ms: number, mode: 'NX'): unknown;
    pttl(key: string): unknown;
    exec(): Promise<Array<[Error | null, unknown]> | null>;
  };
}

/**
 * Every node's count, in Redis (`INCR` and `PEXPIRE … NX` in one transaction). While Redis cannot answer, the
 * node counts alone (`fallback`): a Redis outage must not lock every customer out. Nor may a Redis that takes
 * the command and never answers (a frozen link: the connection stays up) hold the request: past `timeoutMs`,
 * the node counts alone too.
 */
export class RedisAttempts implements AttemptCounter {
  constructor(
    private readonly redis: RedisLike,
    private readonly fallback: AttemptCounter,
    private readonly prefix = 'emporium:attempts:',
    private readonly timeoutMs = 500,
  ) {}

  async hit(key: string, max: number, windowMs: number): Promise<number | undefined> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const transaction = this.redis.multi();
      transaction.incr(this.prefix + key);
      transaction.pexpire(this.prefix + key, windowMs, 'NX');
      transaction.pttl(this.prefix + key);
      const answer = transaction.exec();
      answer.catch(() => undefined); // an answer that fails after the timeout has nobody waiting for it
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('Redis did not answer in time')), this.timeoutMs);
      });
      const results = await Promise.race([answer, late]);
      const hits = Number(results?.[0]?.[1]);
      const ttl = Number(results?.[2]?.[1]);
      if (!Number.isFinite(hits)) throw new Error('no answer from Redis');
      return hits > max ? Math.max(1, Number.isFinite(ttl) && ttl > 0 ? ttl : windowMs) : undefined;
    } catch {
      return this.fallback.hit(key, max, windowMs);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A command's limiter: undefined to go ahead, or which limit refused it and why (`RATE_LIMITED`). */
export interface CommandLimiter {
  take(): { readonly limit: string; readonly message: string } | undefined;
  /** The socket kept sending after a full second's worth of refusals: it is flooding, and is cut off. */
  readonly flooding: boolean;
}

/** The limits on one socket's commands: its own bucket, its principal's and its address's (shared by their sockets). */
export function commandLimiter(
  socket: TokenBucket,
  principal: { buckets: KeyedBuckets; key: string },
  address: { buckets: KeyedBuckets; key: string },
): CommandLimiter {
  return {
    take: () => {
      if (!socket.take()) return { limit: 'commands_per_socket', message: 'too many commands; slow down' };
      if (!principal.buckets.take(principal.key)) {
        return { limit: 'commands_per_principal', message: 'too many commands from this account over all its connections; slow down' };
      }
      if (!address.buckets.take(address.key)) return { limit: 'commands_per_ip', message: 'too many commands from this address; slow down' };
      return undefined;
    },
    get flooding() {
      return socket.flooding;
    },
  };
}

/** `TRUST_PROXY` as a function of (address, hop): whether to believe that proxy's `X-Forwarded-For`. */
export type TrustProxy = boolean | number | readonly string[];

export function trustFunction(trust: TrustProxy): (address: string, hop: number) => boolean {
  if (trust === true) return () => true;
  if (trust === false) return () => false;
  if (typeof trust === 'number') return (_address, hop) => hop < trust;
  return proxyAddr.compile([...trust]);
}

/**
 * The client's address of a request, as Fastify's `request.ip` computes it with the same `TRUST_PROXY`: the
 * socket's peer, or the nearest untrusted address in `X-Forwarded-For`.
 */
export function clientAddress(request: IncomingMessage, trust: (address: string, hop: number) => boolean): string {
  try {
    return proxyAddr(request, trust);
  } catch {
    return request.socket.remoteAddress ?? 'unknown';
  }
}

/**
 * A logger whose identical warnings (same message) are written at most once per `windowMs`; the next one after
 * the window says how many were left out (`suppressed`). A flood of bad clients cannot flood the log.
 */
export function quietWarnings<L extends { warn(object: object, message: string): void }>(logger: L, windowMs = 10_000, now: () => number = Date.now): L {
  const seen = new Map<string, { at: number; suppressed: number }>();
  const warn = (object: object, message: string) => {
    const time = now();
    const last = seen.get(message);
    if (last && time - last.at < windowMs) {
      last.suppressed++;
      return;
    }
    if (seen.size > 1000) seen.clear();
    seen.set(message, { at: time, suppressed: 0 });
    logger.warn(last?.suppressed ? { ...object, suppressed: last.suppressed } : object, message);
  };
  return new Proxy(logger, { get: (target, key, receiver) => (key === 'warn' ? warn : Reflect.get(target, key, receiver)) });
}
