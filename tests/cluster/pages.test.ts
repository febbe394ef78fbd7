// The pages against a cluster: the warehouse board opened on node A follows a shipment that a customer's order on
// node B created and that staff on node B move: every move reaches the page through Redis, without a reload.
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { connectStore, connectWarehouse, TEST_CARD_NUMBER } from '../../src/client/index.ts';
import { CHROMIUM, webDir } from '../helpers/browser.ts';
import type { ServerChild } from '../helpers/child.ts';
import { ClusterLab, guestTokens } from '../helpers/cluster.ts';
import test from '../helpers/cluster-test.ts';

const lab = new ClusterLab();
let a: ServerChild;
let b: ServerChild;

lab.install(test, async () => {
  const pages = await webDir();
  [a, b] = await lab.cluster(2, { WEB_DIR: pages });
});

const withBrowser = existsSync(CHROMIUM) ? test : test.skip;

withBrowser('the warehouse board on node A shows a shipment created and moved through node B, live', async (t) => {
  t.timeout(180_000);
  const productId = await lab.insertProduct(10, 1500);
  const staff = await lab.staffToken(a.url);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  t.teardown(() => browser.close());
  const context = await browser.newContext();
  // The board keeps its token per page: this one is signed in already.
  await context.addInitScript((token) => localStorage.setItem('emporium:warehouse:token', token), staff);
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  page.on('pageerror', (error) => t.fail(`page error: ${error.message}`));
  await page.goto(`${a.url}/warehouse#shipments`);
  await page.getByTestId('connection').filter({ hasText: 'Live' }).waitFor();

  // A customer on node B buys and pays; the shipment is made by whichever node runs the saga.
  const [token] = await guestTokens(b.url, 1);
  const store = await connectStore(b.url, { token: token! });
  t.teardown(() => store.close());
  const { cart } = await store.call('cart:create', {});
  await store.call('cart:addItem', { cartId: cart.id, productId, quantity: 1 });
  const address = { name: 'Ada Lovelace', line1: '1 Engine Row', city: 'London', postalCode: 'N1 9GU', country: 'GB' };
  const { order } = await store.call('cart:checkout', { cartId: cart.id, requestId: 'cluster-page', shippingAddress: address });
  await store.call('order:pay', {
    orderId: order.id,
    requestId: 'cluster-pay',
    payment: { cardNumber: TEST_CARD_NUMBER, expMonth: 12, expYear: 2099, cvc: '123' },
  });
  const card = (state: string) => page.getByTestId(`column-${state}`).locator(`[data-testid="shipment-card"][data-order-id="${order.id}"]`);
  await card('pending').waitFor();
  await page.evaluate(() => Object.assign(window, { neverReloaded: true }));

  // Staff on node B move it; the page on node A follows.
  const warehouse = await connectWarehouse(b.url, { token: staff });
  t.teardown(() => warehouse.close());
  // The card is the shipment; the order learns its id a saga step later.
  let shipmentId: string | null = null;
  for (const deadline = Date.now() + 30_000; !shipmentId && Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 100))) {
    shipmentId = (await store.call('order:get', { orderId: order.id })).order.shipmentId;
  }
  if (!shipmentId) throw new Error('the order never learnt its shipment');
  await warehouse.call('shipment:advance', { shipmentId, to: 'picking' });
  await card('picking').waitFor();
  await warehouse.call('shipment:advance', { shipmentId, to: 'packed' });
  await warehouse.call('shipment:advance', { shipmentId, to: 'shipped', carrier: 'Royal Mail', trackingNumber: 'RM123' });
  await card('shipped').waitFor();
  t.regex((await card('shipped').textContent()) ?? '', /RM123/);
  t.true(await page.evaluate(() => (window as unknown as { neverReloaded?: boolean }).neverReloaded === true), 'no reload');
});
