// /metrics after real traffic: commands by name and outcome with their latency, limits hit, sockets per namespace,
// live actors by kind, outbox and deadline lag, breakers; and METRICS_TOKEN guarding the endpoint.
import test from 'ava';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { appForTest, call, guestToken, ok, socketForTest } from '../helpers/app.ts';

const metricsText = async (url: string, headers: Record<string, string> = {}) => {
  const response = await fetch(`${url}/metrics`, { headers });
  return { status: response.status, type: response.headers.get('content-type') ?? '', text: await response.text() };
};

test('commands, limits, sockets, live actors, lags and breakers are on /metrics after traffic', async (t) => {
  // A small per-socket command budget, so a burst hits the limit (but is not cut off as a flood).
  const app = await appForTest(t, { config: { maxCommandsPerSecond: 5 } });
  const socket = await socketForTest(t, app.url, '/store', await guestToken(app.url));
  socket.on('connect_error', (error) => t.log(`connect_error: ${error.message}`));

  const { cart } = await ok<{ cart: { id: string } }>(socket, 'cart:create', {});
  t.like(await call(socket, 'no:such-command', {}), { ok: false, error: { code: 'VALIDATION' } });
  const burst = await Promise.all(Array.from({ length: 8 }, () => call(socket, 'cart:get', { cartId: cart.id })));
  t.true(
    burst.some((answer) => !answer.ok && answer.error.code === 'RATE_LIMITED'),
    'the burst hits the per-socket command limit',
  );

  const { status, text } = await metricsText(app.url);
  t.is(status, 200);
  const has = (pattern: RegExp) => t.regex(text, pattern);
  has(/^emporium_commands_total\{command="cart:create",outcome="ok"\} [1-9]\d*$/m);
  has(/^emporium_commands_total\{command="cart:get",outcome="ok"\} [1-9]\d*$/m);
  has(/^emporium_commands_total\{command="cart:get",outcome="RATE_LIMITED"\} [1-9]\d*$/m);
  // A name no table has is counted as `unknown`, never under the name a client made up.
  has(/^emporium_commands_total\{command="unknown",outcome="VALIDATION"\} [1-9]\d*$/m);
  t.notRegex(text, /no:such-command/);
  has(/^emporium_command_duration_seconds_count\{command="cart:create"\} [1-9]\d*$/m);
  has(/^emporium_command_duration_seconds_bucket\{le="0\.005",command="cart:create"\} \d+$/m);
  has(/^emporium_limits_hit_total\{limit="commands_per_socket"\} [1-9]\d*$/m);
  has(/^emporium_sockets\{namespace="\/store"\} 1$/m);
  has(/^emporium_sockets\{namespace="\/warehouse"\} 0$/m);
  has(/^emporium_live_actors_by_kind\{kind="cart"\} 1$/m);
  has(/^emporium_live_actors_by_kind\{kind="order"\} 0$/m);
  has(/^emporium_outbox_lag_seconds \d+(\.\d+)?$/m);
  has(/^emporium_deadline_lag_seconds 0$/m);
  has(/^emporium_breaker_state\{breaker="payments"\} 0$/m);
  has(/^# TYPE emporium_outbox_deliveries gauge$/m);
  has(/^# TYPE emporium_outbox_parked_total counter$/m);
});

test('with METRICS_TOKEN, /metrics answers only its bearer', async (t) => {
  const token = 'metrics-token-0123456789abcdef';
  const app = await appForTest(t, { config: { metricsToken: token } });

  const anonymous = await metricsText(app.url);
  t.is(anonymous.status, 401);
  t.like(JSON.parse(anonymous.text), { ok: false, error: { code: 'UNAUTHORIZED' } });
  const wrong = await metricsText(app.url, { authorization: 'Bearer not-the-metrics-token' });
  t.is(wrong.status, 401);
  t.like(JSON.parse(wrong.text), { ok: false, error: { code: 'UNAUTHORIZED' } });
  // A customer's access token is not the metrics token either.
  const customer = await metricsText(app.url, { authorization: `Bearer ${await guestToken(app.url)}` });
  t.is(customer.status, 401);

  const scraped = await metricsText(app.url, { authorization: `Bearer ${token}` });
  t.is(scraped.status, 200);
  t.regex(scraped.type, /^text\/plain/);
  t.regex(scraped.text, /^# TYPE emporium_commands_total counter$/m);
  // Only /metrics is guarded.
  t.is((await fetch(`${app.url}/health`)).status, 200);
});

test('METRICS_TOKEN must be long enough to be a secret', (t) => {
  t.throws(() => loadConfig({ METRICS_TOKEN: 'short', JWT_SECRET: 'test-secret-test-secret' }), { instanceOf: ConfigError, message: /METRICS_TOKEN/ });
  t.is(loadConfig({ METRICS_TOKEN: 'a-long-enough-metrics-token', JWT_SECRET: 'test-secret-test-secret' }).metricsToken, 'a-long-enough-metrics-token');
});
