// Product search over REST, on the embedded SQLite (FTS5) and, with TEST_POSTGRES_URL, on PostgreSQL (tsvector + GIN):
// a name match ranks before a description match, the last word is a prefix, every filter and sort agrees with its
// facet counts and pages, keyset pages neither repeat nor skip while products are added, query syntax is only text,
// and the index follows every product, category, stock and rating change.
import test, { type ExecutionContext } from 'ava';
import type { Socket } from 'socket.io-client';
import type { CategoryView, OrderView, ProductFacets, ProductPage, ProductView } from '../../src/protocol/index.ts';
import { connect, getJson, ok, registerCustomer, socketForTest, staffToken, startApp, type TestApp } from '../helpers/app.ts';

let app: TestApp;
let warehouse: Socket;
let serial = 0;

test.before(async () => {
  app = await startApp();
  warehouse = await connect(app.url, '/warehouse', await staffToken(app.app));
});

test.after.always(async () => {
  warehouse?.close();
  await app?.stop();
});

/** A word no other product has: lowercase letters only, so every engine and collation reads it the same way. */
function word(): string {
  let n = ++serial * 7919 + process.pid * 104_729 + Math.floor(Math.random() * 1e9);
  let text = '';
  for (let i = 0; i < 9; i++, n = Math.floor(n / 26)) text += String.fromCharCode(97 + (n % 26));
  return `zq${text}`;
}

async function category(name: string, parent?: string): Promise<CategoryView> {
  const slug = `${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}-${process.pid}-${++serial}`;
  return (await ok<{ category: CategoryView }>(warehouse, 'catalog:upsertCategory', { slug, name, parent })).category;
}

async function product(fields: { name: string; category: string; price?: number } & Record<string, unknown>): Promise<ProductView> {
  const sku = `S${process.pid}-${++serial}`;
  return (await ok<{ product: ProductView }>(warehouse, 'catalog:upsertProduct', { sku, price: 1000, ...fields })).product;
}

async function restock(productId: string, quantity: number): Promise<void> {
  await ok(warehouse, 'stock:restock', { productId, quantity });
}

/** A rating aggregate with `count` ratings of `stars` each (plus one of `extra` stars, if given). */
function rate(productId: string, stars: number, count: number, extra?: number): Promise<ProductView> {
  const histogram: [number, number, number, number, number] = [0, 0, 0, 0, 0];
  histogram[stars - 1]! += count;
  if (extra !== undefined) histogram[extra - 1]! += 1;
  const total = histogram.reduce((a, b) => a + b, 0);
  const sum = histogram.reduce((a, n, i) => a + n * (i + 1), 0);
  return app.app.services.catalog.setRating(productId, { count: total, sum, histogram });
}

type Params = Record<string, string | number | boolean | undefined>;
const query = (params: Params) =>
  new URLSearchParams(Object.entries(params).flatMap(([key, value]) => (value === undefined ? [] : [[key, String(value)]]))).toString();

async function list(params: Params): Promise<ProductPage> {
  const { status, body } = await getJson<ProductPage>(`${app.url}/api/products?${query(params)}`);
  if (status !== 200) throw new Error(`GET /api/products?${query(params)}: ${status} ${JSON.stringify(body)}`);
  return body;
}

/** Every page, following nextCursor from the first. */
async function everyPage(params: Params): Promise<{ pages: ProductPage[]; items: ProductView[] }> {
  const pages = [await list(params)];
  while (pages.at(-1)!.nextCursor) {
    pages.push(await list({ ...params, cursor: pages.at(-1)!.nextCursor! }));
    if (pages.length > 100) throw new Error('too many pages');
  }
  return { pages, items: pages.flatMap((page) => page.items) };
}

