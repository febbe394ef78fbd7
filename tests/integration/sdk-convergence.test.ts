// The SDK keeps converging when the server fails for a while: re-subscriptions and reads answered INTERNAL,
// UNAVAILABLE, RATE_LIMITED or not at all are retried with backoff until they succeed or the socket closes;
// a topic the server refuses is dropped and reported once. Against a small real Socket.IO server (in this
// process) that answers from a script, with a real socket.io-client underneath the SDK.
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { Server, type Socket as ServerSocket } from 'socket.io';
import { connectStore, EmporiumError, type StoreConnection } from '../../src/client/index.ts';

type Answer = 'OK' | 'SILENT' | 'INTERNAL' | 'UNAVAILABLE' | 'RATE_LIMITED' | 'FORBIDDEN' | 'NOT_FOUND';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function waitUntil(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await sleep(10);
  }
}

/**
 * A stand-in for a node's `/store` namespace: `subscribe` and `cart:get` answer from a per-topic script
 * (then OK once it runs out); the views are `{ id, version }` carts the test sets.
 */
class ScriptedStore {
  readonly views = new Map<string, { id: string; version: number }>();
  readonly script = new Map<string, Answer[]>();
  /** Every `subscribe` topic and `cart:get` id asked for, in order. */
  readonly asked: string[] = [];
  port = 0;
  private http: HttpServer | undefined;
  private io: Server | undefined;

