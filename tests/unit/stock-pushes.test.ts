// The per-product coalescing of stock pushes, on RxJS virtual time (marbles: each value takes one frame, spaces
// take none): the first change at once, the latest of a window at its end, products independent, a level older
// than one already seen never passed on, a product's state dropped once it is idle, and a window of 0 passing all.
import test, { type ExecutionContext } from 'ava';
import { TestScheduler } from 'rxjs/testing';
import { coalescePerProduct } from '../../src/modules/inventory/stock-pushes.ts';

type Level = { productId: string; version: number };
const a = (version: number): Level => ({ productId: 'a', version });
const b = (version: number): Level => ({ productId: 'b', version });

const virtualTime = (t: ExecutionContext) => new TestScheduler((actual, expected) => t.deepEqual(actual, expected));

test('the first change goes out at once; later ones in the window fold into the latest, sent at its end', (t) => {
  virtualTime(t).run(({ cold, expectObservable }) => {
    // 1…4 at frames 0…3; 5 at 104, long after.
    const levels = cold('1234 100ms 5', { 1: a(1), 2: a(2), 3: a(3), 4: a(4), 5: a(5) });
    expectObservable(levels.pipe(coalescePerProduct({ windowMs: 10 }))).toBe('1 9ms 4 93ms 5', { 1: a(1), 4: a(4), 5: a(5) });
  });
});

test('products are coalesced each on its own', (t) => {
  virtualTime(t).run(({ cold, expectObservable }) => {
    const values = { 1: a(1), 2: b(7), 3: a(2), 4: b(8) };
    expectObservable(cold('1234', values).pipe(coalescePerProduct({ windowMs: 10 }))).toBe('12 8ms 34', values);
  });
});

test('a level older than one already seen is dropped, so versions only rise', (t) => {
  virtualTime(t).run(({ cold, expectObservable }) => {
    // 6 goes out; 5 (committed before it, announced after) must not follow it, and 4 must not replace 7 as the
    // window's latest.
    const levels = cold('1234', { 1: a(6), 2: a(5), 3: a(7), 4: a(4) });
    expectObservable(levels.pipe(coalescePerProduct({ windowMs: 10 }))).toBe('1 9ms 2', { 1: a(6), 2: a(7) });
  });
});

test('a steady stream makes one push per window, and the last level arrives', (t) => {
  virtualTime(t).run(({ cold, expectObservable }) => {
    const values = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [String(i), a(i + 1)]));
    // A change every 3 frames (0, 3, … 27), a window of 10: out at 0, then the latest at 10, 20 and 30.
    const levels = cold('0 2ms 1 2ms 2 2ms 3 2ms 4 2ms 5 2ms 6 2ms 7 2ms 8 2ms 9', values);
    expectObservable(levels.pipe(coalescePerProduct({ windowMs: 10 }))).toBe('0 9ms 3 9ms 6 9ms 9', values);
  });
});

test("a product's group ends when it has been idle: its state goes (a late straggler would then pass; clients drop it by version)", (t) => {
  const values = { 5: a(5), 3: a(3) };
  // Idle for 20 frames: the group of `a` ended, the straggler starts a new one.
  virtualTime(t).run(({ cold, expectObservable }) => {
    expectObservable(cold('5 49ms 3', values).pipe(coalescePerProduct({ windowMs: 10, idleMs: 20 }))).toBe('5 49ms 3', values);
  });
  // Still alive (idle after 100): the straggler is dropped.
  virtualTime(t).run(({ cold, expectObservable }) => {
    expectObservable(cold('5 49ms 3', values).pipe(coalescePerProduct({ windowMs: 10, idleMs: 100 }))).toBe('5', values);
  });
});

test('a window of 0 passes every level through as it is', (t) => {
  virtualTime(t).run(({ cold, expectObservable }) => {
    const values = { 1: a(1), 2: a(2), 3: a(1), 4: b(1) };
    expectObservable(cold('1234', values).pipe(coalescePerProduct({ windowMs: 0 }))).toBe('1234', values);
  });
});
