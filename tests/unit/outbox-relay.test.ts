// The relay alone, over a temp SQLite file and plain flows (no app): delivery per flow, per-actor order within a
// flow, retry with backoff for the failing flow only, parking after N attempts, requeue, and dispatch once all settle.
import test from 'ava';
import { concatMap } from 'rxjs';
import { defineFlow, type DomainEvent } from '../../src/kernel/outbox/flows.ts';
import { OutboxRelay } from '../../src/kernel/outbox/relay.ts';
import { migrateLatest, openDb, type Db } from '../../src/kernel/db/db.ts';
import { appMigrations } from '../../src/modules/index.ts';
import { OutboxRepo } from '../../src/kernel/db/outbox.repo.ts';
import { tempDir } from '../helpers/app.ts';

const silent = { warn: () => {}, error: () => {} };

async function setup(t: import('ava').ExecutionContext): Promise<{ db: Db; repo: OutboxRepo; clock: { now: number; read: () => number } }> {
  const dir = tempDir('emporium-relay-');
  const db = openDb(`${dir.dir}/relay.sqlite`, appMigrations());
  t.teardown(async () => {
    await db.close();
    dir.cleanup();
  });
  await migrateLatest(db);
  const clock = { now: 1_000_000, read: () => clock.now };
  return { db, repo: new OutboxRepo(db.knex, db.transaction), clock };
}

async function append(db: Db, events: ReadonlyArray<{ actorId: string; type: string; n: number }>): Promise<void> {
  for (const event of events) {
    await db.knex('outbox').insert({
      actor_id: event.actorId,
      kind: 'order',
      type: event.type,
      payload: JSON.stringify({ type: event.type, orderId: event.actorId, n: event.n }),
      created_at: 1,
    });
  }
}

/** A flow that records what it sees and fails on the events `fails` picks (each failure counted). */
function recorder(name: string, delivery: 'critical' | 'best-effort', fails: (event: DomainEvent, attempt: number) => boolean = () => false) {
  const seen: string[] = [];
  const attempts = new Map<number, number>();
  const flow = defineFlow({
    name,
    delivery,
    on: ['order.paid', 'order.expired'],
    run: (events$) =>
      events$.pipe(
        concatMap(async (event) => {
          const attempt = (attempts.get(event.seq) ?? 0) + 1;
          attempts.set(event.seq, attempt);
          if (fails(event, attempt)) throw new Error(`${name} fails on ${event.actorId}#${(event.payload as { n?: number }).n}`);
          seen.push(`${event.actorId}#${(event.payload as unknown as { n: number }).n}`);
        }),
      ),
  });
  return { flow, seen, attempts };
}

test('a flow that fails on every event is parked after its attempts; the other flow gets every event at once', async (t) => {
  const { db, repo, clock } = await setup(t);
  const broken = recorder('broken-projection', 'best-effort', () => true);
  const saga = recorder('money-saga', 'critical');
  const parked: string[] = [];
  const relay = new OutboxRelay({
    outbox: repo,
    flows: [broken.flow, saga.flow],
    clock: clock.read,
    logger: silent,
    maxAttempts: { critical: 10, 'best-effort': 3 },
    onParked: (flow, record) => parked.push(`${flow}:${record.seq}`),
  });
  await append(db, [
    { actorId: 'order_a', type: 'order.paid', n: 1 },
    { actorId: 'order_a', type: 'order.expired', n: 2 },
    { actorId: 'order_b', type: 'order.paid', n: 1 },
  ]);
  await relay.drain();
  t.deepEqual(saga.seen, ['order_a#1', 'order_b#1', 'order_a#2'], 'the saga is not held back by the broken flow');
  t.is(await repo.pendingCount(), 3, 'the rows are not dispatched while the broken flow still owes them');

  for (let round = 0; round < 5; round++) {
    clock.now += 61_000; // past any backoff
    await relay.drain();
  }
  t.deepEqual(parked.sort(), ['broken-projection:1', 'broken-projection:2', 'broken-projection:3']);
  t.deepEqual([...broken.attempts.values()], [3, 3, 3], 'three attempts each, then no more');
  t.deepEqual(
    (await repo.parked()).map((entry) => [entry.flow, entry.seq, entry.attempts]),
    [
      ['broken-projection', 1, 3],
      ['broken-projection', 2, 3],
      ['broken-projection', 3, 3],
    ],
  );
  t.is(await repo.pendingCount(), 0, 'parked deliveries settle their rows');
  t.is(saga.seen.length, 3, 'nothing was delivered twice to the saga');
});

