// E-mail through the outbox, against a real SMTP server (smtp-server) whose received messages are read back:
// one message per event and template, also when the relay delivers an event again and when a node dies between
// the send and its record (in-process, and a real server process killed with SIGKILL); an SMTP server that is down
// or slow opens the breaker while commands and sagas go on; without SMTP_URL the mails are .eml files under DATA_DIR/mail/.
import { createServer, type Socket as NetSocket } from 'node:net';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { simpleParser } from 'mailparser';
import type { Socket } from 'socket.io-client';
import { defaultModules } from '../../src/modules/index.ts';
import type { MailTransport } from '../../src/modules/mail/index.ts';
import type { OrderView, ShipmentView } from '../../src/protocol/index.ts';
import {
  appForTest,
  createProduct,
  ensureDatabase,
  eventually,
  folderForTest,
  guestToken,
  nextEvent,
  ok,
  registerCustomer,
  replayOutbox,
  socketForTest,
  staffToken,
  TEST_CARD,
  testConfig,
  type TestApp,
} from '../helpers/app.ts';
import { spawnServer, type ServerChild } from '../helpers/child.ts';
import { SmtpSink } from '../helpers/smtp.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';

const ADDRESS = { name: 'Ada Lovelace', line1: '12 Analytical Way', city: 'Berlin', postalCode: '10115', country: 'DE' } as const;

async function smtpForTest(t: ExecutionContext): Promise<SmtpSink> {
  const sink = await new SmtpSink().start();
  // Registered first, so it runs last: after the apps that send to it have stopped.
  t.teardown(() => sink.stop());
  return sink;
}

/** Everything the outbox owes delivered, and every mail that is due sent. */
async function settle(app: TestApp): Promise<void> {
  await app.app.relay.drain();
  await app.app.services.mail.drain();
}

async function metric(app: TestApp, pattern: RegExp): Promise<number | undefined> {
  const text = await (await fetch(`${app.url}/metrics`)).text();
  const match = pattern.exec(text);
  return match ? Number(match[1]) : undefined;
}
const breakerState = (app: TestApp, breaker: string) => metric(app, new RegExp(`emporium_breaker_state\\{breaker="${breaker}"\\} (\\d+)`));

async function placeOrder(app: TestApp, store: Socket, price = 2_500): Promise<OrderView> {
  const product = await createProduct(app.app, { onHand: 10, price, name: 'Desk <Lamp> & "Shade"' });
  const { cart } = await ok(store, 'cart:create', {});
  await ok(store, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 2 });
  return (await ok<{ order: OrderView }>(store, 'cart:checkout', { cartId: cart.id, requestId: `co-${cart.id}`, shippingAddress: ADDRESS })).order;
}

/** Pays the order and waits until its payment saga opened the shipment. */
async function payAndAwaitShipment(store: Socket, order: OrderView): Promise<string> {
  await ok(store, 'subscribe', { topic: `order:${order.id}` });
  const fulfilling = nextEvent<OrderView>(store, 'order:updated', (o) => o.id === order.id && o.state === 'fulfilling');
  await ok(store, 'order:pay', { orderId: order.id, requestId: `pay-${order.id}`, payment: TEST_CARD });
  return (await fulfilling).shipmentId!;
}

const mailLog = (app: TestApp) => app.app.db.knex('mail_log').orderBy('event_seq');

