// knex client for better-sqlite3 that starts write transactions with BEGIN IMMEDIATE and reuses prepared statements.
import { createRequire } from 'node:module';
import type { Database, Statement } from 'better-sqlite3';
import type { SqliteFaults } from './sqlite-faults.ts';
import { startCheckpointer, type Checkpointer } from './sqlite-checkpointer.ts';

const require = createRequire(import.meta.url);
// biome-ignore lint/suspicious/noExplicitAny: knex ships its dialect classes as CommonJS without types
const BetterSqlite3Client: new (config: unknown) => any = require('knex/lib/dialects/better-sqlite3/index.js');
// biome-ignore lint/suspicious/noExplicitAny: as above
const SqliteTransaction: new (...args: any[]) => any = require('knex/lib/dialects/sqlite3/execution/sqlite-transaction.js');

/**
 * A deferred `BEGIN` takes a read lock and upgrades on its first write, which
 * fails with SQLITE_BUSY when another connection wrote in between. Every
 * transaction here is read-then-write, so take the write lock up front.
 */
class ImmediateTransaction extends SqliteTransaction {
  begin(conn: unknown) {
    return this.query(conn, 'BEGIN IMMEDIATE;');
  }

  /**
   * A COMMIT that fails may leave its transaction open (SQLite keeps it after SQLITE_BUSY and may after
   * SQLITE_FULL or SQLITE_IOERR), and knex does not roll back after a failed COMMIT: every later statement on
   * this, the only connection, would then run inside it, never committed. End it; if even that fails, the pool
   * replaces the connection.
   */
  async commit(conn: Database & { __knex__disposed?: unknown }, value: unknown) {
    const result = await super.commit(conn, value);
    if (conn.inTransaction) {
      try {
        conn.prepare('ROLLBACK').run();
      } catch (error) {
        conn.__knex__disposed = error;
      }
    }
    return result;
  }
}

const STATEMENT_CACHE_SIZE = 500;
const statementCaches = new WeakMap<Database, Map<string, Statement>>();

function prepareCached(connection: Database, sql: string): Statement {
  let cache = statementCaches.get(connection);
  if (!cache) statementCaches.set(connection, (cache = new Map()));
  let statement = cache.get(sql);
  if (!statement) {
    statement = connection.prepare(sql);
    if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
    cache.set(sql, statement);
  }
  return statement;
}

/** How the application's SQLite connection runs (`openDb`'s `sqlite` option). */
export interface SqliteOptions {
  /**
   * `normal`: a commit is durable against a crash of the process, and the last commits before a power loss or an
   * OS crash may be lost (the database stays consistent). `full`: every commit is synced to disk before it is
   * acknowledged, so it survives power loss too. @default 'normal'
   */
  readonly synchronous?: 'normal' | 'full';
  /** Checkpoint the write-ahead log in a worker thread instead of inside a commit (the application's connection). */
  readonly checkpointer?: boolean;
  /** A background checkpoint failed (the connection's own fallback checkpoint still bounds the log). */
  readonly onCheckpointError?: (message: string) => void;
}

/** Without the worker, SQLite checkpoints inside a commit every 1,000 pages; with it, only past this many (a fallback). */
const FALLBACK_AUTOCHECKPOINT_PAGES = 20_000;

const checkpointers = new WeakMap<Database, Checkpointer>();

export class ImmediateSqliteClient extends BetterSqlite3Client {
  transaction(...args: unknown[]) {
    return new ImmediateTransaction(this, ...args);
  }

  async acquireRawConnection() {
    const db: Database = await super.acquireRawConnection();
    const config = this.config as { sqliteFaults?: SqliteFaults; sqlite?: SqliteOptions; connection: { filename: string } };
    const synchronous = config.sqlite?.synchronous ?? 'normal';
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    config.sqliteFaults?.install(db);
    if (config.sqlite?.checkpointer && !db.memory) {
      db.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`);
      checkpointers.set(db, startCheckpointer({ file: db.name, synchronous, onError: config.sqlite.onCheckpointError }));
    }
    return db;
  }

  async destroyRawConnection(connection: Database) {
    await checkpointers.get(connection)?.stop();
    checkpointers.delete(connection);
    return super.destroyRawConnection(connection);
  }

  async _query(connection: Database, obj: { sql: string; bindings?: unknown[]; response?: unknown; context?: unknown }) {
    if (!obj.sql) throw new Error('The query is empty');
    const statement = prepareCached(connection, obj.sql);
    const bindings = this._formatBindings(obj.bindings);
    if (statement.reader) {
      obj.response = statement.all(bindings);
      return obj;
    }
    const response = statement.run(bindings);
    obj.response = response;
    obj.context = { lastID: response.lastInsertRowid, changes: response.changes };
    return obj;
  }
}
