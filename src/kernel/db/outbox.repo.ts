// The outbox: domain events written with the actor change that caused them, fanned out to one delivery per
// interested flow, and claimed, settled or parked per flow.
import { randomUUID } from 'node:crypto';
import type { Database, Transaction } from 'better-sqlite3';
import type { Knex } from 'knex';

/** What a fan-out pass did: rows given their deliveries, and the flows those deliveries are for. */
export interface FanOut {
  readonly rows: number;
  readonly flows: ReadonlySet<string>;
}

type SqliteSettle = (records: readonly DeliveryRecord[], now: number) => void;
type SqliteClaim = (flow: string, now: number, until: number, token: string, limit: number) => DeliveryRow[];

/** The relay's two SQLite transactions, prepared once per connection. */
interface SqliteRelayStatements {
  readonly settle: Transaction<SqliteSettle>;
  readonly claim: Transaction<SqliteClaim>;
}

const relayStatements = new WeakMap<Database, SqliteRelayStatements>();

/**
 * SQLite: `markAllDone` and `claim` as prepared transactions on the app's connection (the same statements knex
 * builds on PostgreSQL). States are written as literals so the planner can use the partial indexes on pending
 * deliveries.
 */
function sqliteRelayStatementsFor(db: Database): SqliteRelayStatements {
  const cached = relayStatements.get(db);
  if (cached) return cached;
  const done = db.prepare(
    "UPDATE outbox_deliveries SET state = 'done', settled_at = ?, claimed_by = NULL, claimed_until = NULL WHERE seq = ? AND flow = ? AND claimed_by = ? AND state = 'pending'",
  );
  const dispatched = db.prepare(
    "UPDATE outbox SET dispatched_at = ? WHERE seq = ? AND dispatched_at IS NULL AND NOT EXISTS (SELECT 1 FROM outbox_deliveries WHERE seq = ? AND state = 'pending')",
  );
  const lease = db.prepare(`UPDATE outbox_deliveries SET claimed_by = @token, claimed_until = @until
    WHERE flow = @flow AND state = 'pending' AND (claimed_until IS NULL OR claimed_until <= @now) AND seq IN (
      SELECT d.seq FROM outbox_deliveries AS d
      WHERE d.flow = @flow AND d.state = 'pending' AND (d.claimed_until IS NULL OR d.claimed_until <= @now)
        AND NOT EXISTS (SELECT 1 FROM outbox_deliveries AS e WHERE e.flow = d.flow AND e.actor_id = d.actor_id AND e.seq < d.seq AND e.state = 'pending')
        AND NOT EXISTS (SELECT 1 FROM outbox AS o WHERE o.actor_id = d.actor_id AND o.seq < d.seq AND o.fanned_out_at IS NULL)
      ORDER BY d.seq LIMIT @limit)`);
  const leased = db.prepare(`SELECT d.seq, d.flow, d.actor_id, o.kind, o.type, o.payload, o.created_at, d.attempts, o.traceparent
    FROM outbox_deliveries AS d JOIN outbox AS o ON o.seq = d.seq
    WHERE d.flow = ? AND d.claimed_by = ? AND d.state = 'pending' ORDER BY d.seq`);
  const statements: SqliteRelayStatements = {
    settle: db.transaction((records: readonly DeliveryRecord[], now: number) => {
      for (const record of records) {
        // Only under our claim, as on PostgreSQL.
        if (done.run(now, record.seq, record.flow, record.claim).changes === 1) dispatched.run(now, record.seq, record.seq);
      }
    }),
    claim: db.transaction((flow: string, now: number, until: number, token: string, limit: number) => {
      // Nothing leased, nothing to read (an idle flow's pass is this one statement).
      if (lease.run({ flow, now, until, token, limit }).changes === 0) return [];
      return leased.all(flow, token) as DeliveryRow[];
    }),
  };
  relayStatements.set(db, statements);
  return statements;
}

/** One outbox row as a flow receives it, with that flow's delivery record. */
export interface DeliveryRecord {
  readonly seq: number;
  readonly flow: string;
  readonly actorId: string;
  readonly kind: string;
  readonly type: string;
  readonly payload: Record<string, unknown>;
  readonly createdAt: number;
  /** Failed attempts so far. */
  readonly attempts: number;
  /** The claim this record was handed out under: settling it checks that the claim is still ours. */
  readonly claim: string;
  /** W3C `traceparent` of the span that wrote the row (null when tracing was off): its delivery continues that trace. */
  readonly traceparent: string | null;
}

