// Pricing with offers: which offers apply at an instant, what they make of a list price, and which one wins.
import test from 'ava';
import type { OfferContext, OfferTerms } from '../../src/modules/offers/offer.machine.ts';
import { ancestry, applies, bestPrices, discounted } from '../../src/modules/offers/pricing.ts';

const offer = (id: string, terms: OfferTerms, state = 'live', window: { startsAt?: number; endsAt?: number | null; remaining?: number | null } = {}) => ({
  state,
  context: {
    id,
    name: id,
    terms,
    startsAt: window.startsAt ?? 0,
    endsAt: window.endsAt === undefined ? 10_000 : window.endsAt,
    remaining: window.remaining === undefined ? (terms.sort === 'drop' ? terms.quota : null) : window.remaining,
    createdBy: 'staff',
    createdAt: 0,
    updatedAt: 0,
    cancelReason: null,
  } satisfies OfferContext,
});
const sale = (percent: number, productIds: string[] = ['p1'], categoryIds: string[] = []): OfferTerms => ({
  sort: 'sale',
  discount: { type: 'percent', percent },
  productIds,
  categoryIds,
});

test('a percentage rounds to the nearest minor unit; an amount never takes a price below 0; a drop never raises it', (t) => {
  t.is(discounted(sale(15), 999), 849); // 149.85 off rounds to 150
  t.is(discounted({ sort: 'sale', discount: { type: 'amount', amount: 700 }, productIds: [], categoryIds: [] }, 500), 0);
  t.is(discounted({ sort: 'drop', productId: 'p1', dropPrice: 1200, quota: 1, perCustomerLimit: 1 }, 1000), 1000);
  t.is(discounted(sale(100), 1000), 0);
});

test('an offer applies by the clock from its start up to (not at) its end, while scheduled or live, and a drop while units remain', (t) => {
  const o = offer('o1', sale(10), 'scheduled', { startsAt: 100, endsAt: 200 });
  t.false(applies(o, 99));
  t.true(applies(o, 100), 'at its start, even before the sweep moved it to live');
  t.true(applies(o, 199));
  t.false(applies(o, 200));
  t.false(applies({ ...o, state: 'cancelled' }, 150));
  t.false(applies({ ...o, state: 'ended' }, 150));
  t.false(applies({ ...o, state: 'soldOut' }, 150));
});

test('a drop prices a product only while its check says it has the units (by default the mirror of its remaining units)', (t) => {
  const drop = { sort: 'drop', productId: 'p1', dropPrice: 100, quota: 3, perCustomerLimit: 1 } as const;
  const product = [{ id: 'p1', price: 1000, categoryId: 'c' }];
  const chain = (id: string) => [id];
  t.is(bestPrices(product, [offer('d', drop, 'live', { remaining: 1 })], 5, chain).get('p1')?.price, 100);
  t.is(bestPrices(product, [offer('d', drop, 'live', { remaining: 0 })], 5, chain).get('p1')?.price, 1000);
  t.is(bestPrices(product, [offer('d', drop, 'live', { remaining: 3 })], 5, chain, () => false).get('p1')?.offerId, null, 'the quota or the limit says no');
});

test('the best price wins per product; a category covers its sub-categories; ties go to the offer ending first, then the lower id', (t) => {
  const chain = ancestry(
    new Map<string, string | null>([
      ['shoes', null],
      ['boots', 'shoes'],
      ['hats', null],
    ]),
  );
  const products = [
    { id: 'p1', price: 1000, categoryId: 'boots' },
    { id: 'p2', price: 1000, categoryId: 'hats' },
  ];
  const prices = bestPrices(
    products,
    [offer('o-cat', sale(20, [], ['shoes'])), offer('o-p1', sale(10, ['p1'])), offer('o-b', sale(20, ['p1']), 'live', { endsAt: 5_000 })],
    1,
    chain,
  );
  t.deepEqual(prices.get('p1'), { productId: 'p1', price: 800, listPrice: 1000, offerId: 'o-b', offerName: 'o-b', endsAt: 5_000 });
  t.deepEqual(prices.get('p2'), { productId: 'p2', price: 1000, listPrice: 1000, offerId: null, offerName: null, endsAt: null });
  const tie = bestPrices([products[0]!], [offer('o-z', sale(20, ['p1'])), offer('o-a', sale(20, ['p1']))], 1, chain);
  t.is(tie.get('p1')?.offerId, 'o-a');
  t.deepEqual(chain('boots'), ['boots', 'shoes']);
});
