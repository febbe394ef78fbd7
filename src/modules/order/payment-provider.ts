// Payments: the provider interface and a simulated provider with a durable ledger and documented test cards.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Knex } from 'knex';
import { DECLINED_CARD_NUMBER, TEST_CARD_NUMBER } from '../../protocol/index.ts';
import { newId } from '../../domain/ids.ts';
import type { Clock } from '../../domain/identity.ts';

export interface CardDetails {
  readonly number: string;
  readonly expMonth: number;
  readonly expYear: number;
  readonly cvc: string;
}

export interface ChargeRequest {
  /** Same key, same result: a retried charge never charges twice. */
  readonly idempotencyKey: string;
  readonly orderId: string;
  readonly amount: number;
  readonly currency: string;
  readonly card: CardDetails;
}

export type ChargeResult = { readonly status: 'succeeded'; readonly chargeId: string } | { readonly status: 'declined'; readonly reason: string };

export interface RefundRequest {
  readonly idempotencyKey: string;
  readonly orderId: string;
  readonly chargeId: string;
  readonly amount: number;
  readonly currency: string;
}

export interface PaymentProvider {
  charge(request: ChargeRequest): Promise<ChargeResult>;
  refund(request: RefundRequest): Promise<{ readonly refundId: string }>;
  /** The outcome of an earlier charge with this key, if the provider saw one (for recovery after a crash). */
  lookup(idempotencyKey: string): Promise<ChargeResult | undefined>;
  /**
   * The outcome of the charge with this key; if there is none yet, the key is
   * closed as declined with `reason`, so a charge with it still under way
   * fails instead of succeeding late. First writer wins, as with charges.
   */
  closeUnsettled(idempotencyKey: string, reason: string): Promise<ChargeResult>;
}

/** Card numbers the simulated provider declines, and why. Any other valid number succeeds. */
export const TEST_CARDS = {
  success: TEST_CARD_NUMBER,
  declined: DECLINED_CARD_NUMBER,
  insufficientFunds: '4000000000009995',
} as const;

const DECLINES: Readonly<Record<string, string>> = {
  [TEST_CARDS.declined]: 'card_declined',
  [TEST_CARDS.insufficientFunds]: 'insufficient_funds',
};

/** Luhn checksum, as a real card network would check it. */
export function isLuhnValid(number: string): boolean {
  if (!/^\d{12,19}$/.test(number)) return false;
  let sum = 0;
  for (let i = 0; i < number.length; i++) {
    let digit = Number(number[number.length - 1 - i]);
    if (i % 2 === 1) digit = digit * 2 > 9 ? digit * 2 - 9 : digit * 2;
    sum += digit;
  }
  return sum % 10 === 0;
}

interface LedgerRow {
  id: string;
  status: string;
  decline_reason: string | null;
}

/**
 * A stand-in for a card processor. It keeps its own ledger (`payment_charges`)
 * keyed by idempotency key, so it dedupes across restarts as a real one would.
 */
export class SimulatedPaymentProvider implements PaymentProvider {
  constructor(
    private readonly knex: Knex,
    private readonly clock: Clock,
    private readonly latencyMs: number,
  ) {}

  async charge(request: ChargeRequest): Promise<ChargeResult> {
    if (this.latencyMs > 0) await sleep(this.latencyMs);
    // A charge already made under this key is not made again: the insert is ignored and its record answers.
    const reason = !isLuhnValid(request.card.number) ? 'invalid_number' : this.isExpired(request.card) ? 'expired_card' : DECLINES[request.card.number];
    await this.knex('payment_charges')
      .insert({
        id: newId('chg'),
        idempotency_key: request.idempotencyKey,
        kind: 'charge',
        order_id: request.orderId,
        amount: request.amount,
        currency: request.currency,
        status: reason ? 'declined' : 'succeeded',
        decline_reason: reason ?? null,
        card_last4: request.card.number.slice(-4),
        created_at: this.clock(),
      })
      .onConflict('idempotency_key')
      .ignore();
    // Whoever inserted first decided the outcome; everyone reads the same row.
    const outcome = await this.lookup(request.idempotencyKey);
    if (!outcome) throw new Error('payment ledger lost a charge it just wrote');
    return outcome;
  }

  async refund(request: RefundRequest): Promise<{ refundId: string }> {
    if (this.latencyMs > 0) await sleep(this.latencyMs);
    await this.knex('payment_charges')
      .insert({
        id: newId('re'),
        idempotency_key: request.idempotencyKey,
        kind: 'refund',
        order_id: request.orderId,
        amount: request.amount,
        currency: request.currency,
        status: 'succeeded',
        created_at: this.clock(),
      })
      .onConflict('idempotency_key')
      .ignore();
    const row = (await this.knex('payment_charges').where({ idempotency_key: request.idempotencyKey }).first('id')) as { id: string };
    return { refundId: row.id };
  }

  async closeUnsettled(idempotencyKey: string, reason: string): Promise<ChargeResult> {
    const orderId = /^pay:([^:]+):/.exec(idempotencyKey)?.[1] ?? 'unknown';
    await this.knex('payment_charges')
      .insert({
        id: newId('chg'),
        idempotency_key: idempotencyKey,
        kind: 'charge',
        order_id: orderId,
        amount: 0,
        currency: 'XXX',
        status: 'declined',
        decline_reason: reason,
        created_at: this.clock(),
      })
      .onConflict('idempotency_key')
      .ignore();
    const outcome = await this.lookup(idempotencyKey);
    if (!outcome) throw new Error('payment ledger lost a record it just wrote');
    return outcome;
  }

  async lookup(idempotencyKey: string): Promise<ChargeResult | undefined> {
    const row = (await this.knex('payment_charges').where({ idempotency_key: idempotencyKey, kind: 'charge' }).first()) as LedgerRow | undefined;
    if (!row) return undefined;
    return row.status === 'succeeded' ? { status: 'succeeded', chargeId: row.id } : { status: 'declined', reason: row.decline_reason ?? 'declined' };
  }

  private isExpired(card: CardDetails): boolean {
    const now = new Date(this.clock());
    return card.expYear < now.getUTCFullYear() || (card.expYear === now.getUTCFullYear() && card.expMonth < now.getUTCMonth() + 1);
  }
}
