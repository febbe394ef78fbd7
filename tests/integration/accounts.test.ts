// Accounts: staff and admin accounts (ADMIN_EMAIL/ADMIN_PASSWORD at start, the create-staff command), config validation,
// a guest's cart adopted at sign-up (the guest's sockets lose it, pushes included), and login/registration throttled per client.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';
import type { Socket } from 'socket.io-client';
import type { CartView } from '../../src/protocol/index.ts';
import { loadConfig, ConfigError } from '../../src/config.ts';
import { failed } from '../helpers/acks.ts';
import { appForTest, call, connect, createProduct, guestToken, nextEvent, ok, postJson, record, socketForTest, startApp, tempDir } from '../helpers/app.ts';

const run = promisify(execFile);

type Cart = { cart: CartView };

async function cartWith(socket: Socket, productId: string, quantity: number): Promise<CartView> {
  const { cart } = await ok<Cart>(socket, 'cart:create', {});
  return (await ok<Cart>(socket, 'cart:addItem', { cartId: cart.id, productId, quantity })).cart;
}

test.serial('ADMIN_EMAIL and ADMIN_PASSWORD create an admin at start, and a later start updates its password', async (t) => {
  const { dir } = tempDir();
  const first = await startApp({ dataDir: dir, config: { adminEmail: 'Root@Example.com', adminPassword: 'first-password' } });
  const login = await postJson<{ token: string; customer: { role: string; email: string } }>(`${first.url}/api/auth/login`, {
    email: 'root@example.com',
    password: 'first-password',
  });
  t.is(login.status, 200);
  t.is(login.body.customer.role, 'admin');
  t.is(login.body.customer.email, 'root@example.com');
  // Admins have the staff role too: the warehouse takes them.
  const warehouse = await connect(first.url, '/warehouse', login.body.token);
  t.true(Array.isArray((await ok<{ shipments: unknown[] }>(warehouse, 'shipments:list', {})).shipments));
  warehouse.close();
  await first.stop();

  const second = await startApp({ dataDir: dir, config: { adminEmail: 'root@example.com', adminPassword: 'second-password' } });
  t.teardown(() => second.stop());
  t.is((await postJson(`${second.url}/api/auth/login`, { email: 'root@example.com', password: 'first-password' })).status, 401);
  t.is((await postJson(`${second.url}/api/auth/login`, { email: 'root@example.com', password: 'second-password' })).status, 200);
  t.is((await second.app.db.knex('customers').where({ email: 'root@example.com' })).length, 1, 'updated, not duplicated');
});

test.serial('npm run create-staff makes a staff account that can use the warehouse; bad arguments exit 2', async (t) => {
  const { dir } = tempDir();
  const server = await startApp({ dataDir: dir });
  t.teardown(() => server.stop());
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/cli/create-staff.ts', 'ann@example.com', 'Ann', 'Smith'], {
    env: { ...process.env, DATABASE_URL: server.databaseUrl, DATA_DIR: dir, STAFF_PASSWORD: 'warehouse-password' },
    timeout: 60_000,
  });
  t.regex(stdout, /staff account ready: ann@example.com/);
  const login = await postJson<{ token: string; customer: { role: string; name: string } }>(`${server.url}/api/auth/login`, {
    email: 'ann@example.com',
    password: 'warehouse-password',
  });
  t.is(login.body.customer.role, 'staff');
  t.is(login.body.customer.name, 'Ann Smith');
  const warehouse = await connect(server.url, '/warehouse', login.body.token);
  t.teardown(() => warehouse.close());
  t.truthy(await ok(warehouse, 'shipments:list', {}));

  const bad = await run(process.execPath, ['--import', 'tsx', 'src/cli/create-staff.ts', 'not-an-email', 'X'], {
    env: { ...process.env, DATABASE_URL: server.databaseUrl, DATA_DIR: dir, STAFF_PASSWORD: 'warehouse-password' },
    timeout: 60_000,
  }).catch((error: { code: number; stderr: string }) => error);
  t.is((bad as { code: number }).code, 2);
  t.regex((bad as { stderr: string }).stderr, /email/);
});