async function suggest(q: string): Promise<Array<{ id: string; name: string }>> {
  const { status, body } = await getJson<{ items: Array<{ id: string; name: string }> }>(`${app.url}/api/search/suggest?${query({ q })}`);
  if (status !== 200) throw new Error(`suggest ${q}: ${status} ${JSON.stringify(body)}`);
  return body.items;
}

const ids = (items: readonly { id: string }[]) => items.map((item) => item.id);
const sum = (counts: readonly { count: number }[]) => counts.reduce((total, entry) => total + entry.count, 0);

function facetsAddUp(t: ExecutionContext, page: ProductPage, label: string): void {
  t.is(sum(page.facets.categories), page.total, `${label}: category facets add up to total`);
  t.is(sum(page.facets.price), page.total, `${label}: price facets add up to total`);
  t.deepEqual(
    page.facets.rating.map((entry) => entry.min),
    [4, 3, 2, 1],
    label,
  );
}

test.serial('a name match ranks before SKU and category, attributes and description matches; relevance is the default with q', async (t) => {
  const w = word();
  const home = await category('Plain Things');
  const named = await category(`${w} Corner`);
  // The description says the word again and again: ts_rank_cd or bm25 alone could put it first.
  const inDescription = await product({ name: 'Quiet Lamp', category: home.slug, description: `${w} ${w} ${w} ${w} ${w} ${w} ${w} ${w}, ${w}.` });
  const inAttributes = await product({ name: 'Plain Mug', category: home.slug, attributes: { pattern: w } });
  const inCategory = await product({ name: 'Plain Bowl', category: named.slug });
  const inSku = await product({ name: 'Plain Plate', category: home.slug, sku: `${w.toUpperCase()}-1` });
  const inName = await product({ name: `The ${w} Kettle`, category: home.slug });

  for (const q of [w, w.toUpperCase(), w.slice(0, 6)]) {
    const page = await list({ q, pageSize: 10 });
    const order = ids(page.items);
    t.is(page.total, 5, q);
    t.is(order[0], inName.id, `${q}: the name match is first`);
    t.deepEqual(order.slice(1, 3).sort(), [inSku.id, inCategory.id].sort(), `${q}: then SKU and category`);
    t.is(order[3], inAttributes.id, `${q}: then attributes`);
    t.is(order[4], inDescription.id, `${q}: the description-only match is last`);
    t.deepEqual(ids((await list({ q, sort: 'relevance', pageSize: 10 })).items), order, 'relevance is the default with q');
  }
  // Without q, relevance means nothing: the listing is by name.
  const byName = await list({ category: home.slug, sort: 'relevance', pageSize: 10 });
  t.deepEqual(
    byName.items.map((p) => p.name),
    ['Plain Mug', 'Plain Plate', 'Quiet Lamp', `The ${w} Kettle`],
  );
  t.is((await suggest(w))[0]?.id, inName.id, 'suggestions rank the same way');
});

test.serial(
  'the last word is a prefix, earlier words are whole; case and accents do not matter; suggestions are prefix-matched, at most 8, on sale only',
  async (t) => {
    const w = word();
    const shelf = await category('Cafe Shelf');
    const crema = await product({ name: `Caffè Crème ${w}`, category: shelf.slug, description: 'A crema-rich espresso roast' });
    const found = async (q: string) => ids((await list({ q, pageSize: 50 })).items).includes(crema.id);

    t.true(await found(`${w} caf`), 'the last word is a prefix');
    t.true(await found(`${w} caffe`), 'accents do not matter (caffe finds caffè)');
    t.true(await found(`${w} CRÈME`), 'nor case');
    t.true(await found(`${w} creme`));
    t.true(await found(`crème ${w.slice(0, 5)}`), 'the word being typed, cut short');
    t.false(await found(`espre ${w}`), 'an earlier word must be whole: "espre" is not a word of it');
    t.true(await found(`espresso ${w}`), 'a whole word of its description');
    t.false(await found(`${w}x`), 'a longer word is not a prefix match');

    const many = [];
    for (let i = 0; i < 10; i++) many.push(await product({ name: `${w}${String.fromCharCode(97 + i)} Grinder`, category: shelf.slug }));
    const described = await product({ name: 'Something Else', category: shelf.slug, description: `goes with any ${w}a` });
    const suggestions = await suggest(`${w}`);
    t.is(suggestions.length, 8, 'at most 8');
    t.true(
      suggestions.every((s) => s.name.startsWith(w) || s.name.includes(w)),
      'name matches come before the description match',
    );
    t.false(ids(suggestions).includes(described.id));
    await ok(warehouse, 'catalog:archiveProduct', { productId: many[0]!.id });
    t.false(ids(await suggest(`${w}a`)).includes(many[0]!.id), 'an archived product is not suggested');
    t.deepEqual(ids(await suggest(`${w}a`)), [described.id], 'nor listed: only the description match is left');
    t.deepEqual(await suggest(''), []);
    t.deepEqual(await suggest('  '), []);
    t.deepEqual(await suggest('"*'), []);
  },
);

