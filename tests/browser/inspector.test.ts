// The actor inspector at /inspector in a real chromium against the real app: an order made through the SDK is found
// by its id, its journal is shown entry by entry, time travel to version 1 shows the order's first state and context
// exactly as `inspect:replay` rebuilds them, the snapshot check matches, and the live stream and the actor page
// follow a shipment as staff advance it. A customer is turned away with nothing shown. Both pages pass axe-core and
// are photographed (test-artifacts/screenshots/inspector-*.png).
import type { ExecutionContext } from 'ava';
import type { Browser, Page } from 'playwright-core';
import { connectStore, connectWarehouse, type WarehouseConnection } from '../../src/client/index.ts';
import { createProduct, registerCustomer, staffToken, TEST_CARD, type TestApp } from '../helpers/app.ts';
import { accessible, appWithPages, browserFor, pageIn, screenshot, test, until } from '../helpers/browser.ts';

const ADDRESS = { name: 'Ada Lovelace', line1: '12 Analytical Way', city: 'Berlin', postalCode: '10115', country: 'DE' } as const;
/** Generous but bounded: two shared cores run chromium and the app side by side (and other browser tests). */
const WAIT = 30_000;

let unique = 0;

/** The app with its pages; the browser's origin (127.0.0.1:<port>) may open sockets. */
function inspectorApp(t: ExecutionContext): Promise<TestApp> {
  return appWithPages(t, { config: { corsOrigins: ['*'] } });
}

async function staffAccount(app: TestApp, role: 'staff' | 'admin' = 'staff') {
  const email = `inspector-${role}-${process.pid}-${++unique}@example.com`;
  const password = 'inspector-pass-1';
  await app.app.services.auth.upsertAccount({ email, password, name: `Inspector ${role}`, role });
  return { email, password };
}

async function openPage(t: ExecutionContext, browser: Browser, viewport?: { width: number; height: number }): Promise<Page> {
  const { page } = await pageIn(t, browser, viewport ? { viewport } : {});
  page.setDefaultTimeout(WAIT);
  return page;
}

