// Replay: an actor's journal folded through its machine, rebuilding its state and context at every version, with
// what each event changed and a check of the result against the stored snapshot. `replayJournal` is pure;
// `replayStoredActor` reads the row and the journal through an `ActorRepo` first.
import { isDeepStrictEqual } from 'node:util';
import { initialTransition, type AnyStateMachine, type SnapshotFrom } from 'xstate';
import { AppError } from '../../domain/errors.ts';
import type { ActorRepo, ActorRow, JournalCompaction, JournalEntry, PersistedState } from '../db/actor.repo.ts';
import { stateName } from './kinds.ts';
import { createTransition } from './transition.ts';

/** The journal event the runtime writes when it erases personal data outside the machine (`runtime.redact`). */
export const REDACTED_EVENT = 'emporium.redacted';

/** What a replay needs of a kind: its machine and, to compare with snapshots an older machine wrote, its version and migration. */
export interface ReplayableKind {
  readonly machine: AnyStateMachine;
  readonly machineVersion?: number;
  readonly migrate?: (persisted: PersistedState, fromVersion: number) => PersistedState;
}

/** One change between two JSON values: at `path` (`items[0].quantity`), `before` absent when added, `after` absent when removed. */
export interface ValueChange {
  readonly path: string;
  readonly before?: unknown;
  readonly after?: unknown;
}

/** A journal event as stored: its type and its fields (`at` included). */
export interface JournalEvent {
  readonly type: string;
  readonly [field: string]: unknown;
}

/** The actor as it was at one version, rebuilt by the replay. */
export interface ReplayedVersion {
  readonly version: number;
  /** When the event was applied (the journal row's time). */
  readonly at: number;
  readonly event: JournalEvent;
  /** The state as one string (`checkingOut`, `parent.child`). */
  readonly state: string;
  /** The machine's state value as XState has it. */
  readonly value: unknown;
  /** The context, as plain JSON. */
  readonly context: unknown;
  /** What this event changed in the context (version 1: every key, as added). Small: see `diffValues`. */
  readonly changed: readonly ValueChange[];
  /** An `emporium.redacted` entry: personal data was erased outside the machine; the replay carries state and context through. */
  readonly redacted: boolean;
}

/** Why the replay stopped before the end of the journal. */
export interface ReplayFailure {
  /** The journal version it could not rebuild. */
  readonly version: number;
  /** `compacted`: retention deleted the journal's first versions on purpose (`SnapshotCheck.compacted`); not a fault. */
  readonly reason: 'gap' | 'not-init' | 'refused' | 'threw' | 'compacted';
  readonly message: string;
}

/** The stored row a replay is checked against (an `ActorRow`, or the parts of one a script has). */
export interface StoredSnapshot {
  readonly version: number;
  readonly state: string;
  readonly persisted: PersistedState;
  /** The machine version that wrote it; absent: taken to be the kind's. */
  readonly machineVersion?: number;
}

/** A difference between the replayed and the stored actor. */
export interface SnapshotDifference {
  /** `version`, `state` (the row's column), `value` (the state value), `context.…`, or `machineVersion`. */
  readonly path: string;
  readonly replayed?: unknown;
  readonly stored?: unknown;
}

/** The last replayed version against the stored snapshot. A mismatch is never hidden: `mismatch` says what differs. */
export interface SnapshotCheck {
  readonly matches: boolean;
  readonly storedVersion: number;
  /** The last version the replay rebuilt; 0 when it rebuilt none. */
  readonly replayedVersion: number;
  readonly mismatch: { readonly message: string; readonly differences: readonly SnapshotDifference[] } | null;
  /** What a reader should know to judge the result (a redaction, a migrated snapshot, a compacted journal). */
  readonly notes: readonly string[];
  /**
   * Present when retention deleted the journal's versions 1 to `throughVersion` (at `at`): there is nothing to
   * replay, so `matches` is false with no `mismatch`. The snapshot is intact; this is not corruption.
   */
  readonly compacted?: { readonly throughVersion: number; readonly at: number };
}

export interface ActorReplay {
  /** Every version rebuilt, in order: `versions[i].version === i + 1`. */
  readonly versions: readonly ReplayedVersion[];
  /** Why the replay stopped early; null when it went through the whole journal. */
  readonly failure: ReplayFailure | null;
  /** The replay against the stored snapshot; null when none was given. */
  readonly check: SnapshotCheck | null;
  /** The actor at `version`; undefined when the replay did not get there. */
  at(version: number): ReplayedVersion | undefined;
}

