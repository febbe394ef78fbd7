// Erasing a customer's personal data from actors: every actor a customer owns, and a deep eraser for the fields
// that carry personal data (snapshots and journal events alike).
import type { ActorRepo, ActorRow } from './db/actor.repo.ts';
import type { AppKind, AppRuntime } from './registry.ts';

/** A function that returns `value` with every property named in `keys`, at any depth, set to null. */
export function erasingKeys(keys: readonly string[]): <T>(value: T) => T {
  const names = new Set(keys);
  const erase = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(erase);
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, names.has(key) && inner !== null ? null : erase(inner)]));
    }
    return value;
  };
  return <T>(value: T) => erase(value) as T;
}

/** Every actor of `kind` that `ownerId` owns, newest first, read a page at a time. */
export async function ownedActors(actors: ActorRepo, ownerId: string, kind: string): Promise<ActorRow[]> {
  const all: ActorRow[] = [];
  for (let before: { createdAt: number; id: string } | undefined; ; ) {
    const page = await actors.listByOwner(ownerId, kind, { limit: 200, before });
    all.push(...page);
    const last = page.at(-1);
    if (page.length < 200 || !last) return all;
    before = { createdAt: last.createdAt, id: last.id };
  }
}

/** Erases `keys` (at any depth) from every actor of `kind` that `ownerId` owns: its current snapshot and its journal. */
export async function eraseOwned(runtime: AppRuntime, actors: ActorRepo, kind: AppKind, ownerId: string, keys: readonly string[]): Promise<void> {
  const erase = erasingKeys(keys);
  for (const row of await ownedActors(actors, ownerId, kind)) await runtime.redact(kind, row.id, erase, erase);
}
