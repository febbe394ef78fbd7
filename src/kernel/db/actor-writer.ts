// Writing actor changes: snapshot compare-and-set, journal and outbox, for one change or a batch of many actors at once.
import type { Database, Statement } from 'better-sqlite3';
import type { Knex } from 'knex';
import type { ActorRepo, ActorRow, JournalEntry, OutboxEntry } from './actor.repo.ts';
import { isRetryableTransactionError } from './db.ts';

export interface ActorWrite {
  /** `insert` creates the actor at version 1; `update` is a compare-and-set from `expectedVersion`. */
  readonly op: 'insert' | 'update';
  readonly actor: ActorRow;
  readonly expectedVersion: number;
  readonly journal: JournalEntry;
  readonly outbox: readonly OutboxEntry[];
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

/** Portable writer over knex (PostgreSQL). Each write runs in a savepoint inside the batch's transaction. */
export class KnexActorWriter implements ActorWriter {
  constructor(
    private readonly repo: ActorRepo,
    private readonly transaction: <T>(work: (trx: Knex.Transaction) => Promise<T>) => Promise<T>,
  ) {}

  write(batch: readonly ActorWrite[]): Promise<WriteOutcome[]> {
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
  updateActor: Statement;
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
  const updateActor = db.prepare(
    `UPDATE actors SET version = @version, machine_version = @machineVersion, state = @state, status = @status, owner_id = @ownerId,
       snapshot = @snapshot, next_deadline_at = @nextDeadlineAt, updated_at = @updatedAt
     WHERE id = @id AND version = @expectedVersion`,
  );
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
    const changed = write.op === 'insert' ? insertActor.run(params).changes : updateActor.run({ ...params, expectedVersion: write.expectedVersion }).changes;
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
