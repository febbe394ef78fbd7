// Reviews and ratings: only a customer whose order with the product was delivered may review it, once; edits and
// deletions move the aggregate; a watcher of product:<id> gets rating:changed (on create, edit, delete and hide);
// votes count once; staff hide abusive reviews, which leave the listing and the aggregate; the listing pages newest or
// most helpful first, and a page walk neither repeats nor skips a review while new ones are written.
import test from 'ava';
import type { Socket } from 'socket.io-client';
import type { CartView, OrderView, ProductView, RatingChanged, ReviewView } from '../../src/protocol/index.ts';
import { failed } from '../helpers/acks.ts';
import {
  call,
  connect,
  createProduct,
  getJson,
  guestToken,
  nextEvent,
  ok,
  registerCustomer,
  socketForTest,
  staffToken,
  startApp,
  TEST_CARD,
  type TestApp,
} from '../helpers/app.ts';

let app: TestApp;
let staff: Socket;
let orders = 0;

test.before(async () => {
  app = await startApp();
  staff = await connect(app.url, '/warehouse', await staffToken(app.app));
});

test.after.always(async () => {
  staff?.close();
  await app?.stop();
});

/** A customer (socket on /store) whose order with `productId` has gone all the way, or stopped at `until`. */
async function buyer(t: import('ava').ExecutionContext, productId: string, until: 'paid' | 'delivered' = 'delivered', name = 'Grace Hopper') {
  const customer = await registerCustomer(app.url, name);
  const store = await socketForTest(t, app.url, '/store', customer.token);
  const { cart } = await ok<{ cart: CartView }>(store, 'cart:create', {});
  await ok(store, 'cart:addItem', { cartId: cart.id, productId, quantity: 1 });
  const n = ++orders;
  const { order } = await ok<{ order: OrderView }>(store, 'cart:checkout', { cartId: cart.id, requestId: `co-review-${n}` });
  if (until === 'delivered') {
    // Wait on pushes, not time: the payment saga opens the shipment, the shipment saga delivers the order.
    await ok(store, 'subscribe', { topic: `order:${order.id}` });
    const opened = nextEvent<OrderView>(store, 'order:updated', (view) => view.id === order.id && view.shipmentId !== null);
    const delivered = nextEvent<OrderView>(store, 'order:updated', (view) => view.id === order.id && view.state === 'delivered');
    await ok(store, 'order:pay', { orderId: order.id, requestId: `pay-review-${n}`, payment: TEST_CARD });
    const shipmentId = (await opened).shipmentId!;
    for (const to of ['picking', 'packed', 'shipped', 'inTransit', 'delivered']) {
      await ok(staff, 'shipment:advance', { shipmentId, to, ...(to === 'shipped' ? { carrier: 'DHL', trackingNumber: `T-${n}` } : {}) });
    }
    await delivered;
  } else {
    await ok(store, 'order:pay', { orderId: order.id, requestId: `pay-review-${n}`, payment: TEST_CARD });
  }
  return { customer, store };
}

test.serial('a review needs a delivered order, comes once, moves the aggregate and is pushed to watchers as rating:changed', async (t) => {
  const product = await createProduct(app.app, { onHand: 10 });
  const early = await buyer(t, product.id, 'paid');
  const notYet = failed(t, await call(early.store, 'review:create', { productId: product.id, rating: 5, title: 'Great' }), 'FORBIDDEN');
  t.like(notYet.details, { reason: 'NOT_DELIVERED' });
  const guest = await socketForTest(t, app.url, '/store', await guestToken(app.url));
  const signIn = failed(t, await call(guest, 'review:create', { productId: product.id, rating: 5, title: 'Great' }), 'FORBIDDEN');
  t.like(signIn.details, { reason: 'SIGN_IN' });

  const { store } = await buyer(t, product.id, 'delivered', 'Ada Lovelace');
  const watcher = await socketForTest(t, app.url, '/store', await guestToken(app.url));
  const subscribed = await ok<{ view: ProductView }>(watcher, 'subscribe', { topic: `product:${product.id}` });
  const pushed = nextEvent<RatingChanged>(watcher, 'rating:changed', (rating) => rating.productId === product.id);
  const { review } = await ok<{ review: ReviewView }>(store, 'review:create', { productId: product.id, rating: 4, title: 'Solid', body: 'Does the job.' });
  t.like(review, { productId: product.id, rating: 4, authorName: 'Ada L.', helpful: 0, hidden: false });
  const rating = await pushed;
  t.like(rating, { average: 4, count: 1, histogram: [0, 0, 0, 1, 0] });
  t.true(rating.version > subscribed.view.version, 'the push is newer than the view the watcher holds');

  const twice = failed(t, await call(store, 'review:create', { productId: product.id, rating: 1, title: 'Again' }), 'CONFLICT');
  t.like(twice.details, { reason: 'ALREADY_REVIEWED', reviewId: review.id });

  const second = await buyer(t, product.id, 'delivered', 'Alan Turing');
  await ok(second.store, 'review:create', { productId: product.id, rating: 1, title: 'Broke', body: 'Broke in a week.' });
  const read = async () => (await getJson<ProductView>(`${app.url}/api/products/${product.id}`)).body.rating;
  t.like(await read(), { average: 2.5, count: 2, histogram: [1, 0, 0, 1, 0] });

  const edited = nextEvent<RatingChanged>(watcher, 'rating:changed', (r) => r.productId === product.id && r.average === 3);
  await ok(second.store, 'review:update', { reviewId: (await myReview(second.store, product.id)).id, rating: 2 });
  t.like(await edited, { count: 2, histogram: [0, 1, 0, 1, 0] });
  failed(t, await call(second.store, 'review:update', { reviewId: review.id, rating: 1 }), 'FORBIDDEN');

  const deleted = nextEvent<RatingChanged>(watcher, 'rating:changed', (r) => r.productId === product.id && r.count === 1);
  await ok(store, 'review:delete', { reviewId: review.id });
  const afterDelete = await deleted;
  t.like(afterDelete, { average: 2, count: 1, histogram: [0, 1, 0, 0, 0] });
  t.like(await read(), { average: 2, count: 1, histogram: [0, 1, 0, 0, 0] });
  t.is((await getJson<ProductView>(`${app.url}/api/products/${product.id}`)).body.version, afterDelete.version, 'the push carries the version it made');
  failed(t, await call(store, 'review:delete', { reviewId: review.id }), 'NOT_FOUND');
  failed(t, await call(store, 'review:create', { productId: product.id, rating: 6, title: 'x' }), 'VALIDATION');
  failed(t, await call(store, 'review:create', { productId: 'prod_missing', rating: 5, title: 'x' }), 'NOT_FOUND');
});

