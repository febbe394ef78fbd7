// Back in stock (`stock:notify`): customers and guests subscribe to a sold-out product; a restock from 0 notifies
// each subscription exactly once — a personal `stock:backInStock` push to the subscriber's own sockets and, for
// customers, a queued e-mail — and a later restock notifies nobody again. A notice missed by the in-process trigger
// (stock raised behind the application's back, as after a crash between the commit and the claim) is sent by the
// sweep. Answers: subscribed, IN_STOCK, NOT_FOUND, VALIDATION, and unnotify.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import type { Socket } from 'socket.io-client';
import { appForTest, call, createProduct, postJson, nextEvent, ok, record, registerCustomer, socketForTest, staffToken, type TestApp } from '../helpers/app.ts';

const STORE_URL = 'https://shop.example';

interface MailRow {
  event_seq: number;
  template: string;
  customer_id: string | null;
  recipient: string | null;
  subject: string;
  state: string;
}

const backInStockMails = async (app: TestApp) => (await app.app.db.knex('mail_log').where({ template: 'back-in-stock' }).orderBy('event_seq')) as MailRow[];

const subscriptions = (app: TestApp, productId: string) =>
  app.app.db.knex('stock_notifications').where({ product_id: productId }).orderBy('customer_id') as Promise<
    Array<{ customer_id: string; notified_at: number | null }>
  >;

const noticeEvents = async (app: TestApp, productId: string) =>
  ((await app.app.db.knex('outbox').where({ type: 'stock.backInStock' }).orderBy('seq')) as Array<{ payload: string | object }>)
    .map((row) => (typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload) as { customerId: string; productId: string })
    .filter((payload) => payload.productId === productId);

/** Every notice claimed, every flow run, every queued mail sent. */
async function settle(app: TestApp): Promise<void> {
  await app.app.services.stockAlerts.idle();
  await app.app.relay.drain();
  await app.app.services.mail.drain();
}

async function newGuest(url: string): Promise<{ token: string; guestId: string }> {
  return (await postJson<{ token: string; guestId: string }>(`${url}/api/auth/guest`, {})).body;
}

/** Lets pushes in flight arrive before a test says none came. */
const quiet = () => new Promise((resolve) => setTimeout(resolve, 300));

async function storeSocket(t: Parameters<typeof socketForTest>[0], app: TestApp, token: string): Promise<Socket> {
  return socketForTest(t, app.url, '/store', token);
}

