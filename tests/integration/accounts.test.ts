// Staff and admin accounts: ADMIN_EMAIL/ADMIN_PASSWORD at start, the create-staff command, and config validation.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';
import { loadConfig, ConfigError } from '../../src/config.ts';
import { connect, ok, postJson, startApp, tempDir } from '../helpers/app.ts';

const run = promisify(execFile);

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
