// Back in stock: a caller asks to be told once when a sold-out product can be bought again. Every committed stock
// change with something available (and a periodic sweep, for changes whose notice a crash cut off) claims the
// product's waiting subscriptions atomically and writes one `stock.backInStock` domain event per subscription in
// the claim's transaction; flows turn those into a personal push and, for customers, an e-mail.
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { AppError } from '../../domain/errors.ts';
import type { Clock, Identity } from '../../domain/identity.ts';
import type { DomainEventWriter } from '../../kernel/module.ts';
import type { StockAlertsRepo } from './stock-alerts.repo.ts';

/** The domain event of a subscription that was notified: one per subscription, written with its claim. */
export type StockAlertsEmitted = {
  readonly type: 'stock.backInStock';
  /** The subscriber: a customer id, or a guest id (guests get the push, not the e-mail). */
  readonly customerId: string;
  readonly productId: string;
  /** The product's name when it was claimed. */
  readonly name: string;
  /** How many could be bought when it was claimed. */
  readonly available: number;
};

declare module '../../kernel/registry.ts' {
  interface DomainEvents {
    readonly stockAlerts: StockAlertsEmitted;
  }
}

/** What `stock:notify` and `stock:unnotify` answer. */
export interface StockNotification {
  readonly productId: string;
  readonly subscribed: boolean;
}

export interface StockAlertsOptions {
  readonly repo: StockAlertsRepo;
  readonly transaction: <T>(work: (trx: Knex.Transaction) => Promise<T>) => Promise<T>;
  readonly domainEvents: DomainEventWriter;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Registry;
}

/** Subscriptions claimed per transaction (one outbox row each). */
const CLAIM_BATCH = 200;
/** Products the sweep looks at per pass. */
const SWEEP_PRODUCTS = 100;

type Trigger = 'stock change' | 'sweep';

export class StockAlertsService {
  /** Products whose subscriptions are being claimed after a stock change; a change meanwhile asks for one more round. */
  private readonly running = new Map<string, { again: boolean; done: Promise<void> }>();
  private stopped = false;
  private readonly notified: Counter<'trigger'>;

  constructor(private readonly o: StockAlertsOptions) {
    this.notified = new Counter({
      name: 'emporium_back_in_stock_notifications_total',
      help: 'Back-in-stock subscriptions notified (claimed with their domain event), by what found them: a stock change, or the sweep (a notice a crash cut off)',
      labelNames: ['trigger'],
      registers: [o.metrics],
    });
  }

  /**
   * Subscribes the caller to `productId`'s return. Refused with `NOT_FOUND` for an unknown or archived product
   * and with `CONFLICT` (`details.reason: 'IN_STOCK'`, `details.available`) while it can be bought. Asking
   * again keeps one subscription; asking again after a notification arms it anew.
   */
  async subscribe(identity: Identity, productId: string): Promise<StockNotification> {
    await this.o.transaction(async (trx) => {
      const product = await this.o.repo.product(trx, productId);
      if (!product || product.archived) throw new AppError('NOT_FOUND', `product ${productId} does not exist`);
      if (product.available > 0) {
        throw new AppError('CONFLICT', `product ${productId} is in stock: it can be bought now`, {
          details: { reason: 'IN_STOCK', productId, available: product.available },
        });
      }
      await this.o.repo.arm(trx, productId, identity.sub, this.o.clock());
    });
    return { productId, subscribed: true };
  }

  /** Withdraws the caller's subscription, if any (it is not an error to have none). */
  async unsubscribe(identity: Identity, productId: string): Promise<StockNotification> {
    await this.o.repo.disarm(productId, identity.sub);
    return { productId, subscribed: false };
  }

  /** The products the caller still waits for (asked with `subscribe`, not notified yet): what a page shows after a reload. */
  async waiting(identity: Identity): Promise<{ productIds: string[] }> {
    return { productIds: await this.o.repo.pendingOf(identity.sub) };
  }

  /**
   * A committed stock change (every one, from `InventoryService.stockChanged$`). With something available, the
   * product's waiting subscriptions are claimed; one product is claimed by one round at a time here, and
   * changes during a round ask for one more.
   */
  stockChanged(level: { readonly productId: string; readonly available: number }): void {
    if (level.available <= 0 || this.stopped) return;
    const current = this.running.get(level.productId);
    if (current) {
      current.again = true;
      return;
    }
    const state = { again: false, done: Promise.resolve() };
    this.running.set(level.productId, state);
    state.done = (async () => {
      try {
        do {
          state.again = false;
          try {
            if (await this.o.repo.hasPending(level.productId)) await this.notifyProduct(level.productId, 'stock change');
          } catch (error) {
            // The sweep finds whatever this round could not claim.
            this.o.logger.warn({ err: error, productId: level.productId }, 'back in stock: could not notify after a stock change; the sweep will');
          }
        } while (state.again && !this.stopped);
      } finally {
        // In the same step as the last check of `again`: a change can no longer land between the two and be lost.
        this.running.delete(level.productId);
      }
    })();
  }

  /**
   * Claims every waiting subscription of `productId` if it can be bought now, in batches, each in one
   * transaction with its domain events. Returns how many this call notified.
   */
  async notifyProduct(productId: string, trigger: Trigger): Promise<number> {
    let total = 0;
    for (;;) {
      const round = await this.o.transaction(async (trx) => {
        const product = await this.o.repo.product(trx, productId);
        if (!product || product.archived || product.available <= 0) return { seen: 0, claimed: [] as string[], product };
        const waiting = await this.o.repo.pendingSubscribers(trx, productId, CLAIM_BATCH);
        const claimed = await this.o.repo.claim(trx, productId, waiting, this.o.clock());
        if (claimed.length > 0) {
          await this.o.domainEvents.append(
            trx,
            claimed.map((customerId) => ({
              actorId: customerId,
              kind: 'customer',
              payload: { type: 'stock.backInStock', customerId, productId, name: product.name, available: product.available } satisfies StockAlertsEmitted,
            })),
          );
        }
        return { seen: waiting.length, claimed, product };
      });
      if (round.claimed.length > 0) {
        this.o.domainEvents.committed();
        this.notified.inc({ trigger }, round.claimed.length);
        total += round.claimed.length;
        this.o.logger.info({ productId, notified: round.claimed.length, available: round.product?.available, trigger }, 'back in stock: subscribers notified');
      }
      if (round.seen < CLAIM_BATCH) return total;
    }
  }

  /** Notifies waiting subscriptions of products that can be bought (a stock change whose round a crash cut off). */
  async sweep(): Promise<number> {
    let total = 0;
    for (const productId of await this.o.repo.pendingAvailableProducts(SWEEP_PRODUCTS)) {
      if (this.stopped) break;
      total += await this.notifyProduct(productId, 'sweep');
    }
    return total;
  }

  /** Resolves when no round started by a stock change is running. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running.values()].map((state) => state.done));
  }

  /** No new round starts; resolves when those under way have finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.idle();
  }

  /** Account deletion: the customer's subscriptions go. */
  eraseCustomer(customerId: string): Promise<void> {
    return this.o.repo.eraseCustomer(customerId);
  }
}
