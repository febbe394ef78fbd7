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

// ---------------------------------------------------------------- the drop row: watchers and buyers

interface Watcher {
  readonly socket: Socket;
  /** stock:changed and offer:remaining pushes this watcher received (since the last reset). */
  stock: number;
  remaining: number;
  /** The highest stock version and the lowest remaining count seen (since the last reset). */
  maxVersion: number;
  minRemaining: number;
  soldOutSeen: boolean;
}

interface Buyer {
  readonly socket: Socket;
  readonly index: number;
  cartId?: string;
}

let watchers: Watcher[] = [];
let buyers: Buyer[] = [];
/** Receipts of the watchers' pushes, flat: stock:changed by version, offer:remaining by remaining units. */
let stockReceipts: number[][] = [];
let remainingReceipts: number[][] = [];
/** Sockets that closed while in use (a server drop, a transport error): reported, never retried. */
let lostSockets = 0;

/** Connects `count` sockets, each with its own guest token, 50 at a time. */
async function guestSockets(url: string, count: number): Promise<Socket[]> {
  return mapLimit(Array.from({ length: count }), 50, async () => {
    const socket = await connectOne(url, '/store', await guestToken(url));
    socket.on('disconnect', (reason) => {
      if (reason !== 'io client disconnect') lostSockets++;
    });
    return socket;
  });
}

function watch(watcher: Watcher): void {
  watcher.socket.on('stock:changed', (payload: { version?: number }) => {
    if (typeof payload?.version !== 'number') return;
    stockReceipts.push([payload.version, now()]);
    watcher.stock++;
    if (payload.version > watcher.maxVersion) watcher.maxVersion = payload.version;
  });
  watcher.socket.on('offer:remaining', (payload: { remaining?: number; state?: string }) => {
    if (typeof payload?.remaining !== 'number') return;
    remainingReceipts.push([payload.remaining, now()]);
    watcher.remaining++;
    if (payload.remaining < watcher.minRemaining) watcher.minRemaining = payload.remaining;
    if (payload.remaining === 0 && payload.state === 'soldOut') watcher.soldOutSeen = true;
  });
}

interface CheckoutOutcome {
  readonly sentAt: number;
  readonly answeredAt: number | null;
  readonly code: string;
  /** OK answers: the price and quantity of the order's line (the cart held the drop's product only). */
  readonly unitPrice?: number | undefined;
  readonly quantity?: number | undefined;
}

// ---------------------------------------------------------------- the recommendation row

interface RecoArgs {
  readonly url: string;
  readonly clients: number;
  readonly cartsPerClient: number;
  readonly addsPerCart: number;
  readonly products: readonly string[];
  /** Offset of this process's first client in the whole row (spreads the carts over the products). */
  readonly firstClient: number;
  readonly pushTimeoutMs: number;
  /** Absolute time (bench clock) after which no new cart is started. */
  readonly deadline: number;
}

let recoSockets: Socket[] = [];

