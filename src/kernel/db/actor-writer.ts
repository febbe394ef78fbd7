// Writing actor changes: snapshot compare-and-set, journal and outbox, for one change or a batch of many actors at once.
import type { Database, Statement } from 'better-sqlite3';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { ActorRepo, ActorRow, JournalEntry, OutboxEntry } from './actor.repo.ts';
import { isRetryableTransactionError } from './db.ts';

export interface ActorWrite {
  /** `insert` creates the actor at version 1; `update` is a compare-and-set from `expectedVersion`. */
  readonly op: 'insert' | 'update';
  readonly actor: ActorRow;
  readonly expectedVersion: number;
  readonly journal: JournalEntry;
  readonly outbox: readonly OutboxEntry[];
  /**
   * `update` only: the indexed columns as the row at `expectedVersion` holds them, when the writer knows them. A
   * writer may then set only the columns that change (SQLite rewrites the index entries of every column an UPDATE
   * names, changed or not). Without it every column is written.
   */
  readonly stored?: StoredColumns | undefined;
}

/** The indexed (or rarely changing) columns of an actor row, besides its version, snapshot and times. */
export type StoredColumns = Pick<ActorRow, 'machineVersion' | 'state' | 'status' | 'ownerId' | 'nextDeadlineAt'>;

/** The columns an UPDATE may leave out when unchanged, and their SQL names (the order is the statement cache's bit order). */
const OPTIONAL_COLUMNS = [
  ['machineVersion', 'machine_version'],
  ['state', 'state'],
  ['status', 'status'],
  ['ownerId', 'owner_id'],
  ['nextDeadlineAt', 'next_deadline_at'],
] as const satisfies ReadonlyArray<readonly [keyof StoredColumns, string]>;
const ALL_COLUMNS = (1 << OPTIONAL_COLUMNS.length) - 1;

/** Which optional columns differ between the stored row and the new one (all of them when the stored row is unknown). */
function changedColumns(actor: ActorRow, stored: StoredColumns | undefined): number {
  if (!stored) return ALL_COLUMNS;
  let mask = 0;
  OPTIONAL_COLUMNS.forEach(([field], bit) => {
    if (actor[field] !== stored[field]) mask |= 1 << bit;
  });
  return mask;
}

/** `written`, `conflict` (the id exists, or the version moved on), or the error that write alone hit. */
export type WriteOutcome = 'written' | 'conflict' | Error;

/**
 * Writes a batch in ONE transaction; each write succeeds or fails on its own
 * (a lost compare-and-set writes nothing of that change, not of the others).
 */
export interface ActorWriter {
  write(batch: readonly ActorWrite[]): Promise<WriteOutcome[]>;
}

/**
 * The whole batch as ONE PostgreSQL statement: data-modifying CTEs insert the new actors, compare-and-set the
 * others, and write the journal and outbox rows of exactly those that succeeded — one round trip, atomic on its own.
 * Returns the ids written (a write whose id is absent lost its compare-and-set, or its id was taken).
 */
const PG_BATCH = `
with w as (
  select * from unnest(?::int[], ?::text[], ?::text[], ?::text[], ?::int[], ?::int[], ?::int[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::bigint[], ?::bigint[], ?::text[], ?::bigint[])
    as w(i, op, id, kind, version, expected, machine_version, state, status, owner_id, snapshot, next_deadline_at, created_at, updated_at, event, at)
),
inserted as (
  insert into actors (id, kind, version, machine_version, state, status, owner_id, snapshot, next_deadline_at, created_at, updated_at)
  select id, kind, version, machine_version, state, status, owner_id, snapshot, next_deadline_at, created_at, updated_at from w where op = 'insert'
  on conflict (id) do nothing
  returning id
),
updated as (
  update actors a set version = w.version, machine_version = w.machine_version, state = w.state, status = w.status, owner_id = w.owner_id,
    snapshot = w.snapshot, next_deadline_at = w.next_deadline_at, updated_at = w.updated_at
  from w where w.op = 'update' and a.id = w.id and a.version = w.expected
  returning a.id
),
written as (select id from inserted union all select id from updated),
journal as (
  insert into actor_journal (actor_id, kind, version, event, at)
  select w.id, w.kind, w.version, w.event, w.at from w join written using (id) order by w.i
),
outbox as (
  insert into outbox (actor_id, kind, type, payload, created_at, traceparent)
  select o.actor_id, o.kind, o.type, o.payload, o.created_at, o.traceparent
  from unnest(?::int[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::text[]) as o(i, actor_id, kind, type, payload, created_at, traceparent)
  join written on written.id = o.actor_id
  order by o.i
)
select id from written`;

