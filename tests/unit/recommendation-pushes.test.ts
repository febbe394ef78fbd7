// The recommendations push pipeline alone, in virtual time: one computation per burst of a cart's changes, after the
// burst and for its last version; carts debounced independently; a failed computation logged without ending the
// stream; a cart that is not active, or only just created, computes nothing; a cart that changed hands drops the
// topic's other watchers.
import test from 'ava';
import { map, of, throwError } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { ActorChange } from '../../src/kernel/actors/runtime.ts';
import { recommendationPushes } from '../../src/modules/recommendations/pushes.ts';
import type { RecommendationsUpdated } from '../../src/protocol/index.ts';

const change = (id: string, version: number, state = 'active', event: { type: string } = { type: 'ADD_ITEM' }) =>
  ({ kind: 'cart', id, version, state, ownerId: 'cus_1', event, actor: { id, version }, context: {}, emitted: [], at: 0 }) as unknown as ActorChange;

function run(
  t: import('ava').ExecutionContext,
  marbles: string,
  values: Record<string, ActorChange>,
  expected: string,
  expectedValues: Record<string, unknown>,
  compute: (cart: { id: string; version: number }) => import('rxjs').Observable<RecommendationsUpdated>,
  errors: unknown[] = [],
) {
  const scheduler = new TestScheduler((actual, wanted) => t.deepEqual(actual, wanted));
  const computed: string[] = [];
  scheduler.run(({ hot, expectObservable }) => {
    const changes$ = hot(marbles, values);
    const pushes$ = recommendationPushes(changes$, {
      debounceMs: 5,
      idleMs: 20,
      compute: (cart) => {
        computed.push(`${cart.id}@${cart.version}`);
        return compute(cart as unknown as { id: string; version: number });
      },
      logger: { error: (object) => errors.push(object) },
    }).pipe(map((push) => ({ event: push.event, topics: push.topics, payload: push.payload()[0], onlyOwner: push.onlyOwner })));
    expectObservable(pushes$).toBe(expected, expectedValues);
  });
  return computed;
}

const update = (cart: { id: string; version: number }): RecommendationsUpdated => ({ cartId: cart.id, version: cart.version, recommendations: [] });
const pushOf = (id: string, version: number, onlyOwner?: string) => ({
  event: 'recommendations:updated',
  topics: [`recommendations:${id}`],
  payload: { cartId: id, version, recommendations: [] },
  onlyOwner,
});

test('one computation per burst, after it and for its last version; each cart on its own', (t) => {
  // a, b, c: one burst of cart c1 (1 frame apart); x: cart c2 meanwhile; d: c1 again, long after.
  const computed = run(
    t,
    'abxc-------------------------------d',
    { a: change('c1', 1), b: change('c1', 2), c: change('c1', 3), x: change('c2', 7), d: change('c1', 4) },
    '-------yz-------------------------------w',
    { y: pushOf('c2', 7), z: pushOf('c1', 3), w: pushOf('c1', 4) },
    (cart) => of(update(cart)),
  );
  t.deepEqual(computed, ['c2@7', 'c1@3', 'c1@4'], 'never for versions 1 and 2: the burst had not settled');
});

test('a failed computation is logged and the stream goes on; a cart that is not active is not computed', (t) => {
  const errors: unknown[] = [];
  const computed = run(
    t,
    'a---------b---------c---------d',
    { a: change('c1', 2), b: change('c1', 3), c: change('c1', 4, 'checkedOut'), d: change('c2', 2) },
    '---------------y-------------------z',
    { y: pushOf('c1', 3), z: pushOf('c2', 2) },
    (cart) => (cart.version === 2 && cart.id === 'c1' ? throwError(() => new Error('database away')) : of(update(cart))),
    errors,
  );
  t.deepEqual(computed, ['c1@2', 'c1@3', 'c2@2']);
  t.is(errors.length, 1);
  t.like(errors[0], { cartId: 'c1', version: 2 });
});

test("changes of other kinds and a cart's creation alone are ignored; a burst in which the cart changed hands keeps only its new owner on the topic", (t) => {
  const order = { ...change('o1', 2), kind: 'order' } as ActorChange;
  const computed = run(
    t,
    'oabn',
    { o: order, a: change('c1', 1), b: change('c1', 2, 'active', { type: 'ASSIGN_CUSTOMER' }), n: change('c3', 1) },
    '-------y',
    { y: pushOf('c1', 2, 'cus_1') },
    (cart) => of(update(cart)),
  );
  t.deepEqual(computed, ['c1@2']);
});
