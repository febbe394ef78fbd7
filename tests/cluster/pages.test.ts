// The pages against a cluster: the warehouse board opened on node A follows a shipment that a customer's order on
// node B created and that staff on node B move; a storefront product page on node A shows the stock a purchase on
// node B took; the inspector on node A streams the changes node B commits. Every change reaches the page through
// Redis, without a reload.
import { existsSync } from 'node:fs';
import type { ExecutionContext } from 'ava';
import { type Browser, chromium, type Page } from 'playwright-core';
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
const ADDRESS = { name: 'Ada Lovelace', line1: '1 Engine Row', city: 'London', postalCode: 'N1 9GU', country: 'GB' };
const CARD = { cardNumber: TEST_CARD_NUMBER, expMonth: 12, expYear: 2099, cvc: '123' };

async function launch(t: ExecutionContext): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  t.teardown(() => browser.close());
  return browser;
}

/** A page in a fresh context, holding `tokens` (by page) from the start, opened at `url` and live. */
async function livePage(t: ExecutionContext, browser: Browser, url: string, tokens: Record<string, string> = {}): Promise<Page> {
  const context = await browser.newContext();
  await context.addInitScript((kept) => {
    for (const [page, token] of Object.entries(kept)) localStorage.setItem(`emporium:${page}:token`, token);
  }, tokens);
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  page.on('pageerror', (error) => t.fail(`page error: ${error.message}`));
  await page.goto(url);
  await page.getByTestId('connection').filter({ hasText: 'Live' }).waitFor();
  await page.evaluate(() => Object.assign(window, { neverReloaded: true }));
  return page;
}

const neverReloaded = (page: Page) => page.evaluate(() => (window as unknown as { neverReloaded?: boolean }).neverReloaded === true);

/** A guest on `url` buys `quantity` of a product and pays: the guest's connection and the order's id. */
async function buy(t: ExecutionContext, url: string, productId: string, quantity: number, requestId: string) {
  const [token] = await guestTokens(url, 1);
  const store = await connectStore(url, { token: token! });
  t.teardown(() => store.close());
  const { cart } = await store.call('cart:create', {});
  await store.call('cart:addItem', { cartId: cart.id, productId, quantity });
  const { order } = await store.call('cart:checkout', { cartId: cart.id, requestId, shippingAddress: ADDRESS });
  await store.call('order:pay', { orderId: order.id, requestId: `${requestId}-pay`, payment: CARD });
  return { store, orderId: order.id };
}

withBrowser('a storefront product page on node A shows the stock a purchase on node B took, and the inspector on node A streams it', async (t) => {
  t.timeout(180_000);
  const productId = await lab.insertProduct(10, 2500);
  const staff = await lab.staffToken(a.url);
  const browser = await launch(t);
  const shop = await livePage(t, browser, `${a.url}/#/product/${productId}`);
  await shop.getByTestId('stock').filter({ hasText: '10 in stock' }).waitFor();
  const inspector = await livePage(t, browser, `${a.url}/inspector#/`, { inspector: staff });

  const { orderId } = await buy(t, b.url, productId, 3, 'cluster-storefront');
  await shop.getByTestId('stock').filter({ hasText: '7 in stock' }).waitFor();
  // The order's commits on node B appear in node A's inspector stream as they happen.
  await inspector.locator(`[data-testid="stream-item"][data-id="${orderId}"]`).first().waitFor();
  t.true(await neverReloaded(shop), 'the storefront never reloaded');
  t.true(await neverReloaded(inspector), 'the inspector never reloaded');
});

withBrowser('the warehouse board on node A shows a shipment created and moved through node B, live', async (t) => {
  t.timeout(180_000);
  const productId = await lab.insertProduct(10, 1500);
  const staff = await lab.staffToken(a.url);
  // The board keeps its token per page: this one is signed in already.
  const page = await livePage(t, await launch(t), `${a.url}/warehouse#shipments`, { warehouse: staff });

  // A customer on node B buys and pays; the shipment is made by whichever node runs the saga.
  const { store, orderId } = await buy(t, b.url, productId, 1, 'cluster-page');
  const card = (state: string) => page.getByTestId(`column-${state}`).locator(`[data-testid="shipment-card"][data-order-id="${orderId}"]`);
  await card('pending').waitFor();

  // Staff on node B move it; the page on node A follows.
  const warehouse = await connectWarehouse(b.url, { token: staff });
  t.teardown(() => warehouse.close());
  // The card is the shipment; the order learns its id a saga step later.
  let shipmentId: string | null = null;
  for (const deadline = Date.now() + 30_000; !shipmentId && Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 100))) {
    shipmentId = (await store.call('order:get', { orderId })).order.shipmentId;
  }
  if (!shipmentId) throw new Error('the order never learnt its shipment');
  await warehouse.call('shipment:advance', { shipmentId, to: 'picking' });
  await card('picking').waitFor();
  await warehouse.call('shipment:advance', { shipmentId, to: 'packed' });
  await warehouse.call('shipment:advance', { shipmentId, to: 'shipped', carrier: 'Royal Mail', trackingNumber: 'RM123' });
  await card('shipped').waitFor();
  t.regex((await card('shipped').textContent()) ?? '', /RM123/);
  t.true(await neverReloaded(page), 'no reload');
});