test.serial(
  'a registration and a whole journey send one e-mail per event, with the order, carrier and tracking number; a replayed outbox sends none again',
  async (t) => {
    const sink = await smtpForTest(t);
    const app = await appForTest(t, { config: { smtpUrl: sink.url, storeUrl: 'https://shop.example' } });

    const customer = await registerCustomer(app.url, 'Ada <b>Lovelace</b> & Co');
    await sink.until((received) => received.length === 1, 15_000, 'the welcome mail');
    const [welcome] = sink.to(customer.email);
    t.is(welcome?.subject, 'Welcome to Emporium');
    t.regex(welcome!.messageId, /^<welcome\.\d+@emporium\.local>$/);
    t.true(welcome!.text.includes('Hello Ada <b>Lovelace</b> & Co,'), 'plain text carries the name as it is');
    t.true(welcome!.html.includes('Hello Ada &lt;b&gt;Lovelace&lt;/b&gt; &amp; Co,'), 'HTML carries it escaped');
    t.false(welcome!.html.includes('<b>Lovelace'));

    // The journey: checkout, payment, the warehouse ships (carrier, tracking number) and delivers.
    const store = await socketForTest(t, app.url, '/store', customer.token);
    const order = await placeOrder(app, store);
    const shipmentId = await payAndAwaitShipment(store, order);
    const staff = await socketForTest(t, app.url, '/warehouse', await staffToken(app.app));
    const delivered = nextEvent<OrderView>(store, 'order:updated', (o) => o.id === order.id && o.state === 'delivered');
    for (const to of ['picking', 'packed', 'shipped', 'inTransit', 'delivered'] as const) {
      await ok<{ shipment: ShipmentView }>(staff, 'shipment:advance', {
        shipmentId,
        to,
        ...(to === 'shipped' ? { carrier: 'DHL Express', trackingNumber: 'TRACK-12345' } : {}),
      });
    }
    await delivered;
    await settle(app);
    await sink.until((received) => received.length === 5, 15_000, 'five mails');

    const mails = sink.to(customer.email);
    t.deepEqual(mails.map((mail) => mail.subject).sort(), [
      `Order ${order.id} has shipped`,
      `Order ${order.id} received`,
      `Order ${order.id} was delivered`,
      `Receipt for order ${order.id}`,
      'Welcome to Emporium',
    ]);
    const byTemplate = (template: string) => mails.find((mail) => mail.messageId.startsWith(`<${template}.`))!;
    const confirmation = byTemplate('order-confirmation');
    t.true(confirmation.text.includes('2 x Desk <Lamp> & "Shade"'), confirmation.text);
    t.true(confirmation.text.includes('Total: €50.00'));
    t.true(confirmation.html.includes('Desk &lt;Lamp&gt; &amp; &quot;Shade&quot;'));
    t.true(confirmation.text.includes(`https://shop.example/orders/${order.id}`));
    t.true(confirmation.text.includes('12 Analytical Way'));
    const receipt = byTemplate('payment-receipt');
    t.true(receipt.text.includes('We received your payment of €50.00'));
    const shipped = byTemplate('order-shipped');
    for (const part of [order.id, 'Carrier: DHL Express', 'Tracking number: TRACK-12345']) t.true(shipped.text.includes(part), `shipped text has ${part}`);
    for (const part of [order.id, 'DHL Express', 'TRACK-12345']) t.true(shipped.html.includes(part), `shipped HTML has ${part}`);
    t.true(byTemplate('order-delivered').text.includes(`Your order ${order.id} was delivered`));

    // The log: each mail sent once, under the Message-ID the message carries; the bodies are gone.
    const rows = await mailLog(app);
    t.is(rows.length, 5);
    t.true(rows.every((row: { state: string; text_body: string | null }) => row.state === 'sent' && row.text_body === null));
    t.deepEqual(rows.map((row: { message_id: string }) => row.message_id).sort(), mails.map((mail) => mail.messageId).sort());

    // The relay delivers every event again (as after a crash before its deliveries were recorded): no mail is sent twice.
    const replayed = await replayOutbox(app.app.db.knex);
    t.true(replayed >= 5);
    await settle(app);
    t.is(sink.received.length, 5, 'no second message');
    t.is((await mailLog(app)).length, 5);
    t.is(await metric(app, /emporium_mail_sent_total\{template="order-shipped",outcome="sent"\} (\d+)/), 1);

    // A guest's order sends nothing: a guest has no address.
    const guest = await socketForTest(t, app.url, '/store', await guestToken(app.url));
    const guestOrder = await placeOrder(app, guest);
    await payAndAwaitShipment(guest, guestOrder);
    await settle(app);
    t.is(sink.received.length, 5);
    t.is(sink.errors.length, 0);
  },
);

