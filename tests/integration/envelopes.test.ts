// One error envelope everywhere: every REST error (router and parser refusals included) and every refused command
// is `{ ok: false, error: { code, message } }` with a short message, never a crash, a stack trace or the server's
// insides; REST errors carry the CORS headers; text with control characters is refused; a token must expire.
// Tests run serially: each starts its own app.
import { connect as connectTcp } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { SignJWT } from 'jose';
import { io } from 'socket.io-client';
import type { Ack } from '../../src/protocol/index.ts';
import { freeText, lineText, storeCommands, warehouseCommands } from '../../src/protocol/index.ts';
import { appForTest, call, createProduct, guestToken, ok, postJson, registerCustomer, socketForTest, type TestApp } from '../helpers/app.ts';

const ORIGIN = 'http://localhost:3000';
const MAX_MESSAGE = 300;

interface Envelope {
  ok: boolean;
  error: { code: string; message: string; details?: unknown };
}

/** The envelope, with a short message and nothing of the server's insides (stack, source, Fastify codes, Buffer methods). */
function assertEnvelope(t: ExecutionContext, body: unknown, code: string, label: string): Envelope['error'] {
  const envelope = body as Envelope;
  t.is(envelope?.ok, false, `${label}: ok is false`);
  t.is(envelope?.error?.code, code, `${label}: ${JSON.stringify(body).slice(0, 300)}`);
  t.is(typeof envelope?.error?.message, 'string', label);
  t.true(envelope.error.message.length > 0 && envelope.error.message.length <= MAX_MESSAGE, `${label}: message of ${envelope.error.message.length} chars`);
  const text = JSON.stringify(body);
  t.false(/\bat \S.*\.(ts|js):\d+/.test(text), `${label}: no stack trace`);
  t.false(text.includes('.ts:') || text.includes('"stack"'), `${label}: no source location`);
  t.false(/FST_|statusCode|readBigUInt64|byteOffset/.test(text), `${label}: no framework or Buffer internals in ${text.slice(0, 200)}`);
  return envelope.error;
}

async function rest(url: string, init: RequestInit & { origin?: string } = {}) {
  const { origin = ORIGIN, ...rest } = init;
  const response = await fetch(url, { ...rest, headers: { origin, ...((rest.headers as Record<string, string>) ?? {}) } });
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: response.status, allowOrigin: response.headers.get('access-control-allow-origin'), type: response.headers.get('content-type') ?? '', body };
}

/** Sends raw bytes over TCP and resolves with the whole answer (the server closes the connection). */
function rawHttp(url: string, request: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connectTcp(Number(port), hostname);
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(answer));
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer')));
    socket.write(request);
  });
}

/** A socket for the test, whose transport errors are handled (the test asserts on acks and connect errors). */
async function storeSocket(t: ExecutionContext, app: TestApp, token?: string) {
  const socket = await socketForTest(t, app.url, '/store', token ?? (await guestToken(app.url)));
  socket.io.on('error', () => undefined);
  return socket;
}

