// Which active carts hold which products: a scan of the active carts' lines in the database, with each dialect's
// JSON functions. Offers start and end rarely and carts change often, so no index of lines is kept.
import type { Knex } from 'knex';
import type { Dialect } from '../../kernel/db/db.ts';

export class CartLinesRepo {
  constructor(
    private readonly knex: Knex,
    private readonly dialect: Dialect,
  ) {}

  /** Active carts holding any of `productIds`, by id, `limit` at a time after `after`. */
  async activeCartsHolding(productIds: readonly string[], after: string, limit: number): Promise<string[]> {
    if (productIds.length === 0) return [];
    const query = this.knex('actors').select('id').where({ kind: 'cart', state: 'active' }).andWhere('id', '>', after).orderBy('id').limit(limit);
    if (this.dialect === 'postgres') {
      query.andWhereRaw(`exists (select 1 from jsonb_array_elements((snapshot::jsonb)->'context'->'items') as line where line->>'productId' = any(?))`, [
        productIds as string[],
      ]);
    } else {
      query.andWhereRaw(
        `exists (select 1 from json_each(snapshot, '$.context.items') as line where json_extract(line.value, '$.productId') in (${productIds.map(() => '?').join(', ')}))`,
        [...productIds],
      );
    }
    const rows = (await query) as Array<{ id: string }>;
    return rows.map((row) => row.id);
  }
}
