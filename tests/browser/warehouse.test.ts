// The warehouse board at /warehouse in a real chromium against the real app: staff sign in, move a paid order's
// shipment across the columns while a second staff page watches it move live, restock from the stock table, create a
// drop and watch buyers sell it out, edit the catalog; a customer is turned away. Each section passes axe-core and
// is photographed (test-artifacts/screenshots/warehouse-*.png).
import type { ExecutionContext } from 'ava';
import type { Browser, Locator, Page } from 'playwright-core';
import { connectStore, connectWarehouse, type ProductView, type StoreConnection } from '../../src/client/index.ts';
import { createProduct, getJson, registerCustomer, staffToken, TEST_CARD, type TestApp } from '../helpers/app.ts';
import { accessible, appWithPages, browserFor, pageIn, screenshot, test, until } from '../helpers/browser.ts';

const ADDRESS = { name: 'Ada Lovelace', line1: '12 Analytical Way', city: 'Berlin', postalCode: '10115', country: 'DE' } as const;
/** Generous but bounded: two shared cores run chromium and the app side by side. */
const WAIT = 30_000;

let unique = 0;
const label = (name: string) => `${name} ${process.pid}-${++unique}`;

/** The app with its pages; the browser's origin (127.0.0.1:<port>) may open sockets (CORS_ORIGINS defaults to localhost:3000). */
function boardApp(t: ExecutionContext, config: Parameters<typeof appWithPages>[1] = {}): Promise<TestApp> {
  return appWithPages(t, { ...config, config: { corsOrigins: ['*'], ...config.config } });
}

async function staffAccount(app: TestApp, name = 'Grace Hopper') {
  const email = `staff-${process.pid}-${++unique}@example.com`;
  const password = 'warehouse-pass-1';
  await app.app.services.auth.upsertAccount({ email, password, name, role: 'staff' });
  return { email, password, name };
}

async function openPage(t: ExecutionContext, browser: Browser, viewport?: { width: number; height: number }): Promise<Page> {
  const { page } = await pageIn(t, browser, viewport ? { viewport } : {});
  page.setDefaultTimeout(WAIT);
  return page;
}

/** Signs in through the form and waits for the board. */
async function signIn(page: Page, url: string, account: { email: string; password: string }, section = 'shipments'): Promise<void> {
  await page.goto(`${url}/warehouse#${section}`);
  await page.getByLabel('Email').fill(account.email);
  await page.getByLabel('Password').fill(account.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('connection').filter({ hasText: 'Live' }).waitFor();
}

async function openSection(page: Page, section: 'Shipments' | 'Stock' | 'Offers' | 'Catalog'): Promise<void> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: section, exact: true }).click();
  await page.getByRole('heading', { level: 1, name: section }).waitFor();
}

/** A connection of a new customer through the SDK, closed when the test ends. */
async function customer(t: ExecutionContext, app: TestApp): Promise<StoreConnection> {
  const { token } = await registerCustomer(app.url);
  const store = await connectStore(app.url, { token });
  t.teardown(() => store.close());
  return store;
}

/** A customer's order of `quantity` × `productId`, checked out (units reserved); paid unless told otherwise. */
async function order(t: ExecutionContext, app: TestApp, productId: string, options: { quantity?: number; pay?: boolean } = {}) {
  const store = await customer(t, app);
  const { cart } = await store.call('cart:create', {});
  await store.call('cart:addItem', { cartId: cart.id, productId, quantity: options.quantity ?? 1 });
  const { order: placed } = await store.call('cart:checkout', { cartId: cart.id, requestId: `checkout-${++unique}`, shippingAddress: ADDRESS });
  if (options.pay !== false) await store.call('order:pay', { orderId: placed.id, requestId: `pay-${++unique}`, payment: TEST_CARD });
  return { store, orderId: placed.id };
}

/** The card of an order's shipment, in one column (or any). */
function card(page: Page, orderId: string, state?: string): Locator {
  const scope = state ? page.getByTestId(`column-${state}`) : page;
  return scope.locator(`[data-testid="shipment-card"][data-order-id="${orderId}"]`);
}

