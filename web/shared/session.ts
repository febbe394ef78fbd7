// A page's session: its token (kept in localStorage per page, so a reload keeps the cart and the sign-in), the REST
// calls of the auth API, and the typed SDK connection. Every page talks the documented protocol, nothing else.
import { connectStore, connectWarehouse, type StoreConnection, type WarehouseConnection } from '../../src/client/index.ts';

export interface Account {
  readonly id: string;
  readonly email: string;
  readonly name: string;
  readonly role: 'guest' | 'customer' | 'staff' | 'admin';
}

/** An answer of the REST API: `{ ok: false, error }` bodies become `ApiError`s. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export async function api<T>(path: string, options: { method?: 'GET' | 'POST' | 'PATCH' | 'DELETE'; body?: unknown; token?: string | null } = {}): Promise<T> {
  const headers: Record<string, string> = {};
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const response = await fetch(path, { method: options.method ?? 'GET', headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  const text = await response.text();
  const body = text ? (JSON.parse(text) as { ok?: false; error?: { code: string; message: string } }) : {};
  if (!response.ok) throw new ApiError(body.error?.code ?? 'INTERNAL', body.error?.message ?? response.statusText, response.status);
  return body as T;
}

/** The token this page holds, by page (`storefront`, `warehouse`, `inspector`). */
export const tokens = {
  get: (page: string): string | null => localStorage.getItem(`emporium:${page}:token`),
  set: (page: string, token: string | null): void => {
    if (token) localStorage.setItem(`emporium:${page}:token`, token);
    else localStorage.removeItem(`emporium:${page}:token`);
  },
};

/** A guest token, for a visitor who has not signed in. */
export async function guestToken(): Promise<string> {
  return (await api<{ token: string }>('/api/auth/guest', { method: 'POST' })).token;
}

/** Signs in; with the guest's token, the guest's carts follow into the account. */
export function login(email: string, password: string, guest?: string | null) {
  return api<{ token: string; customer: Account }>('/api/auth/login', { method: 'POST', body: { email, password }, token: guest ?? null });
}

export function register(name: string, email: string, password: string, guest?: string | null) {
  return api<{ token: string; customer: Account }>('/api/auth/register', { method: 'POST', body: { name, email, password }, token: guest ?? null });
}

/** Who a token is: its identity, and the account behind it (null for a guest). */
export function me(token: string) {
  return api<{ identity: { sub: string; role: Account['role'] }; customer: Account | null }>('/api/me', { token });
}

export function logout(token: string) {
  return api<unknown>('/api/auth/logout', { method: 'POST', token });
}

export function store(token: string): Promise<StoreConnection> {
  return connectStore(location.origin, { token });
}

export function warehouse(token: string): Promise<WarehouseConnection> {
  return connectWarehouse(location.origin, { token });
}
