// Tracing end to end (serial: tracing is process-wide): one checkout through the real app with the SDK's in-memory exporter (through the same
// startTracing the OTLP setup uses). The trace of a socket command runs through the actor step and its database
// commit, and on through the outbox into the saga flows it set off (and the actors those change); a REST request
// continues its caller's `traceparent`; log lines written inside a command carry its trace id.
import { Writable } from 'node:stream';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-node';
import test from 'ava';
import { connectStore, type StoreConnection } from '../../src/client/index.ts';
import { openDb } from '../../src/kernel/db/db.ts';
import { appForTest, createProduct, eventually, replayOutbox, TEST_CARD } from '../helpers/app.ts';

const ADDRESS = { name: 'Ada Lovelace', line1: '12 Analytical Way', city: 'Berlin', postalCode: '10115', country: 'DE' } as const;

/** A pino destination that keeps every line, parsed. */
function captureLogs(): { stream: Writable; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { stream, lines };
}

const traceOf = (span: ReadableSpan) => span.spanContext().traceId;
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

test.serial(
  'a checkout and a payment are each one trace: command, actor step, commit, and the saga flows they set off; REST continues a traceparent',
  async (t) => {
    const exporter = new InMemorySpanExporter();
    const logs = captureLogs();
    const app = await appForTest(t, { config: { logLevel: 'debug' }, app: { traceExporter: exporter, logStream: logs.stream } });
    const product = await createProduct(app.app, { onHand: 5, price: 1_500 });
    // Registration over REST, as part of a caller's trace (its `traceparent` header).
    const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpan = '00f067aa0ba902b7';
    const response = await fetch(`${app.url}/api/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${callerTrace}-${callerSpan}-01` },
      body: JSON.stringify({ email: `traced-${process.pid}-${Date.now()}@example.com`, password: 'correct horse battery', name: 'Traced' }),
    });
    t.is(response.status, 201);
    const customer = (await response.json()) as { token: string };

    const errors: Error[] = [];
    const store: StoreConnection = await connectStore(app.url, { token: customer.token, onError: (error) => errors.push(error) });
    t.teardown(() => store.close());
    store.socket.on('connect_error', (error) => errors.push(error));

    const { cart } = await store.call('cart:create', {});
    await store.call('cart:addItem', { cartId: cart.id, productId: product.id, quantity: 2 });
    const { order } = await store.call('cart:checkout', { cartId: cart.id, requestId: `trace-checkout-${process.pid}`, shippingAddress: ADDRESS });
    await store.call('order:pay', { orderId: order.id, requestId: `trace-pay-${process.pid}`, payment: TEST_CARD });

    // The saga links the shipment to the order once it has created it; its flow span ends after that.
    const spans = () => exporter.getFinishedSpans();
    await eventually(() => spans().find((span) => span.name === 'flow order-saga order.paid'), 'the order saga delivering order.paid');
    const shipmentId = await eventually(async () => (await app.app.runtime.get('order', order.id))?.snapshot.context.shipmentId ?? undefined, 'the shipment');

    const named = (name: string, match: (span: ReadableSpan) => boolean = () => true) => {
      const found = spans().filter((span) => span.name === name && match(span));
      t.true(found.length > 0, `a span ${name}; spans: ${[...new Set(spans().map((span) => span.name))].join(', ')}`);
      return found[0]!;
    };
    const byId = (id: string) => spans().find((span) => span.spanContext().spanId === id);

    // order:pay: the command, the order's step under it, that step's commit under the step.
    const pay = named('command order:pay');
    t.is(pay.kind, SpanKind.SERVER);
    t.is(pay.attributes['emporium.outcome'], 'ok');
    t.is(parentOf(pay), undefined, 'the command starts its trace');
    const trace = traceOf(pay);
    const inTrace = spans().filter((span) => traceOf(span) === trace);
    const payStep = inTrace.find(
      (span) => span.name.startsWith('actor order ') && span.attributes['emporium.actor.id'] === order.id && parentOf(span) === pay.spanContext().spanId,
    );
    t.truthy(payStep, `the order's step under order:pay; trace: ${inTrace.map((span) => span.name).join(', ')}`);
    t.is(typeof payStep?.attributes['emporium.actor.version'], 'number');
    const commit = inTrace.find((span) => span.name === 'db commit' && parentOf(span) === payStep?.spanContext().spanId);
    t.truthy(commit, 'the db commit under the step');
    t.is(commit?.attributes['emporium.db.outcome'], 'written');

    // The relay continues the trace: the saga's flow span is a child of the step that wrote order.paid …
    const saga = named('flow order-saga order.paid');
    t.is(traceOf(saga), trace, 'the flow is in the trace of order:pay');
    t.is(saga.kind, SpanKind.CONSUMER);
    t.true(
      inTrace.some((span) => span.name.startsWith('actor order ') && span.spanContext().spanId === parentOf(saga)),
      'the flow span is a child of the order step that emitted order.paid',
    );
    // … and the shipment it creates (and its commit) are in the same trace, under the flow.
    const created = named('actor shipment create', (span) => span.attributes['emporium.actor.id'] === shipmentId);
    t.is(traceOf(created), trace, 'the shipment created by the saga is in the trace of order:pay');
    let ancestor: ReadableSpan | undefined = created;
    while (ancestor && ancestor !== saga) ancestor = byId(parentOf(ancestor) ?? '');
    t.is(ancestor, saga, 'the shipment step descends from the flow span');
    t.true(inTrace.some((span) => span.name === 'db commit' && parentOf(span) === created.spanContext().spanId));
    // The order step the saga took (SHIPMENT_CREATED) too.
    t.true(inTrace.some((span) => span.name === 'actor order SHIPMENT_CREATED'));

    // cart:checkout: its own trace, into the checkout saga.
    const checkout = named('command cart:checkout');
    t.not(traceOf(checkout), trace);
    t.true(spans().some((span) => span.name === 'flow checkout-saga cart.checkedOut' && traceOf(span) === traceOf(checkout)));
    t.true(spans().some((span) => span.name.startsWith('actor cart ') && traceOf(span) === traceOf(checkout)));

    // The REST request continued its caller's trace, and the welcome mail its registration set off is in it too.
    const register = named('POST /api/auth/register');
    t.is(traceOf(register), callerTrace);
    t.is(parentOf(register), callerSpan);
    t.is(register.kind, SpanKind.SERVER);
    t.is(register.attributes['http.response.status_code'], 201);
    const welcome = await eventually(() => spans().find((span) => span.name === 'flow mail customer.registered'), 'the welcome mail flow');
    t.is(traceOf(welcome), callerTrace);

    // The outbox row keeps the trace context it was written in.
    const row = (await app.app.db.knex('outbox').where({ actor_id: order.id, type: 'order.paid' }).first()) as { traceparent: string | null };
    t.regex(row.traceparent ?? '', new RegExp(`^00-${trace}-[0-9a-f]{16}-01$`));

    // A log line written inside the command carries its trace id.
    const answered = await eventually(
      () => logs.lines.find((line) => line.msg === 'command answered' && line.command === 'order:pay'),
      'the log line of order:pay',
    );
    t.is(answered.trace_id, trace);
    t.is(answered.span_id, pay.spanContext().spanId);
    // Lines outside any span have none.
    t.true(logs.lines.some((line) => line.msg === 'emporium listening' && line.trace_id === undefined));
    t.deepEqual(errors, []);
  },
);