/** A delivery that failed too often and waits for an operator (`npm run outbox`). */
export interface ParkedDelivery {
  readonly seq: number;
  readonly flow: string;
  readonly actorId: string;
  readonly type: string;
  readonly attempts: number;
  readonly lastError: string | null;
  readonly parkedAt: number;
}

/** One flow's delivery of an outbox row, as an operator sees it. */
export interface DeliveryState {
  readonly flow: string;
  readonly state: 'pending' | 'done' | 'parked';
  /** Failed attempts so far (reset by a requeue). */
  readonly attempts: number;
  readonly lastError: string | null;
  /** When it was done or parked; null while pending. */
  readonly settledAt: number | null;
  /** Pending: when a claim's lease ends or, after a failure, when the next attempt may start; null when it may run now. */
  readonly claimedUntil: number | null;
  /** Pending and held by a relay right now. */
  readonly claimed: boolean;
}

/** An outbox row of one actor with each interested flow's delivery. */
export interface ActorOutboxRow {
  readonly seq: number;
  readonly type: string;
  readonly payload: unknown;
  readonly createdAt: number;
  /** Null until the relay gave the row its deliveries. */
  readonly fannedOutAt: number | null;
  /** Null until every flow settled it (done or parked); set at once when no flow wants it. */
  readonly dispatchedAt: number | null;
  readonly deliveries: readonly DeliveryState[];
}

const OUTBOX_COLUMNS = ['seq', 'type', 'payload', 'created_at', 'fanned_out_at', 'dispatched_at'];

interface OutboxRecordRow {
  seq: number | string;
  type: string;
  payload: string;
  created_at: number | string;
  fanned_out_at: number | string | null;
  dispatched_at: number | string | null;
}

interface DeliveryRow {
  seq: number | string;
  flow: string;
  actor_id: string;
  kind: string;
  type: string;
  payload: string;
  created_at: number | string;
  attempts: number;
  traceparent: string | null;
}

export class OutboxRepo {
  constructor(
    private readonly knex: Knex,
    private readonly transaction: <T>(work: (trx: Knex.Transaction) => Promise<T>) => Promise<T>,
  ) {}

  private get postgres(): boolean {
    return this.knex.client.config.client === 'pg';
  }

  /**
   * Gives up to `limit` new outbox rows their deliveries: one pending record
   * per flow that `flowsFor` names for the row's type. A row no flow wants is
   * settled at once. Returns how many rows were fanned out and which flows
   * were given deliveries (the only ones with new work).
   */
  async fanOut(flowsFor: (type: string) => readonly string[], now: number, limit: number): Promise<FanOut> {
    return this.transaction(async (trx) => {
      const query = trx('outbox').select('seq', 'actor_id', 'type').whereNull('fanned_out_at').orderBy('seq').limit(limit);
      // PostgreSQL: nodes fanning out at once take different rows instead of queueing on each other's locks.
      if (this.postgres) query.forUpdate().skipLocked();
      const rows = (await query) as Array<{ seq: number | string; actor_id: string; type: string }>;
      if (rows.length === 0) return { rows: 0, flows: new Set<string>() };
      const deliveries = rows.flatMap((row) => flowsFor(row.type).map((flow) => ({ seq: Number(row.seq), flow, actor_id: row.actor_id, state: 'pending' })));
      for (let i = 0; i < deliveries.length; i += 200) {
        await trx('outbox_deliveries')
          .insert(deliveries.slice(i, i + 200))
          .onConflict(['seq', 'flow'])
          .ignore();
      }
      const wanted = new Set(deliveries.map((delivery) => delivery.seq));
      const seqs = rows.map((row) => Number(row.seq));
      await trx('outbox').whereIn('seq', seqs).update({ fanned_out_at: now });
      const unwanted = seqs.filter((seq) => !wanted.has(seq));
      if (unwanted.length > 0) await trx('outbox').whereIn('seq', unwanted).update({ dispatched_at: now });
      return { rows: rows.length, flows: new Set(deliveries.map((delivery) => delivery.flow)) };
    });
  }

