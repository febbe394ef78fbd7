// A load generator process: holds many socket.io-client connections and runs closed loops, subscriptions
// and receipt tracking on the parent's orders (IPC), reporting counts and latency histograms as JSON.
import { io, type Socket } from 'socket.io-client';
import { mapLimit, now, sleep } from './lib/clock.ts';
import { Histogram } from './lib/hist.ts';
import { notify, serve } from './lib/ipc.ts';

interface Client {
  readonly socket: Socket;
  cartId?: string;
  /** Commands sent on this client (rotates products). */
  k: number;
  /** addItem commands accepted on the current cart. */
  adds: number;
  subscribed: boolean;
}

type Ack = { ok: true; data: any } | { ok: false; error: { code: string; message: string } };

const ACK_TIMEOUT_MS = 30_000;
const CARD = { cardNumber: '4242424242424242', expMonth: 12, expYear: 2099, cvc: '123' } as const;

let clients: Client[] = [];
let subscribedCount = 0;
/** Receipt times of pushes, by the push's version (raw: sequence number). */
let receipts = new Map<number, number[]>();

function connectOne(url: string, namespace: string, token: string | undefined): Promise<Socket> {
  const socket = io(url + namespace, {
    auth: token ? { token } : {},
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    timeout: 30_000,
  });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

async function guestToken(url: string): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await fetch(`${url}/api/auth/guest`, { method: 'POST', signal: AbortSignal.timeout(30_000) });
      if (!response.ok) throw new Error(`guest token: HTTP ${response.status}`);
      return ((await response.json()) as { token: string }).token;
    } catch (error) {
      if (attempt >= 3) throw error;
      await sleep(100 * attempt);
    }
  }
}

async function call(socket: Socket, event: string, payload: unknown): Promise<Ack> {
  return (await socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload)) as Ack;
}

async function must(socket: Socket, event: string, payload: unknown): Promise<any> {
  const ack = await call(socket, event, payload);
  if (!ack.ok) throw new Error(`${event}: ${ack.error.code} ${ack.error.message}`);
  return ack.data;
}

function onPush(payload: { version?: number }): void {
  const key = payload?.version;
  if (typeof key !== 'number') return;
  const t = now();
  let list = receipts.get(key);
  if (!list) receipts.set(key, (list = []));
  list.push(t);
  if (list.length === subscribedCount) notify('delivered', { key, at: t });
}

interface LoopArgs {
  readonly op: 'echo' | 'addItem' | 'checkout';
  readonly products: readonly string[];
  /** Absolute time (bench clock) when measuring starts; before it the loop warms up. */
  readonly measureFrom: number;
  readonly measureUntil: number;
  readonly maxOpsPerClient: number;
}

/** Lines of one product top out at 100 and a cart at 50 lines: rotate over this many products, and start a new cart well before a line is full. */
const ROTATE_PRODUCTS = 20;
const CART_ADDS = ROTATE_PRODUCTS * 95;

