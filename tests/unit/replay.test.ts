// The kernel's journal replay: the state and context at every version, what each event changed, the check against
// the stored snapshot (a mismatch is reported, never hidden), gaps, refusals, redactions and machine versions; the
// diff kept small; a machine drawn as a graph; and a journal the real runtime wrote, redaction included.
import test from 'ava';
import { assign, setup } from 'xstate';
import type { JournalEntry } from '../../src/kernel/db/actor.repo.ts';
import { SqliteActorWriter } from '../../src/kernel/db/actor-writer.ts';
import { ActorRepo } from '../../src/kernel/db/actor.repo.ts';
import { migrateLatest, openDb } from '../../src/kernel/db/db.ts';
import { defineActorKind } from '../../src/kernel/actors/kinds.ts';
import { leafStates, machineGraph } from '../../src/kernel/actors/machine-graph.ts';
import { diffValues, replayJournal, replayStoredActor } from '../../src/kernel/actors/replay.ts';
import { ActorRuntime } from '../../src/kernel/actors/runtime.ts';
import { erasingKeys } from '../../src/kernel/privacy.ts';
import { shipmentMachine } from '../../src/modules/shipment/shipment.machine.ts';
import { appMigrations } from '../../src/modules/index.ts';
import { folderForTest } from '../helpers/app.ts';

interface TallyContext {
  owner: string;
  name: string | null;
  count: number;
  log: number[];
}

const tallyMachine = setup({
  types: {
    context: {} as TallyContext,
    events: {} as { type: 'ADD'; by: number; at: number } | { type: 'RENAME'; name: string | null; at: number } | { type: 'CLOSE'; at: number },
    input: {} as { owner: string; name: string | null; at: number },
  },
  guards: { positive: ({ event }) => event.type === 'ADD' && event.by > 0 },
}).createMachine({
  id: 'tally',
  context: ({ input }) => ({ owner: input.owner, name: input.name, count: 0, log: [] }),
  initial: 'open',
  states: {
    open: {
      on: {
        ADD: { guard: 'positive', actions: assign(({ context, event }) => ({ count: context.count + event.by, log: [...context.log, event.by] })) },
        RENAME: { actions: assign({ name: ({ event }) => event.name }) },
        CLOSE: { target: 'closed' },
      },
    },
    closed: { type: 'final' },
  },
});

const tally = { machine: tallyMachine };
const entry = (version: number, event: Record<string, unknown>, at = 1000 + version): JournalEntry => ({ actorId: 't1', kind: 'tally', version, event, at });
const init = entry(1, { type: 'xstate.init', input: { owner: 'cus_1', name: 'Ann', at: 1001 } });
const journal = [init, entry(2, { type: 'ADD', by: 2, at: 1002 }), entry(3, { type: 'ADD', by: 3, at: 1003 }), entry(4, { type: 'CLOSE', at: 1004 })];
const storedAt4 = { version: 4, state: 'closed', persisted: { value: 'closed', context: { owner: 'cus_1', name: 'Ann', count: 5, log: [2, 3] } } };

test('every version is rebuilt, with what its event changed; at(version); the last matches the stored snapshot', (t) => {
  const replay = replayJournal(tally, [...journal].reverse(), storedAt4);
  t.is(replay.failure, null);
  t.deepEqual(
    replay.versions.map((v) => [v.version, v.at, v.event.type, v.state]),
    [
      [1, 1001, 'xstate.init', 'open'],
      [2, 1002, 'ADD', 'open'],
      [3, 1003, 'ADD', 'open'],
      [4, 1004, 'CLOSE', 'closed'],
    ],
  );
  t.deepEqual(replay.at(1)?.context, { owner: 'cus_1', name: 'Ann', count: 0, log: [] });
  t.deepEqual(
    replay.at(1)?.changed.map((c) => c.path),
    ['owner', 'name', 'count', 'log'],
    'version 1: every key, as added',
  );
  t.deepEqual(replay.at(3)?.changed, [
    { path: 'count', before: 2, after: 5 },
    { path: 'log[1]', after: 3 },
  ]);
  t.deepEqual(replay.at(4)?.changed, [], 'a move between states that changes no context');
  t.is(replay.at(5), undefined);
  t.is(replay.at(0), undefined);
  t.deepEqual(replay.check, { matches: true, storedVersion: 4, replayedVersion: 4, mismatch: null, notes: [] });
});

