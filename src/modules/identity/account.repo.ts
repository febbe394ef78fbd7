// Customer and staff accounts in the `customers` table: reads by email or id, inserts, and upserts by email.
import type { Knex } from 'knex';
import { isUniqueViolation } from '../../kernel/db/db.ts';
import type { DomainEventWriter, NewDomainEvent } from '../../kernel/module.ts';
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
  /** Tokens issued before this instant (epoch ms) are refused. */
  readonly tokens_valid_after?: number;
  readonly deleted_at?: number | null;
}

/** An `addresses` row. */
export interface AddressRow {
  readonly id: string;
  readonly customer_id: string;
  readonly label: string;
  readonly name: string;
  readonly line1: string;
  readonly line2: string | null;
  readonly city: string;
  readonly postal_code: string;
  readonly country: string;
  readonly is_default: boolean | number;
  readonly created_at: number;
  readonly updated_at: number;
}

export class AccountRepo {
  /** Models are bound per query to this app's `knex`: objection's global binding would be shared by every app in the process. */
  constructor(
    private readonly knex: Knex,
    /** Where `insert` writes the domain events of a new account (absent in the command-line tools, which emit none). */
    private readonly domainEvents?: DomainEventWriter,
  ) {}

  async findByEmail(email: string): Promise<AccountRow | undefined> {
    return CustomerModel.query(this.knex).findOne({ email });
  }

  async findById(id: string): Promise<AccountRow | undefined> {
    return CustomerModel.query(this.knex).findById(id);
  }

  /**
   * Inserts the account and, in the same transaction, its domain `events` (the welcome mail's
   * `customer.registered`); undefined when one with its email exists (the unique index decides a race of two inserts).
   */
  async insert(row: AccountRow, events: readonly NewDomainEvent[] = []): Promise<AccountRow | undefined> {
    const outbox = this.domainEvents;
    if (events.length > 0 && !outbox) throw new Error('AccountRepo was built without a domain event writer');
    try {
      const inserted = await this.knex.transaction(async (trx) => {
        const account = await CustomerModel.query(trx).insert(row);
        if (events.length > 0) await outbox!.append(trx, events);
        return account;
      });
      if (events.length > 0) outbox!.committed();
      return inserted;
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

  async update(
    id: string,
    fields: Partial<Pick<AccountRow, 'email' | 'name' | 'password_hash' | 'tokens_valid_after'>> & { readonly updated_at: number },
  ): Promise<AccountRow> {
    return CustomerModel.query(this.knex).patchAndFetchById(id, fields);
  }

  /** Revokes one token until it would have expired. Revoking it again is harmless. */
  async revoke(tokenId: string, subject: string, expiresAt: number): Promise<void> {
    await this.knex('revoked_tokens').insert({ token_id: tokenId, subject, expires_at: expiresAt }).onConflict('token_id').ignore();
  }

  async isRevoked(tokenId: string): Promise<boolean> {
    return (await this.knex('revoked_tokens').where({ token_id: tokenId }).first('token_id')) !== undefined;
  }

  /** Forgets revocations of tokens that have expired anyway. */
  async pruneRevoked(now: number): Promise<number> {
    return this.knex('revoked_tokens').where('expires_at', '<', now).delete();
  }

  async addresses(customerId: string): Promise<AddressRow[]> {
    return (await this.knex('addresses').where({ customer_id: customerId }).orderBy('created_at').orderBy('id')) as AddressRow[];
  }

  /** Inserts or replaces the address (by id, within its customer); with `makeDefault`, it becomes the only default. */
  async saveAddress(row: AddressRow, makeDefault: boolean): Promise<void> {
    await this.knex.transaction(async (trx) => {
      if (makeDefault) await trx('addresses').where({ customer_id: row.customer_id }).update({ is_default: false });
      const existing = await trx('addresses').where({ id: row.id, customer_id: row.customer_id }).first('id');
      if (existing) {
        const { id: _id, customer_id: _customer, created_at: _created, ...fields } = row;
        await trx('addresses').where({ id: row.id }).update(fields);
      } else {
        await trx('addresses').insert(row);
      }
    });
  }

  /** Deletes the address; true when it existed (and belonged to this customer). */
  async deleteAddress(customerId: string, id: string): Promise<boolean> {
    return (await this.knex('addresses').where({ id, customer_id: customerId }).delete()) > 0;
  }

  /** Removes the account's personal data: addresses gone, e-mail and name replaced, password unusable, sessions ended. */
  async anonymize(id: string, at: number, passwordHash: string): Promise<void> {
    await this.knex.transaction(async (trx) => {
      await trx('addresses').where({ customer_id: id }).delete();
      await trx('customers')
        .where({ id })
        .update({
          email: `deleted+${id}@invalid`,
          name: 'Deleted customer',
          password_hash: passwordHash,
          deleted_at: at,
          tokens_valid_after: at,
          updated_at: at,
        });
    });
  }
}