  /**
   * Leases up to `limit` of `flow`'s pending deliveries, oldest first, at most
   * one per actor: the oldest the flow has not settled for that actor, so a
   * flow sees each actor's events in commit order. A delivery whose lease ran
   * out (its claimer died) or whose retry time came can be claimed again:
   * delivery is at least once, and every flow must be idempotent.
   */
  async claim(flow: string, now: number, leaseMs: number, limit: number): Promise<DeliveryRecord[]> {
    const token = randomUUID();
    const rows = this.postgres
      ? await this.claimWithKnex(flow, now, leaseMs, limit, token)
      : await this.withSqlite((db) => sqliteRelayStatementsFor(db).claim.immediate(flow, now, now + leaseMs, token, limit));
    return rows.map((row) => ({
      seq: Number(row.seq),
      flow: row.flow,
      actorId: row.actor_id,
      kind: row.kind,
      type: row.type,
      payload: JSON.parse(row.payload) as Record<string, unknown>,
      createdAt: Number(row.created_at),
      attempts: Number(row.attempts),
      claim: token,
      traceparent: row.traceparent ?? null,
    }));
  }

  private async claimWithKnex(flow: string, now: number, leaseMs: number, limit: number, token: string): Promise<DeliveryRow[]> {
    const candidates = this.knex('outbox_deliveries as d')
      .select('d.seq')
      .where('d.flow', flow)
      .andWhere('d.state', 'pending')
      .andWhere((q) => q.whereNull('d.claimed_until').orWhere('d.claimed_until', '<=', now))
      .whereNotExists(
        this.knex('outbox_deliveries as e')
          .select(this.knex.raw('1'))
          .whereRaw('e.flow = d.flow')
          .whereRaw('e.actor_id = d.actor_id')
          .whereRaw('e.seq < d.seq')
          .andWhere('e.state', 'pending'),
      )
      // An earlier event of the actor that no relay has fanned out yet (another node holds it in its fan-out
      // transaction) may be one this flow wants: wait for it, or the flow would see the actor's events out of order.
      .whereNotExists(
        this.knex('outbox as o').select(this.knex.raw('1')).whereRaw('o.actor_id = d.actor_id').whereRaw('o.seq < d.seq').whereNull('o.fanned_out_at'),
      )
      .orderBy('d.seq')
      .limit(limit);
    if (this.postgres) candidates.forUpdate().skipLocked();
    await this.knex('outbox_deliveries')
      .where('flow', flow)
      .whereIn('seq', candidates)
      .andWhere('state', 'pending')
      .andWhere((q) => q.whereNull('claimed_until').orWhere('claimed_until', '<=', now))
      .update({ claimed_by: token, claimed_until: now + leaseMs });
    return (await this.knex('outbox_deliveries as d')
      .join('outbox as o', 'o.seq', 'd.seq')
      .select('d.seq', 'd.flow', 'd.actor_id', 'o.kind', 'o.type', 'o.payload', 'o.created_at', 'd.attempts', 'o.traceparent')
      .where({ 'd.flow': flow, 'd.claimed_by': token, 'd.state': 'pending' })
      .orderBy('d.seq')) as DeliveryRow[];
  }

  /**
   * Renews the lease of one claimed delivery just before it runs, so a batch that takes long is not taken
   * over record by record. False when the claim is no longer ours (it lapsed and another relay took it).
   */
  async renew(record: DeliveryRecord, now: number, leaseMs: number): Promise<boolean> {
    const renewed = await this.knex('outbox_deliveries')
      .where({ seq: record.seq, flow: record.flow, claimed_by: record.claim, state: 'pending' })
      .update({ claimed_until: now + leaseMs });
    return renewed === 1;
  }

  /** The flow is done with the row; the row is dispatched once every flow is done with it (or parked it). */
  markDone(record: DeliveryRecord, now: number): Promise<void> {
    return this.markAllDone([record], now);
  }

  /**
   * `markDone` for several deliveries in one transaction (a flow settles what it delivered of a claimed batch at
   * once). On SQLite it is one synchronous transaction of prepared statements on the app's connection.
   */
  async markAllDone(records: readonly DeliveryRecord[], now: number): Promise<void> {
    if (records.length === 0) return;
    // Rows in seq order: on PostgreSQL settleRow locks each row, and two flows settling overlapping rows then lock
    // them in the same order (no deadlock).
    const ordered = [...records].sort((a, b) => a.seq - b.seq);
    if (!this.postgres) return this.withSqlite((db) => sqliteRelayStatementsFor(db).settle.immediate(ordered, now));
    await this.transaction(async (trx) => {
      for (const record of ordered) {
        // Only under our claim: a relay whose lease lapsed must not overwrite what the one that took over recorded.
        const settled = await trx('outbox_deliveries')
          .where({ seq: record.seq, flow: record.flow, claimed_by: record.claim, state: 'pending' })
          .update({ state: 'done', settled_at: now, claimed_by: null, claimed_until: null });
        if (settled === 1) await this.settleRow(trx, record.seq, now);
      }
    });
  }

