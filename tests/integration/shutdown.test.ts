// Graceful shutdown: a command already running (a payment in flight) is finished and answered; commands after stop()
// began are refused UNAVAILABLE or meet a disconnect; nothing is left half-done (no order stays authorizing) for the next start.
import test, { type ExecutionContext } from 'ava';
import type { Socket } from 'socket.io-client';
import type { Ack, CartView, OrderView } from '../../src/protocol/index.ts';
import type { Config } from '../../src/config.ts';
import { data, failed } from '../helpers/acks.ts';
import { call, connect, createProduct, ok, registerCustomer, startApp, TEST_CARD, tempDir, type TestApp } from '../helpers/app.ts';

type Cart = { cart: CartView };
type Order = { order: OrderView };

/** Starts an app whose stop() may be called by the test and again (harmlessly) in teardown. */
async function launch(t: ExecutionContext, options: { dataDir?: string; config?: Partial<Config> } = {}): Promise<TestApp> {
  const started = await startApp(options);
  let stopped: Promise<void> | undefined;
  const running: TestApp = { ...started, stop: () => (stopped ??= started.stop()) };
  t.teardown(() => running.stop().catch(() => undefined));
  return running;
}

/** A /store socket closed in teardown. */
async function open(t: ExecutionContext, url: string, token: string): Promise<Socket> {
  const socket = await connect(url, '/store', token);
  t.teardown(() => {
    socket.close();
  });
  return socket;
}

/** A data folder removed in teardown (after the apps on it have stopped: teardowns run last-registered first). */
function dataFolder(t: ExecutionContext): string {
  const temp = tempDir('emporium-shutdown-');
  t.teardown(() => temp.cleanup());
  return temp.dir;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Emits a command; resolves with its ack, or with 'disconnected' if the connection drops first. */
function ackOrDisconnect(socket: Socket, event: string, payload: unknown): Promise<{ ack: Ack<unknown> } | 'disconnected'> {
  return new Promise((resolve) => {
    if (!socket.connected) return resolve('disconnected');
    const onDisconnect = () => resolve('disconnected');
    socket.once('disconnect', onDisconnect);
    socket.emit(event, payload, (ack: Ack<unknown>) => {
      socket.off('disconnect', onDisconnect);
      resolve({ ack });
    });
  });
}

async function cartWith(socket: Socket, productId: string, quantity: number): Promise<CartView> {
  const { cart } = await ok<Cart>(socket, 'cart:create', {});
  return (await ok<Cart>(socket, 'cart:addItem', { cartId: cart.id, productId, quantity })).cart;
}

const PAID = ['paid', 'fulfilling'];

test.serial('shutdown: a payment in flight is finished and answered; later commands get UNAVAILABLE or a disconnect; nothing stays authorizing', async (t) => {
  const dataDir = dataFolder(t);
  const node = await launch(t, { dataDir, config: { paymentLatencyMs: 400 } });
  const product = await createProduct(node.app, { onHand: 5 });
  const customer = await registerCustomer(node.url);
  const socket = await open(t, node.url, customer.token);
  const bystander = await open(t, node.url, customer.token);
  const cart = await cartWith(socket, product.id, 1);
  const { order } = await ok<Order>(socket, 'cart:checkout', { cartId: cart.id, requestId: 'co-shutdown' });

  const payAck = call<Order>(socket, 'order:pay', { orderId: order.id, requestId: 'pay-shutdown', payment: TEST_CARD });
  await sleep(100);
  const stopping = node.stop();
  const late = await Promise.all([ackOrDisconnect(socket, 'order:get', { orderId: order.id }), ackOrDisconnect(bystander, 'carts:list', {})]);

  const paid = data(t, await payAck, 'the pay in flight').order;
  t.true(PAID.includes(paid.state), `paid during shutdown, got ${paid.state}`);
  t.log('after stop() began:', late.map((outcome) => (outcome === 'disconnected' ? 'disconnected' : outcome.ack.ok ? 'ok' : outcome.ack.error.code)).join(', '));
  for (const outcome of late) {
    if (outcome === 'disconnected') t.pass();
    else failed(t, outcome.ack, 'UNAVAILABLE', 'a command after stop() began');
  }
  await stopping;

  const reopened = await launch(t, { dataDir });
  const stored = await reopened.app.runtime.get('order', order.id);
  t.truthy(stored);
  t.not(stored!.state, 'authorizing');
  t.true(PAID.includes(stored!.state), stored!.state);
});
