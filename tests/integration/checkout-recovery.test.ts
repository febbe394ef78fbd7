// A checkout cut off part-way is finished or undone by the cart's own decision: after COMPLETED the order is
// made by the cart.checkedOut flow; a checkout stuck past its reservation's expiry is abandoned by the cart
// before its stock goes back, and a reservation once released is never taken again under its order id (RELEASED),
// so stock that was given back can never become an order.
import test from 'ava';
import { newId } from '../../src/domain/ids.ts';
import { call, createProduct, ok, registerCustomer, socketForTest, startApp, type TestApp } from '../helpers/app.ts';

let app: TestApp;

test.before(async () => {
  app = await startApp({ config: { sweepIntervalMs: 3_600_000 } });
  await createProduct(app.app, { onHand: 1 }); // the test category, once
});

test.after.always(() => app?.stop());

/** A cart with one line of a fresh product, taken to `checkingOut` as a checkout's first step would. */
async function cartCheckingOut(onHand: number, quantity: number) {
  const { runtime } = app.app;
  const product = await createProduct(app.app, { onHand, price: 700 });
  const cartId = newId('cart');
  await runtime.create('cart', cartId, { id: cartId, customerId: 'cus_recovery', currency: 'EUR', ttlMs: 3_600_000, at: Date.now() });
  await runtime.send('cart', cartId, { type: 'ADD_ITEM', productId: product.id, quantity, unitPrice: product.price });
  const orderId = newId('order');
  await runtime.send('cart', cartId, { type: 'CHECKOUT_STARTED', orderId, requestId: `req-${cartId}`, shippingAddress: null });
  return { product, cartId, orderId };
}

const level = async (productId: string) => (await app.app.services.inventory.level(productId))!;

test.serial('a node that died right after the cart completed: the cart.checkedOut flow makes the order', async (t) => {
  const { product, cartId, orderId } = await cartCheckingOut(5, 2);
  t.true(
    (
      await app.app.services.inventory.reserve(
        { orderId: orderId, cartId: cartId, customerId: 'customer_test', lines: [{ productId: product.id, quantity: 2 }], startedAt: Date.now() },
        Date.now() + 60_000,
      )
    ).ok,
  );
  await app.app.runtime.send('cart', cartId, { type: 'CHECKOUT_COMPLETED', orderId });
  // ...and the process died before creating the order. The outbox still holds cart.checkedOut.
  await app.app.relay.drain();
  const order = await app.app.runtime.get('order', orderId);
  t.is(order?.state, 'awaitingPayment');
  t.is(order?.snapshot.context.cartId, cartId);
  t.deepEqual(
    order?.snapshot.context.items.map((line) => [line.productId, line.quantity, line.unitPrice]),
    [[product.id, 2, 700]],
  );
  t.is((await level(product.id)).reserved, 2);
});

test.serial(
  'a checkout stuck past its reservation expiry is abandoned by the cart, then its stock goes back; finishing it later cannot make an order',
  async (t) => {
    const { product, cartId, orderId } = await cartCheckingOut(3, 3);
    t.true(
      (
        await app.app.services.inventory.reserve(
          { orderId: orderId, cartId: cartId, customerId: 'customer_test', lines: [{ productId: product.id, quantity: 3 }], startedAt: Date.now() },
          Date.now() - 1,
        )
      ).ok,
    );
    t.is((await level(product.id)).available, 0);

    t.is(await app.app.services.checkout.releaseOrphanReservations(), 1);
    const cart = await app.app.runtime.get('cart', cartId);
    t.is(cart?.state, 'active');
    t.is(cart?.snapshot.context.lastCheckoutError, 'CHECKOUT_ABANDONED');
    t.is((await level(product.id)).available, 3);

    // The stuck checkout wakes up: its reservation was given back, so it fails instead of making an order from nothing.
    const retried = await app.app.services.inventory.reserve(
      { orderId: orderId, cartId: cartId, customerId: 'customer_test', lines: [{ productId: product.id, quantity: 3 }], startedAt: Date.now() },
      Date.now() + 60_000,
    );
    t.deepEqual(retried, { ok: false, reason: 'RELEASED' });
    t.is(await app.app.runtime.get('order', orderId), undefined);
    t.is((await level(product.id)).available, 3);
  },
);

