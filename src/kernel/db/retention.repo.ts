// Retention's deletes (src/kernel/retention.ts): each call is one short transaction over at most `limit` rows, so
// the job can yield between two and no command waits long behind it (on SQLite every query shares one connection).
// Safe on many nodes at once: on PostgreSQL each batch locks the rows it deletes with `FOR UPDATE SKIP LOCKED`, so
// two nodes take different rows instead of waiting on (or deadlocking with) each other, and every delete is by key,
// idempotent: a row another node deleted first is simply not deleted again.
import type { Knex } from 'knex';
import type { Dialect } from './db.ts';

/** Where an outbox walk stands: after this dispatch time and seq. */
export interface OutboxCursor {
  readonly dispatchedAt: number;
  readonly seq: number;
}

/** Where a walk over final actors stands: after this change time and id. */
export interface ActorCursor {
  readonly updatedAt: number;
  readonly id: string;
}

/** A final actor old enough for its journal to go. */
export interface AgedActor {
  readonly id: string;
  readonly version: number;
  readonly updatedAt: number;
}

export interface RetentionRepoOptions {
  readonly knex: Knex;
  readonly dialect: Dialect;
  /** The database's transaction (PostgreSQL: retried on a deadlock or serialization failure). */
  readonly transaction: <T>(work: (trx: Knex.Transaction) => Promise<T>) => Promise<T>;
}

export class RetentionRepo {
  constructor(private readonly o: RetentionRepoOptions) {}

  private get postgres(): boolean {
    return this.o.dialect === 'postgres';
  }

  /**
   * Deletes up to `limit` outbox rows dispatched before `before` (oldest first, after `after`) with their
   * deliveries. Never a row not yet dispatched, and never one with a `pending` or `parked` delivery: a parked
   * delivery waits for an operator's requeue, which needs its row. `next` is where the walk stands, or null when
   * it reached the end: a row skipped here (parked) is behind the cursor, so it is not read again this pass.
   */
  async pruneOutbox(before: number, limit: number, after: OutboxCursor | null): Promise<{ rows: number; deliveries: number; next: OutboxCursor | null }> {
    return this.o.transaction(async (trx) => {
      const query = trx('outbox as o')
        .select('o.seq', 'o.dispatched_at')
        // Dispatched (a null never compares) before `before`.
        .where('o.dispatched_at', '<', before)
        // One test per state, each answered by its partial index (migration 015) rather than by the settled deliveries.
        // (A dispatched row has no pending delivery — its last one settling dispatched it — but it costs nothing to be sure.)
        .whereNotExists(trx('outbox_deliveries as p').select(trx.raw('1')).whereRaw('p.seq = o.seq').andWhere('p.state', 'parked'))
        .whereNotExists(trx('outbox_deliveries as w').select(trx.raw('1')).whereRaw('w.seq = o.seq').andWhere('w.state', 'pending'))
        .orderBy([
          { column: 'o.dispatched_at', order: 'asc' },
          { column: 'o.seq', order: 'asc' },
        ])
        .limit(limit);
      if (after) query.andWhereRaw('(o.dispatched_at, o.seq) > (?, ?)', [after.dispatchedAt, after.seq]);
      // PostgreSQL: another node pruning now takes other rows; a row a relay holds (settling it) is left for later.
      if (this.postgres) query.forUpdate().skipLocked();
      const rows = (await query) as Array<{ seq: number | string; dispatched_at: number | string }>;
      if (rows.length === 0) return { rows: 0, deliveries: 0, next: null };
      const seqs = rows.map((row) => Number(row.seq));
      const deliveries = await trx('outbox_deliveries').whereIn('seq', seqs).del();
      const deleted = await trx('outbox').whereIn('seq', seqs).del();
      const last = rows.at(-1)!;
      return {
        rows: deleted,
        deliveries,
        next: rows.length < limit ? null : { dispatchedAt: Number(last.dispatched_at), seq: Number(last.seq) },
      };
    });
  }

  /** Deletes up to `limit` idempotency records created before `before`, oldest first; `more` when the batch was full. */
  async pruneIdempotency(before: number, limit: number): Promise<{ keys: number; more: boolean }> {
    return this.o.transaction(async (trx) => {
      const query = trx('idempotency_keys').select('scope', 'key').where('created_at', '<', before).orderBy('created_at').limit(limit);
      if (this.postgres) query.forUpdate().skipLocked();
      const rows = (await query) as Array<{ scope: string; key: string }>;
      if (rows.length === 0) return { keys: 0, more: false };
      const keys = await trx('idempotency_keys')
        .whereIn(
          ['scope', 'key'],
          rows.map((row) => [row.scope, row.key]),
        )
        .andWhere('created_at', '<', before)
        .del();
      return { keys, more: rows.length >= limit };
    });
  }