  /** Runs `work` on the app's SQLite connection (taken from knex's pool, so never inside another's transaction). */
  private async withSqlite<T>(work: (db: Database) => T): Promise<T> {
    const client = this.knex.client as { acquireConnection(): Promise<Database>; releaseConnection(connection: Database): Promise<void> };
    const db = await client.acquireConnection();
    try {
      return work(db);
    } finally {
      await client.releaseConnection(db);
    }
  }

  /** Records a failed attempt; the next may start at `retryAt`. With `park`, no further attempt is made until an operator asks. */
  async markFailed(record: DeliveryRecord, error: string, retryAt: number, park: boolean, now: number): Promise<void> {
    await this.transaction(async (trx) => {
      const recorded = await trx('outbox_deliveries')
        .where({ seq: record.seq, flow: record.flow, claimed_by: record.claim, state: 'pending' })
        .update({
          attempts: trx.raw('attempts + 1'),
          last_error: error.slice(0, 2000),
          claimed_by: null,
          claimed_until: park ? null : retryAt,
          ...(park ? { state: 'parked', settled_at: now } : {}),
        });
      if (recorded === 1 && park) await this.settleRow(trx, record.seq, now);
    });
  }

  /** Deliveries of `flow` (or all) that were parked, oldest first. */
  async parked(flow?: string, limit = 100): Promise<ParkedDelivery[]> {
    const query = this.knex('outbox_deliveries as d')
      .join('outbox as o', 'o.seq', 'd.seq')
      .select('d.seq', 'd.flow', 'd.actor_id', 'o.type', 'd.attempts', 'd.last_error', 'd.settled_at')
      .where('d.state', 'parked')
      .orderBy('d.seq')
      .limit(limit);
    if (flow) query.andWhere('d.flow', flow);
    const rows = (await query) as Array<{
      seq: number | string;
      flow: string;
      actor_id: string;
      type: string;
      attempts: number;
      last_error: string | null;
      settled_at: number | string;
    }>;
    return rows.map((row) => ({
      seq: Number(row.seq),
      flow: row.flow,
      actorId: row.actor_id,
      type: row.type,
      attempts: Number(row.attempts),
      lastError: row.last_error,
      parkedAt: Number(row.settled_at),
    }));
  }

  /** One actor's outbox rows (or a domain event writer's, by its id), oldest first, the last `limit` of them, each with its deliveries. */
  async ofActor(actorId: string, limit = 200): Promise<ActorOutboxRow[]> {
    const rows = (await this.knex('outbox').where({ actor_id: actorId }).select(OUTBOX_COLUMNS).orderBy('seq', 'desc').limit(limit)) as OutboxRecordRow[];
    return this.withDeliveries(rows.reverse());
  }

  /** One outbox row with its deliveries; undefined when there is none. */
  async row(seq: number): Promise<ActorOutboxRow | undefined> {
    const rows = (await this.knex('outbox').where({ seq }).select(OUTBOX_COLUMNS)) as OutboxRecordRow[];
    return (await this.withDeliveries(rows))[0];
  }

