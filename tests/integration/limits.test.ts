// Abuse limits against the real app: each trips at its configured value while others keep being served; behind a
// proxy with TRUST_PROXY two clients are throttled apart, without it they are one; 429s carry the envelope and
// Retry-After.
import test from 'ava';
import { io, type Socket } from 'socket.io-client';
import { appForTest, call, connect, guestToken, ok, postJson, registerCustomer, socketForTest } from '../helpers/app.ts';

type Refusal = Error & { data?: { code?: string; message?: string } };

/** A raw connection that may be refused: the socket, or the refusal's `data`. */
async function tryConnect(url: string, token: string, headers: Record<string, string> = {}): Promise<{ socket?: Socket; refused?: string }> {
  const socket = io(`${url}/store`, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true, extraHeaders: headers });
  return new Promise((resolve) => {
    socket.once('connect', () => resolve({ socket }));
    socket.once('connect_error', (error: Refusal) => {
      socket.close();
      resolve({ refused: error.data?.code ?? error.message });
    });
  });
}

test('a principal may hold so many sockets at once; one more is refused with RATE_LIMITED, others connect, and a closed one frees its place', async (t) => {
  const app = await appForTest(t, { config: { maxConnectionsPerPrincipal: 3 } });
  const token = await guestToken(app.url);
  const held: Socket[] = [];
  t.teardown(() => {
    for (const socket of held) socket.close();
  });
  for (let i = 0; i < 3; i++) held.push(await connect(app.url, '/store', token));
  const fourth = await tryConnect(app.url, token);
  t.is(fourth.refused, 'RATE_LIMITED');
  // Someone else is served meanwhile.
  const other = await socketForTest(t, app.url, '/store', await guestToken(app.url));
  t.true((await call(other, 'cart:create', {})).ok);
  held.pop()!.close();
  const again = await tryConnectUntil(app.url, token);
  t.truthy(again.socket, 'a place freed by a closed socket');
  again.socket?.close();
});