interface Known {
  readonly view: ProductView;
  readonly categoryId: string;
  readonly price: number;
  readonly available: number;
  readonly ratingCount: number;
  readonly ratingSum: number;
  readonly tagged: boolean;
}

test.serial('every filter and sort: items obey the filters and the order, cursor pages add up to total, facets add up to total', async (t) => {
  const tag = word();
  const root = await category('Outdoor');
  const tents = await category('Tents', root.slug);
  const ultralight = await category('Ultralight', tents.slug);
  const stoves = await category('Stoves', root.slug);
  const known: Known[] = [];
  // name suffix, category, price, stock, rating [stars, count, extra], has the tag word
  const plan: Array<[string, CategoryView, number, number, [number, number, number?] | null, boolean]> = [
    ['aa', root, 500, 3, [5, 2], true],
    ['ab', root, 1000, 0, null, false],
    ['ac', tents, 2499, 1, [3, 1, 4], true],
    ['ad', tents, 2500, 0, [2, 3], true],
    ['ae', tents, 7000, 5, [4, 2], false],
    ['af', ultralight, 9999, 2, [1, 1], true],
    ['ag', ultralight, 10_000, 0, [5, 1], true],
    ['ah', ultralight, 30_000, 4, null, true],
    ['ai', stoves, 4999, 1, [4, 1, 3], false],
    ['aj', stoves, 5000, 0, [3, 2], true],
    ['ak', stoves, 24_999, 6, [5, 3, 4], true],
    ['al', stoves, 1000, 2, null, true],
  ];
  const base = word();
  for (const [suffix, where, price, stock, rating, tagged] of plan) {
    const view = await product({
      name: `${base} ${suffix}`,
      category: where.slug,
      price,
      description: tagged ? `Made for the trail, ${tag} edition` : 'Made for the trail',
    });
    if (stock > 0) await restock(view.id, stock);
    const rated = rating ? await rate(view.id, rating[0], rating[1], rating[2]) : view;
    known.push({
      view: rated,
      categoryId: where.id,
      price,
      available: stock,
      ratingCount: rated.rating.count,
      ratingSum: rating ? rating[0] * rating[1] + (rating[2] ?? 0) : 0,
      tagged,
    });
  }
  const under: Record<string, string[]> = {
    [root.id]: [root.id, tents.id, ultralight.id, stoves.id],
    [tents.id]: [tents.id, ultralight.id],
    [ultralight.id]: [ultralight.id],
  };
  const ratingKey = (p: Known) => (p.ratingCount > 0 ? Math.floor((p.ratingSum * 10_000) / p.ratingCount) : -1);
  const compare: Record<string, (a: Known, b: Known) => number> = {
    name: (a, b) => (a.view.name < b.view.name ? -1 : a.view.name > b.view.name ? 1 : 0),
    price: (a, b) => a.price - b.price,
    '-price': (a, b) => b.price - a.price,
    newest: (a, b) => b.view.createdAt - a.view.createdAt,
    rating: (a, b) => ratingKey(b) - ratingKey(a) || b.ratingCount - a.ratingCount,
  };
  const byId = (a: Known, b: Known) => (a.view.id < b.view.id ? -1 : a.view.id > b.view.id ? 1 : 0);

  // No bound, both, and each alone, on a product's price (bounds are inclusive: 10 000 is ag's, 2 500 is ad's).
  const prices: Array<{ minPrice?: number; maxPrice?: number }> = [{}, { minPrice: 1000, maxPrice: 9999 }, { minPrice: 10_000 }, { maxPrice: 2500 }];
  let combinations = 0;
  // Without a category, only with the tag word: the other tests' products would be matches too.
  for (const where of [undefined, root, tents, ultralight]) {
    for (const q of where ? [undefined, tag.slice(0, 7)] : [tag.slice(0, 7)]) {
      for (const price of prices) {
        for (const minRating of [undefined, 3]) {
          for (const inStock of [undefined, true, false]) {
            for (const sort of [undefined, 'name', 'price', '-price', 'newest', 'relevance', 'rating']) {
              combinations++;
              const params = { category: where?.slug, q, ...price, minRating, inStock, sort, pageSize: 4 };
              const label = query(params);
              const expected = known.filter(
                (p) =>
                  (where === undefined || under[where.id]!.includes(p.categoryId)) &&
                  (q === undefined || p.tagged) &&
                  (price.minPrice === undefined || p.price >= price.minPrice) &&
                  (price.maxPrice === undefined || p.price <= price.maxPrice) &&
                  (minRating === undefined || (p.ratingCount > 0 && p.ratingSum >= minRating * p.ratingCount)) &&
                  (inStock === undefined || (inStock ? p.available > 0 : p.available <= 0)),
              );
              const { pages, items } = await everyPage(params);
              const first = pages[0]!;
              t.is(first.total, expected.length, `${label}: total`);
              t.is(items.length, expected.length, `${label}: the pages hold every match once`);
              t.is(new Set(ids(items)).size, items.length, `${label}: no product twice`);
              t.deepEqual(ids(items).sort(), expected.map((p) => p.view.id).sort(), `${label}: exactly the matches`);
              t.deepEqual(
                pages.map((page) => page.page),
                pages.map((_, i) => i + 1),
                `${label}: page numbers`,
              );
              for (const page of pages) {
                facetsAddUp(t, page, label);
                t.deepEqual(page.facets, first.facets, `${label}: every page has the facets of all matches`);
              }
              t.deepEqual(first.facets, expectedFacets(expected), `${label}: facet counts`);
              const effective = sort === undefined || sort === 'relevance' ? (q ? 'relevance' : 'name') : sort;
              if (effective !== 'relevance') {
                const ordered = [...expected].sort((a, b) => compare[effective]!(a, b) || byId(a, b));
                t.deepEqual(
                  ids(items),
                  ordered.map((p) => p.view.id),
                  `${label}: order`,
                );
              }
              if (pages.length > 1) {
                const second = await list({ ...params, page: 2 });
                t.deepEqual(ids(second.items), ids(pages[1]!.items), `${label}: page 2 by number is page 2 by cursor`);
              }
            }
          }
        }
      }
    }
  }
  t.is(combinations, 1176);

  function expectedFacets(matches: readonly Known[]): ProductFacets {
    const counts = new Map<string, number>();
    for (const p of matches) counts.set(p.categoryId, (counts.get(p.categoryId) ?? 0) + 1);
    const categories = [root, tents, ultralight, stoves]
      .filter((c) => counts.has(c.id))
      .map((c) => ({ id: c.id, slug: c.slug, name: c.name, count: counts.get(c.id)! }))
      .sort((a, b) => b.count - a.count || (a.name < b.name ? -1 : 1));
    const buckets = [0, 1000, 2500, 5000, 10_000, 25_000, null];
    return {
      categories,
      price: buckets.slice(0, -1).map((min, i) => {
        const max = buckets[i + 1]!;
        return { min: min!, max, count: matches.filter((p) => p.price >= min! && (max === null || p.price < max)).length };
      }),
      rating: [4, 3, 2, 1].map((stars) => ({ min: stars, count: matches.filter((p) => p.ratingCount > 0 && p.ratingSum >= stars * p.ratingCount).length })),
    };
  }
});

