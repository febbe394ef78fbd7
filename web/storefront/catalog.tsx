// The home page: offer banners, categories, search as you type (with suggestions), facets and filters, and the
// results a page at a time ("Show more" follows the keyset cursor). GET /api/products and /api/search/suggest.
import { useEffect, useId, useMemo, useRef, useState } from 'preact/hooks';
import { formatMoney, type ProductPage, type ProductView } from '../../src/client/index.ts';
import { api } from '../shared/session.ts';
import { ErrorNote } from '../shared/ui.tsx';
import { navigate, replaceQuery, type Route, href } from './router.ts';
import { describeError, useShop } from './shop.tsx';
import { Field, OfferBanners, ProductCard } from './widgets.tsx';

const PAGE_SIZE = 12;
const SORTS = [
  ['', 'Best match'],
  ['name', 'Name, A to Z'],
  ['price', 'Price, low to high'],
  ['-price', 'Price, high to low'],
  ['rating', 'Best rated'],
  ['newest', 'Newest'],
] as const;

interface Filters {
  readonly category: string;
  readonly minPrice: string;
  readonly maxPrice: string;
  readonly minRating: string;
  readonly inStock: boolean;
  readonly sort: string;
}

function filtersOf(query: URLSearchParams): Filters {
  return {
    category: query.get('category') ?? '',
    minPrice: query.get('minPrice') ?? '',
    maxPrice: query.get('maxPrice') ?? '',
    minRating: query.get('minRating') ?? '',
    inStock: query.get('inStock') === 'true',
    sort: query.get('sort') ?? '',
  };
}

/** The API's query: prices typed in euros become minor units. */
function apiQuery(q: string, filters: Filters): URLSearchParams {
  const params = new URLSearchParams();
  if (q.trim()) params.set('q', q.trim());
  if (filters.category) params.set('category', filters.category);
  const cents = (value: string) => (value.trim() === '' || Number.isNaN(Number(value)) ? null : String(Math.max(0, Math.round(Number(value) * 100))));
  const min = cents(filters.minPrice);
  const max = cents(filters.maxPrice);
  if (min !== null) params.set('minPrice', min);
  if (max !== null) params.set('maxPrice', max);
  if (filters.minRating) params.set('minRating', filters.minRating);
  if (filters.inStock) params.set('inStock', 'true');
  if (filters.sort) params.set('sort', filters.sort);
  return params;
}

function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

export function Home({ route }: { route: Route }) {
  const shop = useShop();
  const [q, setQ] = useState(route.query.get('q') ?? '');
  const [filters, setFilters] = useState<Filters>(() => filtersOf(route.query));
  const settledQ = useDebounced(q, 180);
  const query = useMemo(() => apiQuery(settledQ, filters), [settledQ, filters]);
  const queryKey = query.toString();
  const [page, setPage] = useState<ProductPage | null>(null);
  const [items, setItems] = useState<readonly ProductView[]>([]);
  const [loadingMore, setLoadingMore] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const asked = useRef(0);

  useEffect(() => {
    const hash = new URLSearchParams(query);
    if (filters.minPrice) hash.set('minPrice', filters.minPrice);
    else hash.delete('minPrice');
    if (filters.maxPrice) hash.set('maxPrice', filters.maxPrice);
    else hash.delete('maxPrice');
    replaceQuery('', hash);
    const ask = ++asked.current;
    setError(null);
    api<ProductPage>(`/api/products?${queryKey}${queryKey ? '&' : ''}pageSize=${PAGE_SIZE}`)
      .then((answer) => {
        if (ask !== asked.current) return;
        setPage(answer);
        setItems(answer.items);
      })
      .catch((failure: unknown) => ask === asked.current && setError(describeError(failure)));
  }, [queryKey]);

  const more = async () => {
    if (!page?.nextCursor) return;
    const ask = asked.current;
    setLoadingMore(true);
    try {
      const answer = await api<ProductPage>(
        `/api/products?${queryKey}${queryKey ? '&' : ''}pageSize=${PAGE_SIZE}&cursor=${encodeURIComponent(page.nextCursor)}`,
      );
      if (ask !== asked.current) return;
      setPage(answer);
      setItems((held) => [...held, ...answer.items.filter((p) => !held.some((h) => h.id === p.id))]);
      shop.announce(`${answer.items.length} more products shown.`);
    } catch (failure) {
      setError(describeError(failure));
    } finally {
      setLoadingMore(false);
    }
  };

  const set = (change: Partial<Filters>) => setFilters((held) => ({ ...held, ...change }));
  const clear = () => {
    setQ('');
    setFilters(filtersOf(new URLSearchParams()));
  };
  const filtered = q.trim() !== '' || Object.entries(filters).some(([, v]) => v !== '' && v !== false);
  const categoryName = shop.categories.find((c) => c.id === filters.category || c.slug === filters.category)?.name;
  const liveOffers = shop.offers;

  return (
    <>
      <h1 tabIndex={-1}>{categoryName ?? 'Shop'}</h1>
      <OfferBanners offers={liveOffers} heading="Offers now and soon" />
      <SearchBox q={q} onChange={setQ} />
      <div class="shop-layout">
        <FilterPanel filters={filters} set={set} page={page} />
        <section class="results" aria-labelledby="results-heading">
          <div class="row results-head">
            <h2 id="results-heading" class="results-title">
              {q.trim() ? `Results for “${q.trim()}”` : categoryName ? `All of ${categoryName}` : 'All products'}
            </h2>
            <p class="muted" role="status" data-testid="result-count">
              {page ? `${items.length} of ${page.total} ${page.total === 1 ? 'product' : 'products'}` : 'Loading products…'}
            </p>
            {filtered && (
              <button type="button" class="secondary" onClick={clear}>
                Clear search and filters
              </button>
            )}
          </div>
          <ErrorNote error={error} />
          {page && items.length === 0 && <p>No products match. Try fewer words, or clear the filters.</p>}
          <ul class="grid product-grid" data-testid="results">
            {items.map((product) => (
              <li key={product.id}>
                <ProductCard product={product} />
              </li>
            ))}
          </ul>
          {page?.nextCursor && (
            <p>
              <button type="button" onClick={more} disabled={loadingMore}>
                {loadingMore ? 'Loading…' : 'Show more products'}
              </button>
            </p>
          )}
        </section>
      </div>
    </>
  );
}

