// Catalog editing: find a product and edit it, or create one (catalog:upsertProduct, guarded by expectedVersion so
// nobody's change is silently overwritten), archive it (catalog:archiveProduct), and create or change categories
// (catalog:upsertCategory).
import { useEffect, useRef, useState } from 'preact/hooks';
import type { CategoryView, ProductView, RatingChanged, StockChanged, WarehouseConnection, WarehousePayload } from '../../src/client/index.ts';
import { ErrorNote, Money } from '../shared/ui.tsx';
import { describeError, formatAttributes, fromMinorUnits, parseAttributes, toMinorUnits } from './format.ts';
import { useAnnounce, useCategories, useProductSearch } from './live.ts';
import { categoryPath, treeOrder } from './pickers.tsx';

export function CatalogSection({ conn }: { conn: WarehouseConnection }) {
  const { categories, reload, error } = useCategories();
  // Which product the editor holds (null: a new one); `session` changes only when staff pick another, so a save
  // that turns a new product into an existing one keeps the editor (and its message) in place.
  const [editing, setEditing] = useState<{ session: number; product: ProductView | null }>({ session: 0, product: null });
  const [round, setRound] = useState(0);
  const pick = (product: ProductView | null) => setEditing((current) => ({ session: current.session + 1, product }));
  return (
    <div class="wh-section">
      <ErrorNote error={error} />
      <section aria-labelledby="catalog-products">
        <h2 id="catalog-products">Products</h2>
        <div class="wh-split">
          <ProductList refresh={round} categories={categories} onEdit={pick} onNew={() => pick(null)} selected={editing.product?.id ?? null} />
          <ProductEditor
            key={editing.session}
            conn={conn}
            categories={categories}
            product={editing.product}
            onSaved={(product) => {
              setEditing((current) => ({ ...current, product }));
              setRound((n) => n + 1);
            }}
          />
        </div>
      </section>
      <CategoriesPanel conn={conn} categories={categories} onSaved={reload} />
    </div>
  );
}

function ProductList({
  refresh,
  categories,
  selected,
  onEdit,
  onNew,
}: {
  refresh: number;
  categories: readonly CategoryView[];
  selected: string | null;
  onEdit: (product: ProductView) => void;
  onNew: () => void;
}) {
  const [query, setQuery] = useState('');
  const { results, error } = useProductSearch(query, 20, refresh);
  return (
    <div class="wh-product-list">
      <div class="row wh-toolbar">
        <div class="wh-filter">
          <label for="catalog-search">Find products</label>
          <input id="catalog-search" type="search" placeholder="name, SKU, category…" value={query} onInput={(e) => setQuery(e.currentTarget.value)} />
        </div>
        <button type="button" onClick={onNew} data-testid="new-product">
          New product
        </button>
      </div>
      <ErrorNote error={error} />
      <ul class="wh-cards" aria-label="Products found">
        {results.map((product) => {
          const category = categories.find((c) => c.id === product.categoryId);
          return (
            <li
              key={product.id}
              class={`card wh-product${product.id === selected ? ' wh-selected' : ''}`}
              data-testid="catalog-product"
              data-product-id={product.id}
            >
              <div>
                <strong>{product.name}</strong> <span class="muted wh-mono">{product.sku}</span>
                <br />
                <Money amount={product.price} currency={product.currency} />
                {category && <span class="muted"> · {category.name}</span>}
              </div>
              <button type="button" class="secondary wh-small-button" onClick={() => onEdit(product)}>
                Edit<span class="visually-hidden"> {product.name}</span>
              </button>
            </li>
          );
        })}
      </ul>
      {results.length === 0 && <p class="muted">No products found.</p>}
    </div>
  );
}

/** The fields of a product that the editor changes (stock and rating are not its business). */
const catalogFields = (p: ProductView) => JSON.stringify([p.sku, p.name, p.description, p.price, p.currency, p.categoryId, p.images, p.attributes, p.archived]);