test.serial('REST: router, parser and route errors are all the envelope, with CORS headers', async (t) => {
  const app = await appForTest(t);
  const product = await createProduct(app.app, { onHand: 1 });
  const json = { 'content-type': 'application/json' };

  const cases: Array<[label: string, path: string, init: RequestInit, status: number, code: string]> = [
    ['an over-long path parameter', `/api/products/${'x'.repeat(300)}`, {}, 414, 'VALIDATION'],
    ['an over-long path parameter before /reviews', `/api/products/${'x'.repeat(300)}/reviews`, {}, 414, 'VALIDATION'],
    ['a malformed % escape in the path', '/api/products/%E0%A4%A', {}, 400, 'VALIDATION'],
    ['a malformed % escape before /reviews', '/api/products/%E0%A4%A/reviews', {}, 400, 'VALIDATION'],
    ['a NUL in a product id', '/api/products/ab%00cd', {}, 400, 'VALIDATION'],
    ['an unknown product', '/api/products/prod_missing', {}, 404, 'NOT_FOUND'],
    ['an unknown route', '/api/nothing-here', {}, 404, 'NOT_FOUND'],
    ['an unknown method', `/api/products/${product.id}`, { method: 'DELETE' }, 404, 'NOT_FOUND'],
    ['a bad query parameter', '/api/products?pageSize=0', {}, 400, 'VALIDATION'],
    ['an unsupported content type', '/api/auth/login', { method: 'POST', headers: { 'content-type': 'application/xml' }, body: '<login/>' }, 415, 'VALIDATION'],
    ['a body over the limit', '/api/auth/login', { method: 'POST', headers: json, body: JSON.stringify({ email: 'x'.repeat(200_000) }) }, 413, 'VALIDATION'],
    ['malformed JSON', '/api/auth/login', { method: 'POST', headers: json, body: '{"email":' }, 400, 'VALIDATION'],
    ['a prototype-poisoning body', '/api/auth/login', { method: 'POST', headers: json, body: '{"__proto__":{"admin":true}}' }, 400, 'VALIDATION'],
    ['an Authorization header that is not Bearer', '/api/me', { headers: { authorization: 'Basic abc' } }, 401, 'UNAUTHORIZED'],
    ['a forged bearer token', '/api/me', { headers: { authorization: 'Bearer a.b.c' } }, 401, 'UNAUTHORIZED'],
  ];
  for (const [label, path, init, status, code] of cases) {
    const answer = await rest(`${app.url}${path}`, init);
    t.is(answer.status, status, `${label}: status`);
    t.true(answer.type.startsWith('application/json'), `${label}: JSON (${answer.type})`);
    assertEnvelope(t, answer.body, code, label);
    t.is(answer.allowOrigin, ORIGIN, `${label}: CORS header for an allowed origin`);
  }

  // An origin that is not allowed gets the envelope without the CORS header, router errors included.
  for (const path of ['/api/products/%E0%A4%A', `/api/products/${'x'.repeat(300)}`, '/api/nothing-here']) {
    const answer = await rest(`${app.url}${path}`, { origin: 'https://evil.example' });
    assertEnvelope(t, answer.body, answer.status === 404 ? 'NOT_FOUND' : 'VALIDATION', `${path.slice(0, 40)} from another origin`);
    t.is(answer.allowOrigin, null);
  }

  // Requests Node's HTTP parser refuses: a request line over the header limit, and garbage.
  const huge = await rest(`${app.url}/api/products/${'x'.repeat(100_000)}`);
  t.is(huge.status, 431);
  assertEnvelope(t, huge.body, 'VALIDATION', 'a 100 KB URL');
  const garbage = await rawHttp(app.url, 'NOT HTTP AT ALL\r\n\r\n');
  t.regex(garbage, /^HTTP\/1\.1 400 /);
  assertEnvelope(t, JSON.parse(garbage.slice(garbage.indexOf('\r\n\r\n') + 4)), 'VALIDATION', 'malformed HTTP');

  // The server is still fine.
  t.is((await rest(`${app.url}/api/products/${product.id}`)).status, 200);
});