/** The search box: results follow as you type; suggestions open below it (a combobox: arrows, Enter, Escape). */
function SearchBox({ q, onChange }: { q: string; onChange: (q: string) => void }) {
  const id = useId();
  const listId = `${id}-suggestions`;
  const [suggestions, setSuggestions] = useState<readonly { id: string; name: string }[]>([]);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);
  const typed = useDebounced(q, 120);
  useEffect(() => {
    let gone = false;
    if (!typed.trim()) {
      setSuggestions([]);
      return;
    }
    api<{ items: { id: string; name: string }[] }>(`/api/search/suggest?q=${encodeURIComponent(typed)}`)
      .then(({ items }) => {
        if (gone) return;
        setSuggestions(items);
        setActive(-1);
      })
      .catch(() => undefined);
    return () => {
      gone = true;
    };
  }, [typed]);
  const expanded = open && q.trim() !== '' && suggestions.length > 0;
  const choose = (index: number) => {
    const chosen = suggestions[index];
    if (!chosen) return;
    setOpen(false);
    navigate(href.product(chosen.id));
  };
  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key === 'ArrowDown' && suggestions.length > 0) {
      event.preventDefault();
      setOpen(true);
      setActive((index) => (index + 1) % suggestions.length);
    } else if (event.key === 'ArrowUp' && suggestions.length > 0) {
      event.preventDefault();
      setOpen(true);
      setActive((index) => (index <= 0 ? suggestions.length - 1 : index - 1));
    } else if (event.key === 'Escape') {
      setOpen(false);
      setActive(-1);
    } else if (event.key === 'Enter' && expanded && active >= 0) {
      event.preventDefault();
      choose(active);
    }
  };
  return (
    <div class="search">
      {/* biome-ignore lint/a11y/useSemanticElements: the <search> element is too new for some browsers and screen readers; role="search" is understood everywhere */}
      <form
        role="search"
        onSubmit={(event) => {
          event.preventDefault();
          setOpen(false);
          document.getElementById('results-heading')?.scrollIntoView({ block: 'nearest' });
        }}
      >
        <label for={id}>Search products</label>
        <div class="search-box">
          <input
            id={id}
            type="text"
            role="combobox"
            autoComplete="off"
            spellcheck={false}
            enterKeyHint="search"
            aria-autocomplete="list"
            aria-expanded={expanded}
            aria-controls={listId}
            aria-activedescendant={expanded && active >= 0 ? `${listId}-${active}` : undefined}
            aria-describedby={`${id}-hint`}
            placeholder="Coffee, tent, knife…"
            value={q}
            onInput={(event) => {
              onChange(event.currentTarget.value);
              setOpen(true);
            }}
            onKeyDown={onKeyDown}
            onFocus={() => setOpen(true)}
            onBlur={() => setOpen(false)}
            data-testid="search"
          />
          <div id={listId} role="listbox" aria-label="Suggestions" class="suggestions" hidden={!expanded}>
            {suggestions.map((suggestion, index) => (
              <div
                key={suggestion.id}
                id={`${listId}-${index}`}
                role="option"
                tabIndex={-1}
                aria-selected={index === active}
                class={index === active ? 'suggestion active' : 'suggestion'}
                // The focus stays in the box (aria-activedescendant): a press picks the suggestion.
                onMouseDown={(event) => {
                  event.preventDefault();
                  choose(index);
                }}
              >
                {suggestion.name}
              </div>
            ))}
          </div>
        </div>
        <span id={`${id}-hint`} class="visually-hidden">
          Results update as you type. Use the arrow keys for suggestions.
        </span>
      </form>
    </div>
  );
}