  private async withDeliveries(rows: readonly OutboxRecordRow[]): Promise<ActorOutboxRow[]> {
    if (rows.length === 0) return [];
    const seqs = rows.map((row) => Number(row.seq));
    const deliveries = (await this.knex('outbox_deliveries')
      .whereIn('seq', seqs)
      .select('seq', 'flow', 'state', 'attempts', 'last_error', 'settled_at', 'claimed_by', 'claimed_until')
      .orderBy(['seq', 'flow'])) as Array<{
      seq: number | string;
      flow: string;
      state: DeliveryState['state'];
      attempts: number | string;
      last_error: string | null;
      settled_at: number | string | null;
      claimed_by: string | null;
      claimed_until: number | string | null;
    }>;
    const nullable = (value: number | string | null) => (value === null ? null : Number(value));
    const bySeq = new Map<number, DeliveryState[]>();
    for (const row of deliveries) {
      const list = bySeq.get(Number(row.seq)) ?? [];
      list.push({
        flow: row.flow,
        state: row.state,
        attempts: Number(row.attempts),
        lastError: row.last_error,
        settledAt: nullable(row.settled_at),
        claimedUntil: nullable(row.claimed_until),
        claimed: row.claimed_by !== null,
      });
      bySeq.set(Number(row.seq), list);
    }
    return rows.map((row) => ({
      seq: Number(row.seq),
      type: row.type,
      payload: JSON.parse(row.payload) as unknown,
      createdAt: Number(row.created_at),
      fannedOutAt: nullable(row.fanned_out_at),
      dispatchedAt: nullable(row.dispatched_at),
      deliveries: bySeq.get(Number(row.seq)) ?? [],
    }));
  }

  /** Puts parked deliveries (of one flow, or one row) back in line, with their attempts reset. Returns how many. */
  async requeueParked(filter: { flow?: string | undefined; seq?: number | undefined } = {}): Promise<number> {
    return this.transaction(async (trx) => {
      const query = trx('outbox_deliveries').where('state', 'parked');
      if (filter.flow) query.andWhere('flow', filter.flow);
      if (filter.seq !== undefined) query.andWhere('seq', filter.seq);
      const seqs = ((await query.clone().select('seq')) as Array<{ seq: number | string }>).map((row) => Number(row.seq));
      if (seqs.length === 0) return 0;
      const requeued = await query.update({ state: 'pending', attempts: 0, settled_at: null, claimed_by: null, claimed_until: null });
      await trx('outbox').whereIn('seq', seqs).update({ dispatched_at: null });
      return requeued;
    });
  }

  /**
   * Frees every claim. Only for a database that has one writer process (SQLite):
   * at start-up, whatever is still claimed was claimed by this node's previous,
   * dead, life and would otherwise wait out its lease.
   */
  async releaseAllClaims(): Promise<number> {
    return this.knex('outbox_deliveries').where('state', 'pending').whereNotNull('claimed_by').update({ claimed_until: null, claimed_by: null });
  }

  /** Outbox rows some flow has yet to settle (or that are not fanned out yet). */
  async pendingCount(): Promise<number> {
    const row = (await this.knex('outbox').whereNull('dispatched_at').count({ n: '*' }).first()) as { n: number | string } | undefined;
    return Number(row?.n ?? 0);
  }

  /** When the oldest outbox row some flow has yet to settle was written (null when none is pending): the relay's lag. */
  async oldestPendingCreatedAt(): Promise<number | null> {
    const row = (await this.knex('outbox').whereNull('dispatched_at').orderBy('seq').select('created_at').first()) as
      | { created_at: number | string }
      | undefined;
    return row ? Number(row.created_at) : null;
  }

  /** Pending and parked deliveries per flow, for metrics. */
  async countsByFlow(): Promise<Array<{ flow: string; state: 'pending' | 'parked'; count: number }>> {
    // One state at a time: each count reads its own partial index (migration 015), never the settled deliveries.
    const counts = await Promise.all(
      (['pending', 'parked'] as const).map(async (state) => {
        const rows = (await this.knex('outbox_deliveries').select('flow').count({ n: '*' }).where('state', state).groupBy('flow')) as Array<{
          flow: string;
          n: number | string;
        }>;
        return rows.map((row) => ({ flow: row.flow, state, count: Number(row.n) }));
      }),
    );
    return counts.flat();
  }

  /** Marks the row dispatched once no flow owes it anything, in the same transaction as the delivery that settled last. */
  private async settleRow(trx: Knex.Transaction, seq: number, now: number): Promise<void> {
    // PostgreSQL: the row is locked before the check. Without it, two flows settling their last deliveries of one
    // row at once (read committed) each see the other's still pending, neither marks the row, and it stays
    // undispatched for ever (write skew; the history test caught it). Locked, the second waits for the first and sees it done.
    if (this.postgres) await trx('outbox').where({ seq }).forUpdate().select('seq');
    await trx('outbox')
      .where({ seq })
      .whereNull('dispatched_at')
      .whereNotExists(trx('outbox_deliveries').select(trx.raw('1')).where({ seq }).andWhere('state', 'pending'))
      .update({ dispatched_at: now });
  }
}
