// A whole purchase over the typed SDK: `npx tsx examples/buy.ts [http://localhost:3000]`.
import { connectStore, formatMoney, TEST_CARD_NUMBER, type OrderView } from '../src/client/index.ts';

const url = process.argv[2] ?? 'http://localhost:3000';

// 1. A guest token, and the cheapest product in stock.
const { token } = (await (await fetch(`${url}/api/auth/guest`, { method: 'POST' })).json()) as { token: string };
const { items } = (await (await fetch(`${url}/api/products?inStock=true&sort=price&pageSize=1`)).json()) as {
  items: Array<{ id: string; name: string; price: number }>;
};
const product = items[0];
if (!product) throw new Error('the catalog is empty');

// 2. A live cart: every change is pushed to us as well as acknowledged.
const store = await connectStore(url, { token });
const { cart } = await store.call('cart:create', {});
await store.subscribe(`cart:${cart.id}`, (view: { version: number; total: number; currency: string }) =>
  console.log(`cart v${view.version}: total ${formatMoney(view.total, view.currency)}`),
);
await store.call('cart:addItem', { cartId: cart.id, productId: product.id, quantity: 2 });

// 3. Checkout reserves the stock; paying moves the order on. The same requestId is safe to retry.
const { order } = await store.call('cart:checkout', { cartId: cart.id, requestId: `checkout-${cart.id}` });
const done = new Promise<OrderView>((resolve) =>
  store.subscribe(`order:${order.id}`, (view: OrderView) => {
    console.log(`order v${view.version}: ${view.state}`);
    if (view.state === 'fulfilling') resolve(view);
  }),
);
await store.call('order:pay', {
  orderId: order.id,
  requestId: `pay-${order.id}`,
  payment: { cardNumber: TEST_CARD_NUMBER, expMonth: 12, expYear: 2099, cvc: '123' },
});
const fulfilling = await done;
console.log(`bought 2 x ${product.name} for ${formatMoney(fulfilling.total, fulfilling.currency)}; shipment ${fulfilling.shipmentId}`);
store.close();
