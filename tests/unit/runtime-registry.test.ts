// The actor runtime alone, over a temp SQLite file (no app): its kind registry is open — a kind it has never
// heard of (a toy counter with a deadline) is created, changed, refused, judged in its step and timed out.
import test from 'ava';
import { assign, emit, setup } from 'xstate';
import { defineActorKind } from '../../src/kernel/actors/kinds.ts';
import { ActorRuntime } from '../../src/kernel/actors/runtime.ts';
import type { AppError } from '../../src/domain/errors.ts';
import { SqliteActorWriter } from '../../src/kernel/db/actor-writer.ts';
import { ActorRepo } from '../../src/kernel/db/actor.repo.ts';
import { migrateLatest, openDb } from '../../src/kernel/db/db.ts';
import { appMigrations } from '../../src/modules/index.ts';
import { folderForTest } from '../helpers/app.ts';

const counterMachine = setup({
  types: {
    context: {} as { owner: string; count: number; closesAt: number },
    events: {} as { type: 'ADD'; by: number; at: number } | { type: 'CLOSE'; at: number },
    input: {} as { owner: string; at: number },
    emitted: {} as { type: 'counter.closed'; count: number },
  },
}).createMachine({
  context: ({ input }) => ({ owner: input.owner, count: 0, closesAt: input.at + 1_000 }),
  initial: 'open',
  states: {
    open: {
      on: {
        ADD: { guard: ({ event }) => event.by > 0, actions: assign({ count: ({ context, event }) => context.count + event.by }) },
        CLOSE: {
          guard: ({ context, event }) => event.at >= context.closesAt,
          target: 'closed',
          actions: emit(({ context }) => ({ type: 'counter.closed' as const, count: context.count })),
        },
      },
    },
    closed: { type: 'final' },
  },
});

const quiet = { warn: () => {}, error: () => {} };

test('a kind the runtime was never written for is hosted like any other: create, send, refuse, decide, time out', async (t) => {
  const dir = folderForTest(t, 'emporium-runtime-');
  const db = openDb(`${dir}/runtime.sqlite`, appMigrations());
  t.teardown(() => db.close());
  await migrateLatest(db);
  let now = 1_000_000;
  const runtime = new ActorRuntime<{ counter: typeof counterMachine }>({
    repo: new ActorRepo(db.knex),
    writer: new SqliteActorWriter(db.knex),
    clock: () => now,
    logger: quiet,
    kinds: {
      counter: defineActorKind({
        kind: 'counter',
        machine: counterMachine,
        machineVersion: 1,
        ownerOf: (snapshot) => snapshot.context.owner,
        deadlineOf: (snapshot) => (snapshot.value === 'open' ? { at: snapshot.context.closesAt, event: { type: 'CLOSE' as const } } : null),
      }),
    },
  });
  t.true(runtime.hosts('counter'));
  t.false(runtime.hosts('cart'), 'it hosts exactly what it was given');

  const { actor } = await runtime.create('counter', 'counter_1', { owner: 'ann', at: now });
  t.is(actor.ownerId, 'ann');
  t.is((await runtime.send('counter', 'counter_1', { type: 'ADD', by: 2 })).snapshot.context.count, 2);
  const refused = await t.throwsAsync(runtime.send('counter', 'counter_1', { type: 'ADD', by: -1 }));
  t.is((refused as AppError).code, 'INVALID_TRANSITION');
  // A decision made in the step sees the state the event is applied to.
  const decided = await runtime.send('counter', 'counter_1', (current) => ({ type: 'ADD' as const, by: current.snapshot.context.count }));
  t.is(decided.snapshot.context.count, 4);
  t.is(decided.version, 3);

  now += 1_000;
  t.is(await runtime.sweepDeadlines(), 1, 'the durable deadline fires');
  const closed = await runtime.get('counter', 'counter_1');
  t.is(closed?.state, 'closed');
  const outbox = (await db.knex('outbox').where({ actor_id: 'counter_1' }).select('type', 'payload')) as Array<{ type: string; payload: string }>;
  t.deepEqual(
    outbox.map((row) => [row.type, JSON.parse(row.payload).count]),
    [['counter.closed', 4]],
  );
});
