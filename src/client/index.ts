// Typed client SDK over socket.io-client: promise-returning commands, and subscriptions that survive reconnects.
import { io, type Socket } from 'socket.io-client';
import type {
  Ack,
  ErrorBody,
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
} from './protocol.ts';

import { VersionGate } from './versions.ts';

export * from './protocol.ts';
export { VersionGate } from './versions.ts';

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
}

export interface ConnectOptions {
  /** An access token from `/api/auth/guest`, `/register` or `/login`. */
  readonly token: string;
  /** Milliseconds to wait for an ack before rejecting. @default 10_000 */
  readonly timeoutMs?: number;
  /** Called when re-subscribing after a reconnect fails (e.g. the topic is no longer yours). @default console.warn */
  readonly onError?: (error: Error, topic: string) => void;
}

type PushEvent = keyof ServerToClient;
type Versioned = { readonly version: number };

/** Which push event carries updates for a topic. */
function pushEventOf(topic: string): PushEvent | undefined {
  if (topic.startsWith('cart:')) return 'cart:updated';
  if (topic.startsWith('order:')) return 'order:updated';
  if (topic.startsWith('shipment:')) return 'shipment:updated';
  if (topic.startsWith('product:')) return 'stock:changed';
  if (topic === 'shipments') return 'shipment:updated';
  return undefined;
}

function topicOf(event: PushEvent, payload: { id?: string; productId?: string }): string | undefined {
  if (event === 'stock:changed') return `product:${payload.productId}`;
  return `${event.split(':')[0]}:${payload.id}`;
}

/**
 * One connection to a namespace. `subscribe` keeps each topic's newest view:
 * it takes the view from the subscribe answer, applies pushes with a higher
 * version, drops stale ones, and subscribes again after every reconnect.
 */
class Connection<Commands extends string, Payloads extends Record<Commands, unknown>, Results extends Record<Commands, unknown>> {
  readonly socket: Socket;
  private readonly timeoutMs: number;
  private readonly topics = new Map<string, { listeners: Set<(view: unknown) => void> }>();
  private readonly versions = new VersionGate();
  private readonly onError: (error: Error, topic: string) => void;
  private closed = false;

  constructor(url: string, namespace: string, options: ConnectOptions) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.onError = options.onError ?? ((error, topic) => console.warn(`emporium: could not re-subscribe to ${topic}: ${error.message}`));
    this.socket = io(url + namespace, { auth: { token: options.token }, transports: ['websocket'] });
    // After a reconnect the server has forgotten our rooms: subscribe again and converge on the current views.
    this.socket.on('connect', () => this.resubscribeAll());
    // The server may have lost pushes for us (its cluster link was down): take every view afresh.
    this.socket.on('resync', () => this.resubscribeAll());
    this.socket.on('disconnect', (reason) => {
      // A node that shuts down (or cuts off a flood) disconnects us on purpose; socket.io-client does not
      // retry that by itself, but another node will take us: reconnect after a short pause.
      if (reason === 'io server disconnect' && !this.closed) setTimeout(() => this.closed || this.socket.connect(), 250 + Math.random() * 750);
    });
    for (const event of ['cart:updated', 'order:updated', 'shipment:updated', 'stock:changed'] as const) {
      this.socket.on(event, (payload: Versioned & { id?: string; productId?: string }) => {
        const direct = topicOf(event, payload);
        for (const topic of event === 'shipment:updated' ? [direct, 'shipments'] : [direct]) {
          if (topic) this.deliver(topic, payload);
        }
      });
    }
  }

  /** Resolves when connected; rejects with the server's reason (bad token, wrong role). */
  ready(): Promise<this> {
    if (this.socket.connected) return Promise.resolve(this);
    return new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve(this));
      this.socket.once('connect_error', (error: Error & { data?: ErrorBody }) => {
        // The caller gets no connection to close: stop socket.io-client's background retries too.
        this.close();
        reject(error.data ? new EmporiumError(error.data) : error);
      });
    });
  }

  /** Sends a command and resolves with its `data`, or rejects with an EmporiumError. */
  async call<C extends Commands>(command: C, payload: Payloads[C]): Promise<Results[C]> {
    const ack = (await this.socket.timeout(this.timeoutMs).emitWithAck(command, payload)) as Ack<Results[C]>;
    if (!ack.ok) throw new EmporiumError(ack.error);
    return ack.data;
  }

  /** Follows a topic; `onView` gets the current view now and every newer one after. Returns an unsubscribe function. */
  async subscribe<V>(topic: string, onView: (view: V) => void): Promise<() => Promise<void>> {
    let entry = this.topics.get(topic);
    if (!entry) this.topics.set(topic, (entry = { listeners: new Set() }));
    entry.listeners.add(onView as (view: unknown) => void);
    try {
      await this.resubscribe(topic);
    } catch (error) {
      // Refused (not yours, unknown topic): forget it, or every reconnect would ask again.
      entry.listeners.delete(onView as (view: unknown) => void);
      if (entry.listeners.size === 0) {
        this.topics.delete(topic);
        this.versions.forget(topic);
      }
      throw error;
    }
    return async () => {
      entry.listeners.delete(onView as (view: unknown) => void);
      if (entry.listeners.size === 0) {
        this.topics.delete(topic);
        this.versions.forget(topic);
        await this.call('unsubscribe' as Commands, { topic } as Payloads[Commands]);
      }
    };
  }

  close(): void {
    this.closed = true;
    this.socket.close();
  }

  private resubscribeAll(): void {
    for (const topic of this.topics.keys()) {
      this.resubscribe(topic).catch((error: unknown) => this.onError(error instanceof Error ? error : new Error(String(error)), topic));
    }
  }

  private async resubscribe(topic: string): Promise<void> {
    const answer = (await this.call('subscribe' as Commands, { topic } as Payloads[Commands])) as TopicView;
    if (topic === 'shipments') {
      for (const listener of this.topics.get(topic)?.listeners ?? []) listener(answer.view);
      return;
    }
    this.deliver(topic, answer.view as Versioned, true);
  }

  private deliver(topic: string, view: Versioned, isAnswer = false): void {
    const entry = this.topics.get(topic);
    if (!entry || !this.versions.accept(topic, view.version, isAnswer)) return;
    for (const listener of entry.listeners) listener(view);
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