test('a stored snapshot the journal does not lead to is a mismatch that names each difference', (t) => {
  const tampered = { ...storedAt4, state: 'open', persisted: { value: 'closed', context: { ...storedAt4.persisted.context, count: 6, extra: true } } };
  const check = replayJournal(tally, journal, tampered).check!;
  t.false(check.matches);
  t.deepEqual(check.mismatch!.differences, [
    { path: 'state', replayed: 'closed', stored: 'open' },
    { path: 'context.count', replayed: 5, stored: 6 },
    { path: 'context.extra', stored: true },
  ]);
  t.regex(check.mismatch!.message, /v4: the replayed actor differs from the stored snapshot in state, context\.count, context\.extra/);
  const behind = replayJournal(tally, journal.slice(0, 3), storedAt4).check!;
  t.false(behind.matches);
  t.deepEqual(behind.mismatch!.differences[0], { path: 'version', replayed: 3, stored: 4 });
  t.regex(behind.mismatch!.message, /replays to v3 but the stored snapshot is v4/);
});

test('a gap, a duplicate, a first entry that is not xstate.init, a refused event and a throwing machine stop the replay, loudly', (t) => {
  const gap = replayJournal(tally, [journal[0]!, journal[2]!, journal[3]!], storedAt4);
  t.like(gap.failure, { version: 2, reason: 'gap' });
  t.is(gap.versions.length, 1);
  t.false(gap.check!.matches);
  t.regex(gap.check!.mismatch!.message, /the replay stopped at v2 of 4: version 2 is missing/);

  t.like(replayJournal(tally, [...journal, entry(4, { type: 'ADD', by: 1, at: 1 })]).failure, {
    version: 5,
    reason: 'gap',
    message: 'version 4 is journaled twice',
  });
  t.like(replayJournal(tally, [entry(1, { type: 'ADD', by: 1 })]).failure, { version: 1, reason: 'not-init' });

  const refused = replayJournal(tally, [init, entry(2, { type: 'ADD', by: -1, at: 1002 })]);
  t.like(refused.failure, { version: 2, reason: 'refused' });
  t.regex(refused.failure!.message, /the machine in open does not accept the journaled ADD/);
  t.like(
    replayJournal(tally, [...journal, entry(5, { type: 'ADD', by: 1, at: 1005 })]).failure,
    { version: 5, reason: 'refused' },
    'nothing after a final state',
  );

  const throwing = setup({ types: { context: {} as { n: number }, events: {} as { type: 'BOOM' } } }).createMachine({
    context: { n: 0 },
    on: {
      BOOM: {
        actions: assign(() => {
          throw new Error('kaboom');
        }),
      },
    },
  });
  const threw = replayJournal({ machine: throwing }, [entry(1, { type: 'xstate.init' }), entry(2, { type: 'BOOM' })]);
  t.like(threw.failure, { version: 2, reason: 'threw' });
  t.regex(threw.failure!.message, /kaboom/);
});

test('an emporium.redacted entry carries state and context through, flagged and noted', (t) => {
  const erase = erasingKeys(['name']);
  const redactedJournal = [
    ...journal.slice(0, 3).map((e) => ({ ...e, event: erase(e.event) })),
    entry(4, { type: 'emporium.redacted', at: 1004 }),
    entry(5, { type: 'CLOSE', at: 1005 }),
  ];
  const stored = { version: 5, state: 'closed', persisted: { value: 'closed', context: { owner: 'cus_1', name: null, count: 5, log: [2, 3] } } };
  const replay = replayJournal(tally, redactedJournal, stored);
  t.is(replay.failure, null);
  t.true(replay.at(4)!.redacted);
  t.false(replay.at(3)!.redacted);
  t.deepEqual(replay.at(4)!.context, replay.at(3)!.context);
  t.is(replay.at(5)!.state, 'closed');
  t.true(replay.check!.matches, JSON.stringify(replay.check));
  t.regex(replay.check!.notes.join('\n'), /v4: personal data erased \(emporium\.redacted\)/);
});