test('a restock from 0 notifies each subscriber once: a push to its own sockets, an e-mail to customers, none to guests; a second restock notifies nobody', async (t) => {
  const app = await appForTest(t, { config: { storeUrl: STORE_URL } });
  const product = await createProduct(app.app, { onHand: 0, name: 'Desk <Lamp> & "Shade"' });
  const ada = await registerCustomer(app.url, 'Ada');
  const bob = await registerCustomer(app.url, 'Bob');
  const guest = await newGuest(app.url);
  const adaPhone = await storeSocket(t, app, ada.token);
  const adaLaptop = await storeSocket(t, app, ada.token);
  const bobSocket = await storeSocket(t, app, bob.token);
  const guestSocket = await storeSocket(t, app, guest.token);
  const warehouse = await socketForTest(t, app.url, '/warehouse', await staffToken(app.app));
  // Someone else, connected but not subscribed, hears nothing.
  const stranger = await storeSocket(t, app, (await registerCustomer(app.url, 'Cleo')).token);

  for (const socket of [adaPhone, bobSocket, guestSocket]) {
    t.deepEqual(await ok(socket, 'stock:notify', { productId: product.id }), { productId: product.id, subscribed: true });
  }
  // Asking again (from another device too) keeps one subscription.
  t.deepEqual(await ok(adaLaptop, 'stock:notify', { productId: product.id }), { productId: product.id, subscribed: true });
  t.is((await subscriptions(app, product.id)).length, 3);
  t.true((await subscriptions(app, product.id)).every((row) => row.notified_at === null));

  const sockets = { adaPhone, adaLaptop, bobSocket, guestSocket, stranger };
  const heard = Object.fromEntries(Object.entries(sockets).map(([name, socket]) => [name, record(socket, ['stock:backInStock'])]));
  const arrivals = [adaPhone, adaLaptop, bobSocket, guestSocket].map((socket) => nextEvent(socket, 'stock:backInStock'));

  await ok(warehouse, 'stock:restock', { productId: product.id, quantity: 5 });
  for (const notice of await Promise.all(arrivals)) t.deepEqual(notice, { productId: product.id, name: 'Desk <Lamp> & "Shade"', available: 5 });

  await settle(app);
  // One notice per subscription, in the outbox and in the table.
  t.deepEqual((await noticeEvents(app, product.id)).map((n) => n.customerId).sort(), [ada.customerId, bob.customerId, guest.guestId].sort());
  t.true((await subscriptions(app, product.id)).every((row) => row.notified_at !== null));
  // One e-mail per customer (the guest has no address), sent through the mail module's queue.
  const mails = await backInStockMails(app);
  t.deepEqual(mails.map((m) => m.customer_id).sort(), [ada.customerId, bob.customerId].sort());
  for (const mail of mails) {
    t.is(mail.subject, 'Desk <Lamp> & "Shade" is back in stock');
    t.is(mail.state, 'sent');
  }
  t.deepEqual(mails.map((m) => m.recipient).sort(), [ada.email, bob.email].sort());
  const files = (await readdir(path.join(app.dataDir, 'mail'))).filter((file) => file.includes('-back-in-stock-'));
  t.is(files.length, 2, 'two .eml files written by the file transport');

  // A second restock: everyone was told already.
  await ok(warehouse, 'stock:restock', { productId: product.id, quantity: 3 });
  await settle(app);
  await app.app.sweep();
  await quiet();
  t.deepEqual(
    Object.fromEntries(Object.entries(heard).map(([name, log]) => [name, log.length])),
    { adaPhone: 1, adaLaptop: 1, bobSocket: 1, guestSocket: 1, stranger: 0 },
    'each socket of each subscriber heard it once; nobody else did',
  );
  t.is((await noticeEvents(app, product.id)).length, 3);
  t.is((await backInStockMails(app)).length, 2);

  // Sold out again: asking again arms a new subscription, notified once more on the next return.
  await app.app.db.knex('products').where({ id: product.id }).update({ on_hand: 0 });
  t.deepEqual(await ok(bobSocket, 'stock:notify', { productId: product.id }), { productId: product.id, subscribed: true });
  const again = nextEvent(bobSocket, 'stock:backInStock');
  await ok(warehouse, 'stock:restock', { productId: product.id, quantity: 2 });
  t.is((await again).available, 2);
  await settle(app);
  t.is((await noticeEvents(app, product.id)).length, 4);
  t.deepEqual((await backInStockMails(app)).map((m) => m.customer_id).sort(), [ada.customerId, bob.customerId, bob.customerId].sort());
  t.is(heard.adaPhone!.length, 1);
});

