// The inspector's session: a staff or admin token and its /warehouse connection. The handshake judges who may
// inspect: a guest or customer token is refused there (FORBIDDEN), and the page says so in words, showing nothing.
import { EmporiumError, type WarehouseConnection } from '../../src/client/index.ts';
import { type Account, warehouse } from '../shared/session.ts';
import { describeError } from './format.ts';

export interface Session {
  readonly token: string;
  readonly account: Pick<Account, 'name' | 'role'> & { readonly email?: string };
  readonly conn: WarehouseConnection;
}

/** The sentence a refused customer (or guest) reads. */
export const STAFF_ONLY = 'The actor inspector is for staff and admins only.';

/** Opens the /warehouse connection for `token`; its errors are sentences for the sign-in form. */
export async function openSession(token: string, account: Session['account']): Promise<Session> {
  try {
    return { token, account, conn: await warehouse(token) };
  } catch (error) {
    if (error instanceof EmporiumError && error.code === 'FORBIDDEN') {
      throw new Error(`${STAFF_ONLY} ${account.name || 'This account'} is a ${account.role} account: sign in with a staff or admin account.`);
    }
    if (error instanceof EmporiumError && error.code === 'UNAUTHORIZED') throw new Error(`Your session has ended (${error.message}). Sign in again.`);
    throw new Error(`Could not connect to the inspector: ${describeError(error)}`);
  }
}