test.serial('keyset pages neither repeat nor skip products while others are added, in every sort', async (t) => {
  for (const sort of ['name', 'price', '-price', 'newest', 'relevance', 'rating']) {
    const w = word();
    const shelf = await category(`Shelf ${sort}`);
    let made = 0;
    /** A product that matches `w`: its name, price, rating and where the word is vary, so it may land anywhere. */
    const matching = async () => {
      const n = made++;
      const spot = n % 3;
      const view = await product({
        name: `${spot === 0 ? `${w} ` : ''}${String.fromCharCode(97 + ((n * 7) % 26))}${String.fromCharCode(97 + ((n * 11) % 26))} item`,
        category: shelf.slug,
        price: 100 + ((n * 7919) % 50) * 100,
        description: spot === 1 ? `about ${w}` : 'nothing to see',
        attributes: spot === 2 ? { series: w } : {},
      });
      if (n % 4 !== 3) await rate(view.id, 1 + (n % 5), 1 + (n % 3));
      return view;
    };
    const before: string[] = [];
    for (let i = 0; i < 15; i++) before.push((await matching()).id);

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      // The page is read while two more matching products are being written.
      const [page] = await Promise.all([list({ q: w, sort, pageSize: 4, cursor }), matching(), matching()]);
      seen.push(...ids(page.items));
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor && pages < 50);
    t.is(new Set(seen).size, seen.length, `${sort}: no product twice`);
    for (const id of before) t.is(seen.filter((s) => s === id).length, 1, `${sort}: ${id}, there before the first page, is seen once`);
  }
});

