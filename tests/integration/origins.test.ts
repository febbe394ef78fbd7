// Origins: REST answers CORS (preflight and simple requests) only for allowed origins, and a Socket.IO websocket
// from a foreign Origin is refused at the HTTP upgrade while an allowed Origin connects.
import test from 'ava';
import { io, type Socket } from 'socket.io-client';
import type { CartView } from '../../src/protocol/index.ts';
import { data } from '../helpers/acks.ts';
import { appForTest, call, guestToken } from '../helpers/app.ts';

type Cart = { cart: CartView };

test.serial('REST CORS: a preflight from an allowed origin is answered with it; another origin gets no allow-origin', async (t) => {
  const { url } = await appForTest(t);
  const preflight = (origin: string) => fetch(`${url}/api/products`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'GET' } });

  const allowed = await preflight('http://localhost:3000');
  t.true(allowed.status >= 200 && allowed.status < 300, `preflight status ${allowed.status}`);
  t.is(allowed.headers.get('access-control-allow-origin'), 'http://localhost:3000');
  t.regex(allowed.headers.get('access-control-allow-methods') ?? '', /GET/);

  const evil = await preflight('http://evil.example');
  t.is(evil.headers.get('access-control-allow-origin'), null);

  // Simple requests too.
  const get = await fetch(`${url}/api/products`, { headers: { origin: 'http://localhost:3000' } });
  t.is(get.status, 200);
  t.is(get.headers.get('access-control-allow-origin'), 'http://localhost:3000');
  const evilGet = await fetch(`${url}/api/products`, { headers: { origin: 'http://evil.example' } });
  t.is(evilGet.headers.get('access-control-allow-origin'), null);
});

function connectWithOrigin(url: string, token: string, origin: string): Promise<Socket> {
  const socket = io(`${url}/store`, { auth: { token }, transports: ['websocket'], extraHeaders: { origin }, reconnection: false, forceNew: true });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

test.serial('Socket.IO origin allowlist: a websocket from a foreign Origin is refused; an allowed Origin connects', async (t) => {
  const { url } = await appForTest(t);
  const token = await guestToken(url);

  const refused = await t.throwsAsync(connectWithOrigin(url, token, 'http://evil.example'));
  t.truthy(refused);
  t.log('foreign origin refused with:', refused?.message);
  t.is((refused as Error & { data?: unknown }).data, undefined, 'refused at the HTTP upgrade, not by the handshake middleware');

  const socket = await connectWithOrigin(url, token, 'http://localhost:3000');
  t.teardown(() => {
    socket.close();
  });
  t.true(socket.connected);
  t.is(data(t, await call<Cart>(socket, 'cart:create', {})).cart.state, 'active');
});

test.serial("a page this node served connects from the node's own origin, whatever address it was opened on", async (t) => {
  const { url } = await appForTest(t);
  const token = await guestToken(url);
  // The app listens on 127.0.0.1:<port>; its own origin is not in CORS_ORIGINS (http://localhost:3000).
  const socket = await connectWithOrigin(url, token, new URL(url).origin);
  t.teardown(() => {
    socket.close();
  });
  t.true(socket.connected);
  // Another port on the same host is another origin.
  const port = Number(new URL(url).port);
  await t.throwsAsync(connectWithOrigin(url, token, `http://127.0.0.1:${port === 1 ? 2 : port - 1}`));
});
