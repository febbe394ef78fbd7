// A per-node cache of product views for the hot path (a cart's price and stock check on every add), kept in step by
// this node's own changes and bounded in age for everyone else's. Never the judge of stock or price at checkout:
// the reservation's transaction and the checkout's re-pricing read the database.
import type { ProductView } from '../../protocol/index.ts';

export interface ProductCacheOptions {
  /** Reads one product from the database (throws `NOT_FOUND` when there is none: not cached). */
  readonly load: (id: string) => Promise<ProductView>;
  /** An entry older than this is read again: the bound on staleness for changes this node does not hear of. 0: no caching. */
  readonly ttlMs: number;
  readonly clock: () => number;
  /** At most this many products are kept (the oldest entry goes first). @default 10_000 */
  readonly maxEntries?: number;
}

interface Entry {
  readonly product: ProductView;
  readonly at: number;
}

/**
 * Products by id, as last read or as this node's stock changes left them.
 *
 * - A catalog change on this node (price, name, archive) drops the entry: the next read loads it.
 * - A stock change on this node patches the entry's `available` and version (a newer version only).
 * - Another node's changes, or a tool writing the database, are seen within `ttlMs`.
 *
 * A read that started before a change may finish after it: it is answered, but not kept (each change bumps the
 * product's generation, and only a read of the current generation is stored), so the cache never goes back to a
 * value older than one it was told about.
 */
export class ProductCache {
  private readonly entries = new Map<string, Entry>();
  private readonly generations = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<ProductView>>();
  private readonly maxEntries: number;

  constructor(private readonly o: ProductCacheOptions) {
    this.maxEntries = o.maxEntries ?? 10_000;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The product, from memory when it was read less than `ttlMs` ago. */
  get(id: string): Promise<ProductView> {
    if (this.o.ttlMs <= 0) return this.o.load(id);
    const entry = this.entries.get(id);
    if (entry && this.o.clock() - entry.at < this.o.ttlMs) return Promise.resolve(entry.product);
    // Concurrent misses of one product share one read.
    const pending = this.inFlight.get(id);
    if (pending) return pending;
    const generation = this.generations.get(id) ?? 0;
    const at = this.o.clock();
    const read = this.o.load(id).then(
      (product) => {
        this.inFlight.delete(id);
        if ((this.generations.get(id) ?? 0) === generation) this.store(id, { product, at });
        return product;
      },
      (error: unknown) => {
        this.inFlight.delete(id);
        throw error;
      },
    );
    this.inFlight.set(id, read);
    return read;
  }

  /** This node changed the product's catalog entry (or archived it): forget it. */
  invalidate(id: string): void {
    this.bump(id);
    this.entries.delete(id);
  }

  /** This node committed a stock change of the product: its level and stock version, patched into the entry if newer. */
  stockChanged(level: { readonly productId: string; readonly available: number; readonly version: number }): void {
    this.bump(level.productId);
    const entry = this.entries.get(level.productId);
    if (!entry || entry.product.stockVersion >= level.version) return;
    this.entries.set(level.productId, {
      product: { ...entry.product, available: level.available, version: level.version, stockVersion: level.version },
      at: entry.at,
    });
  }

  /** Forgets everything. */
  clear(): void {
    for (const id of this.entries.keys()) this.bump(id);
    this.entries.clear();
  }

  private bump(id: string): void {
    // Reads in flight of an older generation are answered but not stored. Only products read before need a count.
    if (this.inFlight.has(id) || this.generations.has(id)) this.generations.set(id, (this.generations.get(id) ?? 0) + 1);
  }

  private store(id: string, entry: Entry): void {
    this.entries.delete(id);
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(id, entry);
  }
}