test("within a flow an actor's events stay in commit order: a failed one holds back only that actor's later ones", async (t) => {
  const { db, repo, clock } = await setup(t);
  const flaky = recorder(
    'flaky',
    'critical',
    (event, attempt) => event.actorId === 'order_x' && (event.payload as unknown as { n: number }).n === 1 && attempt === 1,
  );
  const relay = new OutboxRelay({ outbox: repo, flows: [flaky.flow], clock: clock.read, logger: silent });
  await append(db, [
    { actorId: 'order_x', type: 'order.paid', n: 1 },
    { actorId: 'order_x', type: 'order.expired', n: 2 },
    { actorId: 'order_y', type: 'order.paid', n: 1 },
  ]);
  await relay.drain();
  t.deepEqual(flaky.seen, ['order_y#1'], 'order_x#2 waits for order_x#1; order_y goes on');
  await relay.drain();
  t.deepEqual(flaky.seen, ['order_y#1'], 'the retry waits for its backoff');
  clock.now += 1_000;
  await relay.drain();
  t.deepEqual(flaky.seen, ['order_y#1', 'order_x#1', 'order_x#2']);
  t.is(await repo.pendingCount(), 0);
});

test('events no flow consumes are dispatched at once; parked deliveries can be requeued and then delivered', async (t) => {
  const { db, repo, clock } = await setup(t);
  let healthy = false;
  const projection = recorder('projection', 'best-effort', () => !healthy);
  const relay = new OutboxRelay({ outbox: repo, flows: [projection.flow], clock: clock.read, logger: silent, maxAttempts: { critical: 5, 'best-effort': 1 } });
  await append(db, [
    { actorId: 'order_q', type: 'order.placed', n: 1 },
    { actorId: 'order_q', type: 'order.paid', n: 2 },
  ]);
  await relay.drain();
  const rows = (await db.knex('outbox').orderBy('seq').select('type', 'dispatched_at')) as Array<{ type: string; dispatched_at: number | null }>;
  t.deepEqual(
    rows.map((row) => [row.type, row.dispatched_at !== null]),
    [
      ['order.placed', true],
      ['order.paid', true],
    ],
  );
  t.is((await repo.parked('projection')).length, 1);

  healthy = true; // the bug was fixed and deployed: the operator requeues
  t.is(await repo.requeueParked({ flow: 'projection' }), 1);
  t.is(await repo.pendingCount(), 1);
  await relay.drain();
  t.deepEqual(projection.seen, ['order_q#2']);
  t.is(await repo.pendingCount(), 0);
  t.deepEqual(await repo.parked(), []);
});

test('two flows may not share a name: their delivery records would mix', (t) => {
  const { flow } = recorder('same', 'critical');
  t.throws(() => new OutboxRelay({ outbox: {} as OutboxRepo, flows: [flow, flow], clock: Date.now, logger: silent }), { message: /two flows are named same/ });
});

test("a flow never takes an actor's later event while an earlier one is not fanned out yet (another node holds it)", async (t) => {
  const { db, repo, clock } = await setup(t);
  await append(db, [
    { actorId: 'order_f', type: 'order.paid', n: 1 },
    { actorId: 'order_f', type: 'order.expired', n: 2 },
  ]);
  // As if another relay's fan-out transaction still held row 1 while this one fanned out row 2.
  await db.knex('outbox_deliveries').insert({ seq: 2, flow: 'saga', actor_id: 'order_f', state: 'pending' });
  await db.knex('outbox').where({ seq: 2 }).update({ fanned_out_at: clock.now });
  t.deepEqual(await repo.claim('saga', clock.now, 10_000, 10), [], 'row 2 waits for row 1');
  await repo.fanOut(() => ['saga'], clock.now, 10);
  t.deepEqual(
    (await repo.claim('saga', clock.now, 10_000, 10)).map((record) => record.seq),
    [1],
  );
});

test('a relay whose lease lapsed cannot overwrite what the relay that took over recorded', async (t) => {
  const { db, repo, clock } = await setup(t);
  await append(db, [{ actorId: 'order_l', type: 'order.paid', n: 1 }]);
  await repo.fanOut(() => ['saga'], clock.now, 10);
  const [late] = await repo.claim('saga', clock.now, 1_000, 10);
  clock.now += 2_000; // the first relay's lease ran out; a second one takes the delivery over and finishes it
  const [taken] = await repo.claim('saga', clock.now, 1_000, 10);
  t.truthy(late && taken);
  t.false(await repo.renew(late!, clock.now, 1_000), 'the first relay sees the claim is no longer its own');
  await repo.markDone(taken!, clock.now);
  await repo.markFailed(late!, 'too late', clock.now + 1_000, true, clock.now);
  const row = (await db.knex('outbox_deliveries').where({ seq: 1, flow: 'saga' }).first()) as { state: string; attempts: number };
  t.deepEqual([row.state, Number(row.attempts)], ['done', 0]);
  t.is(await repo.pendingCount(), 0);
});