test.serial('a node that dies between the send and its record does not send again: the claim is written off as unknown', async (t) => {
  const sink = await smtpForTest(t);
  const dataDir = folderForTest(t);
  // The first node's transport sends for real, then never returns: the node is gone before it can record the send.
  let release: () => void = () => undefined;
  const hung = new Promise<void>((resolve) => (release = resolve));
  t.teardown(() => release());
  let sentBeforeDying: () => void = () => undefined;
  const died = new Promise<void>((resolve) => (sentBeforeDying = resolve));
  const dyingAfterSend = (transport: MailTransport): MailTransport => ({
    kind: transport.kind,
    send: async (mail) => {
      const response = await transport.send(mail);
      sentBeforeDying();
      await hung;
      return response;
    },
  });
  const first = await appForTest(t, {
    dataDir,
    config: { smtpUrl: sink.url, shutdownGraceMs: 200 },
    app: { modules: defaultModules({ mail: { transport: dyingAfterSend } }) },
  });
  const customer = await registerCustomer(first.url, 'Grace');
  await died;
  t.is(sink.to(customer.email).length, 1, 'the message reached the server');
  const [claimed] = await mailLog(first);
  t.is(claimed.state, 'sending');
  await first.stop(); // its send never returns: the shutdown gives up on it after the grace

  let offset = 0;
  const second = await appForTest(t, { dataDir, config: { smtpUrl: sink.url }, app: { clock: () => Date.now() + offset } });
  await replayOutbox(second.app.db.knex);
  await settle(second);
  t.is(sink.to(customer.email).length, 1, 'a redelivered event finds the claim and sends nothing');
  t.is((await mailLog(second))[0].state, 'sending');

  // Past the time any send could take, the sweep writes the claim off for operators; it is never sent again.
  offset += 10 * 60_000;
  await second.app.sweep();
  await settle(second);
  const [writtenOff] = await mailLog(second);
  t.is(writtenOff.state, 'unknown');
  t.is(writtenOff.message_id, sink.to(customer.email)[0]!.messageId, 'the Message-ID to look for in the SMTP server log');
  t.is(sink.to(customer.email).length, 1);
  t.is(await metric(second, /emporium_mail_messages\{state="unknown"\} (\d+)/), 1);
  t.is(await metric(second, /emporium_mail_sent_total\{template="welcome",outcome="unknown"\} (\d+)/), 1);
});

test.serial(
  'a paid order cancelled sends one "cancelled and refunded" mail, an unpaid one past its deadline one "expired" mail; a replayed outbox sends neither again',
  async (t) => {
    const sink = await smtpForTest(t);
    let offset = 0;
    const app = await appForTest(t, { config: { smtpUrl: sink.url }, app: { clock: () => Date.now() + offset } });
    const customer = await registerCustomer(app.url, 'Clara Cancel');
    const store = await socketForTest(t, app.url, '/store', customer.token);

    // Paid, its shipment opened, then cancelled by the customer: the refund is due, and the mail says so.
    const paid = await placeOrder(app, store);
    await payAndAwaitShipment(store, paid);
    const cancelled = nextEvent<OrderView>(store, 'order:updated', (o) => o.id === paid.id && o.state === 'cancelled');
    await ok(store, 'order:cancel', { orderId: paid.id });
    await cancelled;

    // Never paid: the deadline sweep, past the payment window on the test clock, expires it.
    const unpaid = await placeOrder(app, store);
    await ok(store, 'subscribe', { topic: `order:${unpaid.id}` });
    const expired = nextEvent<OrderView>(store, 'order:updated', (o) => o.id === unpaid.id && o.state === 'expired');
    offset = unpaid.paymentDeadline - Date.now() + 1_000;
    await app.app.sweep();
    await expired;
    await settle(app);
    // welcome, two confirmations, the receipt, the cancellation and the expiry
    await sink.until((received) => received.length === 6, 15_000, 'six mails');

    const subjects = () => sink.to(customer.email).map((mail) => mail.subject);
    const cancelledMails = sink.to(customer.email).filter((mail) => mail.subject === `Order ${paid.id} cancelled and refunded`);
    t.is(cancelledMails.length, 1, subjects().join(' | '));
    t.regex(cancelledMails[0]!.messageId, /^<order-cancelled\.\d+@emporium\.local>$/);
    t.true(cancelledMails[0]!.text.includes('You are being refunded €50.00'), cancelledMails[0]!.text);
    const expiredMails = sink.to(customer.email).filter((mail) => mail.subject === `Order ${unpaid.id} expired`);
    t.is(expiredMails.length, 1, subjects().join(' | '));
    t.regex(expiredMails[0]!.messageId, /^<order-expired\.\d+@emporium\.local>$/);
    t.true(expiredMails[0]!.text.includes('You were not charged.'));
    t.false(
      subjects().some((subject) => subject.startsWith(`Order ${unpaid.id} cancelled`)),
      'an expired order is not also "cancelled"',
    );

    // Every event delivered again (as after a crash before the deliveries were recorded) and a sweep later: nothing new.
    t.true((await replayOutbox(app.app.db.knex)) >= 6);
    await settle(app);
    await app.app.sweep();
    await settle(app);
    t.is(sink.received.length, 6, 'no second message');
    const rows = await mailLog(app);
    t.deepEqual(rows.map((row: { template: string }) => row.template).sort(), [
      'order-cancelled',
      'order-confirmation',
      'order-confirmation',
      'order-expired',
      'payment-receipt',
      'welcome',
    ]);
    t.true(rows.every((row: { state: string }) => row.state === 'sent'));
    t.is(sink.errors.length, 0);
  },
);

