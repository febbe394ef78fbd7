// The limit primitives with a hand-driven clock: buckets per key, counts per key, attempt windows, and the quiet log.
import test from 'ava';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { KeyedBuckets, KeyedCounts, LocalAttempts, quietWarnings, RedisAttempts, trustFunction, type RedisLike } from '../../src/kernel/gateway/limits.ts';

test('keyed buckets: each key has its own, refilled by time; idle ones are forgotten; 0 is no limit', (t) => {
  let now = 0;
  const buckets = new KeyedBuckets(2, () => now);
  t.deepEqual([buckets.take('a'), buckets.take('a'), buckets.take('a')], [true, true, false]);
  t.true(buckets.take('b'), 'another key is not held back');
  now += 500;
  t.true(buckets.take('a'), 'half a second refills one');
  now += 20_000;
  buckets.take('c');
  t.is(buckets.size, 1, 'a and b were idle and full: forgotten');
  const off = new KeyedBuckets(0);
  t.true(Array.from({ length: 1000 }, () => off.take('x')).every(Boolean));
});

test('keyed counts: a hold is given back once, however often its release is called', (t) => {
  const counts = new KeyedCounts(2);
  const first = counts.hold('p');
  counts.hold('p');
  t.false(counts.allows('p'));
  first();
  first();
  t.is(counts.count('p'), 1);
  t.true(counts.allows('p'));
  t.true(new KeyedCounts(0).allows('anyone'));
});

test('attempt windows: max per window, then the wait until it ends; a new window starts afresh', async (t) => {
  let now = 1_000;
  const attempts = new LocalAttempts(() => now);
  t.is(await attempts.hit('ip', 2, 60_000), undefined);
  t.is(await attempts.hit('ip', 2, 60_000), undefined);
  now += 15_000;
  t.is(await attempts.hit('ip', 2, 60_000), 45_000);
  t.is(await attempts.hit('other', 2, 60_000), undefined);
  now += 45_000;
  t.is(await attempts.hit('ip', 2, 60_000), undefined);
});

/** A Redis whose transactions answer with `exec` (the counts it keeps), fail, or never answer. */
function fakeRedis(exec: () => Promise<Array<[Error | null, unknown]> | null>): RedisLike {
  return { multi: () => ({ incr: () => undefined, pexpire: () => undefined, pttl: () => undefined, exec }) };
}

test('attempts counted in Redis; while Redis is away or never answers, by the node alone, answered within the timeout', async (t) => {
  let hits = 0;
  const shared = new RedisAttempts(
    fakeRedis(async () => [
      [null, ++hits],
      [null, 1],
      [null, 30_000],
    ]),
    new LocalAttempts(),
  );
  t.deepEqual([await shared.hit('ip', 1, 60_000), await shared.hit('ip', 1, 60_000)], [undefined, 30_000]);

  const down = new RedisAttempts(
    fakeRedis(() => Promise.reject(new Error("Stream isn't writeable and enableOfflineQueue options is false"))),
    new LocalAttempts(),
  );
  t.deepEqual([await down.hit('ip', 1, 60_000), typeof (await down.hit('ip', 1, 60_000))], [undefined, 'number']);

  // A frozen link: the command is taken and never answered (then fails late, with nobody waiting).
  let fail: (error: Error) => void = () => undefined;
  const frozen = new RedisAttempts(
    fakeRedis(() => new Promise((_, reject) => (fail = reject))),
    new LocalAttempts(),
    'emporium:attempts:',
    50,
  );
  const started = Date.now();
  t.is(await frozen.hit('ip', 1, 60_000), undefined);
  t.true(Date.now() - started < 1_000);
  t.is(typeof (await frozen.hit('ip', 1, 60_000)), 'number', 'still throttled, by the node alone');
  fail(new Error('Connection is closed.'));
});

test('quiet warnings: the same message once per window, the next one says how many were left out; others pass', (t) => {
  let now = 0;
  const lines: Array<[object, string]> = [];
  const logger = quietWarnings({ warn: (object: object, message: string) => lines.push([object, message]), info: () => undefined }, 10_000, () => now);
  for (let i = 0; i < 5; i++) logger.warn({ i }, 'flooding client');
  logger.warn({}, 'something else');
  now += 10_000;
  logger.warn({ i: 9 }, 'flooding client');
  t.deepEqual(lines, [
    [{ i: 0 }, 'flooding client'],
    [{}, 'something else'],
    [{ i: 9, suppressed: 4 }, 'flooding client'],
  ]);
});

test('TRUST_PROXY as a function: off, on, hop counts and address lists', (t) => {
  t.false(trustFunction(false)('10.0.0.1', 0));
  t.true(trustFunction(true)('203.0.113.7', 5));
  const oneHop = trustFunction(1);
  t.true(oneHop('10.0.0.1', 0));
  t.false(oneHop('10.0.0.2', 1));
  const list = trustFunction(['10.0.0.0/8', 'loopback']);
  t.true(list('10.1.2.3', 0));
  t.true(list('127.0.0.1', 0));
  t.false(list('203.0.113.7', 0));
});

test('TRUST_PROXY and the limits are read from the environment; a wrong value is refused at boot, naming it', (t) => {
  const base = { DATA_DIR: '/tmp', JWT_SECRET: 'a-secret-of-sixteen-or-more' };
  t.is(loadConfig({ ...base }).trustProxy, false);
  t.is(loadConfig({ ...base, TRUST_PROXY: 'true' }).trustProxy, true);
  t.is(loadConfig({ ...base, TRUST_PROXY: '2' }).trustProxy, 2);
  t.deepEqual(loadConfig({ ...base, TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }).trustProxy, ['10.0.0.0/8', '127.0.0.1']);
  t.throws(() => loadConfig({ ...base, TRUST_PROXY: 'my-proxy.local' }), { instanceOf: ConfigError, message: /TRUST_PROXY.*my-proxy\.local/ });
  t.like(loadConfig({ ...base, MAX_CONNECTIONS_PER_PRINCIPAL: '5', CARTS_PER_MINUTE: '0' }), {
    maxConnectionsPerPrincipal: 5,
    cartsPerMinute: 0,
    maxOpenCarts: 50,
  });
  t.throws(() => loadConfig({ ...base, MAX_OPEN_CARTS: '-1' }), { instanceOf: ConfigError, message: /MAX_OPEN_CARTS/ });
});
