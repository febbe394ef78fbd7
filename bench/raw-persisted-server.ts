// The raw persisted reference: bare Socket.IO plus hand-written better-sqlite3 doing, per `cart:addItem`, the least a
// persisted add must do — read the product, write the cart's snapshot with a version check, a journal row and an
// outbox row, commit, then ack with the cart — with the same group-commit freedom Emporium has (every command of one
// event-loop turn in one transaction). No validation beyond types, no access rules, no state machine, no limits.
// Runs in its own process (started by bench/run.ts), driven over IPC. Argument: JSON `{ products, synchronous }`.
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Server } from 'socket.io';
import { serve } from './lib/ipc.ts';

const options = JSON.parse(process.argv[2] ?? '{}') as { products?: number; synchronous?: 'normal' | 'full' };
const dir = mkdtempSync(path.join(tmpdir(), 'emporium-raw-persisted-'));
const db = new Database(path.join(dir, 'raw.sqlite'));
db.pragma('journal_mode = WAL');
db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
db.exec(`
  CREATE TABLE products (id TEXT PRIMARY KEY, name TEXT NOT NULL, price INTEGER NOT NULL, on_hand INTEGER NOT NULL, reserved INTEGER NOT NULL);
  CREATE TABLE carts (id TEXT PRIMARY KEY, version INTEGER NOT NULL, snapshot TEXT NOT NULL, updated_at INTEGER NOT NULL);
  CREATE TABLE journal (actor_id TEXT NOT NULL, version INTEGER NOT NULL, event TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (actor_id, version));
  CREATE TABLE outbox (seq INTEGER PRIMARY KEY, actor_id TEXT NOT NULL, type TEXT NOT NULL, payload TEXT NOT NULL, created_at INTEGER NOT NULL);
`);
const products: string[] = [];
const insertProduct = db.prepare('INSERT INTO products (id, name, price, on_hand, reserved) VALUES (?, ?, ?, 1000000, 0)');
for (let i = 0; i < (options.products ?? 20); i++) {
  products.push(`prod_raw_${i}`);
  insertProduct.run(`prod_raw_${i}`, `Raw product ${i}`, 1000 + i);
}
const readProduct = db.prepare('SELECT price, on_hand - reserved AS available FROM products WHERE id = ?');
const insertCart = db.prepare('INSERT INTO carts (id, version, snapshot, updated_at) VALUES (?, 1, ?, ?)');
const updateCart = db.prepare('UPDATE carts SET version = ?, snapshot = ?, updated_at = ? WHERE id = ? AND version = ?');
const insertJournal = db.prepare('INSERT INTO journal (actor_id, version, event, at) VALUES (?, ?, ?, ?)');
const insertOutbox = db.prepare('INSERT INTO outbox (actor_id, type, payload, created_at) VALUES (?, ?, ?, ?)');

interface Line {
  productId: string;
  quantity: number;
  unitPrice: number;
}
interface Cart {
  id: string;
  version: number;
  items: Line[];
}
const carts = new Map<string, Cart>();
let nextCart = 0;

/** A write waiting for the turn's transaction, with the ack to send once it committed. */
interface Pending {
  readonly cart: Cart;
  readonly expected: number;
  readonly event: string;
  readonly at: number;
  readonly ack: (response: unknown) => void;
}
let queue: Pending[] = [];
const commitAll = db.transaction((batch: Pending[]) => {
  for (const w of batch) {
    const snapshot = JSON.stringify({ value: 'active', context: w.cart });
    if (w.expected === 0) insertCart.run(w.cart.id, snapshot, w.at);
    else if (updateCart.run(w.cart.version, snapshot, w.at, w.cart.id, w.expected).changes !== 1) throw new Error('lost a version check');
    insertJournal.run(w.cart.id, w.cart.version, w.event, w.at);
    insertOutbox.run(w.cart.id, 'cart.changed', w.event, w.at);
  }
});
function flush(): void {
  const batch = queue;
  queue = [];
  commitAll.immediate(batch);
  // Answered after the commit, as Emporium answers: the cart as written.
  for (const w of batch) w.ack({ ok: true, data: { cart: view(w.cart) } });
}
function persist(pending: Pending): void {
  if (queue.length === 0) setImmediate(flush);
  queue.push(pending);
}
const view = (cart: Cart) => ({
  id: cart.id,
  version: cart.version,
  state: 'active',
  customerId: 'guest_raw',
  currency: 'EUR',
  items: cart.items.map((line) => ({ ...line, listPrice: line.unitPrice, offerId: null, lineTotal: line.quantity * line.unitPrice })),
  itemCount: cart.items.reduce((n, line) => n + line.quantity, 0),
  total: cart.items.reduce((n, line) => n + line.quantity * line.unitPrice, 0),
  orderId: null,
  lastCheckoutError: null,
  expiresAt: Date.now() + 86_400_000,
});

const http = createServer((request, response) => {
  // The load generator asks for a guest token first; any string will do here.
  if (request.method === 'POST' && request.url === '/api/auth/guest') {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ token: 'raw' }));
    return;
  }
  response.writeHead(404).end();
});
const io = new Server(http, { serveClient: false, transports: ['polling', 'websocket'] });
const fail = (ack: unknown, message: string) => typeof ack === 'function' && ack({ ok: false, error: { code: 'VALIDATION', message } });

io.of('/store').on('connection', (socket) => {
  socket.on('cart:create', (_payload: unknown, ack: (response: unknown) => void) => {
    if (typeof ack !== 'function') return;
    const cart: Cart = { id: `cart_raw_${++nextCart}`, version: 1, items: [] };
    carts.set(cart.id, cart);
    persist({ cart, expected: 0, event: JSON.stringify({ type: 'xstate.init' }), at: Date.now(), ack });
  });
  socket.on('cart:addItem', (payload: { cartId?: unknown; productId?: unknown; quantity?: unknown }, ack: (response: unknown) => void) => {
    if (typeof ack !== 'function') return;
    const { cartId, productId, quantity } = payload ?? {};
    if (typeof cartId !== 'string' || typeof productId !== 'string' || typeof quantity !== 'number') return fail(ack, 'bad payload');
    const cart = carts.get(cartId);
    if (!cart) return fail(ack, 'no such cart');
    const product = readProduct.get(productId) as { price: number; available: number } | undefined;
    if (!product) return fail(ack, 'no such product');
    const line = cart.items.find((item) => item.productId === productId);
    if ((line?.quantity ?? 0) + quantity > product.available) return fail(ack, 'out of stock');
    const expected = cart.version;
    if (line) line.quantity += quantity;
    else cart.items.push({ productId, quantity, unitPrice: product.price });
    cart.version++;
    persist({ cart, expected, event: JSON.stringify({ type: 'ADD_ITEM', productId, quantity, unitPrice: product.price }), at: Date.now(), ack });
  });
});

const listening = new Promise<number>((resolve) => http.listen(0, '127.0.0.1', () => resolve((http.address() as AddressInfo).port)));

serve({
  async info() {
    return { url: `http://127.0.0.1:${await listening}`, products };
  },
  /** CPU time this process used so far (user + system), in ms. */
  cpu: () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  },
  async stop() {
    io.disconnectSockets(true);
    await new Promise<void>((resolve) => io.close(() => resolve()));
    db.close();
    rmSync(dir, { recursive: true, force: true });
    setImmediate(() => process.exit(0));
    return true;
  },
});
