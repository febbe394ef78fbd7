// Accounts and access tokens: guests, registration, login, staff and admin accounts.
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { AppError } from '../../domain/errors.ts';
import { newId } from '../../domain/ids.ts';
import { principalRoom, tokenRoom, type Clock, type Identity } from '../../domain/identity.ts';
import type { Role, ShippingAddress } from '../../domain/types.ts';
import type { ClientControl } from '../../kernel/module.ts';
import type { AccountRepo, AccountRow, AddressRow } from './account.repo.ts';
import { isUniqueViolation } from '../../kernel/db/db.ts';
import { DECOY_HASH, hashPassword, verifyPassword } from './passwords.ts';

export interface CustomerView {
  readonly id: string;
  readonly email: string;
  readonly name: string;
  readonly role: Role;
  readonly createdAt: number;
}

/** The domain events of the identity module: an account was opened by registration (the welcome mail follows it). */
export type IdentityEmitted = { readonly type: 'customer.registered'; readonly customerId: string };

declare module '../../kernel/registry.ts' {
  interface DomainEvents {
    readonly identity: IdentityEmitted;
  }
}

const TOKEN_TTL = { guest: '30d', customer: '7d', staff: '12h', admin: '12h' } as const satisfies Record<Role, string>;

function customerView(row: AccountRow): CustomerView {
  return { id: row.id, email: row.email, name: row.name, role: row.role, createdAt: Number(row.created_at) };
}

const normalizeEmail = (email: string) => email.trim().toLowerCase();

/** An entry of a customer's address book. */
export interface AddressView extends ShippingAddress {
  readonly id: string;
  readonly label: string;
  readonly isDefault: boolean;
}

function addressView(row: AddressRow): AddressView {
  return {
    id: row.id,
    label: row.label,
    name: row.name,
    line1: row.line1,
    ...(row.line2 ? { line2: row.line2 } : {}),
    city: row.city,
    postalCode: row.postal_code,
    country: row.country,
    isDefault: Boolean(row.is_default),
  };
}

/** At most this many addresses per customer. */
export const MAX_ADDRESSES = 20;

const signedIn = (identity: Identity) => {
  if (identity.role === 'guest') throw new AppError('FORBIDDEN', 'sign in to an account first');
  return identity.sub;
};

export class AuthService {
  private readonly key: Uint8Array;

  constructor(
    secret: string,
    private readonly clock: Clock,
    private readonly accounts: AccountRepo,
    /** The connected clients: logout and the end of every session disconnect their sockets. Absent in the command-line tools. */
    private readonly clients?: ClientControl,
    /** Lifetime of new tokens by role, in seconds (tests shorten it). */
    private readonly ttlSeconds: Partial<Record<Role, number>> = {},
    private readonly logger?: { warn(object: object, message: string): void },
  ) {
    this.key = new TextEncoder().encode(secret);
  }

  /** A token for an anonymous shopper; its carts follow it into an account at login. */
  async guest(): Promise<{ token: string; identity: Identity }> {
    const identity: Identity = { sub: newId('guest'), role: 'guest' };
    return { token: await this.issue(identity), identity };
  }

  async register(input: { email: string; password: string; name: string }): Promise<{ token: string; customer: CustomerView }> {
    const email = normalizeEmail(input.email);
    if (await this.accounts.findByEmail(email)) throw new AppError('CONFLICT', 'an account with this email already exists');
    const now = this.clock();
    const id = newId('cus');
    const registered: IdentityEmitted = { type: 'customer.registered', customerId: id };
    const row = await this.accounts.insert(
      { id, email, name: input.name.trim(), password_hash: await hashPassword(input.password), role: 'customer', created_at: now, updated_at: now },
      [{ actorId: id, kind: 'customer', payload: registered }],
    );
    // Two registrations raced past the check above; the unique index decided.
    if (!row) throw new AppError('CONFLICT', 'an account with this email already exists');
    const customer = customerView(row);
    return { token: await this.issue(this.identityOf(customer)), customer };
  }

  async login(input: { email: string; password: string }): Promise<{ token: string; customer: CustomerView }> {
    const row = await this.accounts.findByEmail(normalizeEmail(input.email));
    const valid = await verifyPassword(input.password, row?.password_hash ?? DECOY_HASH);
    if (!row || !valid) throw new AppError('UNAUTHORIZED', 'email or password is wrong');
    const customer = customerView(row);
    return { token: await this.issue(this.identityOf(customer)), customer };
  }

  async getCustomer(id: string): Promise<CustomerView | undefined> {
    const row = await this.accounts.findById(id);
    return row ? customerView(row) : undefined;
  }

  /** Creates the account with `role`, or updates its password, name and role when the email exists. */
  async upsertAccount(input: { email: string; password: string; name: string; role: Exclude<Role, 'guest'> }): Promise<CustomerView> {
    const email = normalizeEmail(input.email);
    const now = this.clock();
    const row = await this.accounts.upsertByEmail({
      id: newId('cus'),
      email,
      name: input.name,
      password_hash: await hashPassword(input.password),
      role: input.role,
      created_at: now,
      updated_at: now,
    });
    return customerView(row);
  }