/** Clicks an action of the card (its button names the order too: "Start picking order …abc123"). */
async function act(page: Page, orderId: string, state: string, action: string): Promise<void> {
  await card(page, orderId, state).locator(`button[data-action="${action}"]`).click();
}

/** The text of an element, as in the DOM (visually hidden parts included). */
const text = async (locator: Locator) => (await locator.textContent()) ?? '';

const liveRegion = (page: Page) => page.locator('.visually-hidden[role="status"]');

test.serial(
  'staff move a paid order through picking, packed, shipped and delivered; a second staff page sees every move live; exception, resume and cancel',
  async (t) => {
    t.timeout(240_000);
    const app = await boardApp(t);
    const staff = await staffAccount(app);
    const product = await createProduct(app.app, { onHand: 20, price: 2_500, name: label('Board Lamp') });
    const browser = await browserFor(t);
    const mover = await openPage(t, browser);
    const watcher = await openPage(t, browser);
    await signIn(mover, app.url, staff);
    await signIn(watcher, app.url, staff);
    // Marks the watcher's document: a reload would lose it.
    await watcher.evaluate(() => Object.assign(window, { boardNeverReloaded: true }));

    // A customer pays after both pages opened: the card arrives on both by itself.
    const { orderId, store } = await order(t, app, product.id);
    for (const page of [mover, watcher]) await card(page, orderId, 'pending').waitFor();
    const pending = card(watcher, orderId, 'pending');
    t.regex(await text(pending), new RegExp(`1 × ${product.name}`));
    t.regex(await text(pending.getByTestId('destination')), /To Berlin, DE/);
    await liveRegion(watcher).filter({ hasText: 'New shipment' }).waitFor({ state: 'attached' });

    await act(mover, orderId, 'pending', 'picking');
    await card(watcher, orderId, 'picking').waitFor();
    t.is(await card(watcher, orderId, 'pending').count(), 0, 'the card left the pending column');
    await liveRegion(watcher).filter({ hasText: 'moved from Pending to Picking' }).waitFor({ state: 'attached' });

    // An exception with its reason, seen on the other page; then resumed where it was.
    await act(mover, orderId, 'picking', 'exception');
    await card(mover, orderId, 'picking').getByLabel('What went wrong?').fill('box damaged in aisle 4');
    await card(mover, orderId, 'picking').getByRole('button', { name: 'Report exception' }).click();
    await card(watcher, orderId, 'exception').waitFor();
    t.regex(await text(card(watcher, orderId, 'exception').getByTestId('exception')), /while Picking.*box damaged in aisle 4/);
    await card(mover, orderId, 'exception')
      .getByRole('button', { name: /Resume \(back to Picking\)/ })
      .click();
    await card(watcher, orderId, 'picking').waitFor();

    await act(mover, orderId, 'picking', 'packed');
    await card(watcher, orderId, 'packed').waitFor();

    // Shipping asks for the carrier and the tracking number.
    await act(mover, orderId, 'packed', 'shipped');
    const shipForm = card(mover, orderId, 'packed').getByRole('form', { name: 'Ship' });
    await shipForm.getByLabel('Carrier').fill('DHL');
    await shipForm.getByLabel('Tracking number').fill('JD0146-00006281');
    await shipForm.getByRole('button', { name: 'Ship', exact: true }).click();
    await card(watcher, orderId, 'shipped').getByTestId('tracking').filter({ hasText: 'DHL · JD0146-00006281' }).waitFor();

    await act(mover, orderId, 'shipped', 'inTransit');
    await card(watcher, orderId, 'inTransit').waitFor();
    await act(mover, orderId, 'inTransit', 'delivered');
    await card(watcher, orderId, 'delivered').waitFor();
    await liveRegion(watcher).filter({ hasText: 'moved from In transit to Delivered' }).waitFor({ state: 'attached' });
    t.is(await card(watcher, orderId).count(), 1, 'one card, in one column');

    // The customer's order followed: delivered, with the carrier and tracking number staff typed.
    await until('the order delivered', async () => (await store.call('order:get', { orderId })).order.state === 'delivered');
    t.like((await store.call('order:get', { orderId })).order, { state: 'delivered', carrier: 'DHL', trackingNumber: 'JD0146-00006281' });

    // Cancelling before shipping asks first; the watcher sees it go to Cancelled.
    const second = await order(t, app, product.id);
    await card(mover, second.orderId, 'pending').waitFor();
    await act(mover, second.orderId, 'pending', 'cancelled');
    await card(mover, second.orderId, 'pending').getByRole('button', { name: 'Yes, cancel shipment' }).click();
    await card(watcher, second.orderId, 'cancelled').waitFor();
    await until('the second order cancelled', async () => (await second.store.call('order:get', { orderId: second.orderId })).order.state === 'cancelled');

    t.true(await watcher.evaluate(() => (window as unknown as { boardNeverReloaded?: boolean }).boardNeverReloaded === true), 'the watcher never reloaded');
    await accessible(t, watcher, 'the shipments board');
    await screenshot(watcher, 'warehouse-shipments');
  },
);