test.serial('query text is only text: FTS and tsquery syntax, SQL wildcards and keywords are never an error or an injection', async (t) => {
  const w = word();
  const shelf = await category('Odd Names');
  const odd = await product({
    name: `Tea ${w} 50% off_label NEAR-mint "quoted" O'Brien: drop`,
    category: shelf.slug,
    sku: `ODD_${w.toUpperCase()}.1`,
  });
  const countBefore = (await list({ pageSize: 1 })).total;
  const nothing = [
    '\u0301',
    '😀',
    '\u200d',
    // A NUL or another control character is refused (400 VALIDATION naming `q`): tests/integration/envelopes.test.ts.
    '%',
    '_',
    '%%',
    '*',
    '"',
    '""',
    '"*"',
    '-',
    '--',
    ':',
    ':*',
    '\\',
    '\\\\',
    "'",
    "''",
    '(',
    ')',
    '()',
    '^',
    '&',
    '|',
    '!',
    '<->',
    '{}',
    '[]',
    ';',
    '+',
    '~',
    '?',
    '@',
  ];
  for (const q of nothing) {
    const page = await list({ q, pageSize: 5 });
    t.is(page.total, 0, `${JSON.stringify(q)} has no word: it finds nothing`);
    t.deepEqual(page.items, []);
    t.is(page.nextCursor, null);
    facetsAddUp(t, page, q);
    t.deepEqual(await suggest(q), []);
  }
  const findsIt = [
    `${w}"`,
    `"${w}*`,
    `${w}*`,
    `${w}:*`,
    `-${w}`,
    `${w} -tea`,
    `NEAR(${w} tea)`,
    `${w} NEAR`,
    `tea:${w}`,
    `{names}: ${w}`,
    `%${w}%`,
    `${w}_`,
    `\\${w}\\`,
    `${w} 50%`,
    `${w} o'brien`,
    `${w} & tea`,
    `${w} <-> tea`,
    `'${w}'`,
    `${w} off_label`,
    `${w} "quoted"`,
    `${w} drop`,
    `tea* ${w}`,
    `odd_${w}`,
  ];
  for (const q of findsIt) {
    const page = await list({ q, pageSize: 5 });
    t.deepEqual(ids(page.items), [odd.id], `${JSON.stringify(q)} is text that finds it`);
    t.deepEqual(ids(await suggest(q)), [odd.id], `${JSON.stringify(q)}: suggested`);
  }
  const findNothing = [
    `${w} OR tea`,
    `${w} AND x`,
    `${w} NOT tea`,
    `name:${w}`,
    `${w}') OR ('1'='1`,
    `${w}'; DROP TABLE products; --`,
    `${w} UNION SELECT * FROM customers`,
    `${w}" OR "x`,
    `${w} \\' OR 1=1 --`,
  ];
  for (const q of findNothing) {
    const page = await list({ q, pageSize: 5 });
    t.is(page.total, 0, `${JSON.stringify(q)}: its words are not all there, so nothing`);
    t.is((await getJson(`${app.url}/api/search/suggest?${query({ q })}`)).status, 200);
  }
  t.is((await list({ pageSize: 1 })).total, countBefore, 'every product is still there');
  t.true(ids((await list({ q: w })).items).includes(odd.id));

  // A cursor is checked: garbage, or one made by another query, is VALIDATION (never a database error); what it
  // carries is bound as values, never spliced into SQL.
  await product({ name: 'Plain Neighbour', category: shelf.slug, price: 1 });
  const byPrice = await list({ category: shelf.slug, sort: 'price', pageSize: 1 });
  t.truthy(byPrice.nextCursor);
  const cursorOf = (state: unknown) => Buffer.from(JSON.stringify(state)).toString('base64url');
  for (const cursor of ['garbage', "' OR 1=1 --", cursorOf({ v: 1 }), cursorOf([1, 2])]) {
    const { status, body } = await getJson<{ error: { code: string } }>(`${app.url}/api/products?${query({ category: shelf.slug, sort: 'price', cursor })}`);
    t.is(status, 400, cursor);
    t.is(body.error.code, 'VALIDATION');
  }
  const other = await getJson<{ error: { code: string; message: string } }>(
    `${app.url}/api/products?${query({ category: shelf.slug, sort: '-price', cursor: byPrice.nextCursor! })}`,
  );
  t.is(other.status, 400);
  t.regex(other.body.error.message, /another query/);
  const forged = JSON.parse(Buffer.from(byPrice.nextCursor!, 'base64url').toString('utf8')) as { k: unknown[] };
  const wrongTypes = await getJson(
    `${app.url}/api/products?${query({ category: shelf.slug, sort: 'price', cursor: cursorOf({ ...forged, k: ["x' OR '1'='1", 'x'] }) })}`,
  );
  t.is(wrongTypes.status, 400, 'keys of the wrong type are refused');
  const withNul = await getJson(`${app.url}/api/products?${query({ category: shelf.slug, sort: 'price', cursor: cursorOf({ ...forged, k: [1, '\u0000'] }) })}`);
  t.is(withNul.status, 400, 'a NUL in a key is refused, not handed to the database');
  const injected = await list({ category: shelf.slug, sort: 'price', pageSize: 1, cursor: cursorOf({ ...forged, k: [-1, "' OR 1=1 --"] }) });
  t.deepEqual(ids(injected.items), ids(byPrice.items), 'a key is a value: below every price, so the page is the first one');
  for (const bad of ['minRating=0', 'minRating=6', 'minRating=2.5', 'sort=-rating', 'cursor=', 'category=%00']) {
    const { status } = await getJson(`${app.url}/api/products?${bad}`);
    t.is(status, 400, bad);
  }
});