  async issue(identity: Identity): Promise<string> {
    const now = this.clock();
    // The issue instant in ms too: a session cut-off (`tokens_valid_after`) is compared with it exactly.
    const claims: Record<string, unknown> = { role: identity.role, iat_ms: now };
    if (identity.name) claims.name = identity.name;
    if (identity.email) claims.email = identity.email;
    const ttl = this.ttlSeconds[identity.role];
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(identity.sub)
      .setJti(newId('tok'))
      .setIssuedAt(Math.floor(now / 1000))
      .setExpirationTime(ttl === undefined ? TOKEN_TTL[identity.role] : Math.floor(now / 1000) + ttl)
      .setIssuer('emporium')
      .sign(this.key);
  }

  /** Ends this token's session: it is refused from now on, and the sockets that connected with it are disconnected, on every node. */
  async logout(identity: Identity): Promise<void> {
    if (!identity.tokenId) return;
    await this.accounts.revoke(identity.tokenId, identity.sub, identity.expiresAt ?? this.clock() + 31 * 86_400_000);
    this.clients?.disconnect([tokenRoom(identity.tokenId)]);
  }

  /** Changes the name, or the e-mail (which needs the password); answers the account and a token that carries the new details. */
  async updateProfile(identity: Identity, input: { name?: string | undefined; email?: string | undefined; currentPassword?: string | undefined }) {
    const row = await this.account(signedIn(identity));
    const fields: { name?: string; email?: string } = {};
    if (input.name !== undefined) fields.name = input.name.trim();
    if (input.email !== undefined && normalizeEmail(input.email) !== row.email) {
      if (!input.currentPassword || !(await verifyPassword(input.currentPassword, row.password_hash))) {
        throw new AppError('UNAUTHORIZED', 'changing the e-mail needs the current password');
      }
      const email = normalizeEmail(input.email);
      if (await this.accounts.findByEmail(email)) throw new AppError('CONFLICT', 'an account with this email already exists');
      fields.email = email;
    }
    const updated = Object.keys(fields).length === 0 ? row : await this.updateOrConflict(row.id, { ...fields, updated_at: this.clock() });
    const customer = customerView(updated);
    return { customer, token: await this.issue(this.identityOf(customer)) };
  }

  /** Changes the password and ends every other session of the account (their sockets are disconnected); answers a fresh token. */
  async changePassword(identity: Identity, input: { currentPassword: string; newPassword: string }): Promise<{ token: string }> {
    const row = await this.account(signedIn(identity));
    if (!(await verifyPassword(input.currentPassword, row.password_hash))) throw new AppError('UNAUTHORIZED', 'the current password is wrong');
    // Hashed first, the cut-off taken after: a login that checked the old password meanwhile got an older token.
    const passwordHash = await hashPassword(input.newPassword);
    const now = this.clock();
    await this.accounts.update(row.id, { password_hash: passwordHash, tokens_valid_after: now, updated_at: now });
    this.clients?.disconnect([principalRoom(row.id)]);
    return { token: await this.issue(this.identityOf(customerView(row))) };
  }

  /**
   * Deletes the account: the password is checked, personal data (e-mail, name, addresses) is removed, every
   * session ends. The caller anonymises what other modules hold (orders, carts, shipments) first.
   */
  async deleteAccount(identity: Identity, password: string, anonymiseElsewhere: (customerId: string) => Promise<void>): Promise<void> {
    const row = await this.account(signedIn(identity));
    if (!(await verifyPassword(password, row.password_hash))) throw new AppError('UNAUTHORIZED', 'the password is wrong');
    await anonymiseElsewhere(row.id);
    await this.accounts.anonymize(row.id, this.clock(), await hashPassword(newId('gone')));
    this.clients?.disconnect([principalRoom(row.id)]);
  }

  async addresses(identity: Identity): Promise<AddressView[]> {
    return (await this.accounts.addresses(signedIn(identity))).map(addressView);
  }

  /** Adds an address (no `id`) or replaces one; the first address, or one saved with `makeDefault`, is the default. */
  async saveAddress(identity: Identity, input: ShippingAddress & { id?: string | undefined; label?: string | undefined; makeDefault?: boolean | undefined }) {
    const customerId = signedIn(identity);
    const existing = await this.accounts.addresses(customerId);
    if (input.id && !existing.some((row) => row.id === input.id)) throw new AppError('NOT_FOUND', `address ${input.id} does not exist`);
    if (!input.id && existing.length >= MAX_ADDRESSES) throw new AppError('VALIDATION', `an address book holds at most ${MAX_ADDRESSES} addresses`);
    const now = this.clock();
    const makeDefault = input.makeDefault === true || existing.length === 0 || existing.every((row) => !row.is_default);
    const current = existing.find((row) => row.id === input.id);
    await this.accounts.saveAddress(
      {
        id: input.id ?? newId('addr'),
        customer_id: customerId,
        label: input.label?.trim() ?? current?.label ?? '',
        name: input.name,
        line1: input.line1,
        line2: input.line2 ?? null,
        city: input.city,
        postal_code: input.postalCode,
        country: input.country,
        is_default: makeDefault || Boolean(current?.is_default),
        created_at: current ? Number(current.created_at) : now,
        updated_at: now,
      },
      makeDefault,
    );
    return this.addresses(identity);
  }