async function runLoop(args: LoopArgs) {
  const histogram = new Histogram();
  let ops = 0;
  /** Every command answered, warm-up included (for CPU time per command). */
  let allOps = 0;
  let errors = 0;
  const errorSamples = new Set<string>();
  const rotation = args.products.slice(0, ROTATE_PRODUCTS);
  const fail = (message: string) => {
    errors++;
    if (errorSamples.size < 5) errorSamples.add(message.slice(0, 200));
  };

  const one = async (client: Client): Promise<void> => {
    const { socket } = client;
    switch (args.op) {
      case 'echo': {
        const productId = rotation[client.k++ % rotation.length]!;
        const ack = await call(socket, 'echo', { cartId: client.cartId ?? 'cart_echo', productId, quantity: 1 });
        if (!ack.ok) throw new Error('echo refused');
        return;
      }
      case 'addItem': {
        const productId = rotation[client.k++ % rotation.length]!;
        const ack = await call(socket, 'cart:addItem', { cartId: client.cartId, productId, quantity: 1 });
        if (!ack.ok) throw new Error(`cart:addItem: ${ack.error.code} ${ack.error.message}`);
        client.adds++;
        return;
      }
      case 'checkout': {
        const flow = client.k++;
        const cartId = (await must(socket, 'cart:create', {})).cart.id as string;
        for (let i = 0; i < 3; i++) {
          await must(socket, 'cart:addItem', { cartId, productId: args.products[(flow * 3 + i) % args.products.length]!, quantity: 1 });
        }
        const { order } = await must(socket, 'cart:checkout', { cartId, requestId: `checkout-${flow}` });
        const paid = await must(socket, 'order:pay', { orderId: order.id, requestId: `pay-${flow}`, payment: CARD });
        if (paid.order.state !== 'paid' && paid.order.state !== 'fulfilling')
          throw new Error(`order ended ${paid.order.state}: ${paid.order.lastPaymentError}`);
        return;
      }
    }
  };

  await Promise.all(
    clients.map(async (client) => {
      for (let n = 0; n < args.maxOpsPerClient; n++) {
        try {
          // A fresh cart before this one's lines fill up (outside the timed command).
          if (args.op === 'addItem' && (!client.cartId || client.adds >= CART_ADDS)) {
            client.cartId = (await must(client.socket, 'cart:create', {})).cart.id as string;
            client.adds = 0;
          }
        } catch (error) {
          fail(error instanceof Error ? error.message : String(error));
          if (!client.socket.connected) return;
          continue;
        }
        const started = now();
        if (started >= args.measureUntil) return;
        try {
          await one(client);
          allOps++;
          const ended = now();
          // Throughput counts completions inside the window; each of those also gives its latency.
          if (ended >= args.measureFrom && ended <= args.measureUntil) {
            ops++;
            histogram.record(ended - started);
          }
        } catch (error) {
          fail(error instanceof Error ? error.message : String(error));
          if (!client.socket.connected) return;
        }
      }
    }),
  );
  return { ops, allOps, errors, errorSamples: [...errorSamples], histogram: histogram.toJSON(), clients: clients.length };
}

serve({
  /** Opens `count` more connections (each with its own guest token when `guest`). */
  async connect(args: { url: string; namespace: string; count: number; guest?: boolean; token?: string; concurrency?: number }) {
    const added = await mapLimit(Array.from({ length: args.count }), args.concurrency ?? 50, async () => {
      const token = args.guest ? await guestToken(args.url) : args.token;
      return connectOne(args.url, args.namespace, token);
    });
    for (const socket of added) clients.push({ socket, k: 0, adds: 0, subscribed: false });
    return { connected: clients.filter((c) => c.socket.connected).length };
  },

  /** A cart for every client that has none (not timed). */
  async carts() {
    await mapLimit(clients, 50, async (client) => {
      if (!client.cartId) client.cartId = (await must(client.socket, 'cart:create', {})).cart.id as string;
    });
    return clients.length;
  },

  loop: (args: LoopArgs) => runLoop(args),

  /** Subscribes `count` more (connected, not yet subscribed) clients to `topic` and tracks their pushes. */
  async subscribe(args: { kind: 'raw' | 'emporium'; topic: string; count: number }) {
    const chosen = clients.filter((c) => !c.subscribed).slice(0, args.count);
    await mapLimit(chosen, 100, async (client) => {
      if (args.kind === 'raw') await must(client.socket, 'join', args.topic);
      else await must(client.socket, 'subscribe', { topic: args.topic });
      client.socket.on(args.kind === 'raw' ? 'tick' : 'stock:changed', onPush);
      client.subscribed = true;
    });
    subscribedCount = clients.filter((c) => c.subscribed).length;
    return { subscribed: subscribedCount };
  },

  resetReceipts() {
    receipts = new Map();
    return true;
  },

  /** Latency of every receipt against the commit (or emit, or send) time of its version. */
  fanoutStats(args: { times: Record<string, number> }) {
    const histogram = new Histogram();
    let deliveries = 0;
    let unmatched = 0;
    let lastAt = 0;
    for (const [key, list] of receipts) {
      const t0 = args.times[String(key)];
      deliveries += list.length;
      for (const at of list) {
        if (at > lastAt) lastAt = at;
        if (t0 === undefined) unmatched++;
        else histogram.record(at - t0);
      }
    }
    return { deliveries, unmatched, lastAt, histogram: histogram.toJSON() };
  },

  close() {
    for (const client of clients) client.socket.close();
    clients = [];
    subscribedCount = 0;
    receipts = new Map();
    return true;
  },

  stop() {
    for (const client of clients) client.socket.close();
    setImmediate(() => process.exit(0));
    return true;
  },
});
