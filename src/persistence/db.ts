// The knex connection for either SQLite (embedded default) or PostgreSQL, and its migrations.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { isPostgresUrl } from '../config.ts';
import { ImmediateSqliteClient } from './sqlite-client.ts';
import { migrations } from './migrations/index.ts';

export type Dialect = 'sqlite' | 'postgres';

export interface Db {
  readonly knex: Knex;
  readonly dialect: Dialect;
  /** Runs `work` in one transaction; on SQLite it holds the write lock from the start. */
  transaction<T>(work: (trx: Knex.Transaction) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** knex settings for a database URL, shared by the app and knexfile.ts. */
export function knexConfig(databaseUrl: string): Knex.Config {
  if (isPostgresUrl(databaseUrl)) {
    return {
      client: 'pg',
      connection: databaseUrl,
      pool: { min: 0, max: 10 },
      migrations: { migrationSource: migrationSource() },
    };
  }
  return {
    client: ImmediateSqliteClient as unknown as typeof Knex.Client,
    connection: { filename: databaseUrl },
    useNullAsDefault: true,
    // One connection: transactions in this process queue for it instead of racing for the lock.
    pool: { min: 1, max: 1, idleTimeoutMillis: 3_600_000 },
    migrations: { migrationSource: migrationSource() },
  };
}

function migrationSource(): Knex.MigrationSource<(typeof migrations)[number]> {
  return {
    getMigrations: async () => [...migrations],
    getMigrationName: (migration) => migration.name,
    getMigration: async (migration) => migration,
  };
}

/** Opens the database, creating the SQLite folder when needed. Models are bound per query (`Model.query(knex)`), never globally. */
export function openDb(databaseUrl: string): Db {
  const dialect: Dialect = isPostgresUrl(databaseUrl) ? 'postgres' : 'sqlite';
  // int8 (bigint) comes back as a string by default; every bigint here is a millisecond timestamp,
  // an amount in minor units or a sequence number, all far below 2^53.
  if (dialect === 'postgres') pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));
  if (dialect === 'sqlite' && databaseUrl !== ':memory:') mkdirSync(path.dirname(path.resolve(databaseUrl)), { recursive: true });
  const knex = knexFactory(knexConfig(databaseUrl));
  return {
    knex,
    dialect,
    transaction: (work) => knex.transaction(work),
    close: () => knex.destroy(),
  };
}

export async function migrateLatest(db: Db): Promise<string[]> {
  const [, applied] = (await db.knex.migrate.latest()) as [number, string[]];
  return applied;
}