  /** Deletes an address; when it was the default, the oldest remaining one becomes the default. */
  async deleteAddress(identity: Identity, id: string): Promise<AddressView[]> {
    const customerId = signedIn(identity);
    const before = await this.accounts.addresses(customerId);
    const removed = before.find((row) => row.id === id);
    if (!removed || !(await this.accounts.deleteAddress(customerId, id))) throw new AppError('NOT_FOUND', `address ${id} does not exist`);
    const rest = before.filter((row) => row.id !== id);
    if (removed.is_default && rest[0]) await this.accounts.saveAddress({ ...rest[0], is_default: true, updated_at: this.clock() }, true);
    return this.addresses(identity);
  }

  /** The customer's default shipping address, for a checkout that names none. */
  async defaultAddress(customerId: string): Promise<ShippingAddress | null> {
    const row = (await this.accounts.addresses(customerId)).find((address) => address.is_default);
    if (!row) return null;
    const { id: _id, label: _label, isDefault: _default, ...address } = addressView(row);
    return address;
  }

  /**
   * The session is still open: not logged out, the account not deleted, the token not older than the last password
   * change. With the database away this cannot be told, and the token is taken on its signature (logged): a client
   * must be able to reconnect through an outage, and nothing it sends can run until the database is back anyway.
   */
  private async checkSession(sub: string, role: Role, tokenId: string | undefined, issuedAt: number): Promise<void> {
    try {
      if (tokenId && (await this.accounts.isRevoked(tokenId))) throw new AppError('UNAUTHORIZED', 'token revoked (logged out)');
      if (role === 'guest') return;
      const account = await this.accounts.findById(sub);
      if (!account || account.deleted_at != null) throw new AppError('UNAUTHORIZED', 'this account no longer exists');
      if (issuedAt < Number(account.tokens_valid_after ?? 0)) throw new AppError('UNAUTHORIZED', 'token revoked (the password changed)');
    } catch (error) {
      if (error instanceof AppError) throw error;
      this.logger?.warn({ err: error, sub }, 'could not check whether the session is still open; accepting the token on its signature');
    }
  }

  private async account(id: string): Promise<AccountRow> {
    const row = await this.accounts.findById(id);
    if (!row || row.deleted_at != null) throw new AppError('UNAUTHORIZED', 'this account no longer exists');
    return row;
  }

  private async updateOrConflict(id: string, fields: Parameters<AccountRepo['update']>[1]): Promise<AccountRow> {
    try {
      return await this.accounts.update(id, fields);
    } catch (error) {
      if (isUniqueViolation(error)) throw new AppError('CONFLICT', 'an account with this email already exists');
      throw error;
    }
  }

  /** Verifies a bearer token; `UNAUTHORIZED` when it is missing, forged or expired. */
  async verify(token: unknown): Promise<Identity> {
    if (typeof token !== 'string' || token.length === 0 || token.length > 4096) throw new AppError('UNAUTHORIZED', 'a token is required');
    try {
      // Every token must expire: one without `exp` would be good forever.
      const { payload } = await jwtVerify(token, this.key, {
        issuer: 'emporium',
        algorithms: ['HS256'],
        requiredClaims: ['exp'],
        currentDate: new Date(this.clock()),
      });
      const role = payload.role;
      if (typeof payload.sub !== 'string' || !isRole(role)) throw new AppError('UNAUTHORIZED', 'token has no valid subject or role');
      const tokenId = typeof payload.jti === 'string' ? payload.jti : undefined;
      // An account's token from before sessions could be ended (no jti) could never be logged out: sign in again.
      if (!tokenId && role !== 'guest') throw new AppError('UNAUTHORIZED', 'token is from an older version; sign in again');
      await this.checkSession(payload.sub, role, tokenId, typeof payload.iat_ms === 'number' ? payload.iat_ms : (payload.iat ?? 0) * 1000);
      return {
        sub: payload.sub,
        role,
        name: typeof payload.name === 'string' ? payload.name : undefined,
        email: typeof payload.email === 'string' ? payload.email : undefined,
        tokenId,
        expiresAt: payload.exp === undefined ? undefined : payload.exp * 1000,
      };
    } catch (error) {
      if (error instanceof AppError) throw error;
      const reason =
        error instanceof joseErrors.JWTExpired
          ? 'token expired'
          : error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'exp' && error.reason === 'missing'
            ? 'token has no expiry (exp); get a new one'
            : 'token is not valid';
      throw new AppError('UNAUTHORIZED', reason, { cause: error });
    }
  }

  private identityOf(customer: CustomerView): Identity {
    return { sub: customer.id, role: customer.role, name: customer.name, email: customer.email };
  }
}

function isRole(value: unknown): value is Role {
  return value === 'guest' || value === 'customer' || value === 'staff' || value === 'admin';
}
