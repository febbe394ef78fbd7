// Typed client SDK over socket.io-client: promise-returning commands, and subscriptions that survive reconnects.
import { io, type Socket } from 'socket.io-client';
import type {
  Ack,
  ErrorBody,
  PersonalEventName,
  RefusalReason,
  ServerToClient,
  StoreClientToServer,
  StoreCommandName,
  StorePayload,
  StoreResults,
  TopicView,
  WarehouseClientToServer,
  WarehouseCommandName,
  WarehousePayload,
  WarehouseResults,
} from '../protocol/index.ts';

import { PUSH_EVENTS, REFUSAL_REASONS, pushTopics, pushVersionSpace, READ_COMMANDS, type ReadCommandName } from '../protocol/index.ts';
import { VersionGate } from './versions.ts';

export * from '../protocol/index.ts';
export { VersionGate } from './versions.ts';
export { formatMoney } from './money.ts';

/** A command answered `{ ok: false }`: `code` is one of the protocol's error codes. */
export class EmporiumError extends Error {
  readonly code: ErrorBody['code'];
  readonly details: unknown;

  constructor(body: ErrorBody) {
    super(body.message);
    this.name = 'EmporiumError';
    this.code = body.code;
    this.details = body.details;
  }

  /** The business rule behind the refusal (`details.reason`, PROTOCOL §3.4), when the server named one. */
  get reason(): RefusalReason | undefined {
    const reason = (this.details as { reason?: unknown } | undefined)?.reason;
    return typeof reason === 'string' && Object.hasOwn(REFUSAL_REASONS, reason) ? (reason as RefusalReason) : undefined;
  }
}

export interface RetryOptions {
  /** The first pause before a retry; each failure doubles it (with jitter: between half and all of it). @default 250 */
  readonly initialDelayMs?: number;
  /** The longest pause between two retries. @default 10_000 */
  readonly maxDelayMs?: number;
}

export interface ConnectOptions {
  /** An access token from `/api/auth/guest`, `/register` or `/login`. */
  readonly token: string;
  /** Milliseconds to wait for an ack before rejecting; also how long `subscribe()` and `read()` keep retrying. @default 10_000 */
  readonly timeoutMs?: number;
  /**
   * Called when the server refuses a topic this connection follows (e.g. it is no longer yours) while
   * subscribing again after a reconnect or `resync`; the topic is dropped. @default console.warn
   */
  readonly onError?: (error: Error, topic: string) => void;
  /** Backoff of re-subscriptions and `read()` retries after a transient failure. */
  readonly retry?: RetryOptions;
}

type Versioned = { readonly version: number };

/** Answers that will not change by asking again: the topic or read is refused, not failed. */
const REFUSALS: ReadonlySet<ErrorBody['code']> = new Set(['FORBIDDEN', 'NOT_FOUND', 'UNAUTHORIZED', 'VALIDATION']);

/**
 * True when `error` is the server refusing the request (`FORBIDDEN`, `NOT_FOUND`, `UNAUTHORIZED`,
 * `VALIDATION`). Anything else — `INTERNAL`, `UNAVAILABLE`, `RATE_LIMITED`, an ack timeout, a
 * connection lost before the answer — may pass when asked again.
 */
export function isRefusal(error: unknown): error is EmporiumError {
  return error instanceof EmporiumError && REFUSALS.has(error.code);
}

const asError = (error: unknown) => (error instanceof Error ? error : new Error(String(error)));

interface Listener {
  readonly onView: (view: unknown) => void;
  /** Has had a view (a new listener on a followed topic gets the one held). */
  seen: boolean;
}

interface Followed {
  readonly listeners: Set<Listener>;
  /** The newest view delivered. */
  view?: unknown;
  /** While the application's own first `subscribe()` runs, it does the retrying. */
  starting: boolean;
  /** Each round of re-subscription (a connect, a `resync`) replaces the one before. */
  round: number;
  retryTimer?: ReturnType<typeof setTimeout>;
}

/**
 * One connection to a namespace. `subscribe` keeps each topic's newest view:
 * it takes the view from the subscribe answer, applies pushes with a higher
 * version, drops stale ones, and subscribes again after every reconnect and
 * `resync` — retrying with backoff until the server answers or refuses.
 */
class Connection<Commands extends string, Payloads extends Record<Commands, unknown>, Results extends Record<Commands, unknown>> {
  readonly socket: Socket;
  private readonly timeoutMs: number;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly topics = new Map<string, Followed>();
  private readonly versions = new VersionGate();
  private readonly onError: (error: Error, topic: string) => void;
  private closed = false;

