// Actor snapshots with compare-and-set on version, their event journal and the outbox rows they emit.
import type { Knex } from 'knex';

/** What is kept of an XState snapshot: enough for `machine.resolveState`. */
export interface PersistedState {
  readonly value: unknown;
  readonly context: unknown;
}

export interface ActorRow {
  readonly id: string;
  readonly kind: string;
  readonly version: number;
  readonly machineVersion: number;
  readonly state: string;
  readonly status: 'active' | 'done';
  readonly ownerId: string | null;
  readonly persisted: PersistedState;
  readonly nextDeadlineAt: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface JournalEntry {
  readonly actorId: string;
  readonly kind: string;
  readonly version: number;
  readonly event: unknown;
  readonly at: number;
}

/** Retention deleted an actor's journal up to a version (the snapshot stays): a marker, so "compacted" is not "corrupt". */
export interface JournalCompaction {
  /** Journal versions 1 to this one were deleted; later ones (an erasure after the compaction, say) are kept. */
  readonly throughVersion: number;
  /** Journal entries deleted, in all. */
  readonly entries: number;
  /** When retention last compacted it. */
  readonly at: number;
}

export interface OutboxEntry {
  readonly actorId: string;
  readonly kind: string;
  readonly type: string;
  readonly payload: unknown;
  readonly createdAt: number;
  /** W3C `traceparent` of the span that wrote it: its flows continue that trace. Absent when tracing is off. */
  readonly traceparent?: string | null | undefined;
}

interface ActorRecordRow {
  id: string;
  kind: string;
  version: number;
  machine_version: number;
  state: string;
  status: string;
  owner_id: string | null;
  snapshot: string;
  next_deadline_at: number | string | null;
  created_at: number | string;
  updated_at: number | string;
}

function fromRow(row: ActorRecordRow): ActorRow {
  return {
    id: row.id,
    kind: row.kind,
    version: Number(row.version),
    machineVersion: Number(row.machine_version),
    state: row.state,
    status: row.status as ActorRow['status'],
    ownerId: row.owner_id,
    persisted: JSON.parse(row.snapshot) as PersistedState,
    nextDeadlineAt: row.next_deadline_at === null ? null : Number(row.next_deadline_at),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function toColumns(actor: ActorRow) {
  return {
    version: actor.version,
    machine_version: actor.machineVersion,
    state: actor.state,
    status: actor.status,
    owner_id: actor.ownerId,
    snapshot: JSON.stringify(actor.persisted),
    next_deadline_at: actor.nextDeadlineAt,
    updated_at: actor.updatedAt,
  };
}

/**
 * Snapshot, journal and outbox writes for the actor runtime. Every write goes
 * through a caller's transaction so the three land together or not at all.
 */
export class ActorRepo {
  constructor(private readonly knex: Knex) {}

  async load(id: string): Promise<ActorRow | undefined> {
    const row = (await this.knex('actors').where({ id }).first()) as ActorRecordRow | undefined;
    return row ? fromRow(row) : undefined;
  }

  /** Inserts a new actor at version 1. Returns false when the id is taken. */
  async insert(trx: Knex.Transaction, actor: ActorRow, journal: JournalEntry, outbox: readonly OutboxEntry[]): Promise<boolean> {
    const inserted = await trx('actors')
      .insert({ id: actor.id, kind: actor.kind, created_at: actor.createdAt, ...toColumns(actor) })
      .onConflict('id')
      .ignore()
      .returning('id');
    if (inserted.length === 0) return false;
    await this.appendJournal(trx, journal);
    await this.appendOutbox(trx, outbox);
    return true;
  }

  /** Writes the next version only if the stored one is still `expectedVersion`. */
  async update(trx: Knex.Transaction, actor: ActorRow, expectedVersion: number, journal: JournalEntry, outbox: readonly OutboxEntry[]): Promise<boolean> {
    const changed = await trx('actors').where({ id: actor.id, version: expectedVersion }).update(toColumns(actor));
    if (changed !== 1) return false;
    await this.appendJournal(trx, journal);
    await this.appendOutbox(trx, outbox);
    return true;
  }

  /**
   * Rewrites every journal event of one actor through `redact` (erasing personal data an event carried). The
   * journal is otherwise append-only; this is the one exception, and it keeps each row's version and time.
   */
  async redactJournal(actorId: string, redact: (event: unknown) => unknown): Promise<number> {
    const rows = (await this.knex('actor_journal').where({ actor_id: actorId }).select('version', 'event')) as Array<{ version: number; event: string }>;
    let changed = 0;
    for (const row of rows) {
      const before = typeof row.event === 'string' ? row.event : JSON.stringify(row.event);
      const after = JSON.stringify(redact(JSON.parse(before)));
      if (after === before) continue;
      await this.knex('actor_journal').where({ actor_id: actorId, version: row.version }).update({ event: after });
      changed++;
    }
    return changed;
  }

  private async appendJournal(trx: Knex.Transaction, entry: JournalEntry): Promise<void> {
    await trx('actor_journal').insert({
      actor_id: entry.actorId,
      kind: entry.kind,
      version: entry.version,
      event: JSON.stringify(entry.event),
      at: entry.at,
    });
  }

  /** Appends domain events to the outbox in `trx` (an actor's, or those a module writes beside its own rows). */
  async appendOutbox(trx: Knex.Transaction, entries: readonly OutboxEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await trx('outbox').insert(
      entries.map((entry) => ({
        actor_id: entry.actorId,
        kind: entry.kind,
        type: entry.type,
        payload: JSON.stringify(entry.payload),
        created_at: entry.createdAt,
        traceparent: entry.traceparent ?? null,
      })),
    );
  }

  /** The earliest deadline that has passed at `now` and is still undelivered (null when none is due): the sweep's lag. */
  async oldestDueDeadline(now: number): Promise<number | null> {
    const row = (await this.knex('actors').whereNotNull('next_deadline_at').andWhere('next_deadline_at', '<=', now).min({ at: 'next_deadline_at' }).first()) as
      | { at: number | string | null }
      | undefined;
    return row?.at == null ? null : Number(row.at);
  }

  /** Actors whose next deadline has passed, oldest first. */
  async due(now: number, limit: number): Promise<Array<{ id: string; kind: string }>> {
    const rows = await this.knex('actors')
      .select('id', 'kind')
      .whereNotNull('next_deadline_at')
      .andWhere('next_deadline_at', '<=', now)
      .orderBy('next_deadline_at')
      .limit(limit);
    return rows as Array<{ id: string; kind: string }>;
  }

  /**
   * An owner's actors of `kind`, newest first (ties by id, descending). `state` filters; `before` continues after
   * the actor with that creation time and id (keyset paging: pages neither repeat nor skip while new ones arrive).
   */
  async listByOwner(
    ownerId: string,
    kind: string,
    limitOrOptions:
      | number
      | {
          readonly limit: number;
          readonly state?: string | undefined;
          readonly before?: { readonly createdAt: number; readonly id: string } | undefined;
        } = 100,
  ): Promise<ActorRow[]> {
    const options = typeof limitOrOptions === 'number' ? { limit: limitOrOptions } : limitOrOptions;
    const query = this.knex('actors').where({ owner_id: ownerId, kind });
    if (options.state) query.andWhere({ state: options.state });
    if (options.before) {
      const { createdAt, id } = options.before;
      query.andWhere((w) => w.where('created_at', '<', createdAt).orWhere((same) => same.where('created_at', createdAt).andWhere('id', '<', id)));
    }
    const rows = (await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(options.limit)) as ActorRecordRow[];
    return rows.map(fromRow);
  }

  /** How many actors of `kind` an owner created since `since`, and how many of them are in `state` now (abuse limits). */
  async countOwned(ownerId: string, kind: string, options: { readonly since: number; readonly state: string }): Promise<{ recent: number; inState: number }> {
    const row = (await this.knex('actors')
      .where({ owner_id: ownerId, kind })
      .select(
        this.knex.raw('coalesce(sum(case when created_at >= ? then 1 else 0 end), 0) as recent', [options.since]),
        this.knex.raw('coalesce(sum(case when state = ? then 1 else 0 end), 0) as in_state', [options.state]),
      )
      .first()) as { recent: number | string; in_state: number | string } | undefined;
    return { recent: Number(row?.recent ?? 0), inState: Number(row?.in_state ?? 0) };
  }

  /** Actors of `kind`, newest first; `state` narrows them to one state or to any of several. */
  async listByKind(kind: string, options: { state?: string | readonly string[] | undefined; limit: number }): Promise<ActorRow[]> {
    const query = this.knex('actors').where({ kind });
    if (typeof options.state === 'string') query.andWhere({ state: options.state });
    else if (options.state) query.whereIn('state', [...options.state]);
    const rows = (await query.orderBy('created_at', 'desc').limit(options.limit)) as ActorRecordRow[];
    return rows.map(fromRow);
  }

  /** One actor's journal, version 1 first (empty for an unknown id). */
  async journal(actorId: string): Promise<JournalEntry[]> {
    const rows = (await this.knex('actor_journal')
      .where({ actor_id: actorId })
      .select('actor_id', 'kind', 'version', 'event', 'at')
      .orderBy('version')) as Array<{ actor_id: string; kind: string; version: number | string; event: string; at: number | string }>;
    return rows.map((row) => ({
      actorId: row.actor_id,
      kind: row.kind,
      version: Number(row.version),
      event: JSON.parse(typeof row.event === 'string' ? row.event : JSON.stringify(row.event)) as unknown,
      at: Number(row.at),
    }));
  }

  /**
   * Whether retention compacted the actor's journal (src/kernel/retention.ts): versions 1 to `throughVersion` were
   * deleted on purpose, the snapshot kept. Undefined when it never did: a journal that is not 1..version is then broken.
   */
  async journalCompaction(actorId: string): Promise<JournalCompaction | undefined> {
    const row = (await this.knex('actor_journal_compactions').where({ actor_id: actorId }).first()) as
      | { through_version: number | string; entries: number | string; compacted_at: number | string }
      | undefined;
    return row && { throughVersion: Number(row.through_version), entries: Number(row.entries), at: Number(row.compacted_at) };
  }

  /** How many actors there are of each kind in each state (kinds and states that have none are absent). */
  async countsByKindAndState(): Promise<Array<{ kind: string; state: string; count: number }>> {
    const rows = (await this.knex('actors').select('kind', 'state').count({ n: '*' }).groupBy('kind', 'state').orderBy(['kind', 'state'])) as Array<{
      kind: string;
      state: string;
      n: number | string;
    }>;
    return rows.map((row) => ({ kind: row.kind, state: row.state, count: Number(row.n) }));
  }

  /**
   * Actors of any owner, newest first (ties by id, descending), for operators: `kind` and `state` filter, `q`
   * matches an id by prefix or an owner id exactly, and `before` continues after the actor with that creation
   * time and id (keyset paging, as `listByOwner`).
   */
  async search(options: {
    readonly kind?: string | undefined;
    readonly state?: string | undefined;
    readonly q?: string | undefined;
    readonly limit: number;
    readonly before?: { readonly createdAt: number; readonly id: string } | undefined;
  }): Promise<ActorRow[]> {
    const query = this.knex('actors');
    if (options.kind) query.where({ kind: options.kind });
    if (options.state) query.andWhere({ state: options.state });
    const q = options.q;
    if (q) {
      // LIKE's wildcards are literal here (ids have underscores): escaped, with an explicit escape character.
      const prefix = `${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      query.andWhere((w) => w.whereRaw(`id like ? escape '\\'`, [prefix]).orWhere({ owner_id: q }));
    }
    if (options.before) {
      const { createdAt, id } = options.before;
      query.andWhere((w) => w.where('created_at', '<', createdAt).orWhere((same) => same.where('created_at', createdAt).andWhere('id', '<', id)));
    }
    const rows = (await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(options.limit)) as ActorRecordRow[];
    return rows.map(fromRow);
  }

  async listStale(kind: string, state: string, updatedBefore: number, limit: number): Promise<ActorRow[]> {
    const rows = (await this.knex('actors').where({ kind, state }).andWhere('updated_at', '<', updatedBefore).limit(limit)) as ActorRecordRow[];
    return rows.map(fromRow);
  }
}