  async start(port = 0): Promise<this> {
    this.http = createServer();
    this.io = new Server(this.http, { transports: ['websocket'] });
    this.io.of('/store').on('connection', (socket) => this.serve(socket));
    await new Promise<void>((resolve) => this.http!.listen(port, '127.0.0.1', resolve));
    this.port = (this.http.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Goes away like a crashed node: clients see `transport close` and reconnect by themselves. */
  async stop(): Promise<void> {
    await this.io?.close();
    this.io = undefined;
  }

  setView(topic: string, version: number): { id: string; version: number } {
    const view = { id: topic.slice(topic.indexOf(':') + 1), version };
    this.views.set(topic, view);
    return view;
  }

  /** A change: the new version pushed to the topic's room. */
  push(topic: string, version: number): void {
    this.io!.of('/store').to(topic).emit('cart:updated', this.setView(topic, version));
  }

  resync(): void {
    this.io!.of('/store').emit('resync', { reason: 'test' });
  }

  count(key: string): number {
    return this.asked.filter((asked) => asked === key).length;
  }

  private answer(key: string, ack: (response: unknown) => void, ok: () => unknown): void {
    this.asked.push(key);
    const next = this.script.get(key)?.shift() ?? 'OK';
    if (next === 'SILENT') return;
    if (next === 'OK') ack({ ok: true, data: ok() });
    else ack({ ok: false, error: { code: next, message: `scripted ${next}` } });
  }

  private serve(socket: ServerSocket): void {
    socket.on('subscribe', ({ topic }: { topic: string }, ack: (response: unknown) => void) =>
      this.answer(topic, ack, () => {
        void socket.join(topic);
        return { topic, view: this.views.get(topic) };
      }),
    );
    socket.on('unsubscribe', ({ topic }: { topic: string }, ack: (response: unknown) => void) => {
      void socket.leave(topic);
      ack({ ok: true, data: { topic } });
    });
    socket.on('cart:get', ({ cartId }: { cartId: string }, ack: (response: unknown) => void) =>
      this.answer(`cart:get ${cartId}`, ack, () => ({ cart: this.views.get(`cart:${cartId}`) })),
    );
  }
}

async function setUp(t: { teardown(fn: () => unknown): void }, options: { timeoutMs?: number } = {}) {
  const server = await new ScriptedStore().start();
  t.teardown(() => server.stop());
  const errors: Array<{ topic: string; code: string | undefined }> = [];
  const store: StoreConnection = await connectStore(server.url, {
    token: 'any',
    timeoutMs: options.timeoutMs ?? 2_000,
    retry: { initialDelayMs: 20, maxDelayMs: 200 },
    onError: (error, topic) => errors.push({ topic, code: (error as EmporiumError).code }),
  });
  t.teardown(() => store.close());
  return { server, store, errors };
}

function follow(store: StoreConnection, topic: string) {
  const versions: number[] = [];
  const subscribed = store.subscribe<{ version: number }>(topic, (view) => versions.push(view.version));
  return { versions, subscribed };
}

test('first subscribe(): INTERNAL, UNAVAILABLE and RATE_LIMITED are retried until the view comes', async (t) => {
  const { server, store, errors } = await setUp(t);
  server.setView('cart:c1', 1);
  server.script.set('cart:c1', ['INTERNAL', 'UNAVAILABLE', 'RATE_LIMITED']);
  const { versions, subscribed } = follow(store, 'cart:c1');
  await subscribed;
  t.deepEqual(versions, [1]);
  t.is(server.count('cart:c1'), 4);
  server.push('cart:c1', 2);
  await waitUntil(() => versions.at(-1) === 2, 'the push');
  t.deepEqual(errors, []);
});

test('first subscribe(): a refusal rejects at once and leaves nothing behind', async (t) => {
  const { server, store, errors } = await setUp(t);
  server.setView('cart:c1', 1);
  server.script.set('cart:c1', ['FORBIDDEN']);
  const error = await t.throwsAsync(follow(store, 'cart:c1').subscribed, { instanceOf: EmporiumError });
  t.is(error?.code, 'FORBIDDEN');
  t.is(server.count('cart:c1'), 1);
  server.resync();
  await sleep(200);
  t.is(server.count('cart:c1'), 1, 'a refused topic is not asked for again');
  t.deepEqual(errors, [], 'the caller got the refusal; onError is for the topics it follows');
});

test('first subscribe(): failures that keep coming reject after timeoutMs with the last one, leaving nothing behind', async (t) => {
  const { server, store } = await setUp(t, { timeoutMs: 600 });
  server.setView('cart:c1', 1);
  server.script.set(
    'cart:c1',
    Array.from({ length: 1000 }, () => 'INTERNAL' as const),
  );
  const started = Date.now();
  const error = await t.throwsAsync(follow(store, 'cart:c1').subscribed, { instanceOf: EmporiumError });
  const took = Date.now() - started;
  t.is(error?.code, 'INTERNAL');
  t.true(took >= 300 && took < 5_000, `rejected after ${took} ms`);
  t.true(server.count('cart:c1') >= 2, `asked ${server.count('cart:c1')} times`);
  const asked = server.count('cart:c1');
  server.resync();
  await sleep(200);
  t.is(server.count('cart:c1'), asked);
});

test('after a reconnect, re-subscribes answered INTERNAL or not at all are retried until they succeed; the view converges and pushes follow', async (t) => {
  const { server, store, errors } = await setUp(t, { timeoutMs: 1_000 });
  server.setView('cart:c1', 1);
  const { versions, subscribed } = follow(store, 'cart:c1');
  await subscribed;

  // The connection drops; meanwhile the cart moves on, and the first re-subscribes fail (one gets no ack at all).
  server.setView('cart:c1', 5);
  server.script.set('cart:c1', ['INTERNAL', 'SILENT', 'INTERNAL', 'UNAVAILABLE']);
  store.socket.io.engine.close();
  await waitUntil(() => versions.at(-1) === 5, 'the view after the re-subscribes got through');
  t.true(server.count('cart:c1') >= 1 + 5, `asked ${server.count('cart:c1')} times`);

  server.push('cart:c1', 6);
  await waitUntil(() => versions.at(-1) === 6, 'a push after the re-subscribe');
  t.deepEqual(versions, [1, 5, 6]);
  t.deepEqual(errors, []);
});

test('on resync, a topic refused for access is dropped and reported once; the others still converge', async (t) => {
  const { server, store, errors } = await setUp(t);
  server.setView('cart:mine', 1);
  server.setView('cart:adopted', 1);
  server.setView('cart:gone', 1);
  const mine = follow(store, 'cart:mine');
  const adopted = follow(store, 'cart:adopted');
  const gone = follow(store, 'cart:gone');
  await Promise.all([mine.subscribed, adopted.subscribed, gone.subscribed]);

  server.setView('cart:mine', 3);
  server.script.set('cart:mine', ['INTERNAL', 'INTERNAL']);
  server.script.set('cart:adopted', ['INTERNAL', 'FORBIDDEN']);
  server.script.set('cart:gone', ['NOT_FOUND']);
  server.resync();
  await waitUntil(() => mine.versions.at(-1) === 3 && errors.length === 2, 'convergence and two refusals');
  await sleep(300);
  t.deepEqual(
    errors.sort((x, y) => x.topic.localeCompare(y.topic)),
    [
      { topic: 'cart:adopted', code: 'FORBIDDEN' },
      { topic: 'cart:gone', code: 'NOT_FOUND' },
    ],
  );
  t.is(server.count('cart:adopted'), 1 + 2, 'not asked again after the refusal');
  t.is(server.count('cart:gone'), 1 + 1);

  // The dropped topics get no more views, even though this connection is still in their rooms.
  server.push('cart:adopted', 9);
  server.push('cart:mine', 4);
  await waitUntil(() => mine.versions.at(-1) === 4, 'the push of the followed topic');
  t.deepEqual(adopted.versions, [1]);
});

test('retries pause while disconnected (nothing piles up) and start over on reconnect, even after failed reconnect attempts', async (t) => {
  const { server, store, errors } = await setUp(t, { timeoutMs: 1_000 });
  server.setView('cart:c1', 1);
  const { versions, subscribed } = follow(store, 'cart:c1');
  await subscribed;
  server.script.set(
    'cart:c1',
    Array.from({ length: 1000 }, () => 'INTERNAL' as const),
  );
  server.resync();
  await waitUntil(() => server.count('cart:c1') >= 4, 'retries');

  // The node goes away for a while: several reconnect attempts fail (connect_error) meanwhile.
  const port = server.port;
  let failedAttempts = 0;
  store.socket.on('connect_error', () => failedAttempts++);
  await server.stop();
  await waitUntil(() => !store.socket.connected, 'the disconnect');
  await sleep(2_500);
  t.true(failedAttempts > 0, 'reconnect attempts failed while the server was away');
  t.is(store.socket.sendBuffer.length, 0, 'no retry was queued while disconnected');

  // It comes back, newer and healthy: the SDK reconnects by itself and converges.
  server.script.set('cart:c1', []);
  server.setView('cart:c1', 7);
  await server.start(port);
  await waitUntil(() => versions.at(-1) === 7, 'convergence after the server came back', 15_000);
  server.push('cart:c1', 8);
  await waitUntil(() => versions.at(-1) === 8, 'a push after it');
  t.deepEqual(errors, []);
});

test('a second listener on a followed topic gets the current view at once', async (t) => {
  const { server, store } = await setUp(t);
  server.setView('cart:c1', 4);
  const first = follow(store, 'cart:c1');
  await first.subscribed;
  const second = follow(store, 'cart:c1');
  const stopSecond = await second.subscribed;
  t.deepEqual(first.versions, [4]);
  t.deepEqual(second.versions, [4]);
  await stopSecond();
  server.push('cart:c1', 5);
  await waitUntil(() => first.versions.at(-1) === 5, 'the push to the remaining listener');
  t.deepEqual(second.versions, [4]);
});

test('read(): transient failures are retried, refusals reject at once, and it takes only reads', async (t) => {
  const { server, store } = await setUp(t);
  server.setView('cart:c1', 2);
  server.script.set('cart:get c1', ['INTERNAL', 'UNAVAILABLE']);
  const { cart } = await store.read('cart:get', { cartId: 'c1' });
  t.is(cart.version, 2);
  t.is(server.count('cart:get c1'), 3);

  server.script.set('cart:get c2', ['INTERNAL', 'NOT_FOUND']);
  const refused = await t.throwsAsync(store.read('cart:get', { cartId: 'c2' }), { instanceOf: EmporiumError });
  t.is(refused?.code, 'NOT_FOUND');
  t.is(server.count('cart:get c2'), 2);

  // @ts-expect-error cart:addItem is not a read
  await t.throwsAsync(store.read('cart:addItem', { cartId: 'c1', productId: 'p', quantity: 1 }), { instanceOf: TypeError });
});