const plain = <T>(value: T): T => (value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T));

/**
 * Replays one actor's journal (`entries`, its versions 1..n in any order) through `kind.machine`:
 * version 1 must be `xstate.init` and is `initialTransition(machine, input)`; every later event is the
 * machine's transition from the version before, exactly as the runtime applied it — an event the machine
 * does not take (the same snapshot back) stops the replay, as does a gap in the versions.
 *
 * - `emporium.redacted` entries (personal data erased by `runtime.redact`) are not replayed: the eraser is the
 *   module's, not the machine's. The replay carries state and context through unchanged and flags the version
 *   `redacted`. The erasure also rewrote every earlier journal event, so the replay already shows erased data.
 * - The journal does not record which machine version applied each event: every event is replayed through
 *   the kind's current machine. A stored snapshot written by an older machine version is brought up with the
 *   kind's `migrate` before the comparison (as the runtime does when it loads one); one written by a newer
 *   machine cannot be compared, which is reported as a mismatch.
 *
 * With `stored`, the last replayed version is checked against it: version, state column, state value and
 * context must all agree, or `check.mismatch` lists the differences.
 *
 * @example
 * const replay = replayJournal(orderKind, await actors.journal(orderId), await actors.load(orderId));
 * replay.at(1)?.context;          // the order as it was created
 * replay.check?.mismatch;         // null, or what the stored snapshot disagrees with
 */
export function replayJournal(kind: ReplayableKind, entries: readonly JournalEntry[], stored?: StoredSnapshot): ActorReplay {
  const sorted = [...entries].sort((x, y) => x.version - y.version);
  const versions: ReplayedVersion[] = [];
  const notes: string[] = [];
  let failure: ReplayFailure | null = null;
  const next = createTransition(kind.machine);
  let snapshot: SnapshotFrom<AnyStateMachine> | undefined;
  let context: unknown;
  for (const entry of sorted) {
    const expected = versions.length + 1;
    const event = asEvent(entry.event);
    if (entry.version !== expected) {
      failure = {
        version: expected,
        reason: 'gap',
        message:
          entry.version < expected
            ? `version ${entry.version} is journaled twice`
            : `version ${expected} is missing from the journal (the next entry is version ${entry.version})`,
      };
      break;
    }
    let redacted = false;
    try {
      if (entry.version === 1) {
        if (event.type !== 'xstate.init') {
          failure = { version: 1, reason: 'not-init', message: `version 1 is ${event.type}, not xstate.init` };
          break;
        }
        [snapshot] = initialTransition(kind.machine, event.input as never);
      } else if (event.type === REDACTED_EVENT) {
        redacted = true;
        notes.push(
          `v${entry.version}: personal data erased (${REDACTED_EVENT}) outside the machine; not replayed, the earlier journal events were erased alike`,
        );
      } else {
        const current = snapshot!;
        const [after] = current.status === 'active' ? next(current as never, event as never) : [current];
        if (after === current) {
          failure = {
            version: entry.version,
            reason: 'refused',
            message: `the machine in ${stateName(current.value)} does not accept the journaled ${event.type} (${JSON.stringify(entry.event)})`,
          };
          break;
        }
        snapshot = after as SnapshotFrom<AnyStateMachine>;
      }
    } catch (error) {
      failure = {
        version: entry.version,
        reason: 'threw',
        message: `the machine threw on ${event.type}: ${error instanceof Error ? error.message : String(error)}`,
      };
      break;
    }
    const nextContext = redacted ? context : plain(snapshot!.context);
    versions.push({
      version: entry.version,
      at: entry.at,
      event,
      state: stateName(snapshot!.value),
      value: plain(snapshot!.value),
      context: nextContext,
      changed: diffValues(entry.version === 1 ? {} : context, nextContext),
      redacted,
    });
    context = nextContext;
  }
  const check = stored ? checkSnapshot(kind, versions, failure, stored, notes) : null;
  return { versions, failure, check, at: (version) => versions[version - 1] };
}

function asEvent(event: unknown): JournalEvent {
  if (event && typeof event === 'object' && typeof (event as { type?: unknown }).type === 'string') return event as JournalEvent;
  return { type: '(malformed)', raw: event };
}