test('machine versions: an older snapshot is migrated before the check; a newer one, or one without a migration, is a mismatch', (t) => {
  const older = { ...storedAt4, machineVersion: 1, persisted: { value: 'closed', context: { owner: 'cus_1', name: 'Ann', total: 5, log: [2, 3] } } };
  const migrate = (persisted: { value: unknown; context: unknown }) => {
    const { total, ...rest } = persisted.context as { total: number };
    return { value: persisted.value, context: { ...rest, count: total } };
  };
  const migrated = replayJournal({ machine: tallyMachine, machineVersion: 2, migrate }, journal, older).check!;
  t.true(migrated.matches, JSON.stringify(migrated.mismatch));
  t.regex(migrated.notes.join('\n'), /written by machine v1; compared after migrating it to v2/);
  const noMigration = replayJournal({ machine: tallyMachine, machineVersion: 2 }, journal, older).check!;
  t.false(noMigration.matches);
  t.deepEqual(noMigration.mismatch!.differences, [{ path: 'machineVersion', replayed: 2, stored: 1 }]);
  const newer = replayJournal({ machine: tallyMachine, machineVersion: 1 }, journal, { ...storedAt4, machineVersion: 3 }).check!;
  t.false(newer.matches);
  t.regex(newer.mismatch!.message, /newer machine \(v3\)/);
});

test('diffValues: paths, added and removed keys, appended tails, whole arrays when shifted, top-level keys past the limit', (t) => {
  t.deepEqual(diffValues({ a: 1, b: { c: [1, 2] } }, { a: 1, b: { c: [1, 2] } }), []);
  t.deepEqual(diffValues({ a: 1, gone: true }, { a: 2, fresh: 'x' }), [
    { path: 'a', before: 1, after: 2 },
    { path: 'gone', before: true },
    { path: 'fresh', after: 'x' },
  ]);
  t.deepEqual(diffValues({ items: [{ q: 1 }, { q: 2 }] }, { items: [{ q: 1 }, { q: 3 }] }), [{ path: 'items[1].q', before: 2, after: 3 }]);
  t.deepEqual(diffValues({ log: [1] }, { log: [1, 2, 3] }), [
    { path: 'log[1]', after: 2 },
    { path: 'log[2]', after: 3 },
  ]);
  t.deepEqual(diffValues({ log: [1, 2] }, { log: [1] }), [{ path: 'log[1]', before: 2 }]);
  t.deepEqual(diffValues({ log: [1, 2] }, { log: [2] }), [{ path: 'log', before: [1, 2], after: [2] }], 'a removal in the middle: the whole array');
  t.deepEqual(diffValues({ 'net weight': 1 }, { 'net weight': 2 }), [{ path: '["net weight"]', before: 1, after: 2 }]);
  t.deepEqual(diffValues({ a: { 'x-y': 1 } }, { a: { 'x-y': 2 } }), [{ path: 'a["x-y"]', before: 1, after: 2 }]);
  t.deepEqual(diffValues({ a: { b: { c: { d: { e: 1 } } } } }, { a: { b: { c: { d: { e: 2 } } } } }, { maxDepth: 2 }), [
    { path: 'a.b', before: { c: { d: { e: 1 } } }, after: { c: { d: { e: 2 } } } },
  ]);
  const many = (n: number) => ({ grid: Array.from({ length: 30 }, (_, i) => i * n), total: n });
  t.deepEqual(
    diffValues(many(1), many(2)),
    [
      { path: 'grid', before: many(1).grid, after: many(2).grid },
      { path: 'total', before: 1, after: 2 },
    ],
    'more than 20 changes: the top-level keys that changed',
  );
  t.deepEqual(diffValues(null, { a: 1 }), [{ path: '', before: null, after: { a: 1 } }], 'null is a value, not an absence');
});

