// Choosing products and categories in forms: search as you type (GET /api/products?q=…), then pick.
import { useState } from 'preact/hooks';
import { type CategoryView, formatMoney, type ProductView } from '../../src/client/index.ts';
import { ErrorNote } from '../shared/ui.tsx';
import { useProduct, useProductSearch } from './live.ts';

const productLabel = (product: ProductView) => `${product.name} (${product.sku}, ${formatMoney(product.price, product.currency)})`;

/** One product: a search field and a list of what matches. */
export function ProductPicker({
  id,
  legend,
  value,
  onChange,
}: {
  id: string;
  legend: string;
  value: ProductView | null;
  onChange: (product: ProductView | null) => void;
}) {
  const [query, setQuery] = useState('');
  const { results, error } = useProductSearch(query, 20);
  const listed = value && !results.some((product) => product.id === value.id) ? [value, ...results] : results;
  return (
    <fieldset class="wh-fieldset">
      <legend>{legend}</legend>
      <label for={`${id}-find`}>Find a product</label>
      <input id={`${id}-find`} type="search" placeholder="name or SKU" value={query} onInput={(e) => setQuery(e.currentTarget.value)} />
      <label for={`${id}-select`}>Product</label>
      <select
        id={`${id}-select`}
        required
        value={value?.id ?? ''}
        onChange={(e) => onChange(listed.find((product) => product.id === e.currentTarget.value) ?? null)}
      >
        <option value="">Choose a product ({results.length} found)</option>
        {listed.map((product) => (
          <option key={product.id} value={product.id}>
            {productLabel(product)}
          </option>
        ))}
      </select>
      <ErrorNote error={error} />
    </fieldset>
  );
}

/** Several products: search, add, remove. */
export function ProductsPicker({
  id,
  legend,
  value,
  onChange,
}: {
  id: string;
  legend: string;
  value: readonly ProductView[];
  onChange: (products: readonly ProductView[]) => void;
}) {
  const [query, setQuery] = useState('');
  const { results, error } = useProductSearch(query, 8);
  const chosen = new Set(value.map((product) => product.id));
  return (
    <fieldset class="wh-fieldset">
      <legend>{legend}</legend>
      {value.length === 0 ? (
        <p class="muted">No product chosen.</p>
      ) : (
        <ul class="wh-chosen" aria-label="Chosen products">
          {value.map((product) => (
            <li key={product.id}>
              {product.name}{' '}
              <button type="button" class="secondary wh-small-button" onClick={() => onChange(value.filter((p) => p.id !== product.id))}>
                Remove<span class="visually-hidden"> {product.name}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      <label for={`${id}-find`}>Find products to add</label>
      <input id={`${id}-find`} type="search" placeholder="name or SKU" value={query} onInput={(e) => setQuery(e.currentTarget.value)} />
      {!query.trim() && <p class="muted wh-small">Type a name or SKU to find products.</p>}
      <ul class="wh-results" aria-label="Matching products">
        {(query.trim() ? results : [])
          .filter((product) => !chosen.has(product.id))
          .map((product) => (
            <li key={product.id}>
              <span>{productLabel(product)}</span>{' '}
              <button type="button" class="secondary wh-small-button" onClick={() => onChange([...value, product])}>
                Add<span class="visually-hidden"> {product.name}</span>
              </button>
            </li>
          ))}
      </ul>
      <ErrorNote error={error} />
    </fieldset>
  );
}

/** A category's name with its parents (`Coffee & Tea › Tea`). */
export function categoryPath(category: CategoryView, all: readonly CategoryView[]): string {
  const names = [category.name];
  let parent = category.parentId;
  for (let depth = 0; parent && depth < 10; depth++) {
    const found = all.find((c) => c.id === parent);
    if (!found) break;
    names.unshift(found.name);
    parent = found.parentId;
  }
  return names.join(' › ');
}

/** Categories in tree order: each parent (by position, then name, as listed) followed by its sub-categories. */
export function treeOrder(categories: readonly CategoryView[]): CategoryView[] {
  const ids = new Set(categories.map((c) => c.id));
  const children = new Map<string | null, CategoryView[]>();
  for (const category of categories) {
    const parent = category.parentId && ids.has(category.parentId) ? category.parentId : null;
    children.set(parent, [...(children.get(parent) ?? []), category]);
  }
  const ordered: CategoryView[] = [];
  const visit = (parent: string | null, depth: number) => {
    if (depth > 20) return;
    for (const child of children.get(parent) ?? []) {
      ordered.push(child);
      visit(child.id, depth + 1);
    }
  };
  visit(null, 0);
  return ordered;
}

/** Several categories, as checkboxes. */
export function CategoriesPicker({
  legend,
  categories,
  value,
  onChange,
}: {
  legend: string;
  categories: readonly CategoryView[];
  value: ReadonlySet<string>;
  onChange: (ids: ReadonlySet<string>) => void;
}) {
  return (
    <fieldset class="wh-fieldset">
      <legend>{legend}</legend>
      {categories.length === 0 && <p class="muted">No categories.</p>}
      <ul class="wh-checks">
        {treeOrder(categories).map((category) => (
          <li key={category.id}>
            <label class="wh-choice">
              <input
                type="checkbox"
                checked={value.has(category.id)}
                onChange={(e) => {
                  const next = new Set(value);
                  if (e.currentTarget.checked) next.add(category.id);
                  else next.delete(category.id);
                  onChange(next);
                }}
              />
              {categoryPath(category, categories)}
            </label>
          </li>
        ))}
      </ul>
    </fieldset>
  );
}

/** A product's name, read once by id (ids are what offers carry). */
export function ProductName({ id }: { id: string }) {
  const product = useProduct(id);
  return <>{product?.name ?? id}</>;
}