/** PG_BATCH with node-pg's numbered placeholders. */
const PG_BATCH_TEXT = (() => {
  let n = 0;
  return PG_BATCH.replace(/\?/g, () => `$${++n}`);
})();

/** The batch's bindings for PG_BATCH: one array per column, then the outbox rows' arrays. */
function pgBatchBindings(batch: readonly ActorWrite[]): unknown[] {
  const columns: unknown[][] = Array.from({ length: 16 }, () => []);
  const outbox: unknown[][] = Array.from({ length: 7 }, () => []);
  batch.forEach((write, i) => {
    const a = write.actor;
    const values = [
      i,
      write.op,
      a.id,
      a.kind,
      a.version,
      write.expectedVersion,
      a.machineVersion,
      a.state,
      a.status,
      a.ownerId,
      JSON.stringify(a.persisted),
      a.nextDeadlineAt,
      a.createdAt,
      a.updatedAt,
      JSON.stringify(write.journal.event),
      write.journal.at,
    ];
    values.forEach((value, c) => {
      columns[c]!.push(value);
    });
    for (const entry of write.outbox) {
      const row = [outbox[0]!.length, entry.actorId, entry.kind, entry.type, JSON.stringify(entry.payload), entry.createdAt, entry.traceparent ?? null];
      row.forEach((value, c) => {
        outbox[c]!.push(value);
      });
    }
  });
  return [...columns, ...outbox];
}

/**
 * Writer over knex for PostgreSQL. A batch is first tried as one statement (`PG_BATCH`); if that statement fails
 * (a constraint one write broke, a deadlock), the batch is written again write by write, each in a savepoint of
 * one transaction, so only the write at fault fails.
 */
export class KnexActorWriter implements ActorWriter {
  /** Batches whose one-statement write failed and were written again write by write (a broken write, a deadlock). */
  statementFailures = 0;

  constructor(
    private readonly repo: ActorRepo,
    private readonly transaction: <T>(work: (trx: Knex.Transaction) => Promise<T>) => Promise<T>,
    /** Set on PostgreSQL: try each batch as one statement first. */
    private readonly knex?: Knex,
    /** Told (at debug level) why a one-statement batch fell back to write-by-write. */
    private readonly logger?: Pick<Logger, 'debug'>,
  ) {}

  async write(batch: readonly ActorWrite[]): Promise<WriteOutcome[]> {
    // An actor's writes are serialized by its mailbox, so a batch names each actor once; if not, go write by write.
    if (this.knex && new Set(batch.map((write) => write.actor.id)).size === batch.length) {
      try {
        const result = await this.pgQuery<{ id: string }>(PG_BATCH_TEXT, pgBatchBindings(batch));
        const written = new Set(result.rows.map((row) => row.id));
        return batch.map((write) => (written.has(write.actor.id) ? 'written' : 'conflict'));
      } catch (error) {
        // Nothing of the statement was written: find the write at fault, one savepoint each.
        this.statementFailures++;
        this.logger?.debug({ err: error, writes: batch.length }, 'one-statement batch failed; writing it again write by write');
      }
    }
    return this.writeEach(batch);
  }

  /** node-pg directly, on a pooled connection: knex would spread each array binding into a list of values. */
  private async pgQuery<R>(text: string, values: unknown[]): Promise<{ rows: R[] }> {
    const client = this.knex!.client as {
      acquireConnection(): Promise<{ query(text: string, values: unknown[]): Promise<{ rows: R[] }> }>;
      releaseConnection(connection: unknown): Promise<void>;
    };
    const connection = await client.acquireConnection();
    try {
      return await connection.query(text, values);
    } finally {
      await client.releaseConnection(connection);
    }
  }

  private writeEach(batch: readonly ActorWrite[]): Promise<WriteOutcome[]> {
    return this.transaction(async (trx) => {
      const outcomes: WriteOutcome[] = [];
      for (const write of batch) {
        try {
          const ok = await trx.transaction((savepoint) =>
            write.op === 'insert'
              ? this.repo.insert(savepoint, write.actor, write.journal, write.outbox)
              : this.repo.update(savepoint, write.actor, write.expectedVersion, write.journal, write.outbox),
          );
          outcomes.push(ok ? 'written' : 'conflict');
        } catch (error) {
          // A deadlock or serialization failure aborts the whole transaction: let it be run again, batch and all.
          if (isRetryableTransactionError(error)) throw error;
          outcomes.push(error instanceof Error ? error : new Error(String(error)));
        }
      }
      return outcomes;
    });
  }
}

