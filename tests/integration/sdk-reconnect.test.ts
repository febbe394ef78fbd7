// The SDK against the real app: call() answers or throws EmporiumError; after the server restarts on the same port it
// reconnects by itself, re-subscribes without duplicate views and gets later pushes, and reports a re-subscription the
// server refuses (a guest cart adopted meanwhile) to onError. (sdk-convergence.test.ts covers a server that fails for a while.)
import { createServer, type AddressInfo } from 'node:net';
import test from 'ava';
import { connectStore, EmporiumError, type StoreConnection } from '../../src/client/index.ts';
import type { CartView } from '../../src/protocol/index.ts';
import { appForTest, createProduct, folderForTest, guestToken, ok, postJson, registerCustomer, socketForTest } from '../helpers/app.ts';

type Cart = { cart: CartView };

async function waitUntil(predicate: () => boolean, label: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${label}`);
    await sleep(20);
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A port nobody listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test.serial(
  'SDK: call, EmporiumError, and after a restart on the same port it reconnects, re-subscribes without duplicates and gets later pushes',
  async (t) => {
    const port = await freePort();
    const dataDir = folderForTest(t);
    const first = await appForTest(t, { dataDir, config: { port } });
    const product = await createProduct(first.app, { onHand: 50 });
    const customer = await registerCustomer(first.url);
    const errors: Array<{ error: Error; topic: string }> = [];
    const store: StoreConnection = await connectStore(first.url, {
      token: customer.token,
      timeoutMs: 5_000,
      onError: (error, topic) => errors.push({ error, topic }),
    });
    t.teardown(() => store.close());

    const { cart } = await store.call('cart:create', {});
    const views: CartView[] = [];
    await store.subscribe<CartView>(`cart:${cart.id}`, (view) => views.push(view));
    t.deepEqual(
      views.map((v) => v.version),
      [cart.version],
      'the subscribe answer is delivered',
    );

    const added = await store.call('cart:addItem', { cartId: cart.id, productId: product.id, quantity: 1 });
    t.is(added.cart.itemCount, 1);
    await waitUntil(() => views.some((v) => v.version === added.cart.version), 'the addItem push arrives');

    const missing = await t.throwsAsync(store.call('cart:get', { cartId: 'cart_missing' }), { instanceOf: EmporiumError });
    t.is(missing?.code, 'NOT_FOUND');
    const invalid = await t.throwsAsync(store.call('cart:addItem', { cartId: cart.id, productId: product.id, quantity: 0 }), { instanceOf: EmporiumError });
    t.is(invalid?.code, 'VALIDATION');

    const disconnected = new Promise<void>((resolve) => store.socket.once('disconnect', () => resolve()));
    await first.stop();
    await disconnected;
    const second = await appForTest(t, { dataDir, config: { port } });
    t.is(second.url, first.url);
    await waitUntil(() => store.socket.connected, 'the SDK reconnects by itself', 20_000);

    // Changes through another client reach the SDK's listener: the first may come with the re-subscribe answer,
    // the second can only come as a push on the re-joined topic.
    const other = await socketForTest(t, second.url, '/store', customer.token);
    const third = (await ok<Cart>(other, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 2 })).cart;
    await waitUntil(() => views.some((v) => v.version === third.version), 'the first change after the restart reaches the listener');
    const fourth = (await ok<Cart>(other, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 3 })).cart;
    await waitUntil(() => views.some((v) => v.version === fourth.version), 'the second change after the restart is pushed');
    t.is(views.at(-1)!.itemCount, 6);

    const versions = views.map((v) => v.version);
    t.deepEqual(versions, [cart.version, added.cart.version, third.version, fourth.version], 'each version once, in order');
    t.deepEqual(errors, []);
    const again = await store.call('cart:get', { cartId: cart.id });
    t.is(again.cart.version, fourth.version);
  },
);

test.serial('SDK: onError is called when re-subscribing after a restart is refused (the guest cart was adopted)', async (t) => {
  const port = await freePort();
  const dataDir = folderForTest(t);
  const first = await appForTest(t, { dataDir, config: { port } });
  const guest = await guestToken(first.url);
  const errors: Array<{ error: Error; topic: string }> = [];
  const store = await connectStore(first.url, { token: guest, timeoutMs: 5_000, onError: (error, topic) => errors.push({ error, topic }) });
  t.teardown(() => store.close());

  const { cart } = await store.call('cart:create', {});
  const topic = `cart:${cart.id}`;
  const views: CartView[] = [];
  await store.subscribe<CartView>(topic, (view) => views.push(view));
  const registered = await postJson<{ adoptedCarts: string[] }>(
    `${first.url}/api/auth/register`,
    { email: `sdk-adopter-${process.pid}-${Date.now()}@example.com`, password: 'correct horse battery', name: 'Adopter' },
    guest,
  );
  t.is(registered.status, 201);
  t.deepEqual(registered.body.adoptedCarts, [cart.id]);
  await t.throwsAsync(store.call('cart:get', { cartId: cart.id }), { instanceOf: EmporiumError, message: /./ });

  const disconnected = new Promise<void>((resolve) => store.socket.once('disconnect', () => resolve()));
  await first.stop();
  await disconnected;
  await appForTest(t, { dataDir, config: { port } });
  await waitUntil(() => errors.length > 0, 'onError reports the refused re-subscription', 20_000);

  t.is(errors.length, 1);
  t.is(errors[0]!.topic, topic);
  t.true(errors[0]!.error instanceof EmporiumError);
  t.is((errors[0]!.error as EmporiumError).code, 'FORBIDDEN');
  t.true(store.socket.connected);
});