test.serial(
  'a server process killed with SIGKILL once its message reached the SMTP server: after a restart it is never sent again, and is written off as unknown',
  async (t) => {
    const sink = await smtpForTest(t);
    // The node talks to the SMTP server through a proxy, frozen the moment the message has arrived: the server's
    // "250 accepted" never reaches the node, which is killed while it waits for it (its claim committed, its send unrecorded).
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: sink.port }, 'smtp');
    t.teardown(() => proxy.close());
    const dataDir = folderForTest(t, 'emporium-mail-kill-');
    // The children run on the database an in-process app on this folder opens (SQLite, or PostgreSQL under test:postgres).
    const { databaseUrl } = testConfig(dataDir);
    await ensureDatabase(databaseUrl);
    const children: ServerChild[] = [];
    t.teardown(async () => {
      for (const child of children) {
        child.kill('SIGKILL');
        await child.exited;
      }
    });
    const spawn = async (smtpUrl: string) => {
      const child = await spawnServer(dataDir, {
        SMTP_URL: smtpUrl,
        SEED_DEMO_DATA: 'false',
        ...(/^postgres(ql)?:/.test(databaseUrl) ? { DATABASE_URL: databaseUrl } : {}),
      });
      child.process.on('error', () => undefined); // a kill of a child already gone, say: the exit tells the test
      children.push(child);
      return child;
    };
    const metricOf = async (child: ServerChild, pattern: RegExp) => {
      const match = pattern.exec(await (await fetch(`${child.url}/metrics`)).text());
      return match ? Number(match[1]) : undefined;
    };

    const first = await spawn(proxy.rewrite(sink.url));
    // Runs in the same turn as the server's receipt (before the proxy can read the server's reply, let alone pass it on).
    const killed = sink
      .until((received) => received.length === 1, 30_000, 'the welcome mail')
      .then(() => {
        proxy.cut({ existing: 'freeze', incoming: 'refuse' });
        first.kill('SIGKILL');
      });
    killed.catch(() => undefined); // awaited after the registration: a timeout fails the test there
    const customer = await registerCustomer(first.url, 'Killed Mid-Send');
    await killed;
    t.like(await first.exited, { signal: 'SIGKILL' });
    t.is(sink.to(customer.email).length, 1, 'the message reached the server');

    // Restarted on the same data: its relay and dispatcher run (a later welcome goes out), the interrupted one does not.
    const second = await spawn(sink.url);
    const later = await registerCustomer(second.url, 'After Restart');
    await sink.until((received) => received.some((mail) => mail.to.includes(later.email)), 30_000, 'the later welcome mail');
    await eventually(
      async () =>
        (await metricOf(second, /^emporium_outbox_pending (\d+)$/m)) === 0 &&
        (await metricOf(second, /^emporium_mail_messages\{state="queued"\} (\d+)$/m)) === 0,
      'the restarted node has relayed and sent everything',
      30_000,
    );
    t.is(sink.to(customer.email).length, 1, 'not sent again by the restarted node');
    t.is(await metricOf(second, /^emporium_mail_messages\{state="sending"\} (\d+)$/m), 1, 'its claim stays, unrecorded');
    second.kill('SIGTERM');
    t.like(await second.exited, { code: 0 });

    // The same data once more, in-process, on a test clock: every event delivered again, then past the time any send could take.
    let offset = 0;
    const third = await appForTest(t, { dataDir, config: { smtpUrl: sink.url }, app: { clock: () => Date.now() + offset } });
    await replayOutbox(third.app.db.knex);
    await settle(third);
    t.is(sink.to(customer.email).length, 1, 'a redelivered event finds the claim and sends nothing');
    offset += 10 * 60_000;
    await third.app.sweep();
    await settle(third);
    const [interrupted, sent] = await mailLog(third);
    t.like(interrupted, { customer_id: customer.customerId, template: 'welcome', state: 'unknown', message_id: sink.to(customer.email)[0]!.messageId });
    t.like(sent, { customer_id: later.customerId, template: 'welcome', state: 'sent' });
    t.is(sink.to(customer.email).length, 1);
    t.is(sink.received.length, 2);
  },
);

