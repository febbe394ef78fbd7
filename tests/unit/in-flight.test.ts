// InFlight.settle: shutdown waits for the commands running when it starts, no longer than its grace, and a
// stream of later commands (refused while draining) cannot hold it up.
import test from 'ava';
import { InFlight } from '../../src/kernel/gateway/commands.ts';

const later = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

test('settle waits for the commands running now and reports none left', async (t) => {
  const inFlight = new InFlight();
  let finished = 0;
  for (const ms of [10, 30, 50]) void inFlight.track(later(ms).then(() => finished++));
  t.is(inFlight.size, 3);
  t.is(await inFlight.settle(1_000), 0);
  t.is(finished, 3);
  t.is(inFlight.size, 0);
});

test('settle gives up after its timeout and says how many are still running', async (t) => {
  const inFlight = new InFlight();
  void inFlight.track(later(10));
  void inFlight.track(later(5_000));
  const started = Date.now();
  t.is(await inFlight.settle(100), 1);
  t.true(Date.now() - started < 1_000);
});

test('commands that start after settle began do not hold it up', async (t) => {
  const inFlight = new InFlight();
  void inFlight.track(later(50));
  // A new short command every 5 ms, overlapping each other, for longer than the first one runs.
  const stream = setInterval(() => void inFlight.track(later(20)), 5);
  t.teardown(() => clearInterval(stream));
  const started = Date.now();
  t.is(await inFlight.settle(2_000), 0);
  t.true(Date.now() - started < 500, `took ${Date.now() - started} ms`);
});

test('answers lost to closed connections are counted', (t) => {
  const inFlight = new InFlight();
  inFlight.answerLost();
  inFlight.answerLost();
  t.is(inFlight.answersLost, 2);
});