test.serial('a delivery made by another node, after a restart, continues the trace that wrote the event', async (t) => {
  const trace = '0af7651916cd43dd8448eb211c80319c';
  const first = new InMemorySpanExporter();
  const writer = await appForTest(t, { app: { traceExporter: first } });
  const response = await fetch(`${writer.url}/api/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', traceparent: `00-${trace}-b7ad6b7169203331-01` },
    body: JSON.stringify({ email: `relay-${process.pid}-${Date.now()}@example.com`, password: 'correct horse battery', name: 'Relayed' }),
  });
  t.is(response.status, 201);
  const delivered = await eventually(() => first.getFinishedSpans().find((span) => span.name === 'flow mail customer.registered'), 'the first delivery');
  await writer.stop();

  // As if the node had died before delivering: the rows are undelivered again, and another node picks them up.
  const db = openDb(writer.databaseUrl, []);
  t.true((await replayOutbox(db.knex)) > 0);
  await db.close();
  const second = new InMemorySpanExporter();
  await appForTest(t, { dataDir: writer.dataDir, app: { traceExporter: second } });
  const redelivered = await eventually(
    () => second.getFinishedSpans().find((span) => span.name === 'flow mail customer.registered'),
    'the delivery by the second node',
  );
  t.is(traceOf(redelivered), trace);
  // A child of the same span as the first delivery: the one that wrote the event, on the first node.
  t.is(parentOf(redelivered), parentOf(delivered));
  t.is(traceOf(delivered), trace);
});
