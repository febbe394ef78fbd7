// Cluster mode: Socket.IO's Redis adapter over ioredis, tolerant of Redis outages, with a signal when Redis comes back.
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Subject, type Observable } from 'rxjs';
import type { AppServer } from './io-types.ts';
import type { RedisLike } from './limits.ts';

export interface RedisLinkLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
}

/** The cross-node link of the Socket.IO servers. */
export interface ClusterLink {
  /** Installs the adapter on `io`. */
  attach(io: AppServer): void;
  /** Emits each time Redis is reachable again after being lost: pushes published meanwhile were dropped. */
  readonly reconnected$: Observable<void>;
  /**
   * Emits when this node can publish again after it dropped pushes: subscribers on other nodes missed
   * them, even if their own link never broke, so every node's clients must re-subscribe.
   */
  readonly publishRestored$: Observable<void>;
  /** Emits each time a connection to Redis closes: whatever was published or received meanwhile may be lost. */
  readonly interrupted$: Observable<void>;
  /** True while both Redis connections are up and every subscription the adapter asked for holds. */
  healthy(): boolean;
  /** Pushes that could not be published to other nodes because Redis was away. */
  droppedPublishes(): number;
  /** The publishing connection, for counts every node shares (throttles); it fails fast while Redis is away. */
  readonly redis: RedisLike;
  close(): Promise<void>;
}

/**
 * Builds the Redis link. ioredis is used rather than node-redis because it
 * re-subscribes its pattern subscriptions by itself after Redis restarts.
 *
 * While Redis is away, publishing fails at once (no offline queue, so memory
 * stays bounded) and is counted; each node keeps serving its own clients, and
 * when Redis returns `reconnected$` lets the gateway tell clients to
 * re-subscribe, which makes them whole.
 */
export function redisClusterLink(redisUrl: string, logger: RedisLinkLogger): ClusterLink {
  const retryStrategy = (attempt: number) => Math.min(100 * attempt, 1000);
  const pub = new Redis(redisUrl, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy,
    connectionName: 'emporium-pub',
    enableAutoPipelining: true,
  });
  // No ready check on the subscriber: its INFO can reach Redis after a SUBSCRIBE queued while the connection
  // stalled, which Redis refuses in subscriber mode; ioredis then drops the connection and the subscriptions with it.
  const sub = new Redis(redisUrl, { maxRetriesPerRequest: null, retryStrategy, connectionName: 'emporium-sub', enableReadyCheck: false });
  const reconnected$ = new Subject<void>();
  const publishRestored$ = new Subject<void>();
  const interrupted$ = new Subject<void>();
  let dropped = 0;
  let droppedSinceRestored = false;
  let lost = false;
  let warned = false;

  // The adapter fires these and forgets the promise; a rejection (Redis away, or the connection closing
  // under a pending command) would be unhandled and end the process. Count it instead.
  const publish = pub.publish.bind(pub) as (channel: string | Buffer, message: string | Buffer) => Promise<number>;
  (pub as unknown as { publish: typeof publish }).publish = (channel, message) =>
    publish(channel, message).catch(() => {
      dropped++;
      droppedSinceRestored = true;
      return 0;
    });
  // Subscriptions the adapter asked for that Redis has not confirmed: a connection that stalls or breaks just
  // as the adapter subscribes loses them, and ioredis only re-subscribes what was confirmed. They are retried
  // until they hold, and the link is not healthy meanwhile (else this node would never hear the others).
  const unconfirmed = new Map<string, () => Promise<unknown>>();
  let retryTimer: NodeJS.Timeout | undefined;
  let closed = false;
  const retryUnconfirmed = () => {
    if (retryTimer || closed) return;
    retryTimer = setTimeout(async () => {
      retryTimer = undefined;
      for (const [key, subscribe] of [...unconfirmed]) {
        try {
          await subscribe();
          unconfirmed.delete(key);
          logger.info({ subscription: key }, 'redis subscription restored');
        } catch {
          // Still failing: the next round tries again.
        }
      }
      if (unconfirmed.size > 0) retryUnconfirmed();
    }, 1000);
    retryTimer.unref();
  };
  const keyOf = (method: string, args: readonly unknown[]) =>
    `${method} ${JSON.stringify(args.filter((arg) => typeof arg !== 'function').map((arg) => (Buffer.isBuffer(arg) ? arg.toString() : arg)))}`;
  for (const method of ['subscribe', 'psubscribe'] as const) {
    const original = (sub[method] as (...args: unknown[]) => Promise<unknown>).bind(sub);
    (sub as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
      const key = keyOf(method, args);
      const subscribe = () => original(...args.filter((arg) => typeof arg !== 'function'));
      return subscribe().then(
        (result) => {
          unconfirmed.delete(key);
          return result;
        },
        (error: unknown) => {
          logger.warn({ err: error instanceof Error ? error.message : String(error), method }, 'redis subscription failed; retrying until it holds');
          unconfirmed.set(key, subscribe);
          retryUnconfirmed();
          return undefined;
        },
      );
    };
  }
  for (const method of ['unsubscribe', 'punsubscribe'] as const) {
    const original = (sub[method] as (...args: unknown[]) => Promise<unknown>).bind(sub);
    (sub as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
      unconfirmed.delete(keyOf(method === 'unsubscribe' ? 'subscribe' : 'psubscribe', args));
      return original(...args).catch((error: unknown) => {
        logger.warn({ err: error instanceof Error ? error.message : String(error), method }, 'redis unsubscribe failed');
        return undefined;
      });
    };
  }

  for (const client of [pub, sub]) {
    client.on('error', (error: Error) => {
      if (warned) return;
      warned = true;
      logger.warn({ err: error.message }, 'redis unreachable; serving local clients only until it returns');
    });
    client.on('close', () => {
      lost = true;
      interrupted$.next();
    });
  }
  sub.on('ready', () => {
    if (!lost) return;
    lost = false;
    warned = false;
    logger.info({}, 'redis reachable again; asking clients to re-subscribe');
    // Give the re-subscription of the adapter's channels a moment before clients re-subscribe through it.
    setTimeout(() => reconnected$.next(), 200).unref();
  });
  // Only the publishing connection may have broken (sub never noticed), or it may come back after sub did:
  // either way the pushes it dropped are recovered only if every node's clients re-subscribe once it works.
  pub.on('ready', () => {
    if (!droppedSinceRestored) return;
    droppedSinceRestored = false;
    logger.info({ dropped }, "redis publishing restored after dropped pushes; asking every node's clients to re-subscribe");
    setTimeout(() => publishRestored$.next(), 200).unref();
  });

  return {
    redis: pub as unknown as RedisLike,
    attach: (io) => {
      io.adapter(createAdapter(pub, sub, { requestsTimeout: 2000 }));
    },
    reconnected$,
    publishRestored$,
    interrupted$,
    healthy: () => pub.status === 'ready' && sub.status === 'ready' && unconfirmed.size === 0,
    droppedPublishes: () => dropped,
    close: async () => {
      closed = true;
      clearTimeout(retryTimer);
      reconnected$.complete();
      publishRestored$.complete();
      interrupted$.complete();
      // QUIT waits for Redis; if it is away that would be forever. Ask politely for a moment, then hang up.
      const polite = Promise.allSettled([pub, sub].filter((client) => client.status === 'ready').map((client) => client.quit()));
      await Promise.race([polite, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
      pub.disconnect();
      sub.disconnect();
    },
  };
}
