// The kernel's effect runner and refusal reasons, over a temp SQLite file (no app): a toy kind declares an effect
// on its `running` state and a rule for its refusals; the runner resumes only actors stalled past the timeout,
// one by one, and a refused event answers with the machine's reason.
import test from 'ava';
import { assign, setup } from 'xstate';
import { AppError } from '../../src/domain/errors.ts';
import { EffectRunner, type EffectOutcome } from '../../src/kernel/actors/effects.ts';
import { defineActorKind } from '../../src/kernel/actors/kinds.ts';
import { ActorRuntime } from '../../src/kernel/actors/runtime.ts';
import { SqliteActorWriter } from '../../src/kernel/db/actor-writer.ts';
import { ActorRepo } from '../../src/kernel/db/actor.repo.ts';
import { migrateLatest, openDb } from '../../src/kernel/db/db.ts';
import type { AppRuntime, Services } from '../../src/kernel/registry.ts';
import { appMigrations } from '../../src/modules/index.ts';
import { folderForTest } from '../helpers/app.ts';

const jobMachine = setup({
  types: {
    context: {} as { owner: string; steps: number },
    events: {} as { type: 'START'; at: number } | { type: 'FINISH'; at: number } | { type: 'FAIL'; at: number } | { type: 'STEP'; by: number; at: number },
    input: {} as { owner: string },
  },
}).createMachine({
  context: ({ input }) => ({ owner: input.owner, steps: 0 }),
  initial: 'idle',
  states: {
    idle: {
      on: {
        START: 'running',
        STEP: { guard: ({ event }) => event.by > 0, actions: assign({ steps: ({ context, event }) => context.steps + event.by }) },
      },
    },
    running: { on: { FINISH: 'done', FAIL: 'failed' } },
    done: { type: 'final' },
    failed: { type: 'final' },
  },
});

const STALL_MS = 5_000;

async function setupJobs(t: import('ava').ExecutionContext) {
  const dir = folderForTest(t, 'emporium-effects-');
  const db = openDb(`${dir}/effects.sqlite`, appMigrations());
  t.teardown(() => db.close());
  await migrateLatest(db);
  const clock = { now: 1_000_000 };
  const resumed: string[] = [];
  let flakyFailures = 1;
  const warnings: object[] = [];
  const kind = defineActorKind({
    kind: 'job',
    machine: jobMachine,
    machineVersion: 1,
    ownerOf: (snapshot) => snapshot.context.owner,
    deadlineOf: () => null,
    refusal: (snapshot, event) =>
      event.type === 'STEP' && snapshot.value === 'idle' && event.by <= 0
        ? { code: 'VALIDATION', reason: 'STEP_NOT_POSITIVE', message: 'a step moves forward', details: { by: event.by } }
        : null,
    effects: [
      {
        name: 'job.run',
        state: 'running',
        step: 'run the job',
        stallMs: STALL_MS,
        compensation: 'FAIL',
        resume: async (job) => {
          resumed.push(job.id);
          if (job.id.startsWith('refuse')) {
            await runtime.send('job', job.id, { type: 'FAIL' });
            throw new AppError('CONFLICT', 'the job could not run; it was failed');
          }
          if (job.id.startsWith('flaky') && flakyFailures-- > 0) throw new Error('dependency down');
          await runtime.send('job', job.id, { type: 'FINISH' });
        },
      },
    ],
  });
  const actors = new ActorRepo(db.knex);
  const runtime = new ActorRuntime<{ job: typeof jobMachine }>({
    repo: actors,
    writer: new SqliteActorWriter(db.knex),
    clock: () => clock.now,
    logger: { warn: () => {}, error: () => {} },
    kinds: { job: kind },
  });
  const outcomes: Array<[string, EffectOutcome]> = [];
  const runner = new EffectRunner({
    runtime: runtime as unknown as AppRuntime,
    actors,
    kinds: { job: kind as never },
    services: {} as Services,
    clock: () => clock.now,
    logger: { warn: (object) => warnings.push(object) },
    onResumed: (effect, outcome) => outcomes.push([effect, outcome]),
  });
  const start = async (id: string) => {
    await runtime.create('job', id, { owner: 'ann' });
    await runtime.send('job', id, { type: 'START' });
  };
  return { runtime, runner, clock, resumed, outcomes, warnings, start };
}

