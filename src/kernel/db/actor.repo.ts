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

export interface OutboxEntry {
  readonly actorId: string;
  readonly kind: string;
  readonly type: string;
  readonly payload: unknown;
  readonly createdAt: number;
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

  private async appendJournal(trx: Knex.Transaction, entry: JournalEntry): Promise<void> {
    await trx('actor_journal').insert({
      actor_id: entry.actorId,
      kind: entry.kind,
      version: entry.version,
      event: JSON.stringify(entry.event),
      at: entry.at,
    });
  }

  private async appendOutbox(trx: Knex.Transaction, entries: readonly OutboxEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await trx('outbox').insert(
      entries.map((entry) => ({
        actor_id: entry.actorId,
        kind: entry.kind,
        type: entry.type,
        payload: JSON.stringify(entry.payload),
        created_at: entry.createdAt,
      })),
    );
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

  async listByOwner(ownerId: string, kind: string, limit = 100): Promise<ActorRow[]> {
    const rows = (await this.knex('actors').where({ owner_id: ownerId, kind }).orderBy('created_at', 'desc').limit(limit)) as ActorRecordRow[];
    return rows.map(fromRow);
  }

  async listByKind(kind: string, options: { state?: string | undefined; limit: number }): Promise<ActorRow[]> {
    const query = this.knex('actors').where({ kind });
    if (options.state) query.andWhere({ state: options.state });
    const rows = (await query.orderBy('created_at', 'desc').limit(options.limit)) as ActorRecordRow[];
    return rows.map(fromRow);
  }

  async listStale(kind: string, state: string, updatedBefore: number, limit: number): Promise<ActorRow[]> {
    const rows = (await this.knex('actors').where({ kind, state }).andWhere('updated_at', '<', updatedBefore).limit(limit)) as ActorRecordRow[];
    return rows.map(fromRow);
  }
}