async function fillSignIn(page: Page, url: string, account: { email: string; password: string }): Promise<void> {
  await page.goto(`${url}/inspector`);
  await page.getByLabel('Email').fill(account.email);
  await page.getByLabel('Password').fill(account.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** A customer's paid order, through the SDK; returns its id. */
async function paidOrder(t: ExecutionContext, app: TestApp): Promise<string> {
  const product = await createProduct(app.app, { onHand: 10, price: 2_500, name: `Inspector Lamp ${process.pid}-${++unique}` });
  const { token } = await registerCustomer(app.url);
  const store = await connectStore(app.url, { token });
  t.teardown(() => store.close());
  const { cart } = await store.call('cart:create', {});
  await store.call('cart:addItem', { cartId: cart.id, productId: product.id, quantity: 2 });
  const { order } = await store.call('cart:checkout', { cartId: cart.id, requestId: `checkout-${++unique}`, shippingAddress: ADDRESS });
  await store.call('order:pay', { orderId: order.id, requestId: `pay-${++unique}`, payment: TEST_CARD });
  return order.id;
}

/** The shipment of an order, once the saga created it. */
async function shipmentOf(warehouse: WarehouseConnection, orderId: string): Promise<string> {
  let id: string | undefined;
  await until('the shipment of the order', async () => {
    id = (await warehouse.call('shipments:list', { limit: 500 })).shipments.find((s) => s.orderId === orderId)?.id;
    return id !== undefined;
  });
  return id!;
}

/** How many journal entries the database holds for an actor. */
async function journalRows(app: TestApp, id: string): Promise<number> {
  const [row] = (await app.app.db.knex('actor_journal').where({ actor_id: id }).count({ n: '*' })) as Array<{ n: number | string }>;
  return Number(row?.n ?? 0);
}

test.serial('staff find an order, read its whole journal, travel to version 1, see the check match, and follow a shipment live', async (t) => {
  t.timeout(240_000);
  const app = await inspectorApp(t);
  const staff = await staffAccount(app);
  const warehouse = await connectWarehouse(app.url, { token: await staffToken(app.app) });
  t.teardown(() => warehouse.close());

  const orderId = await paidOrder(t, app);
  const shipmentId = await shipmentOf(warehouse, orderId);
  await warehouse.call('shipment:advance', { shipmentId, to: 'picking' });

  const browser = await browserFor(t);
  const page = await openPage(t, browser);
  await fillSignIn(page, app.url, staff);
  await page.getByTestId('connection').filter({ hasText: 'Live' }).waitFor();
  await page.getByRole('heading', { level: 1, name: 'Actors' }).waitFor();
  // The counts per kind and state arrived with the subscription.
  const orderCounts = page.locator('[data-testid="kind-counts"][data-kind="order"]');
  await orderCounts.waitFor();
  t.truthy(await orderCounts.locator('caption').textContent());

  // Search by the order's id prefix (its whole id is a prefix of itself), filtered to orders.
  await page.getByLabel('Id prefix or owner id').fill(orderId.slice(0, -3));
  await page.getByLabel('Kind', { exact: true }).selectOption('order');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  const row = page.locator(`[data-testid="result-row"][data-id="${orderId}"]`);
  await row.waitFor();
  await page
    .getByTestId('search-status')
    .filter({ hasText: /^1 actor on page 1/ })
    .waitFor();
  await accessible(t, page, 'the inspector overview');
  await screenshot(page, 'inspector-overview');

  // Open it.
  await row.getByRole('link').click();
  await page.waitForURL(/#\/actor\//);
  await page.getByRole('heading', { level: 1, name: `order ${orderId}` }).waitFor();
  t.is(await page.getByTestId('fact-kind').textContent(), 'order');

  // The timeline shows every journal entry: as many rows as the database holds (the page follows the order live).
  const timelineRows = page.getByTestId('timeline-row');
  await until('a timeline row per journal entry', async () => {
    const [rows, db] = [await timelineRows.count(), await journalRows(app, orderId)];
    return rows > 0 && rows === db && (await page.getByTestId('timeline').getAttribute('data-length')) === String(db);
  });
  const entries = await journalRows(app, orderId);
  t.true(entries >= 3, `an order that was created and paid has several journal entries (${entries})`);
  const inspected = await warehouse.read('inspect:actor', { id: orderId });
  t.is(inspected.journalLength, entries, 'journalLength is the number of journal rows');
  t.deepEqual(
    await timelineRows.evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-version')))),
    Array.from({ length: entries }, (_, i) => entries - i),
    'every version, newest first',
  );
  const first = page.locator('[data-testid="timeline-row"][data-version="1"]');
  t.regex((await first.textContent()) ?? '', /xstate\.init/, 'version 1 is the creation');
  t.is(await first.getByRole('button').textContent(), 'v1: travel to version 1');

  // The snapshot check: the replay matches the stored snapshot, said quietly (no alert).
  const check = page.getByTestId('check');
  t.is(await check.getAttribute('data-matches'), 'true');
  t.regex((await check.textContent()) ?? '', /replay matches the stored snapshot/);

  // The machine is drawn with the current state marked.
  const current = page.locator('[data-testid="machine-state"][aria-current="true"]');
  t.is(await current.count(), 1);
  t.is(await current.getAttribute('data-state'), inspected.machine.current);

  // Time travel by keyboard: the slider to its first stop is version 1, the order's first state and context…
  const slider = page.getByLabel('Version', { exact: true });
  await slider.focus();
  await page.keyboard.press('Home');
  const travel = page.locator('[data-testid="travel-result"][data-version="1"]');
  await travel.waitFor();
  t.is(await page.getByTestId('travel-state').textContent(), 'awaitingPayment');
  // …exactly what inspect:replay rebuilds for version 1 through the SDK.
  const replay = await warehouse.read('inspect:replay', { id: orderId, version: 1 });
  t.is(replay.replayed.state, 'awaitingPayment');
  t.deepEqual(JSON.parse((await page.getByTestId('travel-context').textContent()) ?? 'null'), JSON.parse(JSON.stringify(replay.replayed.context)));
  t.regex((await page.getByTestId('travel-version').textContent()) ?? '', /^v1 of \d+$/);
  // A timeline row's button travels too.
  await page
    .locator(`[data-testid="timeline-row"][data-version="${entries}"]`)
    .getByRole('button', { name: /travel to version/ })
    .click();
  await page.locator(`[data-testid="travel-result"][data-version="${entries}"]`).waitFor();
  t.is(await page.getByTestId('travel-state').textContent(), (await warehouse.read('inspect:replay', { id: orderId, version: entries })).replayed.state);

  // The order's outbox rows are listed with their deliveries.
  await page.getByTestId('outbox-row').first().waitFor();
  t.true((await page.getByTestId('outbox-row').count()) > 0);
  await accessible(t, page, 'the inspector actor page');
  await screenshot(page, 'inspector-actor');

  // Back to the overview: the live stream shows the shipment's next step as it commits.
  await page.getByRole('link', { name: '← All actors' }).click();
  await page.getByRole('heading', { level: 1, name: 'Actors' }).waitFor();
  await warehouse.call('shipment:advance', { shipmentId, to: 'packed' });
  const streamed = page.locator(`[data-testid="stream-item"][data-id="${shipmentId}"][data-state="packed"]`);
  await streamed.waitFor();
  t.is(await page.getByTestId('stream-item').first().getAttribute('data-id'), shipmentId, 'newest first');

  // The shipment's own page follows it live: advancing it again moves its state without a reload.
  await streamed.getByRole('link').click();
  await page
    .getByTestId('fact-state')
    .filter({ hasText: /^packed$/ })
    .waitFor();
  await page.evaluate(() => Object.assign(window, { inspectorNeverReloaded: true }));
  await warehouse.call('shipment:advance', { shipmentId, to: 'shipped', carrier: 'DHL', trackingNumber: 'JD0146-1' });
  await page
    .getByTestId('fact-state')
    .filter({ hasText: /^shipped$/ })
    .waitFor();
  await page.locator('[data-testid="machine-state"][aria-current="true"][data-state="shipped"]').waitFor();
  t.true(await page.evaluate(() => (window as unknown as { inspectorNeverReloaded?: boolean }).inspectorNeverReloaded === true));

  // Readable on a phone.
  await page.setViewportSize({ width: 390, height: 844 });
  t.false(await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1), 'no sideways scrolling on a phone');
  await screenshot(page, 'inspector-actor-phone');
});

test.serial('a customer cannot open the inspector, by login or with a token: a clear message, and no data', async (t) => {
  t.timeout(120_000);
  const app = await inspectorApp(t);
  const customer = await registerCustomer(app.url, 'Curious Customer');
  const browser = await browserFor(t);
  const page = await openPage(t, browser);

  await fillSignIn(page, app.url, customer);
  await page.getByTestId('signin-error').getByRole('alert').filter({ hasText: 'for staff and admins only' }).waitFor();
  t.regex((await page.getByTestId('signin-error').textContent()) ?? '', /customer account/);
  t.is(await page.getByTestId('kind-counts').count(), 0);
  t.is(await page.getByTestId('connection').count(), 0);
  t.is(await page.evaluate(() => localStorage.getItem('emporium:inspector:token')), null, 'the refused token is not kept');

  // A customer's token put where the page keeps its own, and an actor's address: refused all the same.
  await page.evaluate((token) => localStorage.setItem('emporium:inspector:token', token), customer.token);
  await page.goto(`${app.url}/inspector#/actor/order_anything`);
  await page.reload(); // the same document with another hash: load it afresh, as a new visit would
  await page.getByTestId('signin-notice').filter({ hasText: 'for staff and admins only' }).waitFor();
  t.is(await page.getByTestId('actor-page').count(), 0);
  t.is(await page.getByTestId('kind-counts').count(), 0);
  t.is(await page.evaluate(() => localStorage.getItem('emporium:inspector:token')), null);
  await accessible(t, page, 'the inspector sign-in');
});

test.serial('a parked delivery: staff see Retry disabled, an admin retries it from the actor page', async (t) => {
  t.timeout(180_000);
  const app = await inspectorApp(t);
  const staff = await staffAccount(app, 'staff');
  const admin = await staffAccount(app, 'admin');
  const orderId = await paidOrder(t, app);
  // A delivery that failed for good: parked, as the relay leaves it after its last attempt.
  let seq = 0;
  let flow = '';
  await until('a settled delivery of the order', async () => {
    const row = (await app.app.db.knex('outbox_deliveries').where({ actor_id: orderId, state: 'done' }).orderBy('seq').first()) as
      | { seq: number | string; flow: string }
      | undefined;
    if (!row) return false;
    seq = Number(row.seq);
    flow = row.flow;
    await app.app.db.knex('outbox_deliveries').where({ seq: row.seq, flow: row.flow }).update({ state: 'parked', attempts: 8, last_error: 'Error: smtp down' });
    return true;
  });
  const parked = (page: Page) =>
    page.locator(`[data-testid="outbox-row"][data-seq="${seq}"] [data-testid="delivery"][data-flow="${flow}"][data-state="parked"]`);

  const browser = await browserFor(t);
  const staffPage = await openPage(t, browser);
  await fillSignIn(staffPage, app.url, staff);
  await staffPage.getByTestId('connection').filter({ hasText: 'Live' }).waitFor();
  await staffPage.goto(`${app.url}/inspector#/actor/${orderId}`);
  await staffPage.reload();
  await parked(staffPage).waitFor();
  t.regex((await parked(staffPage).textContent()) ?? '', /8 failed attempts.*smtp down/);
  t.true(await parked(staffPage).getByRole('button').isDisabled(), 'staff cannot retry');
  await staffPage.getByText('Only admins can retry a parked delivery.').waitFor();

  const adminPage = await openPage(t, browser);
  await fillSignIn(adminPage, app.url, admin);
  await adminPage.getByTestId('connection').filter({ hasText: 'Live' }).waitFor();
  await adminPage.goto(`${app.url}/inspector#/actor/${orderId}`);
  await adminPage.reload();
  await parked(adminPage)
    .getByRole('button', { name: /^Retry / })
    .click();
  await adminPage.getByRole('status').filter({ hasText: 'is back in line' }).waitFor();
  await parked(adminPage).waitFor({ state: 'detached' });
  const state = (await app.app.db.knex('outbox_deliveries').where({ seq, flow }).first()) as { state: string };
  t.not(state.state, 'parked');
});