test('the runner resumes only actors stalled in the effect state past its timeout, each once it is stalled', async (t) => {
  const { runtime, runner, clock, resumed, outcomes, start } = await setupJobs(t);
  await start('ok_1');
  await runtime.create('job', 'idle_1', { owner: 'ann' });
  clock.now += STALL_MS - 1;
  t.is(await runner.resumeStalled(), 0, 'not stalled yet');
  t.deepEqual(resumed, []);

  clock.now += 2;
  t.is(await runner.resumeStalled(), 1);
  t.deepEqual(resumed, ['ok_1'], 'an actor outside the state is never resumed');
  t.is((await runtime.get('job', 'ok_1'))?.state, 'done');
  t.deepEqual(outcomes, [['job.run', 'finished']]);

  t.is(await runner.resumeStalled(), 0, 'a finished effect is not resumed again');
  t.deepEqual(
    runner.declared.map(({ kind, effect }) => [kind, effect.name, effect.state, effect.stallMs]),
    [['job', 'job.run', 'running', STALL_MS]],
  );
});

test('a failing resume is logged and retried on the next pass without holding up the others; a refusal counts as ended', async (t) => {
  const { runtime, runner, clock, outcomes, warnings, start } = await setupJobs(t);
  await start('flaky_1');
  await start('refuse_1');
  await start('ok_2');
  clock.now += STALL_MS + 1;

  t.is(await runner.resumeStalled(), 2);
  t.deepEqual(outcomes.map(([, outcome]) => outcome).sort(), ['failed', 'finished', 'refused']);
  t.is(warnings.length, 1);
  t.like(warnings[0], { effect: 'job.run', kind: 'job', id: 'flaky_1' });
  t.is((await runtime.get('job', 'refuse_1'))?.state, 'failed', 'the refusal was recorded by resume (its compensation)');
  t.is((await runtime.get('job', 'ok_2'))?.state, 'done');
  t.is((await runtime.get('job', 'flaky_1'))?.state, 'running');

  t.is(await runner.resumeStalled(), 1, 'the failed one is retried');
  t.is((await runtime.get('job', 'flaky_1'))?.state, 'done');
});

test("a refused event answers with the machine's reason; one the machine cannot explain is INVALID_TRANSITION", async (t) => {
  const { runtime } = await setupJobs(t);
  await runtime.create('job', 'job_1', { owner: 'ann' });
  const refused = await t.throwsAsync(runtime.send('job', 'job_1', { type: 'STEP', by: 0 }), { instanceOf: AppError });
  t.is(refused.code, 'VALIDATION');
  t.is(refused.message, 'a step moves forward');
  t.deepEqual(refused.details, { by: 0, reason: 'STEP_NOT_POSITIVE' });
  const unexplained = await t.throwsAsync(runtime.send('job', 'job_1', { type: 'FINISH' }), { instanceOf: AppError });
  t.is(unexplained.code, 'INVALID_TRANSITION');
  t.deepEqual(unexplained.details, { state: 'idle', event: 'FINISH' });
  t.is((await runtime.get('job', 'job_1'))?.version, 1, 'nothing was written');
});

test("attempt returns the machine's refusal as a value, with the state it was judged on; send throws the same error", async (t) => {
  const { runtime } = await setupJobs(t);
  await runtime.create('job', 'job_2', { owner: 'ann' });
  const refused = await runtime.attempt('job', 'job_2', { type: 'STEP', by: -2 });
  t.false(refused.ok);
  if (refused.ok) return;
  t.is(refused.actor.state, 'idle');
  t.is(refused.actor.version, 1);
  t.deepEqual(refused.refusal.toBody(), { code: 'VALIDATION', message: 'a step moves forward', details: { by: -2, reason: 'STEP_NOT_POSITIVE' } });
  const thrown = await t.throwsAsync(runtime.send('job', 'job_2', { type: 'STEP', by: -2 }), { instanceOf: AppError });
  t.deepEqual(thrown.toBody(), refused.refusal.toBody());

  const taken = await runtime.attempt('job', 'job_2', { type: 'STEP', by: 3 });
  t.true(taken.ok);
  t.is(taken.actor.snapshot.context.steps, 3);
  t.is(taken.actor.version, 2);
  // A refusal by the decide function is not the machine's: it still rejects.
  await t.throwsAsync(
    runtime.attempt('job', 'job_2', () => {
      throw new AppError('FORBIDDEN', 'not yours');
    }),
    { message: 'not yours' },
  );
});