async function recommendationLatency(args: RecoArgs) {
  const fromAck = new Histogram();
  const fromSend = new Histogram();
  const subscribe = new Histogram();
  let missing = 0;
  let inCart = 0;
  let errors = 0;
  const errorSamples = new Set<string>();
  const sockets = await guestSockets(args.url, args.clients);
  recoSockets.push(...sockets);
  await Promise.all(
    sockets.map(async (socket, i) => {
      // The newest recommendations:updated seen per cart, and the add waiting for one.
      const seen = new Map<string, { version: number; at: number; productIds: string[] }>();
      let waiting: { cartId: string; version: number; wake: () => void } | undefined;
      socket.on('recommendations:updated', (payload: { cartId?: string; version?: number; recommendations?: Array<{ productId: string }> }) => {
        const at = now();
        if (typeof payload?.cartId !== 'string' || typeof payload.version !== 'number') return;
        const before = seen.get(payload.cartId);
        if (!before || payload.version > before.version)
          seen.set(payload.cartId, { version: payload.version, at, productIds: (payload.recommendations ?? []).map((r) => r.productId) });
        if (waiting && waiting.cartId === payload.cartId && payload.version >= waiting.version) waiting.wake();
      });
      const pushFor = (cartId: string, version: number) =>
        new Promise<{ version: number; at: number; productIds: string[] } | undefined>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            waiting = undefined;
            const push = seen.get(cartId);
            resolve(push && push.version >= version ? push : undefined);
          };
          const timer = setTimeout(done, args.pushTimeoutMs);
          waiting = { cartId, version, wake: done };
          const early = seen.get(cartId);
          if (early && early.version >= version) done();
        });
      const client = args.firstClient + i;
      for (let c = 0; c < args.cartsPerClient && now() < args.deadline && socket.connected; c++) {
        try {
          const cartId = (await must(socket, 'cart:create', {})).cart.id as string;
          await must(socket, 'subscribe', { topic: `recommendations:${cartId}` });
          const inTheCart: string[] = [];
          for (let a = 0; a < args.addsPerCart; a++) {
            const productId = args.products[(client * args.cartsPerClient + c + a * 5) % args.products.length]!;
            const sentAt = now();
            const { cart } = await must(socket, 'cart:addItem', { cartId, productId, quantity: 1 });
            const ackAt = now();
            inTheCart.push(productId);
            const push = await pushFor(cartId, cart.version as number);
            if (!push) {
              missing++;
              continue;
            }
            fromAck.record(push.at - ackAt);
            fromSend.record(push.at - sentAt);
            if (push.productIds.some((id) => inTheCart.includes(id))) inCart++;
            // The reference: the same recommendations computed on request (a subscribe answers a fresh view).
            const asked = now();
            await must(socket, 'subscribe', { topic: `recommendations:${cartId}` });
            subscribe.record(now() - asked);
          }
          await must(socket, 'unsubscribe', { topic: `recommendations:${cartId}` });
        } catch (error) {
          errors++;
          if (errorSamples.size < 5) errorSamples.add((error instanceof Error ? error.message : String(error)).slice(0, 200));
        }
      }
    }),
  );
  return {
    fromAck: fromAck.toJSON(),
    fromSend: fromSend.toJSON(),
    subscribe: subscribe.toJSON(),
    missing,
    inCart,
    errors,
    errorSamples: [...errorSamples],
  };
}

