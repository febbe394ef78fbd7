// Accounts and access tokens: guests, registration, login, staff and admin accounts.
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { AppError } from '../../domain/errors.ts';
import { newId } from '../../domain/ids.ts';
import type { Clock, Identity } from '../../domain/identity.ts';
import type { Role } from '../../domain/types.ts';
import type { AccountRepo, AccountRow } from './account.repo.ts';
import { DECOY_HASH, hashPassword, verifyPassword } from './passwords.ts';

export interface CustomerView {
  readonly id: string;
  readonly email: string;
  readonly name: string;
  readonly role: Role;
  readonly createdAt: number;
}

const TOKEN_TTL = { guest: '30d', customer: '7d', staff: '12h', admin: '12h' } as const satisfies Record<Role, string>;

function customerView(row: AccountRow): CustomerView {
  return { id: row.id, email: row.email, name: row.name, role: row.role, createdAt: Number(row.created_at) };
}

const normalizeEmail = (email: string) => email.trim().toLowerCase();

export class AuthService {
  private readonly key: Uint8Array;

  constructor(
    secret: string,
    private readonly clock: Clock,
    private readonly accounts: AccountRepo,
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
    const row = await this.accounts.insert({
      id: newId('cus'),
      email,
      name: input.name.trim(),
      password_hash: await hashPassword(input.password),
      role: 'customer',
      created_at: now,
      updated_at: now,
    });
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
    const claims: Record<string, unknown> = { role: identity.role };
    if (identity.name) claims.name = identity.name;
    if (identity.email) claims.email = identity.email;
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(identity.sub)
      .setIssuedAt(Math.floor(this.clock() / 1000))
      .setExpirationTime(TOKEN_TTL[identity.role])
      .setIssuer('emporium')
      .sign(this.key);
  }

  /** Verifies a bearer token; `UNAUTHORIZED` when it is missing, forged or expired. */
  async verify(token: unknown): Promise<Identity> {
    if (typeof token !== 'string' || token.length === 0 || token.length > 4096) throw new AppError('UNAUTHORIZED', 'a token is required');
    try {
      const { payload } = await jwtVerify(token, this.key, { issuer: 'emporium', algorithms: ['HS256'], currentDate: new Date(this.clock()) });
      const role = payload.role;
      if (typeof payload.sub !== 'string' || !isRole(role)) throw new AppError('UNAUTHORIZED', 'token has no valid subject or role');
      return {
        sub: payload.sub,
        role,
        name: typeof payload.name === 'string' ? payload.name : undefined,
        email: typeof payload.email === 'string' ? payload.email : undefined,
      };
    } catch (error) {
      if (error instanceof AppError) throw error;
      const reason = error instanceof joseErrors.JWTExpired ? 'token expired' : 'token is not valid';
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