test('a bad environment is refused at boot with every problem listed', (t) => {
  const error = t.throws(() => loadConfig({ PORT: 'eighty', JWT_SECRET: 'short', CART_TTL_MS: '-1', LOG_LEVEL: 'loud' }), { instanceOf: ConfigError });
  for (const variable of ['PORT', 'JWT_SECRET', 'CART_TTL_MS', 'LOG_LEVEL']) t.regex(error.message, new RegExp(variable));
  t.throws(() => loadConfig({ ADMIN_EMAIL: 'root@example.com' }), { instanceOf: ConfigError, message: /go together/ });
});

test.serial('adoption: a guest socket subscribed to the cart stops receiving cart:updated once a customer adopts it', async (t) => {
  const { app, url } = await appForTest(t);
  const product = await createProduct(app, { onHand: 20 });
  const guest = await guestToken(url);
  const guestSocket = await socketForTest(t, url, '/store', guest);
  const cart = await cartWith(guestSocket, product.id, 1);
  await ok(guestSocket, 'subscribe', { topic: `cart:${cart.id}` });
  const guestLog = record(guestSocket, ['cart:updated']);
  // The guest's subscription is live: its own change is pushed to it.
  const ownPush = nextEvent<CartView>(guestSocket, 'cart:updated', (view) => view.id === cart.id && view.itemCount === 2);
  await ok<Cart>(guestSocket, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 1 });
  await ownPush;

  const email = `adopter-${process.pid}-${Date.now()}@example.com`;
  const registered = await postJson<{ token: string; customer: { id: string }; adoptedCarts: string[] }>(
    `${url}/api/auth/register`,
    { email, password: 'correct horse battery', name: 'Adopter' },
    guest,
  );
  t.is(registered.status, 201);
  t.deepEqual(registered.body.adoptedCarts, [cart.id]);

  const customerSocket = await socketForTest(t, url, '/store', registered.body.token);
  const subscribed = await ok<{ view: CartView }>(customerSocket, 'subscribe', { topic: `cart:${cart.id}` });
  const adoptedVersion = subscribed.view.version;
  t.is(subscribed.view.customerId, registered.body.customer.id);

  const pushed = nextEvent<CartView>(customerSocket, 'cart:updated', (view) => view.id === cart.id && view.version > adoptedVersion);
  const changed = (await ok<Cart>(customerSocket, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 3 })).cart;
  const push = await pushed;
  t.is(push.version, changed.version);
  t.is(push.itemCount, 5);

  // Bounded grace for a push that would be on its way to the guest: one more round trip on its socket.
  await call(guestSocket, 'carts:list', {});
  const leaked = guestLog.filter(({ payload }) => (payload as CartView).version > adoptedVersion);
  t.deepEqual(leaked, [], 'the guest socket saw no change made after the adoption');
  // Whatever the guest did see is at most the adoption itself.
  for (const { payload } of guestLog) t.true((payload as CartView).version <= adoptedVersion);

  failed(t, await call(guestSocket, 'cart:get', { cartId: cart.id }), 'FORBIDDEN', 'guest cart:get after adoption');
  failed(t, await call(guestSocket, 'subscribe', { topic: `cart:${cart.id}` }), 'FORBIDDEN', 'guest subscribe after adoption');
});

test.serial('login and registration are throttled per client', async (t) => {
  const app = await appForTest(t, { config: { authAttemptsPerMinute: 3 } });
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) statuses.push((await postJson(`${app.url}/api/auth/login`, { email: 'nobody@example.com', password: 'wrong-password' })).status);
  t.deepEqual(statuses, [401, 401, 401, 429, 429]);
  const refused = await postJson<{ ok: boolean; error: { code: string } }>(`${app.url}/api/auth/login`, { email: 'x@example.com', password: 'y' });
  t.like(refused.body, { ok: false, error: { code: 'RATE_LIMITED' } });
  t.is((await postJson(`${app.url}/api/auth/guest`, {})).status, 200, 'guest tokens are not throttled by it');
});