function checkSnapshot(
  kind: ReplayableKind,
  versions: readonly ReplayedVersion[],
  failure: ReplayFailure | null,
  stored: StoredSnapshot,
  notes: string[],
): SnapshotCheck {
  const last = versions.at(-1);
  const replayedVersion = last?.version ?? 0;
  const result = (message: string | null, differences: SnapshotDifference[]): SnapshotCheck => ({
    matches: message === null,
    storedVersion: stored.version,
    replayedVersion,
    mismatch: message === null ? null : { message, differences },
    notes,
  });
  let persisted = stored.persisted;
  const current = kind.machineVersion;
  if (stored.machineVersion !== undefined && current !== undefined && stored.machineVersion !== current) {
    if (stored.machineVersion > current) {
      return result(`the stored snapshot was written by a newer machine (v${stored.machineVersion}) than this one (v${current}): it cannot be checked here`, [
        { path: 'machineVersion', replayed: current, stored: stored.machineVersion },
      ]);
    }
    if (!kind.migrate) {
      return result(`the stored snapshot was written by machine v${stored.machineVersion} and the kind has no migration to v${current}`, [
        { path: 'machineVersion', replayed: current, stored: stored.machineVersion },
      ]);
    }
    persisted = kind.migrate(persisted, stored.machineVersion);
    notes.push(`the stored snapshot was written by machine v${stored.machineVersion}; compared after migrating it to v${current}`);
  }
  const differences: SnapshotDifference[] = [];
  if (replayedVersion !== stored.version) differences.push({ path: 'version', replayed: replayedVersion, stored: stored.version });
  if (last) {
    if (last.state !== stored.state) differences.push({ path: 'state', replayed: last.state, stored: stored.state });
    if (!isDeepStrictEqual(last.value, plain(persisted.value))) differences.push({ path: 'value', replayed: last.value, stored: plain(persisted.value) });
    for (const change of diffValues(last.context, plain(persisted.context))) {
      differences.push({
        path: change.path === '' ? 'context' : `context.${change.path}`,
        ...('before' in change ? { replayed: change.before } : {}),
        ...('after' in change ? { stored: change.after } : {}),
      });
    }
  }
  if (failure) {
    return result(`the replay stopped at v${failure.version} of ${stored.version}: ${failure.message}`, differences);
  }
  if (differences.length === 0) return result(null, []);
  const redactedHint = versions.some((v) => v.redacted) ? ' (the actor was redacted: see notes)' : '';
  const what = differences.map((d) => d.path).join(', ');
  return result(
    replayedVersion === stored.version
      ? `v${stored.version}: the replayed actor differs from the stored snapshot in ${what}${redactedHint}`
      : `the journal replays to v${replayedVersion} but the stored snapshot is v${stored.version}`,
    differences,
  );
}

/** Options of `diffValues`. */
export interface DiffOptions {
  /** How deep to look into objects and arrays before reporting a whole value. @default 4 */
  readonly maxDepth?: number;
  /** Above this many changes, only the changed top-level keys are reported. @default 20 */
  readonly maxChanges?: number;
}

/**
 * What changed from `before` to `after` (plain JSON values), as paths with their old and new values: `total`,
 * `items[1].quantity`, `history[3]` (added). Kept small: below `maxDepth` a changed value is reported whole; an
 * array that changed length is reported by its appended or removed tail when the rest is unchanged, whole
 * otherwise; and past `maxChanges` changes, only the top-level keys that changed are reported.
 *
 * @example
 * diffValues({ total: 500, items: [a] }, { total: 1000, items: [a, b] });
 * // [{ path: 'total', before: 500, after: 1000 }, { path: 'items[1]', after: b }]
 */
export function diffValues(before: unknown, after: unknown, options: DiffOptions = {}): ValueChange[] {
  const maxChanges = options.maxChanges ?? 20;
  const fine = collect(before, after, options.maxDepth ?? 4);
  return fine.length > maxChanges ? collect(before, after, 1) : fine;
}