test('a batch settled at once: each delivery only under its own claim, and a row dispatched once no flow owes it anything', async (t) => {
  const { db, repo, clock } = await setup(t);
  await append(db, [
    { actorId: 'order_a', type: 'order.paid', n: 1 },
    { actorId: 'order_b', type: 'order.paid', n: 1 },
    { actorId: 'order_c', type: 'order.paid', n: 1 },
  ]);
  await repo.fanOut((type) => (type === 'order.paid' ? ['saga', 'mail'] : []), clock.now, 10);
  const mine = await repo.claim('saga', clock.now, 1_000, 10);
  t.deepEqual(
    mine.map((record) => record.seq),
    [1, 2, 3],
  );
  // The claims lapse and another relay takes one delivery over: this relay's late settle must not count for it.
  clock.now += 2_000;
  const [taken] = await repo.claim('saga', clock.now, 1_000, 1);
  t.is(taken?.seq, 1, 'the other relay takes the oldest first');
  await repo.markAllDone([...mine].reverse(), clock.now);
  const states = (await db.knex('outbox_deliveries').where({ flow: 'saga' }).orderBy('seq').select('seq', 'state')) as Array<{ seq: number; state: string }>;
  t.deepEqual(
    states.map((row) => row.state),
    ['pending', 'done', 'done'],
    "seq 1 is the other relay's now; 2 and 3 were still ours to settle",
  );
  // The mail flow still owes every row something: none is dispatched until it settles too.
  t.is(await repo.pendingCount(), 3);
  const mail = await repo.claim('mail', clock.now, 1_000, 10);
  await repo.markAllDone(mail, clock.now);
  t.is(await repo.pendingCount(), 1, 'rows 2 and 3 are dispatched; row 1 waits for the saga');
  await repo.markAllDone([taken!], clock.now);
  t.is(await repo.pendingCount(), 0);
  await repo.markAllDone([], clock.now);
});

test('a flow stuck on a slow effect never delays another: the saga delivers later events while the slow flow still works', async (t) => {
  const { db, repo, clock } = await setup(t);
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => (release = resolve));
  const slowSeen: string[] = [];
  const slow = defineFlow({
    name: 'slow-mail',
    delivery: 'best-effort',
    on: ['order.paid', 'order.expired'],
    run: (events$) =>
      events$.pipe(
        concatMap(async (event) => {
          await gate; // an SMTP server that takes its time
          slowSeen.push(event.actorId);
        }),
      ),
  });
  const saga = recorder('money-saga', 'critical');
  const relay = new OutboxRelay({ outbox: repo, flows: [slow, saga.flow], clock: clock.read, logger: silent });
  t.teardown(() => {
    release();
    return relay.stop();
  });

  await append(db, [{ actorId: 'order_a', type: 'order.paid', n: 1 }]);
  relay.nudge();
  await until(() => saga.seen.length === 1);
  // While the slow flow still holds the first event, later events reach the saga at once.
  await append(db, [
    { actorId: 'order_b', type: 'order.paid', n: 1 },
    { actorId: 'order_c', type: 'order.expired', n: 1 },
  ]);
  relay.nudge();
  await until(() => saga.seen.length === 3);
  t.deepEqual(saga.seen, ['order_a#1', 'order_b#1', 'order_c#1']);
  t.deepEqual(slowSeen, [], 'the slow flow is still on its first event');

  release();
  await relay.drain();
  t.deepEqual(slowSeen.sort(), ['order_a', 'order_b', 'order_c']);
  t.is(await repo.pendingCount(), 0);
});