async function myReview(store: Socket, productId: string): Promise<ReviewView> {
  const page = await getJson<{ items: ReviewView[] }>(`${app.url}/api/products/${productId}/reviews?limit=50`);
  const mine = page.body.items.find((item) => item.authorName === 'Alan T.');
  if (!mine) throw new Error('review not listed');
  void store;
  return mine;
}

test.serial('helpful votes count once and never on one own review; a hidden review leaves the listing and the aggregate', async (t) => {
  const product = await createProduct(app.app, { onHand: 10 });
  const author = await buyer(t, product.id, 'delivered', 'Mary Shelley');
  const other = await buyer(t, product.id, 'delivered', 'Percy Shelley');
  const { review } = await ok<{ review: ReviewView }>(author.store, 'review:create', {
    productId: product.id,
    rating: 1,
    title: 'Rubbish',
    body: 'Buy elsewhere!!',
  });
  const { review: kind } = await ok<{ review: ReviewView }>(other.store, 'review:create', { productId: product.id, rating: 5, title: 'Lovely' });

  t.is((await ok<{ review: ReviewView }>(other.store, 'review:vote', { reviewId: review.id })).review.helpful, 1);
  const again = failed(t, await call(other.store, 'review:vote', { reviewId: review.id }), 'CONFLICT');
  t.like(again.details, { reason: 'ALREADY_VOTED' });
  const own = failed(t, await call(author.store, 'review:vote', { reviewId: review.id }), 'FORBIDDEN');
  t.like(own.details, { reason: 'OWN_REVIEW' });
  const guest = await socketForTest(t, app.url, '/store', await guestToken(app.url));
  const signIn = failed(t, await call(guest, 'review:vote', { reviewId: kind.id }), 'FORBIDDEN', 'a guest may not vote');
  t.like(signIn.details, { reason: 'SIGN_IN' });

  const helpful = await getJson<{ items: ReviewView[] }>(`${app.url}/api/products/${product.id}/reviews?sort=helpful`);
  t.deepEqual(
    helpful.body.items.map((item) => item.id),
    [review.id, kind.id],
  );

  const watcher = await socketForTest(t, app.url, '/store', await guestToken(app.url));
  await ok(watcher, 'subscribe', { topic: `product:${product.id}` });
  // The pushes of the two creations (average 1, then 3) went out before this watcher came: the one awaited is hiding's.
  const pushed = nextEvent<RatingChanged>(watcher, 'rating:changed', (rating) => rating.productId === product.id && rating.average === 5);
  const hidden = await ok<{ review: ReviewView }>(staff, 'review:hide', { reviewId: review.id, reason: 'abusive' });
  t.true(hidden.review.hidden);
  t.like(await pushed, { average: 5, count: 1, histogram: [0, 0, 0, 0, 1] }, 'hiding moved the aggregate, and the watcher is told');
  const listed = await getJson<{ items: ReviewView[] }>(`${app.url}/api/products/${product.id}/reviews`);
  t.deepEqual(
    listed.body.items.map((item) => item.id),
    [kind.id],
  );
  t.like((await getJson<ProductView>(`${app.url}/api/products/${product.id}`)).body.rating, { average: 5, count: 1, histogram: [0, 0, 0, 0, 1] });
  failed(t, await call(other.store, 'review:vote', { reviewId: review.id }), 'NOT_FOUND');
  failed(t, await call(author.store, 'review:hide', { reviewId: review.id, reason: 'x' }), 'VALIDATION', 'customers cannot hide');
});

