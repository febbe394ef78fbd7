// A store client that follows PROTOCOL.md §10 to the letter (re-subscribe on every connect and `resync`, reconnect
// after `io server disconnect`, keep only newer versions) and records every command it sends in a History.
import { io, type Socket } from 'socket.io-client';
import type { Ack } from '../../src/protocol/index.ts';
import type { History, Operation, Outcome, Rng } from './history.ts';

export interface ClientOptions {
  /** Label for reports: `c03@A`. */
  readonly name: string;
  readonly customer: string;
  /** The token's subject (`guest_…`): whose carts and orders these are. */
  readonly owner: string;
  readonly node: string;
  readonly url: string;
  readonly token: string;
  readonly history: History;
  /** Jitter of the reconnect after `io server disconnect`. */
  readonly rng: Rng;
  /** How long to wait for an ack before the outcome is unknown. */
  readonly ackTimeoutMs: number;
}

const PUSHES = ['cart:updated', 'order:updated', 'shipment:updated', 'stock:changed'] as const;
/** Re-subscriptions that fail with a retryable answer (or none) are tried again this many times, this far apart. */
const RESUBSCRIBE_ATTEMPTS = 8;
const RESUBSCRIBE_PAUSE_MS = 400;

function topicOfPush(event: string, payload: { id?: string; productId?: string }): string {
  return event === 'stock:changed' ? `product:${payload.productId}` : `${event.split(':')[0]}:${payload.id}`;
}

export function topicOfView(kind: string, view: { id: string }): string {
  return `${kind}:${view.id}`;
}

/**
 * One Socket.IO connection to one node, reconnecting by itself. `held` is what the rules of §10 leave
 * the client with for each followed topic: the view with the highest version from subscribe answers,
 * pushes and this connection's own acks.
 */
export class ProtocolClient {
  readonly socket: Socket;
  readonly held = new Map<string, { version: number; view: unknown }>();
  readonly followed = new Set<string>();
  readonly disconnects: Array<{ reason: string; at: number }> = [];
  connects = 0;
  resyncs = 0;
  connectErrors = 0;
  private closed = false;

  constructor(private readonly o: ClientOptions) {
    this.socket = io(`${o.url}/store`, {
      auth: { token: o.token },
      transports: ['websocket'],
      forceNew: true,
      reconnection: true,
      reconnectionDelay: 100,
      reconnectionDelayMax: 1000,
      randomizationFactor: 0.5,
      timeout: 5000,
    });
    // Rule 1: on every (re)connect and on every resync, subscribe again to every followed topic.
    this.socket.on('connect', () => {
      this.connects++;
      this.resubscribeAll('reconnect');
    });
    this.socket.on('resync', () => {
      this.resyncs++;
      this.resubscribeAll('resync');
    });
    this.socket.on('disconnect', (reason) => {
      this.disconnects.push({ reason, at: Date.now() });
      // A node shutting down disconnects on purpose and socket.io-client does not retry that: reconnect after a pause.
      if (reason === 'io server disconnect' && !this.closed) {
        setTimeout(() => this.closed || this.socket.connect(), 250 + Math.floor(o.rng.float() * 750)).unref();
      }
    });
    this.socket.on('connect_error', () => {
      this.connectErrors++;
    });
    this.socket.io.on('error', () => undefined);
    for (const event of PUSHES) {
      this.socket.on(event, (view: { id?: string; productId?: string; version: number }) => {
        if (event !== 'stock:changed') o.history.pushes.push({ client: o.name, node: o.node, event, view, at: Date.now() });
        this.offer(topicOfPush(event, view), view);
      });
    }
  }

  get name(): string {
    return this.o.name;
  }