function ProductEditor({
  conn,
  categories,
  product,
  onSaved,
}: {
  conn: WarehouseConnection;
  categories: readonly CategoryView[];
  product: ProductView | null;
  onSaved: (product: ProductView) => void;
}) {
  const announce = useAnnounce();
  const [base, setBase] = useState<ProductView | null>(product);
  const [stale, setStale] = useState<ProductView | null>(null);
  const [sku, setSku] = useState(product?.sku ?? '');
  const [name, setName] = useState(product?.name ?? '');
  const [description, setDescription] = useState(product?.description ?? '');
  const [currency, setCurrency] = useState(product?.currency ?? 'EUR');
  const [price, setPrice] = useState(product ? fromMinorUnits(product.price, product.currency) : '');
  const [category, setCategory] = useState(product?.categoryId ?? '');
  const [images, setImages] = useState((product?.images ?? []).join('\n'));
  const [attributes, setAttributes] = useState(formatAttributes(product?.attributes ?? {}));
  const [busy, setBusy] = useState(false);
  const [confirmArchive, setConfirmArchive] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const baseRef = useRef(base);
  baseRef.current = base;
  const staleRef = useRef(stale);
  staleRef.current = stale;

  useEffect(() => {
    if (!category && categories[0]) setCategory(categories[0].id);
  }, [categories]);

  // While a product is open, follow it: a stock or rating change moves its version only (the form follows, so the
  // save is not refused for it); a catalog change by someone else is shown, and the save is refused (CONFLICT).
  const productId = base?.id;
  useEffect(() => {
    if (!productId) return;
    let stop: (() => Promise<void>) | undefined;
    let gone = false;
    conn
      .subscribe<ProductView | StockChanged | RatingChanged | { offerId: string }>(`product:${productId}`, (view) => {
        const held = baseRef.current;
        if (!held || staleRef.current || !('version' in view) || view.version <= held.version) return;
        if ('sku' in view) {
          if (catalogFields(view) === catalogFields(held)) setBase({ ...held, version: view.version });
          else setStale(view);
        } else if ('onHand' in view || 'histogram' in view) setBase({ ...held, version: view.version });
      })
      .then((unsubscribe) => {
        if (gone) void unsubscribe();
        else stop = unsubscribe;
      })
      .catch(() => undefined);
    return () => {
      gone = true;
      void stop?.().catch(() => undefined);
    };
  }, [productId, conn]);

  const load = (next: ProductView) => {
    setBase(next);
    setStale(null);
    setSku(next.sku);
    setName(next.name);
    setDescription(next.description);
    setCurrency(next.currency);
    setPrice(fromMinorUnits(next.price, next.currency));
    setCategory(next.categoryId);
    setImages(next.images.join('\n'));
    setAttributes(formatAttributes(next.attributes));
  };

  const save = async (event: Event) => {
    event.preventDefault();
    setError(null);
    setDone(null);
    const minor = toMinorUnits(price, currency);
    if (minor === null) return setError(`The price is an amount such as 12.90 (${currency}).`);
    let parsed: Record<string, string | number | boolean>;
    try {
      parsed = parseAttributes(attributes);
    } catch (failure) {
      return setError(failure instanceof Error ? failure.message : String(failure));
    }
    const imageList = images
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean);
    const payload: WarehousePayload<'catalog:upsertProduct'> = {
      sku: sku.trim(),
      name: name.trim(),
      price: minor,
      currency,
      category,
      ...(base || description.trim() ? { description: description.trim() } : {}),
      ...(base || imageList.length > 0 ? { images: imageList } : {}),
      ...(base || Object.keys(parsed).length > 0 ? { attributes: parsed } : {}),
      ...(base ? { expectedVersion: base.version } : {}),
    };
    setBusy(true);
    try {
      const answer = await conn.call('catalog:upsertProduct', payload);
      load(answer.product);
      onSaved(answer.product);
      const message = answer.created
        ? `Created ${answer.product.name}. It has no stock yet: restock it under Stock.`
        : answer.changed
          ? `Saved ${answer.product.name}.`
          : `Nothing to save: ${answer.product.name} is unchanged.`;
      setDone(message);
      announce(message);
    } catch (failure) {
      setError(`Could not save: ${describeError(failure)}`);
    }
    setBusy(false);
  };

  const archive = async () => {
    if (!base) return;
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      const { product: archived } = await conn.call('catalog:archiveProduct', { productId: base.id });
      load(archived);
      onSaved(archived);
      setDone(`Archived ${archived.name}: it is no longer sold. Save it again to sell it again.`);
      announce(`Archived ${archived.name}.`);
    } catch (failure) {
      setError(`Could not archive: ${describeError(failure)}`);
    }
    setConfirmArchive(false);
    setBusy(false);
  };

  return (
    <section aria-labelledby="product-editor-title" class="card wh-editor" data-testid="product-editor">
      <h3 id="product-editor-title">{base ? `Edit ${base.name}` : 'New product'}</h3>
      {base?.archived && (
        <p class="banner" data-testid="archived-note">
          Archived: not sold any more. Saving it sells it again.
        </p>
      )}
      {stale && (
        <div class="banner" role="alert">
          <p>Someone else changed this product meanwhile. Load their version before saving (your edits here would be lost).</p>
          <button type="button" class="secondary" onClick={() => load(stale)}>
            Load the current version
          </button>
        </div>
      )}
      <form class="wh-form" onSubmit={save}>
        <label for="product-sku">SKU</label>
        <input
          id="product-sku"
          required
          maxLength={64}
          pattern="[A-Za-z0-9][A-Za-z0-9._\-]*"
          readOnly={base !== null}
          aria-describedby="product-sku-help"
          value={sku}
          onInput={(e) => setSku(e.currentTarget.value)}
        />
        <p id="product-sku-help" class="muted wh-small">
          {base ? 'The SKU is the product’s key: it cannot change.' : 'Letters, digits, dots, underscores and hyphens; an existing SKU changes that product.'}
        </p>
        <label for="product-name">Name</label>
        <input id="product-name" required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        <label for="product-description">Description</label>
        <textarea id="product-description" rows={3} maxLength={5000} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
        <div class="wh-pair">
          <div>
            <label for="product-price">Price</label>
            <input id="product-price" required inputMode="decimal" placeholder="12.90" value={price} onInput={(e) => setPrice(e.currentTarget.value)} />
          </div>
          <div>
            <label for="product-currency">Currency</label>
            <input
              id="product-currency"
              required
              maxLength={3}
              pattern="[A-Z]{3}"
              value={currency}
              onInput={(e) => setCurrency(e.currentTarget.value.toUpperCase())}
            />
          </div>
        </div>
        <label for="product-category">Category</label>
        <select id="product-category" required value={category} onChange={(e) => setCategory(e.currentTarget.value)}>
          {treeOrder(categories).map((c) => (
            <option key={c.id} value={c.id}>
              {categoryPath(c, categories)}
            </option>
          ))}
        </select>
        <label for="product-images">Images (one URL a line, the first is the main one)</label>
        <textarea id="product-images" rows={2} value={images} onInput={(e) => setImages(e.currentTarget.value)} />
        <label for="product-attributes">Attributes (one “name: value” a line)</label>
        <textarea
          id="product-attributes"
          rows={3}
          placeholder={'origin: Ethiopia\nweight_g: 250\norganic: true'}
          value={attributes}
          onInput={(e) => setAttributes(e.currentTarget.value)}
        />
        <div class="row wh-buttons">
          <button type="submit" disabled={busy} data-testid="save-product">
            {base ? 'Save changes' : 'Create product'}
          </button>
          {base && !base.archived && !confirmArchive && (
            <button type="button" class="wh-danger" disabled={busy} onClick={() => setConfirmArchive(true)}>
              Archive…
            </button>
          )}
        </div>
        {confirmArchive && (
          <div class="wh-confirm">
            <p>Archive {base?.name}? It leaves the store; orders that hold it keep it.</p>
            <div class="wh-actions">
              <button type="button" class="wh-danger" disabled={busy} onClick={() => void archive()} data-testid="confirm-archive">
                Yes, archive
              </button>
              <button type="button" class="secondary" disabled={busy} onClick={() => setConfirmArchive(false)}>
                Keep selling it
              </button>
            </div>
          </div>
        )}
        <ErrorNote error={error} />
        {done && (
          <p class="ok" data-testid="product-saved">
            {done}
          </p>
        )}
      </form>
    </section>
  );
}

