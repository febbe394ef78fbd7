// Customer and staff accounts in the `customers` table: reads by email or id, inserts, and upserts by email.
import type { Knex } from 'knex';
import { isUniqueViolation } from '../../kernel/db/db.ts';
import { CustomerModel } from './customer.model.ts';

/** A `customers` row (customers, staff and admins alike); emails are stored normalized. */
export interface AccountRow {
  readonly id: string;
  readonly email: string;
  readonly password_hash: string;
  readonly name: string;
  readonly role: 'customer' | 'staff' | 'admin';
  readonly created_at: number;
  readonly updated_at: number;
}

export class AccountRepo {
  /** Models are bound per query to this app's `knex`: objection's global binding would be shared by every app in the process. */
  constructor(private readonly knex: Knex) {}

  async findByEmail(email: string): Promise<AccountRow | undefined> {
    return CustomerModel.query(this.knex).findOne({ email });
  }

  async findById(id: string): Promise<AccountRow | undefined> {
    return CustomerModel.query(this.knex).findById(id);
  }

  /** Inserts the account; undefined when one with its email exists (the unique index decides a race of two inserts). */
  async insert(row: AccountRow): Promise<AccountRow | undefined> {
    try {
      return await CustomerModel.query(this.knex).insert(row);
    } catch (error) {
      if (isUniqueViolation(error)) return undefined;
      throw error;
    }
  }

  /** Inserts the account, or, when its email exists, sets that account's password hash, name, role and `updated_at` (id and `created_at` stay). */
  async upsertByEmail(row: AccountRow): Promise<AccountRow> {
    const existing = await CustomerModel.query(this.knex).findOne({ email: row.email });
    if (existing) {
      return CustomerModel.query(this.knex).patchAndFetchById(existing.id, {
        password_hash: row.password_hash,
        role: row.role,
        name: row.name,
        updated_at: row.updated_at,
      });
    }
    return CustomerModel.query(this.knex).insert(row);
  }
}
