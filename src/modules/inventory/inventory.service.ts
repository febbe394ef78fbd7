// Inventory: reserve at checkout, hold on payment, sell on shipping, release on cancel or expiry; every change is announced.
import { Subject } from 'rxjs';
import { AppError } from '../../domain/errors.ts';
import type { Clock } from '../../domain/identity.ts';
import type { InventoryRepo, ReservationParticipant, ReservationRequest, ReserveResult, StockLevel } from './inventory.repo.ts';

export type { ParticipantRefusal, RefusalReason, ReservationParticipant, ReservationRequest, ReservedLine, StockLevel } from './inventory.repo.ts';

/**
 * The one way stock moves. Every method is safe to repeat (effects run at
 * least once); each committed change is published on `stockChanged$`.
 */
export class InventoryService {
  readonly stockChanged$ = new Subject<StockLevel>();

  constructor(
    private readonly repo: InventoryRepo,
    private readonly clock: Clock,
  ) {}

  /**
   * Reserves every line of a checkout's order, and every participant's claims (a drop's quota), or none; the
   * outcome is decided once per order id.
   */
  async reserve(request: ReservationRequest, expiresAt: number): Promise<ReserveResult> {
    const result = await this.repo.reserve(request, expiresAt, this.clock());
    if (result.ok) this.announce(result.changed);
    return result;
  }

  /** The outcome the reservation of `orderId` was given, if it was ever attempted. */
  decision(orderId: string): Promise<ReserveResult | undefined> {
    return this.repo.decision(orderId);
  }

  /** Takes part in every later reservation and release (the offers module's drop quotas), in their transactions. */
  addParticipant(participant: ReservationParticipant): void {
    this.repo.addParticipant(participant);
  }

  async release(orderId: string): Promise<void> {
    this.announce(await this.repo.release(orderId, this.clock()));
  }

  async commitSale(orderId: string): Promise<void> {
    this.announce(await this.repo.commit(orderId, this.clock()));
  }

  async hold(orderId: string): Promise<void> {
    await this.repo.hold(orderId, this.clock());
  }

  async restock(productId: string, quantity: number): Promise<StockLevel> {
    const level = await this.repo.restock(productId, quantity, this.clock());
    if (!level) throw new AppError('NOT_FOUND', `product ${productId} does not exist`);
    this.announce([level]);
    return level;
  }

  async level(productId: string): Promise<StockLevel | undefined> {
    return this.repo.level(productId);
  }

  expiredReservationOrders(limit = 100): Promise<Array<{ orderId: string; cartId: string | null }>> {
    return this.repo.expiredOrders(this.clock(), limit);
  }

  private announce(levels: readonly StockLevel[]): void {
    for (const level of levels) this.stockChanged$.next(level);
  }
}