test.serial('the index follows product, category, stock and rating changes; archived products leave search', async (t) => {
  const [w1, w2, w3, w4, w5] = [word(), word(), word(), word(), word()];
  const first = await category(`${w3} Room`);
  const second = await category('Other Room');
  const sku = `FOLLOW-${process.pid}-${++serial}`;
  const upsert = (fields: Record<string, unknown>) =>
    ok<{ product: ProductView }>(warehouse, 'catalog:upsertProduct', { sku, price: 1200, category: first.slug, ...fields }).then((r) => r.product);
  const created = await upsert({ name: `Lamp ${w1}`, attributes: { finish: w4 } });
  const hits = async (params: Params) => ids((await list({ ...params, pageSize: 50 })).items).includes(created.id);

  t.true(await hits({ q: w1 }));
  t.true(await hits({ q: w3 }), 'found by its category name');
  t.true(await hits({ q: w4 }), 'found by an attribute');

  const renamed = await upsert({ name: `Lamp ${w2}`, attributes: { finish: 'brass' } });
  t.is(renamed.version, created.version + 1);
  t.false(await hits({ q: w1 }), 'the old name is gone from the index');
  t.true(await hits({ q: w2 }), 'the new name is in it');
  t.false(await hits({ q: w4 }), 'the old attribute is gone');

  await ok(warehouse, 'catalog:upsertCategory', { slug: first.slug, name: `${w5} Hall` });
  t.false(await hits({ q: w3 }), 'a renamed category: the old name no longer finds its products');
  t.true(await hits({ q: w5 }), 'the new name does');

  await upsert({ name: `Lamp ${w2}`, category: second.slug });
  t.false(await hits({ q: w5 }), 'moved to another category: its old category name no longer finds it');
  t.true(await hits({ q: `${w2} other room` }));

  // Stock: the inStock filter and the facets read it from the product, never behind.
  t.true(await hits({ q: w2, inStock: false }));
  await restock(created.id, 1);
  t.true(await hits({ q: w2, inStock: true }));
  t.false(await hits({ q: w2, inStock: false }));
  const customer = await registerCustomer(app.url);
  const store = await socketForTest(t, app.url, '/store', customer.token);
  const { cart } = await ok(store, 'cart:create', {});
  await ok(store, 'cart:addItem', { cartId: cart.id, productId: created.id, quantity: 1 });
  await ok<{ order: OrderView }>(store, 'cart:checkout', { cartId: cart.id, requestId: `co-${w2}` });
  t.true(await hits({ q: w2, inStock: false }), 'all its stock reserved: sold out in search at once');

  // Rating: filter, sort and facet.
  t.false(await hits({ q: w2, minRating: 1 }), 'unrated: no minimum rating is met');
  await rate(created.id, 4, 2, 5);
  const rated = await list({ q: w2, minRating: 4 });
  t.deepEqual(ids(rated.items), [created.id]);
  t.deepEqual(
    rated.facets.rating.map((r) => r.count),
    [1, 1, 1, 1],
  );
  t.false(await hits({ q: w2, minRating: 5 }));
  t.is(rated.items[0]!.rating.average, 4.33);

  await ok(warehouse, 'catalog:archiveProduct', { productId: created.id });
  t.false(await hits({ q: w2 }), 'archived: out of search');
  t.is((await list({ q: w2 })).total, 0, 'and out of the counts');
  t.deepEqual(await suggest(w2), []);
  await upsert({ name: `Lamp ${w2}`, category: second.slug });
  t.true(await hits({ q: w2 }), 'sold again: back in search');

  t.deepEqual(await indexDrift(), [], 'the index holds exactly what a rebuild from the products would');
});