test.serial('the listing pages newest first without repeats; a bad cursor or product is refused', async (t) => {
  const product = await createProduct(app.app, { onHand: 10 });
  const written: string[] = [];
  for (let i = 0; i < 5; i++) {
    const { store } = await buyer(t, product.id, 'delivered', `Reader ${i} Number${i}`);
    written.push((await ok<{ review: ReviewView }>(store, 'review:create', { productId: product.id, rating: 3, title: `Review ${i}` })).review.id);
  }
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const page: { status: number; body: { items: ReviewView[]; nextCursor: string | null } } = await getJson(
      `${app.url}/api/products/${product.id}/reviews?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
    );
    t.is(page.status, 200);
    seen.push(...page.body.items.map((item) => item.id));
    cursor = page.body.nextCursor;
  } while (cursor);
  t.deepEqual(seen, [...written].reverse());
  t.is((await getJson(`${app.url}/api/products/${product.id}/reviews?cursor=bogus`)).status, 400);
  t.is((await getJson(`${app.url}/api/products/prod_missing/reviews`)).status, 404);
});

type ReviewPage = { status: number; body: { items: ReviewView[]; nextCursor: string | null } };

/** Walks a product's listing page by page; `between(page)` runs after each page that has a next one. */
async function walk(productId: string, sort: 'newest' | 'helpful', limit: number, between: (page: number) => Promise<void> = async () => {}) {
  const pages: string[][] = [];
  let cursor: string | null = null;
  do {
    const page: ReviewPage = await getJson(`${app.url}/api/products/${productId}/reviews?sort=${sort}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    if (page.status !== 200) throw new Error(`page ${pages.length + 1}: ${page.status} ${JSON.stringify(page.body)}`);
    pages.push(page.body.items.map((item) => item.id));
    cursor = page.body.nextCursor;
    if (cursor) await between(pages.length);
  } while (cursor);
  return pages;
}

/** Five reviews of one product with helpful votes 2, 0, 2, 1, 0 (written in that order), and their authors. */
async function votedReviews(t: import('ava').ExecutionContext, productId: string) {
  const authors: Socket[] = [];
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const { store } = await buyer(t, productId, 'delivered', `Voter ${i} Number${i}`);
    authors.push(store);
    ids.push((await ok<{ review: ReviewView }>(store, 'review:create', { productId, rating: 1 + i, title: `Review ${i}` })).review.id);
  }
  const votes: Array<[voter: number, review: number]> = [
    [1, 0],
    [2, 0],
    [3, 2],
    [4, 2],
    [0, 3],
  ];
  for (const [voter, review] of votes) await ok(authors[voter]!, 'review:vote', { reviewId: ids[review] });
  return ids;
}

test.serial('the helpful listing pages most helpful first, ties newest first, across pages', async (t) => {
  const product = await createProduct(app.app, { onHand: 20 });
  const [r0, r1, r2, r3, r4] = await votedReviews(t, product.id);
  // helpful: r0 2, r1 0, r2 2, r3 1, r4 0 — r2 and r0 tie (r2 is newer), r4 and r1 tie (r4 is newer).
  t.deepEqual(await walk(product.id, 'helpful', 2), [[r2!, r0!], [r3!, r4!], [r1!]]);
  t.deepEqual(await walk(product.id, 'helpful', 1), [[r2!], [r0!], [r3!], [r4!], [r1!]], 'one review a page, the same order');
  t.deepEqual(await walk(product.id, 'helpful', 5), [[r2!, r0!, r3!, r4!, r1!]], 'a page that holds them all has no next');
});

test.serial('pages neither repeat nor skip a review that was there at the start while new reviews are written between pages', async (t) => {
  const product = await createProduct(app.app, { onHand: 20 });
  await votedReviews(t, product.id);
  // Customers whose orders are delivered, ready to review while someone pages.
  const writers: Socket[] = [];
  for (let i = 0; i < 6; i++) writers.push((await buyer(t, product.id, 'delivered', `Late ${i} Writer${i}`)).store);
  const written: string[] = [];
  const write = async () => {
    const store = writers.shift();
    if (!store) return;
    written.push((await ok<{ review: ReviewView }>(store, 'review:create', { productId: product.id, rating: 5, title: `Late ${written.length}` })).review.id);
  };

  for (const sort of ['newest', 'helpful'] as const) {
    const [before] = await walk(product.id, sort, 50);
    const pages = await walk(product.id, sort, 2, write);
    const seen = pages.flat();
    t.true(pages.length >= 3, `${sort}: several pages`);
    t.is(new Set(seen).size, seen.length, `${sort}: no review is listed twice`);
    t.deepEqual(
      seen.filter((id) => before!.includes(id)),
      before,
      `${sort}: every review listed at the start, once, in its order`,
    );
    t.true(
      seen.every((id) => before!.includes(id) || written.includes(id)),
      `${sort}: nothing else`,
    );
  }
  t.true(written.length >= 4, 'reviews were written between pages of both walks');
});
