// Who is calling: the subject of a verified access token.
import type { Role } from './types.ts';

export interface Identity {
  /** A customer id (`cus_…`) or a guest id (`guest_…`). Owns carts, orders and shipments. */
  readonly sub: string;
  readonly role: Role;
  readonly name?: string | undefined;
  readonly email?: string | undefined;
  /** The token's own id: logging out revokes it, and disconnects the sockets that connected with it. */
  readonly tokenId?: string | undefined;
  /** When the token expires (epoch ms): a socket authenticated with it is disconnected then. */
  readonly expiresAt?: number | undefined;
}

/** The socket rooms every connection joins, so that one principal's or one token's sockets can be disconnected on every node. */
export const principalRoom = (sub: string) => `~principal:${sub}`;
export const tokenRoom = (tokenId: string) => `~token:${tokenId}`;

export function isStaff(identity: Identity): boolean {
  return identity.role === 'staff' || identity.role === 'admin';
}

export type Clock = () => number;