function closeEverything(): void {
  for (const socket of [...clients.map((c) => c.socket), ...watchers.map((w) => w.socket), ...buyers.map((b) => b.socket), ...recoSockets]) socket.close();
  clients = [];
  subscribedCount = 0;
  receipts = new Map();
  watchers = [];
  buyers = [];
  recoSockets = [];
  stockReceipts = [];
  remainingReceipts = [];
  lostSockets = 0;
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

  /** Connects `count` watchers (a guest token each) and subscribes them to `topic`; tracks stock and drop pushes. */
  async dropWatchers(args: { url: string; count: number; topic: string }) {
    const sockets = await guestSockets(args.url, args.count);
    const added = sockets.map((socket): Watcher => ({ socket, stock: 0, remaining: 0, maxVersion: -1, minRemaining: Infinity, soldOutSeen: false }));
    watchers.push(...added);
    await mapLimit(added, 100, async (watcher) => {
      await must(watcher.socket, 'subscribe', { topic: args.topic });
      watch(watcher);
    });
    return { watchers: watchers.length };
  },

  /** Connects `count` buyers (a guest token each: one customer each) and creates a cart for each. */
  async dropBuyers(args: { url: string; count: number }) {
    const sockets = await guestSockets(args.url, args.count);
    const added = sockets.map((socket, index): Buyer => ({ socket, index: buyers.length + index }));
    buyers.push(...added);
    await mapLimit(added, 50, async (buyer) => {
      buyer.cartId = (await must(buyer.socket, 'cart:create', {})).cart.id as string;
    });
    return { buyers: buyers.filter((b) => b.cartId).length };
  },

  /** Every buyer adds one unit of the drop's product; how many lines came out at the drop price. */
  async dropAdd(args: { productId: string; dropPrice: number; offerId: string }) {
    let atDropPrice = 0;
    const other = new Set<string>();
    await mapLimit(buyers, 50, async (buyer) => {
      const ack = await call(buyer.socket, 'cart:addItem', { cartId: buyer.cartId, productId: args.productId, quantity: 1 });
      if (!ack.ok) {
        if (other.size < 5) other.add(`${ack.error.code} ${ack.error.message}`.slice(0, 200));
        return;
      }
      const line = (ack.data.cart.items as Array<{ productId: string; unitPrice: number; offerId: string | null }>).find((l) => l.productId === args.productId);
      if (line?.unitPrice === args.dropPrice && line.offerId === args.offerId) atDropPrice++;
      else if (other.size < 5) other.add(`line at ${line?.unitPrice} (offer ${line?.offerId})`);
    });
    return { atDropPrice, samples: [...other] };
  },

  /** Waits until `at` (bench clock), then every buyer checks out at once; each answer's code and times. */
  async dropCheckout(args: { at: number; timeoutMs: number }) {
    await sleep(Math.max(0, args.at - now()));
    const outcomes = await Promise.all(
      buyers.map(async (buyer): Promise<CheckoutOutcome> => {
        const sentAt = now();
        try {
          const ack = (await buyer.socket
            .timeout(args.timeoutMs)
            .emitWithAck('cart:checkout', { cartId: buyer.cartId, requestId: `drop-${process.pid}-${buyer.index}` })) as Ack;
          const answeredAt = now();
          if (!ack.ok) return { sentAt, answeredAt, code: ack.error.code };
          const line = (ack.data.order.items as Array<{ unitPrice: number; quantity: number }>)[0];
          return { sentAt, answeredAt, code: 'OK', unitPrice: line?.unitPrice, quantity: line?.quantity };
        } catch {
          return { sentAt, answeredAt: null, code: 'NO_ACK' };
        }
      }),
    );
    return outcomes;
  },

  /** Forgets the watchers' receipts and counts (before the rush). */
  dropResetReceipts() {
    stockReceipts = [];
    remainingReceipts = [];
    for (const w of watchers) Object.assign(w, { stock: 0, remaining: 0, maxVersion: -1, minRemaining: Infinity, soldOutSeen: false });
    return true;
  },

  /** How many watchers have seen stock version `version` (or later) and the drop sold out. */
  dropWatchState(args: { version: number }) {
    return {
      watchers: watchers.length,
      finalLevel: watchers.filter((w) => w.maxVersion >= args.version).length,
      soldOut: watchers.filter((w) => w.soldOutSeen).length,
      lost: lostSockets,
    };
  },

  /** Delays of the watchers' pushes against the reference times of what they carry, and pushes per watcher. */
  dropWatchStats(args: { stockTimes: Record<string, number>; remainingTimes: Record<string, number> }) {
    const stats = (receipts: number[][], times: Record<string, number>) => {
      const histogram = new Histogram();
      let unmatched = 0;
      let firstAt = Infinity;
      let lastAt = 0;
      for (const [key, at] of receipts) {
        if (at! < firstAt) firstAt = at!;
        if (at! > lastAt) lastAt = at!;
        const t0 = times[String(key)];
        if (t0 === undefined) unmatched++;
        else histogram.record(at! - t0);
      }
      return { deliveries: receipts.length, unmatched, firstAt, lastAt, histogram: histogram.toJSON() };
    };
    const perWatcher = (pick: (w: Watcher) => number) => ({
      sum: watchers.reduce((n, w) => n + pick(w), 0),
      min: Math.min(...watchers.map(pick)),
      max: Math.max(...watchers.map(pick)),
    });
    return {
      watchers: watchers.length,
      stock: stats(stockReceipts, args.stockTimes),
      remaining: stats(remainingReceipts, args.remainingTimes),
      stockPerWatcher: perWatcher((w) => w.stock),
      remainingPerWatcher: perWatcher((w) => w.remaining),
      lost: lostSockets,
    };
  },

  /** The recommendation row's closed loop over `clients` new guest sockets (see recommendationLatency). */
  recommendations: (args: RecoArgs) => recommendationLatency(args),

  close() {
    closeEverything();
    return true;
  },

  stop() {
    closeEverything();
    setImmediate(() => process.exit(0));
    return true;
  },
});