function collect(before: unknown, after: unknown, maxDepth: number): ValueChange[] {
  const changes: ValueChange[] = [];
  const change = (path: string, a: unknown, b: unknown): void => {
    changes.push({ path, ...(a === undefined ? {} : { before: a }), ...(b === undefined ? {} : { after: b }) });
  };
  const walk = (path: string, a: unknown, b: unknown, depth: number): void => {
    if (isDeepStrictEqual(a, b)) return;
    if (depth < maxDepth && Array.isArray(a) && Array.isArray(b)) {
      if (a.length !== b.length) {
        const [shorter, longer] = a.length < b.length ? [a, b] : [b, a];
        // Appended or removed at the end: only the tail. Anything else: the whole array.
        if (!shorter.every((item, i) => isDeepStrictEqual(item, longer[i]))) {
          change(path, a, b);
          return;
        }
        for (let i = shorter.length; i < longer.length; i++) change(`${path}[${i}]`, a[i], b[i]);
        return;
      }
      for (let i = 0; i < a.length; i++) walk(`${path}[${i}]`, a[i], b[i], depth + 1);
      return;
    }
    if (depth < maxDepth && isRecord(a) && isRecord(b)) {
      for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) walk(join(path, key), a[key], b[key], depth + 1);
      return;
    }
    change(path, a, b);
  };
  walk('', before, after, 0);
  return changes;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** `items` + `total` -> `items.total`; a key that is not an identifier is quoted: `attributes["net weight"]`. */
function join(path: string, key: string): string {
  if (/^[A-Za-z_$][\w$]*$/.test(key)) return path === '' ? key : `${path}.${key}`;
  return `${path}[${JSON.stringify(key)}]`;
}

/** A stored actor, its journal and their replay. */
export interface StoredActorReplay {
  readonly row: ActorRow;
  /** Its journal entries (after a compaction, only those written since: an erasure's, say). */
  readonly entries: readonly JournalEntry[];
  readonly kind: ReplayableKind;
  readonly replay: ActorReplay;
  /** Retention deleted the journal up to a version (src/kernel/retention.ts); null when it never did. */
  readonly compacted: JournalCompaction | null;
}

/**
 * The "replay" of an actor whose journal retention compacted: nothing can be rebuilt without version 1, so no
 * version is, and the check says so plainly (`compacted`, a note, the failure `compacted`) instead of reporting a
 * gap or a mismatch, which would mean corruption.
 */
export function compactedReplay(stored: StoredSnapshot, compaction: JournalCompaction): ActorReplay {
  const message = `the journal was compacted by retention on ${new Date(compaction.at).toISOString()}: versions 1 to ${compaction.throughVersion} are deleted, so there is nothing to replay; the stored snapshot (v${stored.version}) is kept`;
  return {
    versions: [],
    failure: { version: 1, reason: 'compacted', message },
    check: {
      matches: false,
      storedVersion: stored.version,
      replayedVersion: 0,
      mismatch: null,
      notes: [message],
      compacted: { throughVersion: compaction.throughVersion, at: compaction.at },
    },
    at: () => undefined,
  };
}

/**
 * Reads actor `id` and its journal and replays it, checked against the stored row; undefined when there is
 * no such actor. `kindOf` gives the definition of a stored kind (`runtime.kindDefinition`); a kind it does
 * not know is `NOT_FOUND`.
 *
 * @example
 * const found = await replayStoredActor(actors, (kind) => runtime.kindDefinition(kind), 'ord_…');
 * found?.replay.check?.matches;
 */
export async function replayStoredActor(
  repo: ActorRepo,
  kindOf: (kind: string) => ReplayableKind | undefined,
  id: string,
): Promise<StoredActorReplay | undefined> {
  const row = await repo.load(id);
  if (!row) return undefined;
  const kind = kindOf(row.kind);
  if (!kind) throw new AppError('NOT_FOUND', `${id} is of kind ${row.kind}, which this node does not host`);
  // Read after the row: every version up to the row's is in the journal (they commit together); a later one
  // committed in between belongs to a newer row and is left out, so a change under way is no false mismatch.
  // The compaction marker is read after the journal: a compaction committed before the journal read is seen here.
  const journal = await repo.journal(id);
  const compacted = (await repo.journalCompaction(id)) ?? null;
  const entries = journal.filter((entry) => entry.version <= row.version && entry.version > (compacted?.throughVersion ?? 0));
  if (compacted) return { row, entries, kind, replay: compactedReplay(row, compacted), compacted };
  return { row, entries, kind, replay: replayJournal(kind, entries, row), compacted: null };
}