/** The server counts a socket gone once it saw the disconnect: retry briefly. */
async function tryConnectUntil(url: string, token: string): Promise<{ socket?: Socket; refused?: string }> {
  for (let attempt = 0; ; attempt++) {
    const answer = await tryConnect(url, token);
    if (answer.socket || attempt >= 20) return answer;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('connections per client address: refused past the limit; with TRUST_PROXY two clients behind the proxy count apart, without it they are one', async (t) => {
  const trusted = await appForTest(t, { config: { maxConnectionsPerIp: 2, trustProxy: ['127.0.0.1'] } });
  const token = await guestToken(trusted.url);
  const sockets: Socket[] = [];
  t.teardown(() => {
    for (const socket of sockets) socket.close();
  });
  const from = (address: string) => ({ 'x-forwarded-for': address });
  for (const address of ['203.0.113.7', '203.0.113.7', '198.51.100.9', '198.51.100.9']) {
    const { socket, refused } = await tryConnect(trusted.url, token, from(address));
    t.falsy(refused, `${address} may open two`);
    if (socket) sockets.push(socket);
  }
  t.truthy((await tryConnect(trusted.url, token, from('203.0.113.7'))).refused, 'a third from 203.0.113.7 is refused');

  // Not trusted: the header is ignored, every client is the proxy (127.0.0.1), and they share its two.
  const untrusted = await appForTest(t, { config: { maxConnectionsPerIp: 2 } });
  const guest = await guestToken(untrusted.url);
  for (const address of ['203.0.113.7', '198.51.100.9']) {
    const { socket } = await tryConnect(untrusted.url, guest, from(address));
    t.truthy(socket);
    if (socket) sockets.push(socket);
  }
  t.truthy((await tryConnect(untrusted.url, guest, from('192.0.2.1'))).refused, 'the proxy address holds two already');
});

test('commands per second per principal hold over all its sockets; another principal is served in full meanwhile', async (t) => {
  const app = await appForTest(t, { config: { maxCommandsPerPrincipalPerSecond: 10, maxCommandsPerSecond: 1000 } });
  const token = await guestToken(app.url);
  const [a, b] = [await socketForTest(t, app.url, '/store', token), await socketForTest(t, app.url, '/store', token)];
  const other = await socketForTest(t, app.url, '/store', await guestToken(app.url));
  const { cart } = await ok<{ cart: { id: string } }>(other, 'cart:create', {});
  const started = Date.now();
  const burst = await Promise.all(Array.from({ length: 30 }, (_, i) => call(i % 2 ? a : b, 'carts:list', {})));
  const elapsedSeconds = (Date.now() - started) / 1000;
  const otherBurst = await Promise.all(Array.from({ length: 8 }, () => call(other, 'cart:get', { cartId: cart.id })));
  const refused = burst.filter((answer) => !answer.ok);
  // A full bucket of 10, plus what it refilled (10 a second) while the burst was answered.
  const allowed = burst.length - refused.length;
  t.true(allowed >= 10 && allowed <= 10 + Math.ceil(elapsedSeconds * 10) + 1, `${allowed} of 30 allowed in ${elapsedSeconds} s`);
  for (const answer of refused)
    t.like(answer, { ok: false, error: { code: 'RATE_LIMITED', message: 'too many commands from this account over all its connections; slow down' } });
  t.true(
    otherBurst.every((answer) => answer.ok),
    'the other principal is not held back',
  );
});

test('carts: so many a minute per principal (RATE_LIMITED), so many open at once (LIMIT_REACHED); a retried create still answers with its cart', async (t) => {
  const app = await appForTest(t, { config: { cartsPerMinute: 3, maxOpenCarts: 50 } });
  const socket = await socketForTest(t, app.url, '/store', await guestToken(app.url));
  const first = await ok<{ cart: { id: string } }>(socket, 'cart:create', { requestId: 'first' });
  await ok(socket, 'cart:create', {});
  await ok(socket, 'cart:create', {});
  t.like(await call(socket, 'cart:create', {}), { ok: false, error: { code: 'RATE_LIMITED' } });
  t.is((await ok<{ cart: { id: string } }>(socket, 'cart:create', { requestId: 'first' })).cart.id, first.cart.id, 'a retry is not a new cart');
  t.true((await call(await socketForTest(t, app.url, '/store', await guestToken(app.url)), 'cart:create', {})).ok, 'another guest is served');

  const open = await appForTest(t, { config: { cartsPerMinute: 0, maxOpenCarts: 2 } });
  const customer = await registerCustomer(open.url);
  const shopper = await socketForTest(t, open.url, '/store', customer.token);
  await ok(shopper, 'cart:create', {});
  await ok(shopper, 'cart:create', {});
  const third = await call(shopper, 'cart:create', {});
  t.like(third, { ok: false, error: { code: 'LIMIT_REACHED' } });
  t.regex(third.ok ? '' : third.error.message, /2 open carts \(at most 2\)/);
});

test('login and register share one throttle per address; the 429 is the envelope with Retry-After; with TRUST_PROXY two clients are throttled apart', async (t) => {
  const app = await appForTest(t, { config: { authAttemptsPerMinute: 3, trustProxy: true } });
  const attempt = (path: 'login' | 'register', address: string) =>
    fetch(`${app.url}/api/auth/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
      body: JSON.stringify(path === 'login' ? { email: 'nobody@example.com', password: 'wrong-password' } : { email: 'x', password: 'y', name: 'z' }),
    });
  const statuses = [];
  for (const path of ['login', 'register', 'login'] as const) statuses.push((await attempt(path, '203.0.113.7')).status);
  t.false(statuses.includes(429), `three attempts pass (${statuses})`);
  const refused = await attempt('register', '203.0.113.7');
  t.is(refused.status, 429);
  const seconds = Number(refused.headers.get('retry-after'));
  t.true(seconds >= 1 && seconds <= 60, `Retry-After ${seconds}`);
  const body = (await refused.json()) as { ok: boolean; error: { code: string; message: string } };
  t.like(body, { ok: false, error: { code: 'RATE_LIMITED' } });
  t.regex(body.error.message, /too many sign-in and registration attempts from this address; try again in \d+ s/);
  t.deepEqual(Object.keys(body).sort(), ['error', 'ok']);
  t.not((await attempt('login', '198.51.100.9')).status, 429, 'another client behind the proxy is not throttled');
});

test('guest tokens per address per minute', async (t) => {
  const app = await appForTest(t, { config: { guestTokensPerMinute: 2 } });
  t.is((await postJson(`${app.url}/api/auth/guest`, {})).status, 200);
  t.is((await postJson(`${app.url}/api/auth/guest`, {})).status, 200);
  const third = await postJson<{ ok: boolean; error: { code: string } }>(`${app.url}/api/auth/guest`, {});
  t.is(third.status, 429);
  t.is(third.body.error.code, 'RATE_LIMITED');
});

test('commands per second per client address hold over every principal behind it; another address (TRUST_PROXY) is served in full', async (t) => {
  const app = await appForTest(t, { config: { maxCommandsPerIpPerSecond: 10, maxCommandsPerSecond: 1000, trustProxy: true } });
  const open = async (address: string) => {
    const { socket } = await tryConnect(app.url, await guestToken(app.url), { 'x-forwarded-for': address });
    if (!socket) throw new Error(`no connection from ${address}`);
    t.teardown(() => {
      socket.close();
    });
    return socket;
  };
  const [first, second, elsewhere] = [await open('203.0.113.7'), await open('203.0.113.7'), await open('198.51.100.9')];
  const started = Date.now();
  const burst = await Promise.all(Array.from({ length: 30 }, (_, i) => call(i % 2 ? first : second, 'carts:list', {})));
  const elapsedSeconds = (Date.now() - started) / 1000;
  const fromElsewhere = await Promise.all(Array.from({ length: 8 }, () => call(elsewhere, 'carts:list', {})));
  const allowed = burst.filter((answer) => answer.ok).length;
  t.true(allowed >= 10 && allowed <= 10 + Math.ceil(elapsedSeconds * 10) + 1, `${allowed} of 30 allowed in ${elapsedSeconds} s`);
  for (const answer of burst.filter((a) => !a.ok))
    t.like(answer, { ok: false, error: { code: 'RATE_LIMITED', message: 'too many commands from this address; slow down' } });
  t.true(
    fromElsewhere.every((answer) => answer.ok),
    'another address is not held back',
  );
});