test.serial('the stock table highlights low stock, restocks, and follows stock changes live', async (t) => {
  t.timeout(240_000);
  const app = await boardApp(t);
  const staff = await staffAccount(app);
  const product = await createProduct(app.app, { onHand: 3, price: 1_500, name: label('Scarce Kettle') });
  const browser = await browserFor(t);
  const page = await openPage(t, browser);
  await signIn(page, app.url, staff, 'stock');
  await page.getByRole('heading', { level: 1, name: 'Stock' }).waitFor();

  await page.getByLabel('Find products').fill(product.name);
  const row = page.locator(`[data-testid="stock-row"][data-product-id="${product.id}"]`);
  await row.waitFor();
  await page.getByTestId('stock-row').nth(1).waitFor({ state: 'detached' });
  await row.getByTestId('on-hand').filter({ hasText: '3' }).waitFor();
  t.is(await text(row.getByTestId('available')), '3');
  t.is(await row.getAttribute('data-low'), 'true', 'three left is low stock');
  t.is(await text(row.getByTestId('stock-status')), 'Low stock');
  t.regex((await row.getAttribute('class')) ?? '', /wh-low/);
  await accessible(t, page, 'the stock table');
  await screenshot(page, 'warehouse-stock');

  // Restock from the row.
  await page.getByLabel(`Units to add to ${product.name}`).fill('10');
  await row.getByRole('button', { name: `Restock ${product.name}` }).click();
  await row.getByTestId('available').filter({ hasText: /^13$/ }).waitFor();
  t.is(await text(row.getByTestId('on-hand')), '13');
  t.is(await row.getAttribute('data-low'), 'false');
  t.is(await text(row.getByTestId('stock-status')), 'in stock');
  const { body } = await getJson<ProductView>(`${app.url}/api/products/${product.id}`);
  t.is(body.available, 13, 'the restock reached the store');

  // A customer's checkout elsewhere reserves 9: the row follows by itself and is low again.
  await order(t, app, product.id, { quantity: 9, pay: false });
  await row.getByTestId('available').filter({ hasText: /^4$/ }).waitFor();
  t.is(await text(row.getByTestId('on-hand')), '13', 'a reservation does not move on-hand units');
  t.is(await row.getAttribute('data-low'), 'true');
  await liveRegion(page).filter({ hasText: 'is low on stock: 4 available' }).waitFor({ state: 'attached' });

  // Another staff member restocks through the SDK: the row follows again.
  const other = await connectWarehouse(app.url, { token: await staffToken(app.app) });
  t.teardown(() => other.close());
  await other.call('stock:restock', { productId: product.id, quantity: 100 });
  await row.getByTestId('available').filter({ hasText: /^104$/ }).waitFor();
  t.is(await text(row.getByTestId('on-hand')), '113');
});

