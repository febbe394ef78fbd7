// Who is calling: the subject of a verified access token.
import type { Role } from './types.ts';

export interface Identity {
  /** A customer id (`cus_…`) or a guest id (`guest_…`). Owns carts, orders and shipments. */
  readonly sub: string;
  readonly role: Role;
  readonly name?: string | undefined;
  readonly email?: string | undefined;
}

export function isStaff(identity: Identity): boolean {
  return identity.role === 'staff' || identity.role === 'admin';
}

export type Clock = () => number;