const PRICE_LABEL = (min: number, max: number | null) =>
  max === null
    ? `${formatMoney(min, 'EUR')} and more`
    : min === 0
      ? `Under ${formatMoney(max, 'EUR')}`
      : `${formatMoney(min, 'EUR')} to ${formatMoney(max, 'EUR')}`;

function FilterPanel({ filters, set, page }: { filters: Filters; set: (change: Partial<Filters>) => void; page: ProductPage | null }) {
  const { categories } = useShop();
  const [open] = useState(() => matchMedia('(min-width: 48rem)').matches);
  const facetCount = (id: string) => page?.facets.categories.find((c) => c.id === id)?.count;
  const priceActive = (min: number, max: number | null) =>
    filters.minPrice === (min === 0 ? '' : String(min / 100)) && filters.maxPrice === (max === null ? '' : String((max - 1) / 100));
  return (
    <aside class="filters" aria-label="Filters">
      <details open={open}>
        <summary>Filters</summary>
        <fieldset>
          <legend>Category</legend>
          <ul class="facet-list">
            <li>
              <button type="button" class="facet" aria-pressed={filters.category === ''} onClick={() => set({ category: '' })}>
                All categories
              </button>
            </li>
            {categories.map((category) => {
              const count = facetCount(category.id);
              return (
                <li key={category.id}>
                  <button
                    type="button"
                    class={category.parentId ? 'facet sub-facet' : 'facet'}
                    aria-pressed={filters.category === category.id || filters.category === category.slug}
                    onClick={() => set({ category: category.id })}
                  >
                    {category.name}
                    {count !== undefined && <span class="facet-count"> ({count})</span>}
                  </button>
                </li>
              );
            })}
          </ul>
        </fieldset>
        <fieldset>
          <legend>Price</legend>
          <ul class="facet-list">
            {page?.facets.price.map((bucket) => (
              <li key={bucket.min}>
                <button
                  type="button"
                  class="facet"
                  aria-pressed={priceActive(bucket.min, bucket.max)}
                  disabled={bucket.count === 0 && !priceActive(bucket.min, bucket.max)}
                  onClick={() =>
                    priceActive(bucket.min, bucket.max)
                      ? set({ minPrice: '', maxPrice: '' })
                      : set({ minPrice: bucket.min === 0 ? '' : String(bucket.min / 100), maxPrice: bucket.max === null ? '' : String((bucket.max - 1) / 100) })
                  }
                >
                  {PRICE_LABEL(bucket.min, bucket.max)} <span class="facet-count">({bucket.count})</span>
                </button>
              </li>
            ))}
          </ul>
          <div class="row price-range">
            <Field label="Min €">
              {(props) => (
                <input
                  {...props}
                  type="number"
                  min="0"
                  step="0.01"
                  inputMode="decimal"
                  class="short"
                  value={filters.minPrice}
                  onChange={(e) => set({ minPrice: e.currentTarget.value })}
                />
              )}
            </Field>
            <Field label="Max €">
              {(props) => (
                <input
                  {...props}
                  type="number"
                  min="0"
                  step="0.01"
                  inputMode="decimal"
                  class="short"
                  value={filters.maxPrice}
                  onChange={(e) => set({ maxPrice: e.currentTarget.value })}
                />
              )}
            </Field>
          </div>
        </fieldset>
        <fieldset>
          <legend>Rating</legend>
          <ul class="facet-list">
            {page?.facets.rating.map((bucket) => (
              <li key={bucket.min}>
                <button
                  type="button"
                  class="facet"
                  aria-pressed={filters.minRating === String(bucket.min)}
                  onClick={() => set({ minRating: filters.minRating === String(bucket.min) ? '' : String(bucket.min) })}
                >
                  {bucket.min === 1 ? '1 star' : `${bucket.min} stars`} and up <span class="facet-count">({bucket.count})</span>
                </button>
              </li>
            ))}
          </ul>
        </fieldset>
        <div class="field checkbox">
          <input id="filter-in-stock" type="checkbox" checked={filters.inStock} onChange={(e) => set({ inStock: e.currentTarget.checked })} />
          <label for="filter-in-stock">In stock only</label>
        </div>
        <Field label="Sort by">
          {(props) => (
            <select {...props} value={filters.sort} onChange={(e) => set({ sort: e.currentTarget.value })}>
              {SORTS.map(([value, label]) => (
                <option key={value} value={value}>
                  {label}
                </option>
              ))}
            </select>
          )}
        </Field>
      </details>
    </aside>
  );
}
