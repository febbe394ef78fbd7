// The inventory module: stock that never oversells (reserve, hold, sell, release), the warehouse's stock commands,
// and `stock:changed` pushes on `product:<id>`.
import { map } from 'rxjs';
import { AppError } from '../../domain/errors.ts';
import type { Clock } from '../../domain/identity.ts';
import type { Db } from '../../kernel/db/db.ts';
import { command } from '../../kernel/gateway/commands.ts';
import { once, type Push } from '../../kernel/gateway/pushes.ts';
import { defineModule, type WarehouseCommandTable } from '../../kernel/module.ts';
import { warehouseCommands as c, pushTopics } from '../../protocol/index.ts';
import { InventoryRepo, type StockLevel } from './inventory.repo.ts';
import { InventoryService } from './inventory.service.ts';
import * as reservationDecisions from './migrations/003_reservation_decisions.ts';
import { coalescePerProduct } from './stock-pushes.ts';
import * as reservationRefusals from './migrations/013_reservation_refusals.ts';

export {
  InventoryService,
  type ParticipantRefusal,
  type RefusalReason,
  type ReservationParticipant,
  type ReservationRequest,
  type ReservedLine,
  type StockLevel,
} from './inventory.service.ts';

/** The inventory service on its own, for scripts that run without the app (`npm run catalog:import`). */
export function standaloneInventory(db: Db, clock: Clock): InventoryService {
  return new InventoryService(new InventoryRepo(db.knex, db.transaction), clock);
}

declare module '../../kernel/registry.ts' {
  interface Services {
    readonly inventory: InventoryService;
  }
}

const stockView = (level: StockLevel) => ({ productId: level.productId, available: level.available, onHand: level.onHand, version: level.version });

export const inventoryModule = defineModule({
  name: 'inventory',
  migrations: [reservationDecisions, reservationRefusals],
  create: ({ db, clock, config, services }) => {
    const inventory = new InventoryService(new InventoryRepo(db.knex, db.transaction), clock);
    // The catalog's cache of products follows every stock change committed here (before any push of it goes out).
    inventory.stockChanged$.subscribe((level) => services.catalog.stockChanged(level));
    return {
      services: { inventory },
      commands: {
        warehouse: {
          'stock:get': command(c['stock:get'], async (_ctx, p) => {
            const level = await inventory.level(p.productId);
            if (!level) throw new AppError('NOT_FOUND', `product ${p.productId} does not exist`);
            return { stock: stockView(level) };
          }),
          'stock:restock': command(c['stock:restock'], async (_ctx, p) => ({ stock: stockView(await inventory.restock(p.productId, p.quantity)) })),
        } satisfies Partial<WarehouseCommandTable>,
      },
      // Coalesced per product (STOCK_PUSH_WINDOW_MS): watchers get the latest level, not every change of a rush.
      pushes: inventory.stockChanged$.pipe(
        coalescePerProduct({ windowMs: config.stockPushWindowMs }),
        map(
          (level): Push => ({
            topics: pushTopics['stock:changed'](level),
            event: 'stock:changed',
            payload: once(() => [stockView(level)]),
          }),
        ),
      ),
    };
  },
});
