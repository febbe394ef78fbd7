// The outbox: domain events written with the actor change that caused them, claimed and relayed after commit.
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { ActorKind } from '../domain/types.ts';

export interface OutboxRecord {
  readonly seq: number;
  readonly actorId: string;
  readonly kind: ActorKind;
  readonly type: string;
  readonly payload: Record<string, unknown>;
  readonly createdAt: number;
  readonly attempts: number;
}

interface OutboxRow {
  seq: number | string;
  actor_id: string;
  kind: string;
  type: string;
  payload: string;
  created_at: number | string;
  attempts: number;
}

export class OutboxRepo {
  constructor(private readonly knex: Knex) {}

  /**
   * Leases up to `limit` undelivered rows to the caller, oldest first, at most
   * one per actor (the oldest it has undelivered). A row
   * whose lease ran out (its claimer died) can be claimed again, so delivery is
   * at least once and every handler must be idempotent.
   */
  async claim(now: number, leaseMs: number, limit: number): Promise<OutboxRecord[]> {
    const token = randomUUID();
    // Only the oldest undelivered row of each actor: an actor's events are delivered in the order it
    // committed them, one at a time, on whichever node claims them (a failed one holds back the rest).
    const candidates = this.knex('outbox as o')
      .select('o.seq')
      .whereNull('o.dispatched_at')
      .andWhere((q) => q.whereNull('o.claimed_until').orWhere('o.claimed_until', '<', now))
      .whereNotExists(
        this.knex('outbox as earlier').select(this.knex.raw('1')).whereRaw('earlier.actor_id = o.actor_id').andWhereRaw('earlier.seq < o.seq').whereNull('earlier.dispatched_at'),
      )
      .orderBy('o.seq')
      .limit(limit);
    // PostgreSQL: nodes claiming at once skip each other's rows instead of queueing on their locks.
    if (this.knex.client.config.client === 'pg') candidates.forUpdate().skipLocked();
    await this.knex('outbox')
      .whereIn('seq', candidates)
      .andWhere((q) => q.whereNull('claimed_until').orWhere('claimed_until', '<', now))
      .update({ claimed_by: token, claimed_until: now + leaseMs });
    const rows = (await this.knex('outbox').where({ claimed_by: token }).whereNull('dispatched_at').orderBy('seq')) as OutboxRow[];
    return rows.map((row) => ({
      seq: Number(row.seq),
      actorId: row.actor_id,
      kind: row.kind as ActorKind,
      type: row.type,
      payload: JSON.parse(row.payload) as Record<string, unknown>,
      createdAt: Number(row.created_at),
      attempts: Number(row.attempts),
    }));
  }

  /**
   * Frees every claim. Only for a database that has one writer process (SQLite):
   * at start-up, whatever is still claimed was claimed by this node's previous,
   * dead, life and would otherwise wait out its lease.
   */
  async releaseAllClaims(): Promise<number> {
    return this.knex('outbox').whereNull('dispatched_at').whereNotNull('claimed_until').update({ claimed_until: null, claimed_by: null });
  }

  async markDispatched(seq: number, now: number): Promise<void> {
    await this.knex('outbox').where({ seq }).update({ dispatched_at: now, claimed_until: null });
  }

  /** Leaves the row for a later attempt after `retryAt`, recording why it failed. */
  async markFailed(seq: number, error: string, retryAt: number): Promise<void> {
    await this.knex('outbox')
      .where({ seq })
      .update({ attempts: this.knex.raw('attempts + 1'), last_error: error.slice(0, 2000), claimed_until: retryAt });
  }

  async pendingCount(): Promise<number> {
    const row = (await this.knex('outbox').whereNull('dispatched_at').count({ n: '*' }).first()) as { n: number | string } | undefined;
    return Number(row?.n ?? 0);
  }
}
