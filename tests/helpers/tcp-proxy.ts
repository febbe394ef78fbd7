// A controllable TCP proxy (node:net) for fault injection: forwards 127.0.0.1:<port> to a target, and can cut, freeze or slow the link.
import { createConnection, createServer, type Server, type Socket } from 'node:net';

/** What a cut does to the connections that are open when it starts. */
export type ExistingOnCut =
  /** Reset both sides at once (the peer sees ECONNRESET), as a crashed middlebox would. */
  | 'reset'
  /** Keep them open but forward nothing until `restore()` (a partition that heals; TCP would retransmit). */
  | 'freeze';

/** What a cut does to connections that arrive while it lasts. */
export type NewOnCut =
  /** Accept and reset at once: the client sees its connection refused. */
  | 'refuse'
  /** Accept and hold without connecting upstream; they go through once restored (a SYN that takes long). */
  | 'stall';

export interface CutOptions {
  readonly existing?: ExistingOnCut;
  readonly incoming?: NewOnCut;
}

interface Direction {
  /** Chunks waiting for their due time (latency) or for the end of a freeze. */
  readonly queue: Array<{ chunk: Buffer; due: number }>;
  timer: NodeJS.Timeout | undefined;
  lastDue: number;
}

interface Pair {
  readonly client: Socket;
  upstream: Socket | undefined;
  readonly toUpstream: Direction;
  readonly toClient: Direction;
  closed: boolean;
}

export interface ProxyStats {
  accepted: number;
  refused: number;
  reset: number;
  upstreamErrors: number;
}

const direction = (): Direction => ({ queue: [], timer: undefined, lastDue: 0 });

/**
 * One listening port in front of one target. Every socket's `error` event is handled: errors only
 * close the pair they belong to.
 *
 * @example
 * const proxy = await TcpProxy.start({ host: '127.0.0.1', port: 5432 }, 'pg-a');
 * proxy.cut({ existing: 'reset', incoming: 'refuse' });
 * proxy.restore();
 */
export class TcpProxy {
  readonly stats: ProxyStats = { accepted: 0, refused: 0, reset: 0, upstreamErrors: 0 };
  private readonly pairs = new Set<Pair>();
  private cutMode: Required<CutOptions> | undefined;
  private latencyMs = 0;
  private closed = false;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    readonly target: { readonly host: string; readonly port: number },
    readonly name: string,
  ) {}

  static async start(target: { host: string; port: number }, name: string): Promise<TcpProxy> {
    const server = createServer({ pauseOnConnect: false });
    server.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const proxy = new TcpProxy(server, (server.address() as { port: number }).port, target, name);
    server.on('connection', (client) => proxy.accept(client));
    return proxy;
  }

  /** `url` with its host and port replaced by this proxy's. */
  rewrite(url: string): string {
    const parsed = new URL(url);
    parsed.hostname = '127.0.0.1';
    parsed.port = String(this.port);
    return parsed.toString();
  }

  get isCut(): boolean {
    return this.cutMode !== undefined;
  }

  get openConnections(): number {
    return this.pairs.size;
  }

  /** Cuts the link until `restore()`. */
  cut(options: CutOptions = {}): void {
    this.cutMode = { existing: options.existing ?? 'reset', incoming: options.incoming ?? 'refuse' };
    if (this.cutMode.existing === 'reset') for (const pair of [...this.pairs]) this.destroy(pair, true);
  }

  /** Adds `latencyMs` to every chunk in both directions (order kept); 0 removes it. */
  slow(latencyMs: number): void {
    this.latencyMs = Math.max(0, latencyMs);
  }

  /** Ends a cut and any slowness: frozen data flows again, stalled connections go through. */
  restore(): void {
    this.cutMode = undefined;
    this.latencyMs = 0;
    for (const pair of [...this.pairs]) {
      if (!pair.upstream) this.connectUpstream(pair);
      this.pump(pair, pair.toUpstream, () => pair.upstream);
      this.pump(pair, pair.toClient, () => pair.client);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const pair of [...this.pairs]) this.destroy(pair, false);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    client.on('error', () => undefined);
    if (this.closed) {
      client.destroy();
      return;
    }
    client.setNoDelay(true);
    if (this.cutMode?.incoming === 'refuse') {
      this.stats.refused++;
      client.resetAndDestroy();
      return;
    }
    this.stats.accepted++;
    const pair: Pair = { client, upstream: undefined, toUpstream: direction(), toClient: direction(), closed: false };
    this.pairs.add(pair);
    client.on('data', (chunk: Buffer) => this.enqueue(pair, pair.toUpstream, chunk, () => pair.upstream));
    client.on('close', () => this.destroy(pair, false));
    if (!this.cutMode) this.connectUpstream(pair);
  }

  private connectUpstream(pair: Pair): void {
    if (pair.closed || pair.upstream) return;
    const upstream = createConnection({ host: this.target.host, port: this.target.port });
    pair.upstream = upstream;
    upstream.setNoDelay(true);
    upstream.on('error', () => {
      this.stats.upstreamErrors++;
      this.destroy(pair, true);
    });
    upstream.on('close', () => this.destroy(pair, false));
    upstream.on('data', (chunk: Buffer) => this.enqueue(pair, pair.toClient, chunk, () => pair.client));
    upstream.on('connect', () => this.pump(pair, pair.toUpstream, () => pair.upstream));
  }

  private enqueue(pair: Pair, dir: Direction, chunk: Buffer, target: () => Socket | undefined): void {
    if (pair.closed) return;
    const due = Math.max(Date.now() + this.latencyMs, dir.lastDue);
    dir.lastDue = due;
    dir.queue.push({ chunk, due });
    this.pump(pair, dir, target);
  }

  /** Writes every queued chunk that is due, unless the link is frozen; schedules itself for the next one. */
  private pump(pair: Pair, dir: Direction, target: () => Socket | undefined): void {
    if (pair.closed || this.cutMode) return;
    const socket = target();
    if (!socket || socket.connecting || socket.destroyed) return;
    const now = Date.now();
    while (dir.queue.length > 0 && dir.queue[0]!.due <= now) socket.write(dir.queue.shift()!.chunk);
    if (dir.queue.length > 0 && !dir.timer) {
      dir.timer = setTimeout(() => {
        dir.timer = undefined;
        this.pump(pair, dir, target);
      }, dir.queue[0]!.due - now);
    }
  }

  private destroy(pair: Pair, reset: boolean): void {
    if (pair.closed) return;
    pair.closed = true;
    this.pairs.delete(pair);
    for (const dir of [pair.toUpstream, pair.toClient]) {
      if (dir.timer) clearTimeout(dir.timer);
      dir.queue.length = 0;
    }
    if (reset) this.stats.reset++;
    for (const socket of [pair.client, pair.upstream]) {
      if (!socket || socket.destroyed) continue;
      if (reset && !socket.connecting) socket.resetAndDestroy();
      else socket.destroy();
    }
  }
}
