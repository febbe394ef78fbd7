// Who may see and change which actor: customers only their own; staff the warehouse side.
import { AppError } from '../domain/errors.ts';
import type { Identity } from '../domain/identity.ts';
import type { AppKind } from './registry.ts';

/** Throws `NOT_FOUND` when there is no such actor and `FORBIDDEN` when it belongs to someone else. */
export function ownedBy<T extends { readonly ownerId: string | null }>(identity: Identity, kind: AppKind, id: string, actor: T | undefined): T {
  if (!actor) throw new AppError('NOT_FOUND', `${kind} ${id} does not exist`);
  if (actor.ownerId !== identity.sub) throw new AppError('FORBIDDEN', `${kind} ${id} belongs to someone else`);
  return actor;
}
