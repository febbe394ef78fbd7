// Idempotency records: the first value stored under (scope, key) wins, and every later claim reads it back.
import type { Knex } from 'knex';

export class IdempotencyRepo {
  constructor(
    private readonly knex: Knex,
    private readonly clock: () => number,
  ) {}

  /**
   * Stores `value` under (scope, key) unless something is stored there
   * already, and returns what is stored: `value` for the first caller, the
   * first caller's value for every later (or concurrent) one.
   */
  async claim(scope: string, key: string, value: string): Promise<string> {
    await this.knex('idempotency_keys').insert({ scope, key, result: value, created_at: this.clock() }).onConflict(['scope', 'key']).ignore();
    const row = (await this.knex('idempotency_keys').where({ scope, key }).first('result')) as { result: string } | undefined;
    if (!row) throw new Error(`idempotency record ${scope}/${key} vanished`);
    return row.result;
  }
}