test.serial('REST: a throttled request is the envelope with CORS headers (429)', async (t) => {
  const app = await appForTest(t, { config: { authAttemptsPerMinute: 2 } });
  const login = () =>
    rest(`${app.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'a@example.com', password: 'wrong-password' }),
    });
  let answer = await login();
  for (let i = 0; i < 5 && answer.status !== 429; i++) answer = await login();
  t.is(answer.status, 429);
  assertEnvelope(t, answer.body, 'RATE_LIMITED', 'throttled login');
  t.is(answer.allowOrigin, ORIGIN);
});

test.serial('socket: binary payloads get a short VALIDATION message, not a Buffer listing', async (t) => {
  const app = await appForTest(t);
  const socket = await storeSocket(t, app);
  const cases: Array<[string, unknown]> = [
    ['a Buffer payload', Buffer.from('{"cartId":"c","productId":"p","quantity":1}')],
    ['a Uint8Array payload', new Uint8Array([1, 2, 3])],
    ['an ArrayBuffer payload', new ArrayBuffer(16)],
    ['a Buffer field', { cartId: Buffer.from('cart_1'), productId: 'prod_1', quantity: 1 }],
    ['a Buffer deep inside', { cartId: 'cart_1', productId: 'prod_1', quantity: [{ n: Buffer.alloc(1024) }] }],
  ];
  for (const [label, payload] of cases) {
    const ack = (await socket.timeout(10_000).emitWithAck('cart:addItem', payload)) as Ack<unknown>;
    const error = assertEnvelope(t, ack, 'VALIDATION', label);
    t.regex(error.message, /binary data is not accepted/, label);
    t.true(JSON.stringify(ack).length < 1_000, `${label}: a short answer`);
  }
  t.is(
    ((await socket.timeout(10_000).emitWithAck('cart:addItem', Buffer.alloc(10))) as Ack<unknown> & { ok: false }).error.message,
    'payload must be a JSON object; binary data is not accepted',
  );

  // Payloads whose schema failures would be long are cut short too: a huge unknown key, hundreds of unknown keys, many wrong fields.
  const long: Array<[string, unknown]> = [
    ['a 5,000-char unknown key', { cartId: 'c', productId: 'p', quantity: 1, ['k'.repeat(5_000)]: 1 }],
    ['500 unknown keys', Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`key${i}`, i]))],
    ['every field wrong', { cartId: 1, productId: 2, quantity: 'x', a: 1, b: 2, c: 3 }],
  ];
  for (const [label, payload] of long) {
    const ack = await call(socket, 'cart:addItem', payload);
    assertEnvelope(t, ack, 'VALIDATION', label);
    t.true(JSON.stringify(ack).length < 5_000, `${label}: a bounded answer (${JSON.stringify(ack).length})`);
    t.false(JSON.stringify(ack).includes('k'.repeat(200)), `${label}: the key is not echoed whole`);
  }
  const many = await call(socket, 'cart:addItem', { cartId: 1, productId: 2, quantity: 'x', a: 1 });
  if (!many.ok) t.regex(many.error.message, /^cartId: .*; and \d+ more problems?$/, 'the first problems, the rest counted');

  // The connection is still usable.
  t.truthy((await ok<{ cart: { id: string } }>(socket, 'cart:create', {})).cart.id);
});

test.serial('control characters in text are refused with VALIDATION naming the field, on REST and sockets', async (t) => {
  const app = await appForTest(t);
  const { id: productId } = await createProduct(app.app, { onHand: 1, name: 'Blue Kettle' });
  const catalog = app.app.services.catalog;
  // What reaches the catalog's search (and so the database): recorded to show no control character ever does.
  const searched: unknown[] = [];
  const listProducts = catalog.listProducts.bind(catalog);
  const suggest = catalog.suggest.bind(catalog);
  catalog.listProducts = (query) => {
    searched.push(query);
    return listProducts(query);
  };
  catalog.suggest = (q) => {
    searched.push(q);
    return suggest(q);
  };

  const restCases: Array<[string, string, string]> = [
    ['NUL in the search', '/api/products?q=kettle%00DROP', 'q'],
    ['a bell in the search', '/api/products?q=ket%07tle', 'q'],
    ['a line feed in the search', '/api/products?q=a%0Ab', 'q'],
    ['DEL in the search', '/api/products?q=ab%7F', 'q'],
    ['NUL in the category', '/api/products?category=kitchen%00', 'category'],
    ['NUL in a cursor', '/api/products?cursor=abc%00', 'cursor'],
    ['NUL in a suggestion query', '/api/search/suggest?q=ke%00', 'q'],
    ['NUL in a reviews cursor', `/api/products/${productId}/reviews?cursor=a%00`, 'cursor'],
  ];
  for (const [label, path, field] of restCases) {
    const answer = await rest(`${app.url}${path}`);
    t.is(answer.status, 400, label);
    const error = assertEnvelope(t, answer.body, 'VALIDATION', label);
    t.true(error.message.startsWith(`${field}: `), `${label}: names ${field} (${error.message})`);
    t.regex(error.message, /control characters/, label);
    t.is(answer.allowOrigin, ORIGIN);
  }
  t.deepEqual(searched, [], 'the search never received them');
  // A plain search still works and reaches the search.
  t.is((await rest(`${app.url}/api/products?q=kettle`)).status, 200);
  t.is(searched.length, 1);

  const register = await postJson(`${app.url}/api/auth/register`, { email: 'nul@example.com', password: 'correct horse battery', name: 'Eve\u0000lyn' });
  t.is(register.status, 400);
  t.regex(assertEnvelope(t, register.body, 'VALIDATION', 'NUL in a name').message, /^name: /);

  // Socket commands, store and warehouse: the same rule, by the same schemas.
  const customer = await registerCustomer(app.url);
  const socket = await storeSocket(t, app, customer.token);
  const address = { name: 'Ada', line1: 'Main St 1', city: 'Berlin', postalCode: '10115', country: 'DE' };
  const socketCases: Array<[string, string, unknown, string]> = [
    ['NUL in a review title', 'review:create', { productId: 'prod_1', rating: 5, title: 'Great\u0000', body: '' }, 'title'],
    ['an escape in a review body', 'review:create', { productId: 'prod_1', rating: 5, title: 'Great', body: 'a\u001b[31m' }, 'body'],
    ['NUL in an address line', 'address:save', { ...address, line1: 'Main\u0000St' }, 'line1'],
    ['a tab in a name', 'address:save', { ...address, name: 'Ada\tLovelace' }, 'name'],
    [
      'NUL in a checkout address',
      'cart:checkout',
      { cartId: 'cart_1', requestId: 'r1', shippingAddress: { ...address, city: 'Ber\u0000lin' } },
      'shippingAddress.city',
    ],
    ['NUL in a topic', 'subscribe', { topic: 'cart:\u0000' }, 'topic'],
    ['NUL in an orders cursor', 'orders:list', { before: 'x\u0000' }, 'before'],
  ];
  for (const [label, command, payload, field] of socketCases) {
    const ack = await call(socket, command, payload);
    const error = assertEnvelope(t, ack, 'VALIDATION', label);
    t.true(error.message.startsWith(`${field}: `), `${label}: names ${field} (${error.message})`);
  }

  // Free text may run over lines: tab, line feed and carriage return are fine there, and only there.
  t.true(storeCommands['review:create'].safeParse({ productId: 'prod_1', rating: 4, title: 'Good', body: 'Line one\r\nLine two\twith a tab' }).success);
  t.false(storeCommands['review:create'].safeParse({ productId: 'prod_1', rating: 4, title: 'Good\nand more', body: '' }).success);
  const product = { sku: 'SKU-1', name: 'Kettle', price: 100, category: 'kitchen' };
  t.true(warehouseCommands['catalog:upsertProduct'].safeParse({ ...product, description: 'Boils.\n\nFast.' }).success);
  t.false(warehouseCommands['catalog:upsertProduct'].safeParse({ ...product, description: 'Boils\u0000' }).success);
  t.false(warehouseCommands['catalog:upsertProduct'].safeParse({ ...product, name: 'Ket\u0000tle' }).success);
  t.true(lineText().safeParse('Crème brûlée ☕ 日本').success, 'any other character is text');
  t.false(lineText().safeParse('a\u007fb').success);
  t.true(freeText().safeParse('a\r\n\tb').success);
  t.false(freeText().safeParse('a\u000bb').success, 'a vertical tab is not a line break');
});

test.serial('a token without exp is refused with UNAUTHORIZED, on REST and at the handshake', async (t) => {
  const app = await appForTest(t);
  const key = new TextEncoder().encode(app.app.config.jwtSecret);
  const sign = (expires: boolean) => {
    const jwt = new SignJWT({ role: 'guest', iat_ms: Date.now() })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(`guest_noexp${expires ? 1 : 0}`)
      .setJti(`tok_noexp${expires ? 1 : 0}`)
      .setIssuer('emporium')
      .setIssuedAt();
    return (expires ? jwt.setExpirationTime('1h') : jwt).sign(key);
  };
  const forever = await sign(false);
  const expiring = await sign(true);

  const me = await rest(`${app.url}/api/me`, { headers: { authorization: `Bearer ${forever}` } });
  t.is(me.status, 401);
  t.regex(assertEnvelope(t, me.body, 'UNAUTHORIZED', 'REST without exp').message, /\bexp\b/);
  t.is(me.allowOrigin, ORIGIN);
  // The same token with an expiry is fine: it is the missing exp that is refused.
  t.is((await rest(`${app.url}/api/me`, { headers: { authorization: `Bearer ${expiring}` } })).status, 200);

  const refusal = await new Promise<Error & { data?: Envelope['error'] }>((resolve, reject) => {
    const socket = io(`${app.url}/store`, { auth: { token: forever }, transports: ['websocket'], reconnection: false, forceNew: true });
    t.teardown(() => {
      socket.close();
    });
    socket.io.on('error', () => undefined);
    socket.once('connect', () => reject(new Error('a token without exp was accepted')));
    socket.once('connect_error', (error) => resolve(error as Error & { data?: Envelope['error'] }));
  });
  t.is(refusal.data?.code, 'UNAUTHORIZED');
  t.regex(refusal.data?.message ?? '', /\bexp\b/);
  t.true((refusal.data?.message.length ?? 0) <= MAX_MESSAGE);

  const accepted = await storeSocket(t, app, expiring);
  t.true(accepted.connected);
});
