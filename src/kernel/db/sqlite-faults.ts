// Test-only fault injection into the SQLite connection: disk full, I/O errors, a busy database, on demand.
import { createRequire } from 'node:module';
import type { Database } from 'better-sqlite3';

const require = createRequire(import.meta.url);
const { SqliteError } = require('better-sqlite3') as { SqliteError: new (message: string, code: string) => Error };

/** Where an injected fault strikes: a transaction's COMMIT, or a statement that writes (INSERT, UPDATE, DELETE). */
export type SqliteFaultPoint = 'commit' | 'write';

/**
 * Fault injection for tests (`AppOptions.sqliteFaults`; nothing is installed without it): the next `times`
 * COMMITs or writing statements on the connection fail with `code`, thrown as better-sqlite3's own
 * `SqliteError` in place of running them, so the real error paths run. A failed COMMIT leaves its transaction
 * open, as SQLite may; a failed write leaves the statements before it in place, as SQLite does.
 *
 * @example
 * const faults = new SqliteFaults();
 * const app = createApp(config, { sqliteFaults: faults });
 * faults.fail('SQLITE_FULL', { on: 'commit', times: Number.POSITIVE_INFINITY }); // until faults.clear()
 */
export class SqliteFaults {
  private armed: Array<{ code: string; on: SqliteFaultPoint; left: number }> = [];
  /** Faults thrown so far. */
  thrown = 0;

  fail(code: string, options: { readonly on?: SqliteFaultPoint; readonly times?: number } = {}): void {
    this.armed.push({ code, on: options.on ?? 'commit', left: options.times ?? 1 });
  }

  /** Disarms every fault not yet thrown. */
  clear(): void {
    this.armed = [];
  }

  /** Wraps a new connection's statements and transactions. */
  install(db: Database): void {
    const prepare = db.prepare.bind(db);
    db.prepare = ((sql: string) => {
      const statement = prepare(sql);
      const point: SqliteFaultPoint | undefined = /^\s*COMMIT\b/i.test(sql)
        ? 'commit'
        : /^\s*(INSERT|UPDATE|DELETE|REPLACE)\b/i.test(sql)
          ? 'write'
          : undefined;
      if (point) {
        for (const method of ['run', 'get', 'all'] as const) {
          const original = statement[method] as (...args: unknown[]) => unknown;
          (statement as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
            this.strike(point);
            return original.apply(statement, args);
          };
        }
      }
      return statement;
    }) as Database['prepare'];
    // better-sqlite3 runs its own BEGIN and COMMIT: a fault "on commit" strikes where the outermost COMMIT would run.
    const transaction = db.transaction.bind(db);
    let depth = 0;
    const strike = (point: SqliteFaultPoint) => this.strike(point);
    db.transaction = ((fn: (...args: unknown[]) => unknown) =>
      transaction(function (this: unknown, ...args: unknown[]) {
        depth++;
        try {
          const result = fn.apply(this, args);
          if (depth === 1) strike('commit');
          return result;
        } finally {
          depth--;
        }
      })) as Database['transaction'];
  }

  private strike(point: SqliteFaultPoint): void {
    const fault = this.armed.find((candidate) => candidate.on === point && candidate.left > 0);
    if (!fault) return;
    fault.left--;
    this.thrown++;
    throw new SqliteError(messageOf(fault.code), fault.code);
  }
}

/** SQLite's own message for the primary code of `code`. */
function messageOf(code: string): string {
  if (code.startsWith('SQLITE_FULL')) return 'database or disk is full';
  if (code.startsWith('SQLITE_IOERR')) return 'disk I/O error';
  if (code.startsWith('SQLITE_BUSY')) return 'database is locked';
  return 'SQL logic error';
}