test('machineGraph: states with parents and types, transitions with targets and guards, the initial state', (t) => {
  const graph = machineGraph(tallyMachine);
  t.is(graph.id, 'tally');
  t.is(graph.initial, 'open');
  t.deepEqual(graph.states, [
    { name: 'open', parent: null, type: 'atomic', initial: null },
    { name: 'closed', parent: null, type: 'final', initial: null },
  ]);
  t.deepEqual(graph.transitions, [
    { source: 'open', event: 'ADD', targets: [], guard: 'positive' },
    { source: 'open', event: 'RENAME', targets: [], guard: null },
    { source: 'open', event: 'CLOSE', targets: ['closed'], guard: null },
  ]);
  t.is(machineGraph(tallyMachine), graph, 'computed once per machine');
  const shipment = machineGraph(shipmentMachine);
  t.deepEqual(leafStates(shipment), ['pending', 'picking', 'packed', 'shipped', 'inTransit', 'exception', 'delivered', 'cancelled']);
  t.true(shipment.transitions.some((tr) => tr.source === 'exception' && tr.event === 'RESUME' && tr.targets.length === 1));
});

test('a journal the runtime wrote replays to its stored snapshot, through a redaction and an event after it', async (t) => {
  const dir = folderForTest(t, 'emporium-replay-');
  const db = openDb(`${dir}/replay.sqlite`, appMigrations());
  t.teardown(() => db.close());
  await migrateLatest(db);
  let now = 2_000_000;
  const repo = new ActorRepo(db.knex);
  const kind = defineActorKind({ kind: 'tally', machine: tallyMachine, machineVersion: 1, ownerOf: (s) => s.context.owner, deadlineOf: () => null });
  const runtime = new ActorRuntime<{ tally: typeof tallyMachine }>({
    repo,
    writer: new SqliteActorWriter(db.knex),
    clock: () => now++,
    logger: { warn: () => {}, error: () => {} },
    kinds: { tally: kind },
  });
  await runtime.create('tally', 'tally_1', { owner: 'cus_9', name: 'Bea', at: now });
  await runtime.send('tally', 'tally_1', { type: 'ADD', by: 4 });
  await runtime.send('tally', 'tally_1', { type: 'RENAME', name: 'Bee' });
  const erase = erasingKeys(['name']);
  await runtime.redact('tally', 'tally_1', erase, erase);
  await runtime.send('tally', 'tally_1', { type: 'ADD', by: 1 });
  await runtime.drain();

  const found = await replayStoredActor(repo, (name) => runtime.kindDefinition(name), 'tally_1');
  t.truthy(found);
  t.deepEqual(
    found!.replay.versions.map((v) => [v.version, v.event.type, v.redacted]),
    [
      [1, 'xstate.init', false],
      [2, 'ADD', false],
      [3, 'RENAME', false],
      [4, 'emporium.redacted', true],
      [5, 'ADD', false],
    ],
  );
  t.true(found!.replay.check!.matches, JSON.stringify(found!.replay.check));
  t.deepEqual(found!.replay.at(5)!.context, { owner: 'cus_9', name: null, count: 5, log: [4, 1] });
  t.is(await replayStoredActor(repo, (name) => runtime.kindDefinition(name), 'tally_none'), undefined);
  t.deepEqual(
    (await repo.journal('tally_1')).map((e) => e.version),
    [1, 2, 3, 4, 5],
  );
  t.deepEqual(await repo.countsByKindAndState(), [{ kind: 'tally', state: 'open', count: 1 }]);
  t.deepEqual(
    (await repo.search({ q: 'tally_', limit: 10 })).map((row) => row.id),
    ['tally_1'],
  );
  t.deepEqual(await repo.search({ q: 'tallyx', limit: 10 }), [], "an id prefix's underscore is not a wildcard");
  t.deepEqual(
    (await repo.search({ q: 'cus_9', limit: 10 })).map((row) => row.id),
    ['tally_1'],
    'an owner id',
  );
});