  constructor(url: string, namespace: string, options: ConnectOptions) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.initialDelayMs = options.retry?.initialDelayMs ?? 250;
    this.maxDelayMs = Math.max(this.initialDelayMs, options.retry?.maxDelayMs ?? 10_000);
    this.onError = options.onError ?? ((error, topic) => console.warn(`emporium: stopped following ${topic}: ${error.message}`));
    this.socket = io(url + namespace, { auth: { token: options.token }, transports: ['websocket'] });
    // After a reconnect the server has forgotten our rooms: subscribe again and converge on the current views.
    this.socket.on('connect', () => this.resubscribeAll());
    // The server may have lost pushes for us (its cluster link was down): take every view afresh.
    this.socket.on('resync', () => this.resubscribeAll());
    this.socket.on('disconnect', (reason) => {
      // Retries wait for the next connect, which starts them over.
      this.cancelRetries();
      // A node that shuts down (or cuts off a flood) disconnects us on purpose; socket.io-client does not
      // retry that by itself, but another node will take us: reconnect after a short pause.
      if (reason === 'io server disconnect' && !this.closed) setTimeout(() => this.closed || this.socket.connect(), 250 + Math.random() * 750);
    });
    for (const event of PUSH_EVENTS) {
      // Each push's payload names its topics (the protocol's `pushTopics`, the server routes by the same table).
      const topicsOf = pushTopics[event] as (payload: unknown) => readonly string[];
      const spaceOf = pushVersionSpace[event] as ((payload: unknown) => string) | undefined;
      this.socket.on(event, (payload: Versioned) => {
        const space = spaceOf?.(payload) ?? '';
        // On the topic whose own version it carries (an offer's push on `offer:<id>`) it is gated as the topic's.
        for (const topic of topicsOf(payload)) this.deliver(topic, payload, false, space === topic ? '' : space);
      });
    }
  }

  /** Resolves when connected; rejects with the server's reason (bad token, wrong role). */
  ready(): Promise<this> {
    if (this.socket.connected) return Promise.resolve(this);
    return new Promise((resolve, reject) => {
      // Both listeners go once either fires: a later failed reconnect must not close the connection.
      const onConnect = () => {
        this.socket.off('connect_error', onConnectError);
        resolve(this);
      };
      const onConnectError = (error: Error & { data?: ErrorBody }) => {
        this.socket.off('connect', onConnect);
        // The caller gets no connection to close: stop socket.io-client's background retries too.
        this.close();
        reject(error.data ? new EmporiumError(error.data) : error);
      };
      this.socket.once('connect', onConnect);
      this.socket.once('connect_error', onConnectError);
    });
  }

  /** Sends a command and resolves with its `data`, or rejects with an EmporiumError. */
  async call<C extends Commands>(command: C, payload: Payloads[C]): Promise<Results[C]> {
    return this.send(command, payload, this.timeoutMs);
  }

  /**
   * A read (`cart:get`, `order:get`, `orders:list`, …) that is sent again, with backoff, after a failure that
   * may pass (`INTERNAL`, `UNAVAILABLE`, `RATE_LIMITED`, no ack, a lost connection) until it is answered or
   * `timeoutMs` passes; then it rejects with the last failure. A refusal (`NOT_FOUND`, `FORBIDDEN`, …) rejects at once.
   */
  async read<C extends Commands & ReadCommandName>(command: C, payload: Payloads[C]): Promise<Results[C]> {
    if (!(READ_COMMANDS as readonly string[]).includes(command)) throw new TypeError(`${command} is not a read; use call()`);
    return this.retrying(Date.now() + this.timeoutMs, (budget) => this.send(command, payload, budget));
  }

  /**
   * Follows a topic; `onView` gets the current view now and every newer one after. Resolves, with an
   * unsubscribe function, once the server has answered. Failures that may pass are retried with backoff
   * for up to `timeoutMs`; a refusal (the topic is not yours, or does not exist) rejects at once. A
   * rejected `subscribe()` leaves nothing behind.
   */
  async subscribe<V>(topic: string, onView: (view: V) => void): Promise<() => Promise<void>> {
    if (this.closed) throw new Error('the connection is closed');
    let entry = this.topics.get(topic);
    const created = !entry;
    if (!entry) this.topics.set(topic, (entry = { listeners: new Set(), starting: true, round: 0 }));
    const listener: Listener = { onView: onView as (view: unknown) => void, seen: false };
    entry.listeners.add(listener);
    try {
      await this.retrying(Date.now() + this.timeoutMs, (budget) => this.subscribeOnce(topic, budget));
    } catch (error) {
      entry.listeners.delete(listener);
      if (entry.listeners.size === 0) this.forget(topic, entry);
      throw error;
    } finally {
      if (created) entry.starting = false;
    }
    // A topic followed already: its view may be no newer than the one held, so give this listener that one.
    if (!listener.seen && entry.view !== undefined && entry.listeners.has(listener)) {
      listener.seen = true;
      listener.onView(entry.view);
    }
    return async () => {
      if (!entry.listeners.delete(listener) || entry.listeners.size > 0) return;
      // Not when the topic was dropped meanwhile (refused), and maybe followed anew since: that one stays.
      const following = this.topics.get(topic) === entry;
      this.forget(topic, entry);
      if (following) await this.call('unsubscribe' as Commands, { topic } as Payloads[Commands]);
    };
  }

  /**
   * Listens to a personal push (`PERSONAL_EVENTS`, such as `stock:backInStock`): the server sends it to this
   * caller's own sockets, so there is no topic to subscribe to. It is not replayed: one sent while the
   * connection was down is missed (a customer also gets the e-mail). Returns a function that stops listening.
   */
  on<E extends PersonalEventName>(event: E, handler: ServerToClient[E]): () => void {
    const name: string = event;
    const listener = handler as (...args: unknown[]) => void;
    this.socket.on(name, listener);
    return () => {
      this.socket.off(name, listener);
    };
  }

  close(): void {
    this.closed = true;
    this.cancelRetries();
    this.socket.close();
  }

  private async send<C extends Commands>(command: C, payload: Payloads[C], timeoutMs: number): Promise<Results[C]> {
    const ack = (await this.socket.timeout(timeoutMs).emitWithAck(command, payload)) as Ack<Results[C]>;
    if (!ack.ok) throw new EmporiumError(ack.error);
    return ack.data;
  }

  /** The pause before retry number `failures + 1`: exponential, capped, jittered between half and all of it. */
  private backoff(failures: number): number {
    const ceiling = Math.min(this.maxDelayMs, this.initialDelayMs * 2 ** Math.min(failures, 30));
    return ceiling / 2 + (Math.random() * ceiling) / 2;
  }

  /** Runs `attempt` until it succeeds, is refused, or the next try would start after `deadline`. */
  private async retrying<T>(deadline: number, attempt: (timeoutMs: number) => Promise<T>): Promise<T> {
    for (let failures = 0; ; failures++) {
      try {
        return await attempt(Math.max(1, Math.min(this.timeoutMs, deadline - Date.now())));
      } catch (error) {
        const pause = this.backoff(failures);
        if (isRefusal(error) || this.closed || Date.now() + pause >= deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }
  }

  private resubscribeAll(): void {
    for (const [topic, entry] of this.topics) {
      if (entry.starting) continue; // the application's subscribe() is on it
      clearTimeout(entry.retryTimer);
      void this.resubscribe(topic, entry, ++entry.round, 0);
    }
  }

  /**
   * One try of a round. Refused: the topic is dropped and reported. Any other failure: tried again after a
   * backoff — unless the connection dropped meanwhile (its next connect starts a new round) or a newer round began.
   */
  private async resubscribe(topic: string, entry: Followed, round: number, failures: number): Promise<void> {
    const current = () => !this.closed && this.topics.get(topic) === entry && entry.round === round;
    if (!current() || !this.socket.connected) return;
    try {
      await this.subscribeOnce(topic, this.timeoutMs);
    } catch (error) {
      if (this.closed || this.topics.get(topic) !== entry) return;
      if (isRefusal(error)) {
        this.forget(topic, entry);
        this.onError(asError(error), topic);
        return;
      }
      if (!current() || !this.socket.connected) return;
      entry.retryTimer = setTimeout(() => void this.resubscribe(topic, entry, round, failures + 1), this.backoff(failures));
    }
  }

  private async subscribeOnce(topic: string, timeoutMs: number): Promise<void> {
    const answer = (await this.send('subscribe' as Commands, { topic } as Payloads[Commands], timeoutMs)) as TopicView;
    this.deliver(topic, answer.view as Versioned, true);
  }

  private forget(topic: string, entry: Followed): void {
    clearTimeout(entry.retryTimer);
    if (this.topics.get(topic) !== entry) return;
    this.topics.delete(topic);
    this.versions.forget(topic);
  }

  private cancelRetries(): void {
    for (const entry of this.topics.values()) {
      clearTimeout(entry.retryTimer);
      entry.round++;
    }
  }

  private deliver(topic: string, view: Versioned, isAnswer = false, space = ''): void {
    const entry = this.topics.get(topic);
    if (!entry || !this.versions.accept(topic, view.version, isAnswer, space)) return;
    entry.view = view;
    for (const listener of entry.listeners) {
      listener.seen = true;
      listener.onView(view);
    }
  }
}

export type StoreConnection = Connection<StoreCommandName, { [C in StoreCommandName]: StorePayload<C> }, StoreResults>;
export type WarehouseConnection = Connection<WarehouseCommandName, { [C in WarehouseCommandName]: WarehousePayload<C> }, WarehouseResults>;

/**
 * Connects to the storefront namespace.
 *
 * @example
 * const { token } = await (await fetch(`${url}/api/auth/guest`, { method: 'POST' })).json();
 * const store = await connectStore(url, { token });
 * const { cart } = await store.call('cart:create', {});
 * await store.subscribe(`cart:${cart.id}`, (view) => console.log(view));
 */
export function connectStore(url: string, options: ConnectOptions): Promise<StoreConnection> {
  return new Connection<StoreCommandName, { [C in StoreCommandName]: StorePayload<C> }, StoreResults>(url, '/store', options).ready();
}

/** Connects to the warehouse namespace (staff and admin tokens only). */
export function connectWarehouse(url: string, options: ConnectOptions): Promise<WarehouseConnection> {
  return new Connection<WarehouseCommandName, { [C in WarehouseCommandName]: WarehousePayload<C> }, WarehouseResults>(url, '/warehouse', options).ready();
}

export type { StoreClientToServer, WarehouseClientToServer };