test.serial(
  'staff create a drop on the Offers section; buyers sell it out and the page counts down to sold out live; a scheduled sale is cancelled',
  async (t) => {
    t.timeout(240_000);
    const app = await boardApp(t, { config: { sweepIntervalMs: 100 } });
    const staff = await staffAccount(app);
    const product = await createProduct(app.app, { onHand: 50, price: 5_000, name: label('Drop Speaker') });
    const browser = await browserFor(t);
    const page = await openPage(t, browser);
    await signIn(page, app.url, staff, 'offers');
    await page.getByRole('heading', { level: 1, name: 'Offers' }).waitFor();

    const form = page.getByTestId('offer-form');
    await form.getByLabel(/Limited drop/).check();
    await form.getByLabel('Name').fill('Midnight speaker drop');
    await form.getByLabel('Find a product').fill(product.name);
    await form.locator(`#drop-product-select option[value="${product.id}"]`).waitFor({ state: 'attached' });
    await form.getByLabel('Product', { exact: true }).selectOption(product.id);
    await form.getByLabel(/^Drop price/).fill('19.99');
    await form.getByLabel('Units in the drop').fill('3');
    await form.getByLabel('Per customer, at most').fill('1');
    await form.getByLabel('Start as soon as it is created').check();
    await form.getByRole('button', { name: 'Create drop' }).click();
    await page.getByTestId('offer-created').filter({ hasText: 'Created “Midnight speaker drop”' }).waitFor();

    const drop = page.getByTestId('offer-card').filter({ hasText: 'Midnight speaker drop' });
    await page.getByTestId('offers-live').getByTestId('offer-card').filter({ hasText: 'Midnight speaker drop' }).waitFor();
    t.is(await drop.getAttribute('data-state'), 'live');
    t.is(await text(drop.getByTestId('offer-remaining')), '3');
    t.is(await text(drop.getByTestId('offer-quota')), '3');
    t.regex(await text(drop), /€19\.99/);
    const offerId = (await drop.getAttribute('data-offer-id'))!;

    // Buyers claim the units at checkout: the counter follows each claim.
    const buy = async () => {
      const store = await customer(t, app);
      const { cart } = await store.call('cart:create', {});
      const added = await store.call('cart:addItem', { cartId: cart.id, productId: product.id, quantity: 1 });
      t.like(added.cart.items[0], { unitPrice: 1_999, offerId });
      await store.call('cart:checkout', { cartId: cart.id, requestId: `drop-${++unique}`, shippingAddress: ADDRESS });
    };
    await buy();
    await drop.getByTestId('offer-remaining').filter({ hasText: /^2$/ }).waitFor();
    await Promise.all([buy(), buy()]);
    await drop.getByTestId('offer-remaining').filter({ hasText: /^0$/ }).waitFor();
    await drop.getByTestId('sold-out').waitFor();
    await until('the card says soldOut', async () => (await drop.getAttribute('data-state')) === 'soldOut');
    await liveRegion(page).filter({ hasText: 'Midnight speaker drop sold out' }).waitFor({ state: 'attached' });
    await accessible(t, page, 'the offers section');
    await screenshot(page, 'warehouse-offers');

    // A festival sale scheduled for later (the form's default start), on a whole category; then cancelled.
    await form.getByLabel(/Festival sale/).check();
    await form.getByLabel('Name').fill('Autumn festival');
    await form.getByLabel('Percent off (1–100)').fill('15');
    await form.getByRole('checkbox', { name: 'Test', exact: true }).check();
    await form.getByRole('button', { name: 'Create sale' }).click();
    const sale = page.getByTestId('offers-scheduled').getByTestId('offer-card').filter({ hasText: 'Autumn festival' });
    await sale.waitFor();
    t.regex(await text(sale), /15 % off on all of Test/);
    t.regex(await text(sale), /Starts .* \(in /);
    await sale.getByRole('button', { name: 'Cancel… Autumn festival' }).click();
    await sale.getByLabel('Reason (optional)').fill('planned by mistake');
    // Enter in the reason submits the form ("Cancel offer"), by keyboard as a person would.
    await sale.getByLabel('Reason (optional)').press('Enter');
    const cancelled = page.getByTestId('offers-past').getByTestId('offer-card').filter({ hasText: 'Autumn festival' });
    await cancelled.waitFor();
    t.is(await cancelled.getAttribute('data-state'), 'cancelled');
    t.regex(await text(cancelled), /planned by mistake/);
  },
);

test.serial('staff create a category and a product, edit it (a change made elsewhere meanwhile is caught), and archive it', async (t) => {
  t.timeout(240_000);
  const app = await boardApp(t);
  const staff = await staffAccount(app);
  const browser = await browserFor(t);
  const page = await openPage(t, browser);
  await signIn(page, app.url, staff, 'catalog');
  await page.getByRole('heading', { level: 1, name: 'Catalog' }).waitFor();

  const categoryForm = page.getByTestId('category-editor');
  await categoryForm.getByLabel('Slug').fill('garden-tools');
  await categoryForm.getByLabel('Name', { exact: true }).fill('Garden tools');
  await categoryForm.getByLabel('Parent').selectOption('outdoor');
  await categoryForm.getByRole('button', { name: 'Create category' }).click();
  await page.getByTestId('category-saved').filter({ hasText: 'Created the category Garden tools' }).waitFor();
  await page.locator('[data-testid="category-row"][data-category-id="cat_garden-tools"]').filter({ hasText: 'Outdoor › Garden tools' }).waitFor();

  const editor = page.getByTestId('product-editor');
  await editor.getByLabel('SKU').fill('GT-SHEARS');
  await editor.getByLabel('Name', { exact: true }).fill('Pruning Shears');
  await editor.getByLabel('Description').fill('Bypass blades for live wood.');
  await editor.getByLabel('Price').fill('24.50');
  await editor.getByLabel('Category').selectOption('cat_garden-tools');
  await editor.getByLabel(/^Attributes/).fill('blade_cm: 20\nforged: true\norigin: Solingen');
  await editor.getByRole('button', { name: 'Create product' }).click();
  await page.getByTestId('product-saved').filter({ hasText: 'Created Pruning Shears' }).waitFor();
  const found = await getJson<{ items: ProductView[] }>(`${app.url}/api/products?q=Pruning`);
  const shears = found.body.items.find((p) => p.sku === 'GT-SHEARS')!;
  t.like(shears, { name: 'Pruning Shears', price: 2_450, currency: 'EUR', categoryId: 'cat_garden-tools', available: 0 });
  t.deepEqual(shears.attributes, { blade_cm: 20, forged: true, origin: 'Solingen' });
  await accessible(t, page, 'the catalog section');
  await screenshot(page, 'warehouse-catalog');

  // The editor keeps the product: a new price is saved with the version it was read at.
  await editor.getByRole('heading', { name: 'Edit Pruning Shears' }).waitFor();
  await editor.getByLabel('Price').fill('22.00');
  await editor.getByRole('button', { name: 'Save changes' }).click();
  await page.getByTestId('product-saved').filter({ hasText: 'Saved Pruning Shears' }).waitFor();
  t.is((await getJson<ProductView>(`${app.url}/api/products/${shears.id}`)).body.price, 2_200);

  // Stock moves do not get in the way of a save; another editor's change does, and is shown.
  const other = await connectWarehouse(app.url, { token: await staffToken(app.app) });
  t.teardown(() => other.close());
  await other.call('stock:restock', { productId: shears.id, quantity: 5 });
  await other.call('catalog:upsertProduct', { sku: 'GT-SHEARS', name: 'Pruning Shears Pro', price: 2_200, category: 'garden-tools' });
  await editor.getByRole('alert').filter({ hasText: 'Someone else changed this product' }).waitFor();
  await editor.getByLabel('Description').fill('Overwrites the other change?');
  await editor.getByRole('button', { name: 'Save changes' }).click();
  await editor
    .getByRole('alert')
    .filter({ hasText: /CONFLICT/ })
    .waitFor();
  t.is((await getJson<ProductView>(`${app.url}/api/products/${shears.id}`)).body.name, 'Pruning Shears Pro', 'the other change stands');
  await editor.getByRole('button', { name: 'Load the current version' }).click();
  t.is(await editor.getByLabel('Name', { exact: true }).inputValue(), 'Pruning Shears Pro');
  await editor.getByLabel('Description').fill('Bypass blades, now with a lock.');
  await editor.getByRole('button', { name: 'Save changes' }).click();
  await page.getByTestId('product-saved').filter({ hasText: 'Saved Pruning Shears Pro' }).waitFor();

  // Archive: it leaves the store's listing.
  await editor.getByRole('button', { name: 'Archive…' }).click();
  await editor.getByRole('button', { name: 'Yes, archive' }).click();
  await editor.getByTestId('archived-note').waitFor();
  t.true((await getJson<ProductView>(`${app.url}/api/products/${shears.id}`)).body.archived);
  t.false((await getJson<{ items: ProductView[] }>(`${app.url}/api/products?q=Pruning`)).body.items.some((p) => p.id === shears.id));
});

test.serial('a customer cannot use the board and is told why; a wrong password is said plainly; signing in works by keyboard alone', async (t) => {
  t.timeout(240_000);
  const app = await boardApp(t);
  const shopper = await registerCustomer(app.url, 'Charles Babbage');
  const browser = await browserFor(t);
  const page = await openPage(t, browser);
  await page.goto(`${app.url}/warehouse`);
  await page.getByRole('heading', { level: 1, name: 'Warehouse sign-in' }).waitFor();
  await accessible(t, page, 'the sign-in form');

  // Keyboard only: the skip link, then the fields in order, Enter submits.
  await page.keyboard.press('Tab');
  t.is(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
  await page.getByLabel('Email').focus();
  await page.keyboard.type(shopper.email);
  await page.keyboard.press('Tab');
  await page.keyboard.type('not the password');
  await page.keyboard.press('Enter');
  await page.getByTestId('signin-error').filter({ hasText: 'The email or the password is wrong.' }).waitFor();

  await page.getByLabel('Password').fill(shopper.password);
  await page.keyboard.press('Enter');
  await page.getByTestId('signin-error').filter({ hasText: 'The warehouse is for staff only' }).waitFor();
  t.regex(await text(page.getByTestId('signin-error')), /Charles Babbage is a customer account/);
  t.is(await page.getByTestId('tab-shipments').count(), 0, 'no board for a customer');
  t.is(await page.evaluate(() => localStorage.getItem('emporium:warehouse:token')), null, 'no token kept');
  await screenshot(page, 'warehouse-signin-refused');

  // Staff get in by keyboard too, and the token survives a reload; signing out ends the session.
  const staff = await staffAccount(app);
  await page.getByLabel('Email').fill(staff.email);
  await page.getByLabel('Password').fill(staff.password);
  await page.keyboard.press('Enter');
  await page.getByTestId('connection').filter({ hasText: 'Live' }).waitFor();
  await page.reload();
  await page.getByTestId('connection').filter({ hasText: 'Live' }).waitFor();
  const token = await page.evaluate(() => localStorage.getItem('emporium:warehouse:token'));
  t.truthy(token);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByTestId('signin-notice').filter({ hasText: 'You have signed out.' }).waitFor();
  await until('the token revoked', async () => (await getJson(`${app.url}/api/me`, token!)).status === 401);
});

test.serial('on a phone (390×844) every section fits the screen and stays usable', async (t) => {
  t.timeout(240_000);
  const app = await boardApp(t);
  const staff = await staffAccount(app);
  const product = await createProduct(app.app, { onHand: 4, price: 990, name: label('Phone Mug') });
  await order(t, app, product.id);
  const browser = await browserFor(t);
  const page = await openPage(t, browser, { width: 390, height: 844 });
  await signIn(page, app.url, staff);
  await page.getByTestId('shipment-card').first().waitFor();
  for (const section of ['Shipments', 'Stock', 'Offers', 'Catalog'] as const) {
    await openSection(page, section);
    if (section === 'Stock') await page.getByTestId('stock-row').first().waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    t.true(overflow <= 0, `${section} fits 390 px (overflows by ${overflow} px)`);
    await accessible(t, page, `${section} on a phone`);
    await screenshot(page, `warehouse-phone-${section.toLowerCase()}`);
  }
  // The heading of a newly opened section takes the focus, for screen readers and keyboards.
  t.is(await page.evaluate(() => document.activeElement?.textContent), 'Catalog');
});