interface SqliteStatements {
  insertActor: Statement;
  /** The compare-and-set UPDATE naming the optional columns of `mask` (prepared on first use). */
  updateActor(mask: number): Statement;
  insertJournal: Statement;
  insertOutbox: Statement;
  /** One write as its own transaction (or as a savepoint inside another). */
  writeOne: ReturnType<Database['transaction']>;
  /** The whole batch as one IMMEDIATE transaction, each write in a savepoint. */
  writeAll: ReturnType<Database['transaction']>;
}

const statementsByConnection = new WeakMap<Database, SqliteStatements>();

function statementsFor(db: Database): SqliteStatements {
  const cached = statementsByConnection.get(db);
  if (cached) return cached;
  const insertActor = db.prepare(
    `INSERT INTO actors (id, kind, version, machine_version, state, status, owner_id, snapshot, next_deadline_at, created_at, updated_at)
     VALUES (@id, @kind, @version, @machineVersion, @state, @status, @ownerId, @snapshot, @nextDeadlineAt, @createdAt, @updatedAt)
     ON CONFLICT (id) DO NOTHING`,
  );
  const updates = new Map<number, Statement>();
  const updateActor = (mask: number): Statement => {
    let statement = updates.get(mask);
    if (!statement) {
      const optional = OPTIONAL_COLUMNS.flatMap(([field, column], bit) => (mask & (1 << bit) ? [`${column} = @${field}`] : []));
      statement = db.prepare(
        `UPDATE actors SET ${['version = @version', ...optional, 'snapshot = @snapshot', 'updated_at = @updatedAt'].join(', ')}
         WHERE id = @id AND version = @expectedVersion`,
      );
      updates.set(mask, statement);
    }
    return statement;
  };
  const insertJournal = db.prepare('INSERT INTO actor_journal (actor_id, kind, version, event, at) VALUES (?, ?, ?, ?, ?)');
  const insertOutbox = db.prepare('INSERT INTO outbox (actor_id, kind, type, payload, created_at, traceparent) VALUES (?, ?, ?, ?, ?, ?)');
  const writeOne = db.transaction((write: ActorWrite): WriteOutcome => {
    const a = write.actor;
    const params = {
      id: a.id,
      kind: a.kind,
      version: a.version,
      machineVersion: a.machineVersion,
      state: a.state,
      status: a.status,
      ownerId: a.ownerId,
      snapshot: JSON.stringify(a.persisted),
      nextDeadlineAt: a.nextDeadlineAt,
      createdAt: a.createdAt,
      updatedAt: a.updatedAt,
    };
    const changed =
      write.op === 'insert'
        ? insertActor.run(params).changes
        : updateActor(changedColumns(a, write.stored)).run({ ...params, expectedVersion: write.expectedVersion }).changes;
    if (changed !== 1) return 'conflict';
    const j = write.journal;
    insertJournal.run(j.actorId, j.kind, j.version, JSON.stringify(j.event), j.at);
    for (const o of write.outbox) insertOutbox.run(o.actorId, o.kind, o.type, JSON.stringify(o.payload), o.createdAt, o.traceparent ?? null);
    return 'written';
  });
  const writeAll = db.transaction((writes: readonly ActorWrite[]) =>
    writes.map((write): WriteOutcome => {
      try {
        return writeOne(write); // nested: a savepoint, so a failing write undoes only itself
      } catch (error) {
        // SQLite may roll the whole transaction back instead (SQLITE_FULL does, inside a savepoint): the batch
        // failed. The writes left must not run, each committing alone as its own transaction while reported failed.
        if (!db.inTransaction) throw error;
        return error instanceof Error ? error : new Error(String(error));
      }
    }),
  );
  const statements = { insertActor, updateActor, insertJournal, insertOutbox, writeOne, writeAll };
  statementsByConnection.set(db, statements);
  return statements;
}

/**
 * SQLite writer on knex's own (single) connection, with prepared statements
 * and no await between them: the whole batch is one synchronous `BEGIN
 * IMMEDIATE … COMMIT`, each write in its own savepoint. Holding the pooled
 * connection keeps every other knex query out meanwhile.
 */
export class SqliteActorWriter implements ActorWriter {
  constructor(private readonly knex: Knex) {}

  async write(batch: readonly ActorWrite[]): Promise<WriteOutcome[]> {
    const client = this.knex.client as { acquireConnection(): Promise<Database>; releaseConnection(connection: Database): Promise<void> };
    const db = await client.acquireConnection();
    try {
      const statements = statementsFor(db);
      // A lone write needs no savepoint: if it fails, its transaction is the only thing rolled back.
      if (batch.length === 1) {
        try {
          return [statements.writeOne.immediate(batch[0]) as WriteOutcome];
        } catch (error) {
          return [error instanceof Error ? error : new Error(String(error))];
        }
      }
      return statements.writeAll.immediate(batch) as WriteOutcome[];
    } finally {
      await client.releaseConnection(db);
    }
  }
}