test.serial('an expired reservation of a cart that did complete is not released: the sweep makes the missing order instead', async (t) => {
  const { product, cartId, orderId } = await cartCheckingOut(4, 1);
  t.true(
    (
      await app.app.services.inventory.reserve(
        { orderId: orderId, cartId: cartId, customerId: 'customer_test', lines: [{ productId: product.id, quantity: 1 }], startedAt: Date.now() },
        Date.now() - 1,
      )
    ).ok,
  );
  await app.app.relay.stop(); // the cart.checkedOut flow does not run: the sweep must find the missing order itself
  await app.app.runtime.send('cart', cartId, { type: 'CHECKOUT_COMPLETED', orderId });

  t.is(await app.app.services.checkout.releaseOrphanReservations(), 0);
  t.is((await app.app.runtime.get('order', orderId))?.state, 'awaitingPayment');
  t.is((await level(product.id)).reserved, 1, 'the order keeps its stock');
});

test.serial('one reservation decision per order id: a second reserve after OUT_OF_STOCK answers the same, even once stock is back', async (t) => {
  const { product, cartId, orderId } = await cartCheckingOut(2, 5);
  const first = await app.app.services.inventory.reserve(
    { orderId: orderId, cartId: cartId, customerId: 'customer_test', lines: [{ productId: product.id, quantity: 5 }], startedAt: Date.now() },
    Date.now() + 60_000,
  );
  t.deepEqual(first, { ok: false, reason: 'OUT_OF_STOCK', productId: product.id, requested: 5, available: 2 });
  await app.app.services.inventory.restock(product.id, 10);
  const second = await app.app.services.inventory.reserve(
    { orderId: orderId, cartId: cartId, customerId: 'customer_test', lines: [{ productId: product.id, quantity: 5 }], startedAt: Date.now() },
    Date.now() + 60_000,
  );
  t.deepEqual(second, first, 'the decision stands: a duplicate can never succeed where the first failed');
  t.is((await level(product.id)).reserved, 0);
});

test.serial('a checkout resumed after its reservation was released fails instead of making an order with no stock', async (t) => {
  const product = await createProduct(app.app, { onHand: 3 });
  const inventory = app.app.services.inventory;
  const reserved = await inventory.reserve(
    {
      orderId: 'order_released1',
      cartId: 'cart_released1',
      customerId: 'customer_test',
      lines: [{ productId: product.id, quantity: 2 }],
      startedAt: Date.now(),
    },
    Date.now() + 60_000,
  );
  t.true(reserved.ok);
  t.true(
    (
      await inventory.reserve(
        {
          orderId: 'order_released1',
          cartId: 'cart_released1',
          customerId: 'customer_test',
          lines: [{ productId: product.id, quantity: 2 }],
          startedAt: Date.now(),
        },
        Date.now() + 60_000,
      )
    ).ok,
    'a retry is fine',
  );
  await inventory.release('order_released1');
  const again = await inventory.reserve(
    {
      orderId: 'order_released1',
      cartId: 'cart_released1',
      customerId: 'customer_test',
      lines: [{ productId: product.id, quantity: 2 }],
      startedAt: Date.now(),
    },
    Date.now() + 60_000,
  );
  t.deepEqual(again, { ok: false, reason: 'RELEASED' });
  t.is((await inventory.level(product.id))?.reserved, 0);
});

test.serial('a checkout requestId that failed answers the same OUT_OF_STOCK again, even once stock is back; a new requestId tries again', async (t) => {
  const { token } = await registerCustomer(app.url);
  const store = await socketForTest(t, app.url, '/store', token);
  const product = await createProduct(app.app, { onHand: 1, name: 'Scarce Lamp' });
  const { cart } = await ok(store, 'cart:create', {});
  await ok(store, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 1 });
  await app.app.services.inventory.reserve(
    {
      orderId: 'order_rival_lamp',
      cartId: 'cart_rival_lamp',
      customerId: 'customer_test',
      lines: [{ productId: product.id, quantity: 1 }],
      startedAt: Date.now(),
    },
    Date.now() + 60_000,
  );
  const first = await call(store, 'cart:checkout', { cartId: cart.id, requestId: 'lamp-1' });
  t.false(first.ok);
  await app.app.services.inventory.restock(product.id, 5);
  const again = await call(store, 'cart:checkout', { cartId: cart.id, requestId: 'lamp-1' });
  t.deepEqual(again, first, 'the same request, the same answer: never one OUT_OF_STOCK and one order');
  if (!first.ok) t.is(first.error.message, 'only 0 of Scarce Lamp available');
  const retried = await ok(store, 'cart:checkout', { cartId: cart.id, requestId: 'lamp-2' });
  t.is(retried.order.state, 'awaitingPayment');
});
