// The stock table: the catalog a page at a time (GET /api/products with its cursor), each listed product followed
// live on `product:<id>` (stock:changed), low stock highlighted, and a restock (stock:restock) on every row.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { ProductPage, ProductView, StockChanged, WarehouseConnection } from '../../src/client/index.ts';
import { api } from '../shared/session.ts';
import { ErrorNote } from '../shared/ui.tsx';
import { describeError } from './format.ts';
import { useAnnounce } from './live.ts';

const PAGE_SIZE = 25;

interface Level {
  readonly available: number;
  /** Units in the warehouse (available + reserved); unknown until `stock:get` or a `stock:changed` said it. */
  readonly onHand: number | null;
  readonly version: number;
}

type ProductTopicView = ProductView | StockChanged | { readonly offerId: string } | { readonly sort: string } | { readonly histogram: unknown };

/** Stock levels by product, each at its newest version (the product's version orders stock and catalog changes alike). */
function useLevels() {
  const levels = useRef(new Map<string, Level>());
  const [, setTick] = useState(0);
  const apply = useCallback((productId: string, next: { available: number; onHand?: number | null; version: number }): Level | null => {
    const held = levels.current.get(productId);
    const onHand = next.onHand ?? null;
    if (held && (next.version < held.version || (next.version === held.version && (onHand === null || held.onHand !== null)))) return null;
    // A full product view carries no on-hand count; a catalog or rating change does not move it, so it is kept.
    const level = { available: next.available, onHand: onHand ?? held?.onHand ?? null, version: next.version };
    levels.current.set(productId, level);
    setTick((n) => n + 1);
    return level;
  }, []);
  return { levels: levels.current, apply };
}

export function StockSection({ conn }: { conn: WarehouseConnection }) {
  const announce = useAnnounce();
  const [query, setQuery] = useState('');
  const [search, setSearch] = useState<{ q: string; cursors: ReadonlyArray<string | null> }>({ q: '', cursors: [null] });
  const [threshold, setThreshold] = useState(5);
  const [page, setPage] = useState<ProductPage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [rowErrors, setRowErrors] = useState<ReadonlyMap<string, string>>(new Map());
  const { levels, apply } = useLevels();
  const thresholdRef = useRef(threshold);
  thresholdRef.current = threshold;

  // What was typed, once typing pauses: a new search starts at its first page.
  useEffect(() => {
    const timer = setTimeout(() => setSearch((current) => (current.q === query.trim() ? current : { q: query.trim(), cursors: [null] })), 250);
    return () => clearTimeout(timer);
  }, [query]);

  useEffect(() => {
    let gone = false;
    const params = new URLSearchParams({ pageSize: String(PAGE_SIZE) });
    if (search.q) params.set('q', search.q);
    else params.set('sort', 'name');
    const cursor = search.cursors[search.cursors.length - 1];
    if (cursor) params.set('cursor', cursor);
    api<ProductPage>(`/api/products?${params}`)
      .then((answer) => {
        if (gone) return;
        for (const product of answer.items) apply(product.id, { available: product.available, version: product.version });
        setPage(answer);
        setError(null);
      })
      .catch((failure: unknown) => gone || setError(`The products could not be loaded: ${describeError(failure)}`));
    return () => {
      gone = true;
    };
  }, [search, apply]);

  // Follow the listed products live, then read their on-hand counts (at least as fresh as the subscriptions).
  useEffect(() => {
    if (!page) return;
    let gone = false;
    const stops: Array<() => Promise<void>> = [];
    for (const product of page.items) {
      conn
        .subscribe<ProductTopicView>(`product:${product.id}`, (view) => {
          if ('onHand' in view) {
            const before = levels.get(view.productId);
            const level = apply(view.productId, view);
            if (level && before && before.available > thresholdRef.current && level.available <= thresholdRef.current)
              announce(`${product.name} is low on stock: ${level.available} available.`);
          } else if ('sku' in view) apply(view.id, { available: view.available, version: view.version });
        })
        .then(async (stop) => {
          if (gone) return void stop();
          stops.push(stop);
          const { stock } = await conn.read('stock:get', { productId: product.id });
          if (!gone) apply(stock.productId, stock);
        })
        .catch((failure: unknown) => gone || setRowErrors((current) => new Map(current).set(product.id, `Not followed live: ${describeError(failure)}`)));
    }
    return () => {
      gone = true;
      for (const stop of stops) void stop().catch(() => undefined);
    };
  }, [page, conn, apply, levels, announce]);

  const restock = async (product: ProductView, quantity: number): Promise<boolean> => {
    setRowErrors((current) => {
      const next = new Map(current);
      next.delete(product.id);
      return next;
    });
    try {
      const { stock } = await conn.call('stock:restock', { productId: product.id, quantity });
      apply(stock.productId, stock);
      announce(`Restocked ${product.name} with ${quantity}: ${stock.available} available.`);
      return true;
    } catch (failure) {
      setRowErrors((current) => new Map(current).set(product.id, `Restock failed: ${describeError(failure)}`));
      return false;
    }
  };

  const items = page?.items ?? [];
  const low = items.filter((product) => (levels.get(product.id)?.available ?? product.available) <= threshold).length;
  const pageNumber = search.cursors.length;
  return (
    <section aria-labelledby="stock-title" class="wh-section">
      <h2 id="stock-title" class="visually-hidden">
        Stock levels
      </h2>
      <div class="row wh-toolbar">
        <div class="wh-filter">
          <label for="stock-search">Find products</label>
          <input id="stock-search" type="search" placeholder="name, SKU, category…" value={query} onInput={(e) => setQuery(e.currentTarget.value)} />
        </div>
        <div class="wh-filter wh-threshold">
          <label for="stock-threshold">Low stock at or below</label>
          <input
            id="stock-threshold"
            type="number"
            min={0}
            max={1_000_000}
            value={threshold}
            onInput={(e) => {
              const value = Number.parseInt(e.currentTarget.value, 10);
              if (Number.isInteger(value) && value >= 0) setThreshold(value);
            }}
          />
        </div>
      </div>
      <ErrorNote error={error} />
      <p class="muted" data-testid="stock-summary">
        {page
          ? `${page.total} product${page.total === 1 ? '' : 's'}${search.q ? ` matching “${search.q}”` : ''}; page ${pageNumber}. ${low} on this page at or below ${threshold} available. Levels update live.`
          : 'Loading…'}
      </p>
      <div class="wh-table-wrap">
        <table class="wh-table">
          <caption id="stock-caption" class="visually-hidden">
            Stock of the listed products
          </caption>
          <thead>
            <tr>
              <th scope="col">Product</th>
              <th scope="col" class="wh-hide-sm">
                SKU
              </th>
              <th scope="col" class="wh-num">
                Available
              </th>
              <th scope="col" class="wh-num">
                On hand
              </th>
              <th scope="col">Restock</th>
            </tr>
          </thead>
          <tbody>
            {items.map((product) => (
              <StockRow
                key={product.id}
                product={product}
                level={levels.get(product.id) ?? null}
                threshold={threshold}
                error={rowErrors.get(product.id) ?? null}
                onRestock={restock}
              />
            ))}
          </tbody>
        </table>
      </div>
      {page && items.length === 0 && <p>No products found.</p>}
      <nav class="row wh-pager" aria-label="Stock pages">
        <button
          type="button"
          class="secondary"
          disabled={search.cursors.length <= 1}
          onClick={() => setSearch((current) => ({ ...current, cursors: current.cursors.slice(0, -1) }))}
        >
          Previous page
        </button>
        <button
          type="button"
          class="secondary"
          disabled={!page?.nextCursor}
          onClick={() => page?.nextCursor && setSearch((current) => ({ ...current, cursors: [...current.cursors, page.nextCursor] }))}
        >
          Next page
        </button>
      </nav>
    </section>
  );
}