/** The categories under `id` (itself included): a category cannot be placed under any of them. */
function subtree(id: string, categories: readonly CategoryView[]): Set<string> {
  const inside = new Set([id]);
  for (let grown = true; grown; ) {
    grown = false;
    for (const c of categories)
      if (c.parentId && inside.has(c.parentId) && !inside.has(c.id)) {
        inside.add(c.id);
        grown = true;
      }
  }
  return inside;
}

function CategoriesPanel({ conn, categories, onSaved }: { conn: WarehouseConnection; categories: readonly CategoryView[]; onSaved: () => void }) {
  const announce = useAnnounce();
  const [editing, setEditing] = useState<CategoryView | null>(null);
  const [slug, setSlug] = useState('');
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [parent, setParent] = useState('');
  const [position, setPosition] = useState('0');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const form = useRef<HTMLHeadingElement>(null);

  const edit = (category: CategoryView | null) => {
    setEditing(category);
    setSlug(category?.slug ?? '');
    setName(category?.name ?? '');
    setDescription(category?.description ?? '');
    setParent(categories.find((c) => c.id === category?.parentId)?.slug ?? '');
    setPosition(String(category?.position ?? 0));
    setError(null);
    setDone(null);
    form.current?.focus();
  };

  const save = async (event: Event) => {
    event.preventDefault();
    setError(null);
    setDone(null);
    setBusy(true);
    try {
      const { category, created } = await conn.call('catalog:upsertCategory', {
        slug: slug.trim(),
        name: name.trim(),
        description: description.trim(),
        parent: parent || null,
        position: Number.parseInt(position, 10) || 0,
      });
      setEditing(category);
      onSaved();
      const message = `${created ? 'Created' : 'Saved'} the category ${category.name}.`;
      setDone(message);
      announce(message);
    } catch (failure) {
      setError(`Could not save the category: ${describeError(failure)}`);
    }
    setBusy(false);
  };

  const excluded = editing ? subtree(editing.id, categories) : new Set<string>();
  return (
    <section aria-labelledby="catalog-categories">
      <h2 id="catalog-categories">Categories</h2>
      <div class="wh-split">
        <div class="wh-table-wrap">
          <table class="wh-table">
            <caption id="categories-caption" class="visually-hidden">
              Categories
            </caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Slug</th>
                <th scope="col" class="wh-num">
                  Position
                </th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {treeOrder(categories).map((category) => (
                <tr key={category.id} data-testid="category-row" data-category-id={category.id}>
                  <th scope="row">{categoryPath(category, categories)}</th>
                  <td class="wh-mono">{category.slug}</td>
                  <td class="wh-num">{category.position}</td>
                  <td>
                    <button type="button" class="secondary wh-small-button" onClick={() => edit(category)}>
                      Edit<span class="visually-hidden"> {category.name}</span>
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <section aria-labelledby="category-editor-title" class="card wh-editor" data-testid="category-editor">
          <h3 id="category-editor-title" ref={form} tabIndex={-1}>
            {editing ? `Edit ${editing.name}` : 'New category'}
          </h3>
          <form class="wh-form" onSubmit={save}>
            <label for="category-slug">Slug</label>
            <input
              id="category-slug"
              required
              maxLength={64}
              pattern="[a-z0-9]+(-[a-z0-9]+)*"
              title="lowercase letters and digits, words joined by single hyphens"
              readOnly={editing !== null}
              placeholder="kitchen-knives"
              value={slug}
              onInput={(e) => setSlug(e.currentTarget.value)}
            />
            <label for="category-name">Name</label>
            <input id="category-name" required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} />
            <label for="category-description">Description</label>
            <textarea id="category-description" rows={2} maxLength={2000} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
            <label for="category-parent">Parent</label>
            <select id="category-parent" value={parent} onChange={(e) => setParent(e.currentTarget.value)}>
              <option value="">None (top level)</option>
              {treeOrder(categories)
                .filter((c) => !excluded.has(c.id))
                .map((c) => (
                  <option key={c.id} value={c.slug}>
                    {categoryPath(c, categories)}
                  </option>
                ))}
            </select>
            <label for="category-position">Position among its siblings</label>
            <input id="category-position" type="number" min={0} max={1_000_000} value={position} onInput={(e) => setPosition(e.currentTarget.value)} />
            <div class="row wh-buttons">
              <button type="submit" disabled={busy} data-testid="save-category">
                {editing ? 'Save category' : 'Create category'}
              </button>
              {editing && (
                <button type="button" class="secondary" onClick={() => edit(null)}>
                  New category
                </button>
              )}
            </div>
            <ErrorNote error={error} />
            {done && (
              <p class="ok" data-testid="category-saved">
                {done}
              </p>
            )}
          </form>
        </section>
      </div>
    </section>
  );
}