  get node(): string {
    return this.o.node;
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  /** Resolves once connected (or rejects after `timeoutMs`). */
  ready(timeoutMs = 15_000): Promise<void> {
    if (this.socket.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.socket.off('connect', onConnect);
        reject(new Error(`${this.o.name} did not connect within ${timeoutMs} ms`));
      }, timeoutMs);
      const onConnect = () => {
        clearTimeout(timer);
        resolve();
      };
      this.socket.once('connect', onConnect);
    });
  }

  /**
   * Sends one command and records it. Returns undefined (and records nothing) when not connected:
   * such a command is never sent. Never rejects.
   */
  async send(command: string, payload: unknown, meta: { group?: string | undefined; phase: string }): Promise<Operation | undefined> {
    if (!this.socket.connected) return undefined;
    const op = this.o.history.invoke({
      customer: this.o.customer,
      owner: this.o.owner,
      node: this.o.node,
      command,
      payload,
      group: meta.group,
      phase: meta.phase,
    });
    const outcome = await this.emit(command, payload);
    this.o.history.complete(op, outcome);
    // Rule 3 applies to ack views too.
    if (outcome.type === 'ok') {
      for (const kind of ['cart', 'order', 'shipment'] as const) {
        const view = (outcome.data as Record<string, { id: string; version: number } | undefined>)?.[kind];
        if (view) this.offer(topicOfView(kind, view), view);
      }
    }
    return op;
  }

  /** Starts following `topic`: subscribes now (when connected, retrying as a read may be) and after every reconnect and resync. */
  async follow(topic: string, phase: string): Promise<void> {
    this.followed.add(topic);
    await this.resubscribe(topic, phase);
  }

  close(): void {
    this.closed = true;
    this.socket.close();
  }

  private emit(command: string, payload: unknown): Promise<Outcome> {
    return new Promise((resolve) => {
      let settled = false;
      const done = (outcome: Outcome) => {
        if (settled) return;
        settled = true;
        this.socket.off('disconnect', onDisconnect);
        resolve(outcome);
      };
      const onDisconnect = (reason: string) => done({ type: 'unknown', reason: `disconnected (${reason})` });
      this.socket.once('disconnect', onDisconnect);
      this.socket.timeout(this.o.ackTimeoutMs).emit(command, payload, (error: Error | null, ack: Ack<unknown>) => {
        if (error) done({ type: 'unknown', reason: `no ack within ${this.o.ackTimeoutMs} ms` });
        else if (ack.ok) done({ type: 'ok', data: ack.data });
        else done({ type: 'refused', code: ack.error.code, message: ack.error.message, details: ack.error.details });
      });
    });
  }

  private async subscribe(topic: string, phase: string): Promise<Operation | undefined> {
    const op = await this.send('subscribe', { topic }, { phase });
    // Rule 2: take the answer's view if it is newer than what is held.
    if (op?.outcome?.type === 'ok') this.offer(topic, (op.outcome.data as { view: { version: number } }).view);
    return op;
  }

  private resubscribeAll(phase: string): void {
    for (const topic of this.followed) void this.resubscribe(topic, phase);
  }

  /** A subscription that gets no answer or a retryable one is tried again while connected (subscribe is a read, safe to repeat). */
  private async resubscribe(topic: string, phase: string): Promise<void> {
    for (let attempt = 0; attempt < RESUBSCRIBE_ATTEMPTS && !this.closed && this.socket.connected; attempt++) {
      const op = await this.subscribe(topic, phase);
      const outcome = op?.outcome;
      if (outcome?.type === 'ok') return;
      if (outcome?.type === 'refused' && !['INTERNAL', 'UNAVAILABLE', 'RATE_LIMITED', 'CONFLICT'].includes(outcome.code)) return;
      await new Promise((resolve) => setTimeout(resolve, RESUBSCRIBE_PAUSE_MS));
    }
  }

  /** Rule 3: keep a view only if its version is higher than the one held. */
  private offer(topic: string, view: { version: number } | undefined): void {
    if (!view || typeof view.version !== 'number' || !this.followed.has(topic)) return;
    const current = this.held.get(topic);
    if (current && view.version <= current.version) return;
    this.held.set(topic, { version: view.version, view });
  }
}
