// The knex connection for either SQLite (embedded default) or PostgreSQL, and its migrations.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { isPostgresUrl } from '../../config.ts';
import { ImmediateSqliteClient, type SqliteOptions } from './sqlite-client.ts';
import type { SqliteFaults } from './sqlite-faults.ts';
import type { Migration } from '../module.ts';

export type Dialect = 'sqlite' | 'postgres';

export interface Db {
  readonly knex: Knex;
  readonly dialect: Dialect;
  /** Runs `work` in one transaction; on SQLite it holds the write lock from the start. */
  transaction<T>(work: (trx: Knex.Transaction) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** knex settings for a database URL and the application's migrations, shared by the app and knexfile.ts. `sqliteFaults`: tests only. */
export function knexConfig(databaseUrl: string, migrations: readonly Migration[], options: DbOptions = {}): Knex.Config {
  if (isPostgresUrl(databaseUrl)) {
    return {
      client: 'pg',
      connection: databaseUrl,
      pool: { min: 0, max: 10 },
      migrations: { migrationSource: migrationSource(migrations) },
    };
  }
  return {
    client: ImmediateSqliteClient as unknown as typeof Knex.Client,
    connection: { filename: databaseUrl },
    useNullAsDefault: true,
    // One connection: transactions in this process queue for it instead of racing for the lock.
    pool: { min: 1, max: 1, idleTimeoutMillis: 3_600_000 },
    migrations: { migrationSource: migrationSource(migrations) },
    ...(options.sqliteFaults ? { sqliteFaults: options.sqliteFaults } : {}),
    ...(options.sqlite ? { sqlite: options.sqlite } : {}),
  };
}

function migrationSource(migrations: readonly Migration[]): Knex.MigrationSource<Migration> {
  const names = new Set<string>();
  for (const { name } of migrations) {
    if (names.has(name)) throw new Error(`two migrations are named ${name}`);
    names.add(name);
  }
  return {
    getMigrations: async () => [...migrations],
    getMigrationName: (migration) => migration.name,
    getMigration: async (migration) => migration,
  };
}

/** Opens the database, creating the SQLite folder when needed. Models are bound per query (`Model.query(knex)`), never globally. */
/** How to open the database beyond its URL. */
export interface DbOptions {
  /** SQLite only: durability and background checkpoints (the application sets both; tools take the defaults). */
  readonly sqlite?: SqliteOptions | undefined;
  /** Tests only: a statement hook that injects SQLite failures. */
  readonly sqliteFaults?: SqliteFaults | undefined;
}

export function openDb(databaseUrl: string, migrations: readonly Migration[], options: DbOptions = {}): Db {
  const dialect: Dialect = isPostgresUrl(databaseUrl) ? 'postgres' : 'sqlite';
  // int8 (bigint) comes back as a string by default; every bigint here is a millisecond timestamp,
  // an amount in minor units or a sequence number, all far below 2^53.
  if (dialect === 'postgres') pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));
  if (dialect === 'sqlite' && databaseUrl !== ':memory:') mkdirSync(path.dirname(path.resolve(databaseUrl)), { recursive: true });
  const knex = knexFactory(knexConfig(databaseUrl, migrations, options));
  return {
    knex,
    dialect,
    transaction: dialect === 'postgres' ? (work) => retryingTransaction(knex, work) : (work) => knex.transaction(work),
    close: () => knex.destroy(),
  };
}

/** PostgreSQL aborts one side of a deadlock (40P01) or a serialization conflict (40001); that side may simply run again. */
const RETRYABLE_PG_CODES = new Set(['40P01', '40001']);

async function retryingTransaction<T>(knex: Knex, work: (trx: Knex.Transaction) => Promise<T>, attempts = 4): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await knex.transaction(work);
    } catch (error) {
      if (attempt >= attempts || !isRetryableTransactionError(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 5 * attempt + Math.random() * 20));
    }
  }
}

/** PostgreSQL gave up on the transaction to break a deadlock or a serialization conflict; running it again is safe. */
export function isRetryableTransactionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && RETRYABLE_PG_CODES.has(code);
}

/** True for a unique-constraint violation on either database. */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: unknown; name?: unknown; nativeError?: unknown } | null;
  if (!e) return false;
  // objection wraps driver errors (db-errors' UniqueViolationError keeps the driver's as nativeError).
  if (e.name === 'UniqueViolationError') return true;
  if (e.nativeError) return isUniqueViolation(e.nativeError);
  return e.code === '23505' || e.code === 'SQLITE_CONSTRAINT_UNIQUE' || e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

export async function migrateLatest(db: Db): Promise<string[]> {
  const [, applied] = (await db.knex.migrate.latest()) as [number, string[]];
  return applied;
}