test.serial('while the SMTP server is down the breaker opens, commands and sagas go on, and queued mail goes out once it is back', async (t) => {
  const sink = await smtpForTest(t);
  let offset = 0;
  const app = await appForTest(t, {
    config: { smtpUrl: sink.url },
    app: { clock: () => Date.now() + offset, modules: defaultModules({ mail: { breaker: { resetTimeoutMs: 1_000 } } }) },
  });
  const breaker = app.app.services.mail.breaker;
  const transitions: string[] = [];
  // The metric is read the moment the breaker opens (it half-opens for a trial a second later).
  const openMetric = new Promise<number | undefined>((resolve) =>
    breaker.onChange((state) => {
      transitions.push(state);
      if (state === 'open') resolve(breakerState(app, 'smtp'));
    }),
  );
  const first = await registerCustomer(app.url, 'First');
  await sink.until((received) => received.length === 1);
  t.is(await breakerState(app, 'smtp'), 0);

  await sink.stop();
  const waiting = [await registerCustomer(app.url, 'Second'), await registerCustomer(app.url, 'Third'), await registerCustomer(app.url, 'Fourth')];
  await settle(app);
  t.is(transitions[0], 'open', 'connections refused: the breaker opened');
  t.is(await openMetric, 2, 'emporium_breaker_state{breaker="smtp"} 2 while open');

  // Commands are acknowledged and the sagas run while mail cannot go out.
  const store = await socketForTest(t, app.url, '/store', waiting[0]!.token);
  const order = await placeOrder(app, store);
  const shipmentId = await payAndAwaitShipment(store, order);
  t.truthy(shipmentId, 'the payment saga opened the shipment');
  await settle(app);
  const waitingRows = await app.app.db.knex('mail_log').whereNot({ state: 'sent' });
  t.is(waitingRows.length, 5, 'three welcomes, the confirmation and the receipt wait');
  t.true(waitingRows.every((row: { state: string }) => row.state === 'queued' || row.state === 'sending'));
  t.is(sink.received.length, 1);

  // The server is back; the breaker lets a trial through after its reset timeout, then everything goes, once each.
  await sink.start();
  offset += 60 * 60_000; // past the retry time of every mail that failed
  await app.app.sweep();
  await sink.until((received) => received.length === 6, 15_000, 'the queued mails');
  await settle(app);
  t.is(transitions.at(-1), 'closed');
  t.is(await breakerState(app, 'smtp'), 0);
  t.deepEqual(
    [first, ...waiting].map((customer) => sink.to(customer.email).length),
    [1, 3, 1, 1],
  );
  t.is(new Set(sink.received.map((mail) => mail.messageId)).size, 6, 'no message twice');
  t.true((await mailLog(app)).every((row: { state: string }) => row.state === 'sent'));
});

test.serial('a slow SMTP server holds up neither commands nor sagas: its sends time out, the breaker opens, the queue waits', async (t) => {
  // Accepts connections and never says a word.
  const sockets = new Set<NetSocket>();
  const tarpit = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  tarpit.on('error', () => undefined);
  await new Promise<void>((resolve) => tarpit.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        tarpit.close(() => resolve());
      }),
  );
  const port = (tarpit.address() as { port: number }).port;
  const app = await appForTest(t, {
    config: { smtpUrl: `smtp://127.0.0.1:${port}`, shutdownGraceMs: 500 },
    app: { modules: defaultModules({ mail: { breaker: { timeoutMs: 300, resetTimeoutMs: 60_000 }, smtpTimeouts: { greetingMs: 60_000 } } }) },
  });
  const customer = await registerCustomer(app.url, 'Patient');
  const store = await socketForTest(t, app.url, '/store', customer.token);
  const order = await placeOrder(app, store);
  const shipmentId = await payAndAwaitShipment(store, order);
  t.truthy(shipmentId);
  await settle(app);
  t.is(await breakerState(app, 'smtp'), 2, 'three sends that outlived the timeout opened it');
  const rows = await mailLog(app);
  t.is(rows.length, 3);
  t.true(
    rows.every((row: { state: string }) => row.state === 'sending' || row.state === 'queued'),
    'sends still waiting for the server, the rest queued',
  );
});

test.serial('without SMTP_URL each e-mail is written as an .eml file under DATA_DIR/mail/', async (t) => {
  const app = await appForTest(t);
  const customer = await registerCustomer(app.url, 'Fiona File');
  await settle(app);
  const folder = path.join(app.dataDir, 'mail');
  const files = await readdir(folder);
  t.is(files.length, 1);
  t.regex(files[0]!, /^\d{4}-\d\d-\d\dT[\d-]+Z-welcome-\d+\.eml$/);
  const parsed = await simpleParser(await readFile(path.join(folder, files[0]!)));
  t.is(parsed.subject, 'Welcome to Emporium');
  t.regex(parsed.messageId ?? '', /^<welcome\.\d+@emporium\.local>$/);
  t.is(Array.isArray(parsed.to) ? undefined : parsed.to?.value[0]?.address, customer.email);
  t.true((parsed.text ?? '').includes('Hello Fiona File,'));
  t.is((await mailLog(app))[0].state, 'sent');
});