  /**
   * Up to `limit` actors of `kind` resting in the final `state` since before `before`, oldest change first, after
   * `after` (a keyset walk over the partial index `actors_done_by_age`). Reads only.
   */
  async agedFinalActors(kind: string, state: string, before: number, limit: number, after: ActorCursor | null): Promise<AgedActor[]> {
    const query = this.o
      .knex('actors')
      .select('id', 'version', 'updated_at')
      .where({ kind, state, status: 'done' })
      .andWhere('updated_at', '<', before)
      .orderBy([
        { column: 'updated_at', order: 'asc' },
        { column: 'id', order: 'asc' },
      ])
      .limit(limit);
    if (after) query.andWhereRaw('(updated_at, id) > (?, ?)', [after.updatedAt, after.id]);
    const rows = (await query) as Array<{ id: string; version: number | string; updated_at: number | string }>;
    return rows.map((row) => ({ id: row.id, version: Number(row.version), updatedAt: Number(row.updated_at) }));
  }

  /**
   * Deletes up to `limit` journal entries of `actors` (oldest versions first) and records each compaction in
   * `actor_journal_compactions`, in one transaction. The actor is checked again here, in the transaction: still of
   * `kind`, in `state` (final), unchanged since before `before`, and only versions up to its stored one go. An
   * actor changed meanwhile (an erasure writes a new version) keeps its journal until it is old enough again.
   * Returns how many entries went and the actors they were of; `more` when the batch was full (call again).
   */
  async compactJournals(
    kind: string,
    state: string,
    actors: readonly AgedActor[],
    before: number,
    limit: number,
    now: number,
  ): Promise<{ entries: number; actors: string[]; more: boolean }> {
    if (actors.length === 0) return { entries: 0, actors: [], more: false };
    return this.o.transaction(async (trx) => {
      const query = trx('actor_journal as j')
        .join('actors as a', 'a.id', 'j.actor_id')
        .select('j.seq', 'j.actor_id', 'j.version')
        .whereIn(
          'j.actor_id',
          actors.map((actor) => actor.id),
        )
        .andWhere('j.kind', kind)
        .andWhere({ 'a.kind': kind, 'a.state': state, 'a.status': 'done' })
        .andWhere('a.updated_at', '<', before)
        .andWhereRaw('j.version <= a.version')
        .orderBy([
          { column: 'j.actor_id', order: 'asc' },
          { column: 'j.version', order: 'asc' },
        ])
        .limit(limit);
      // PostgreSQL: only the journal rows are locked (never the actors'): another node compacting now takes others.
      if (this.postgres) query.forUpdate('j').skipLocked();
      const rows = (await query) as Array<{ seq: number | string; actor_id: string; version: number | string }>;
      if (rows.length === 0) return { entries: 0, actors: [], more: false };
      const deleted = await trx('actor_journal')
        .whereIn(
          'seq',
          rows.map((row) => Number(row.seq)),
        )
        .del();
      const byActor = new Map<string, { through: number; entries: number }>();
      for (const row of rows) {
        const seen = byActor.get(row.actor_id) ?? { through: 0, entries: 0 };
        byActor.set(row.actor_id, { through: Math.max(seen.through, Number(row.version)), entries: seen.entries + 1 });
      }
      // Sorted by key: two nodes recording the same actors lock their markers in the same order (no deadlock).
      const markers = [...byActor]
        .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
        .map(([actorId, { through, entries }]) => ({ actor_id: actorId, kind, through_version: through, entries, compacted_at: now }));
      await trx('actor_journal_compactions')
        .insert(markers)
        .onConflict('actor_id')
        .merge({
          through_version: trx.raw(
            'CASE WHEN excluded.through_version > actor_journal_compactions.through_version THEN excluded.through_version ELSE actor_journal_compactions.through_version END',
          ),
          entries: trx.raw('actor_journal_compactions.entries + excluded.entries'),
          compacted_at: trx.raw('excluded.compacted_at'),
        });
      return { entries: deleted, actors: markers.map((marker) => marker.actor_id), more: rows.length >= limit };
    });
  }
}
