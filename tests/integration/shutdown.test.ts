// Graceful shutdown: a command already running (a payment in flight) is finished and answered; commands after stop()
// began are refused UNAVAILABLE or meet a disconnect; nothing is left half-done (no order stays authorizing) for the next start.
import test from 'ava';
import type { Socket } from 'socket.io-client';
import type { Ack, CartView, OrderView } from '../../src/protocol/index.ts';
import { data, failed } from '../helpers/acks.ts';
import { appForTest, call, createProduct, folderForTest, ok, registerCustomer, socketForTest, TEST_CARD } from '../helpers/app.ts';

type Cart = { cart: CartView };
type Order = { order: OrderView };

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
  const dataDir = folderForTest(t);
  const node = await appForTest(t, { dataDir, config: { paymentLatencyMs: 400 } });
  const product = await createProduct(node.app, { onHand: 5 });
  const customer = await registerCustomer(node.url);
  const socket = await socketForTest(t, node.url, '/store', customer.token);
  const bystander = await socketForTest(t, node.url, '/store', customer.token);
  const cart = await cartWith(socket, product.id, 1);
  const { order } = await ok<Order>(socket, 'cart:checkout', { cartId: cart.id, requestId: 'co-shutdown' });

  const payAck = call<Order>(socket, 'order:pay', { orderId: order.id, requestId: 'pay-shutdown', payment: TEST_CARD });
  await sleep(100);
  const stopping = node.stop();
  const late = await Promise.all([ackOrDisconnect(socket, 'order:get', { orderId: order.id }), ackOrDisconnect(bystander, 'carts:list', {})]);

  const paid = data(t, await payAck, 'the pay in flight').order;
  t.true(PAID.includes(paid.state), `paid during shutdown, got ${paid.state}`);
  t.log(
    'after stop() began:',
    late.map((outcome) => (outcome === 'disconnected' ? 'disconnected' : outcome.ack.ok ? 'ok' : outcome.ack.error.code)).join(', '),
  );
  for (const outcome of late) {
    if (outcome === 'disconnected') t.pass();
    else failed(t, outcome.ack, 'UNAVAILABLE', 'a command after stop() began');
  }
  await stopping;

  const reopened = await appForTest(t, { dataDir });
  const stored = await reopened.app.runtime.get('order', order.id);
  t.truthy(stored);
  t.not(stored!.state, 'authorizing');
  t.true(PAID.includes(stored!.state), stored!.state);
});
