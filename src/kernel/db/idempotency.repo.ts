// Idempotency records: the first value stored under (scope, key) wins, and every later claim reads it back, for as long
// as the record is kept: retention deletes records older than IDEMPOTENCY_RETENTION_MS (default 7 days; at least an
// hour), after which the same key is a new request (docs/OPERATIONS.md "Retention").
import type { Knex } from 'knex';

export class IdempotencyRepo {
  constructor(
    private readonly knex: Knex,
    private readonly clock: () => number,
  ) {}

  /**
   * Stores `value` under (scope, key) unless something is stored there
   * already, and returns what is stored: `value` for the first caller, the
   * first caller's value for every later (or concurrent) one within the
   * retention window.
   */
  async claim(scope: string, key: string, value: string): Promise<string> {
    // Twice at most: a record past its window may be deleted by retention between the insert (ignored: it was
    // there) and the read; the claim then stores `value`, as for any request older than the window.
    for (let attempt = 1; ; attempt++) {
      await this.knex('idempotency_keys').insert({ scope, key, result: value, created_at: this.clock() }).onConflict(['scope', 'key']).ignore();
      const row = (await this.knex('idempotency_keys').where({ scope, key }).first('result')) as { result: string } | undefined;
      if (row) return row.result;
      if (attempt >= 2) throw new Error(`idempotency record ${scope}/${key} vanished`);
    }
  }
}