/** Products whose index entry differs from one made afresh from the product and its category (none, if in step). */
async function indexDrift(): Promise<unknown[]> {
  const knex = app.app.db.knex;
  if (app.app.db.dialect === 'postgres') {
    const { rows } = await knex.raw(`
      SELECT p.id FROM products p LEFT JOIN categories c ON c.id = p.category_id LEFT JOIN product_search s ON s.product_id = p.id
      WHERE s.document IS DISTINCT FROM product_search_document(p.name, p.sku, c.name, p.attributes, p.description)`);
    return rows;
  }
  await knex.raw("INSERT INTO product_search_fts (product_search_fts) VALUES ('integrity-check')");
  return knex.raw(`
    SELECT p.id FROM products p LEFT JOIN categories c ON c.id = p.category_id LEFT JOIN product_search_docs d ON d.product_id = p.id
    WHERE d.doc_id IS NULL OR d.name IS NOT p.name OR d.sku IS NOT p.sku OR d.category IS NOT coalesce(c.name, '') OR d.description IS NOT p.description
    UNION ALL SELECT d.product_id FROM product_search_docs d LEFT JOIN products p ON p.id = d.product_id WHERE p.id IS NULL`);
}

test.serial('setRating writes the aggregate and raises the version, pushes nothing, and refuses numbers that disagree', async (t) => {
  const shelf = await category('Rated');
  const p = await product({ name: 'Rated Thing', category: shelf.slug });
  t.deepEqual(p.rating, { average: null, count: 0, histogram: [0, 0, 0, 0, 0] });
  const pushed: ProductView[] = [];
  const subscription = app.app.services.catalog.productChanged$.subscribe((view) => pushed.push(view));
  t.teardown(() => subscription.unsubscribe());

  const rated = await app.app.services.catalog.setRating(p.id, { count: 3, sum: 13, histogram: [0, 0, 0, 2, 1] });
  t.deepEqual(rated.rating, { average: 4.33, count: 3, histogram: [0, 0, 0, 2, 1] });
  t.is(rated.version, p.version + 1, 'a rating change raises the version');
  t.is(rated.updatedAt, p.updatedAt, 'it is not a catalog change');
  const read = (await getJson<ProductView>(`${app.url}/api/products/${p.id}`)).body;
  t.deepEqual(read.rating, rated.rating);
  t.is(read.version, rated.version);
  t.deepEqual(pushed, [], 'nothing is pushed: the caller announces it');

  const again = await app.app.services.catalog.setRating(p.id, { count: 2, sum: 3, histogram: [1, 1, 0, 0, 0] });
  t.deepEqual(again.rating, { average: 1.5, count: 2, histogram: [1, 1, 0, 0, 0] });
  const none = await app.app.services.catalog.setRating(p.id, { count: 0, sum: 0, histogram: [0, 0, 0, 0, 0] });
  t.is(none.rating.average, null);
  t.is(none.version, p.version + 3);

  for (const bad of [
    { count: 2, sum: 13, histogram: [0, 0, 0, 2, 1] },
    { count: 3, sum: 12, histogram: [0, 0, 0, 2, 1] },
    { count: -1, sum: -1, histogram: [-1, 0, 0, 0, 0] },
    { count: 1.5, sum: 1.5, histogram: [1.5, 0, 0, 0, 0] },
    { count: 1, sum: 1, histogram: [1, 0, 0, 0] },
  ]) {
    const error = await t.throwsAsync(app.app.services.catalog.setRating(p.id, bad as never));
    t.is((error as { code?: string }).code, 'VALIDATION', JSON.stringify(bad));
  }
  const missing = await t.throwsAsync(app.app.services.catalog.setRating('prod_missing', { count: 0, sum: 0, histogram: [0, 0, 0, 0, 0] }));
  t.is((missing as { code?: string }).code, 'NOT_FOUND');
  t.is((await getJson<ProductView>(`${app.url}/api/products/${p.id}`)).body.version, none.version, 'a refused rating changes nothing');
});