test('stock:notify answers: IN_STOCK with what is available, NOT_FOUND for unknown and archived products, VALIDATION for bad input; stock:unnotify withdraws', async (t) => {
  const app = await appForTest(t);
  const customer = await registerCustomer(app.url);
  const store = await storeSocket(t, app, customer.token);
  const warehouse = await socketForTest(t, app.url, '/warehouse', await staffToken(app.app));

  const inStock = await createProduct(app.app, { onHand: 4 });
  const refused = await call(store, 'stock:notify', { productId: inStock.id });
  t.false(refused.ok);
  if (!refused.ok) {
    t.is(refused.error.code, 'CONFLICT');
    t.deepEqual(refused.error.details, { reason: 'IN_STOCK', productId: inStock.id, available: 4 });
  }
  t.is((await subscriptions(app, inStock.id)).length, 0);

  const unknown = await call(store, 'stock:notify', { productId: 'prod_nope' });
  t.like(unknown, { ok: false, error: { code: 'NOT_FOUND' } });
  const archived = await createProduct(app.app, { onHand: 0 });
  await app.app.services.catalog.archiveProduct(archived.id);
  t.like(await call(store, 'stock:notify', { productId: archived.id }), { ok: false, error: { code: 'NOT_FOUND' } });

  for (const payload of [{}, { productId: '' }, { productId: 'a b' }, { productId: 42 }, { productId: inStock.id, extra: true }, null]) {
    t.like(await call(store, 'stock:notify', payload), { ok: false, error: { code: 'VALIDATION' } }, JSON.stringify(payload));
  }
  t.like(await call(store, 'stock:unnotify', { productId: 'a b' }), { ok: false, error: { code: 'VALIDATION' } });

  // Withdrawn before the return: nothing comes.
  const soldOut = await createProduct(app.app, { onHand: 0 });
  t.deepEqual(await ok(store, 'stock:notify', { productId: soldOut.id }), { productId: soldOut.id, subscribed: true });
  t.deepEqual(await ok(store, 'stock:unnotify', { productId: soldOut.id }), { productId: soldOut.id, subscribed: false });
  t.deepEqual(await ok(store, 'stock:unnotify', { productId: soldOut.id }), { productId: soldOut.id, subscribed: false }, 'withdrawing twice is harmless');
  t.is((await subscriptions(app, soldOut.id)).length, 0);
  const heard = record(store, ['stock:backInStock']);
  await ok(warehouse, 'stock:restock', { productId: soldOut.id, quantity: 1 });
  await settle(app);
  await quiet();
  t.is(heard.length, 0);
  t.is((await noticeEvents(app, soldOut.id)).length, 0);
});

test('a notice the stock change missed (stock raised in the database, no in-process event) is sent by the sweep, once, however many sweeps race for it', async (t) => {
  // No periodic sweep: the test runs each one itself.
  const app = await appForTest(t, { config: { storeUrl: STORE_URL, sweepIntervalMs: 3_600_000 } });
  const product = await createProduct(app.app, { onHand: 0, name: 'Grinder' });
  const ada = await registerCustomer(app.url, 'Ada');
  const guest = await newGuest(app.url);
  const adaSocket = await storeSocket(t, app, ada.token);
  const guestSocket = await storeSocket(t, app, guest.token);
  await ok(adaSocket, 'stock:notify', { productId: product.id });
  await ok(guestSocket, 'stock:notify', { productId: product.id });
  const heard = [record(adaSocket, ['stock:backInStock']), record(guestSocket, ['stock:backInStock'])];

  // As after a crash between the stock commit and the claim: the stock is there, the notice is not.
  const knex = app.app.db.knex;
  await knex('products')
    .where({ id: product.id })
    .update({ on_hand: 6, stock_version: knex.raw('stock_version + 1') });
  await quiet();
  t.deepEqual(
    heard.map((log) => log.length),
    [0, 0],
  );
  t.true((await subscriptions(app, product.id)).every((row) => row.notified_at === null));

  const pushes = [nextEvent(adaSocket, 'stock:backInStock'), nextEvent(guestSocket, 'stock:backInStock')];
  // The app's sweep, the module's own and a direct claim at once: each subscription is claimed by exactly one.
  await Promise.all([app.app.sweep(), app.app.services.stockAlerts.sweep(), app.app.services.stockAlerts.notifyProduct(product.id, 'sweep')]);
  for (const notice of await Promise.all(pushes)) t.deepEqual(notice, { productId: product.id, name: 'Grinder', available: 6 });
  await settle(app);
  t.is((await noticeEvents(app, product.id)).length, 2);
  const mails = await backInStockMails(app);
  t.deepEqual(
    mails.map((m) => [m.customer_id, m.subject]),
    [[ada.customerId, 'Grinder is back in stock']],
  );

  await app.app.sweep();
  await settle(app);
  await quiet();
  t.deepEqual(
    heard.map((log) => log.length),
    [1, 1],
  );
  t.is((await noticeEvents(app, product.id)).length, 2);
});