test('a nudge runs only the flows given new deliveries; a drain visits every flow', async (t) => {
  const { db, repo, clock } = await setup(t);
  const claims = new Map<string, number>();
  // The real repository, counting each flow's claims (an idle flow's pass is a claim that finds nothing).
  const counting = Object.assign(Object.create(repo) as OutboxRepo, {
    claim: (flow: string, now: number, leaseMs: number, limit: number) => {
      claims.set(flow, (claims.get(flow) ?? 0) + 1);
      return repo.claim(flow, now, leaseMs, limit);
    },
  });
  const saga = recorder('money-saga', 'critical');
  const expirySeen: string[] = [];
  const expiry = defineFlow({
    name: 'expiry-only',
    delivery: 'critical',
    on: ['order.expired'],
    run: (events$) => events$.pipe(concatMap(async (event) => void expirySeen.push(event.actorId))),
  });
  const relay = new OutboxRelay({ outbox: counting, flows: [saga.flow, expiry], clock: clock.read, logger: silent });
  t.teardown(() => relay.stop());

  await append(db, [
    { actorId: 'order_a', type: 'order.paid', n: 1 },
    { actorId: 'order_b', type: 'order.paid', n: 1 },
  ]);
  relay.nudge();
  await until(() => saga.seen.length === 2);
  await relay.drain();
  t.deepEqual(saga.seen, ['order_a#1', 'order_b#1']);
  t.deepEqual(expirySeen, []);

  claims.clear();
  await append(db, [{ actorId: 'order_c', type: 'order.paid', n: 1 }]);
  relay.nudge();
  await until(() => saga.seen.length === 3);
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.true((claims.get('money-saga') ?? 0) >= 1, 'the flow given the delivery claimed it');
  t.is(claims.get('expiry-only') ?? 0, 0, 'the flow given nothing was not asked');

  await append(db, [{ actorId: 'order_c', type: 'order.expired', n: 2 }]);
  relay.nudge();
  await until(() => expirySeen.length === 1);
  t.deepEqual(expirySeen, ['order_c']);

  claims.clear();
  relay.nudgeAll();
  await until(() => (claims.get('expiry-only') ?? 0) >= 1);
  t.true((claims.get('money-saga') ?? 0) >= 1, 'the periodic sweep (nudgeAll) asks every flow, with or without new deliveries');
  claims.clear();
  await relay.drain();
  t.true((claims.get('expiry-only') ?? 0) >= 1, 'so does a drain');
  t.is(await repo.pendingCount(), 0);
});

test('a failed delivery is retried when its backoff ends, with no new event and no sweep to ask for it', async (t) => {
  const { db, repo } = await setup(t);
  const flaky = recorder('flaky', 'critical', (_event, attempt) => attempt === 1);
  const relay = new OutboxRelay({ outbox: repo, flows: [flaky.flow], clock: () => Date.now(), logger: silent });
  t.teardown(() => relay.stop());
  await append(db, [{ actorId: 'order_r', type: 'order.paid', n: 1 }]);
  relay.nudge();
  await until(() => flaky.attempts.get(1) === 1);
  t.deepEqual(flaky.seen, []);
  // The first backoff is 0.5 s; only the relay's own timer can ask again.
  await until(() => flaky.seen.length === 1);
  t.deepEqual(flaky.seen, ['order_r#1']);
  t.is(flaky.attempts.get(1), 2);
  await relay.stop(); // the pass under way records the delivery before it ends
  t.is(await repo.pendingCount(), 0);
});

test('past half its lease a batch records what it delivered before it goes on (and renews the next delivery)', async (t) => {
  const { db, repo, clock } = await setup(t);
  const statesSeen: string[] = [];
  const slow = defineFlow({
    name: 'slow-saga',
    delivery: 'critical',
    on: ['order.paid'],
    run: (events$) =>
      events$.pipe(
        concatMap(async (event) => {
          if (event.actorId === 'order_1')
            clock.now += 6_000; // the first delivery takes 6 s of a 10 s lease
          else {
            const first = (await db.knex('outbox_deliveries').where({ seq: 1, flow: 'slow-saga' }).first()) as { state: string };
            const own = (await db.knex('outbox_deliveries').where({ seq: event.seq, flow: 'slow-saga' }).first()) as { claimed_until: number };
            statesSeen.push(first.state, String(own.claimed_until > clock.now + 5_000));
          }
        }),
      ),
  });
  const relay = new OutboxRelay({ outbox: repo, flows: [slow], clock: clock.read, logger: silent, leaseMs: 10_000 });
  await append(db, [
    { actorId: 'order_1', type: 'order.paid', n: 1 },
    { actorId: 'order_2', type: 'order.paid', n: 1 },
  ]);
  await relay.drain();
  t.deepEqual(statesSeen, ['done', 'true'], 'the first was recorded done, and the second renewed, before the second ran');
  t.is(await repo.pendingCount(), 0);
});

/** Waits (on the event loop, not a timer) until `done()` holds; fails after 5 s. */
async function until(done: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('condition not met in 5 s');
    await new Promise((resolve) => setImmediate(resolve));
  }
}