function StockRow({
  product,
  level,
  threshold,
  error,
  onRestock,
}: {
  product: ProductView;
  level: Level | null;
  threshold: number;
  error: string | null;
  onRestock: (product: ProductView, quantity: number) => Promise<boolean>;
}) {
  const [quantity, setQuantity] = useState('');
  const [busy, setBusy] = useState(false);
  const available = level?.available ?? product.available;
  const low = available <= threshold;
  const inputId = `restock-${product.id}`;
  return (
    <tr class={low ? 'wh-low' : ''} data-testid="stock-row" data-product-id={product.id} data-low={low ? 'true' : 'false'}>
      <th scope="row">
        {product.name}{' '}
        <span class="wh-status" data-testid="stock-status">
          {available <= 0 ? (
            <span class="badge wh-badge-out">Sold out</span>
          ) : low ? (
            <span class="badge wh-badge-low">Low stock</span>
          ) : (
            <span class="visually-hidden">in stock</span>
          )}
        </span>
      </th>
      <td class="wh-mono wh-hide-sm">{product.sku}</td>
      <td class="wh-num" data-testid="available">
        {available}
      </td>
      <td class="wh-num" data-testid="on-hand">
        {level?.onHand ?? '…'}
      </td>
      <td>
        <form
          class="wh-restock"
          onSubmit={async (event) => {
            event.preventDefault();
            const units = Number.parseInt(quantity, 10);
            if (!Number.isInteger(units) || units < 1) return;
            setBusy(true);
            if (await onRestock(product, units)) setQuantity('');
            setBusy(false);
          }}
        >
          <label for={inputId} class="visually-hidden">
            Units to add to {product.name}
          </label>
          <input
            id={inputId}
            type="number"
            min={1}
            max={1_000_000}
            step={1}
            required
            inputMode="numeric"
            value={quantity}
            onInput={(e) => setQuantity(e.currentTarget.value)}
          />
          <button type="submit" disabled={busy}>
            Restock<span class="visually-hidden"> {product.name}</span>
          </button>
        </form>
        <ErrorNote error={error} />
      </td>
    </tr>
  );
}
