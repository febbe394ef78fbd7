// The actor inspector for staff and admins: counts by kind and state, a search over every actor, one actor's
// journal replayed through its machine and checked against its stored snapshot, its outbox deliveries, and
// (admins) a parked delivery put back in line. Reads only, but for the requeue.
import type { Logger } from 'pino';
import { AppError } from '../../domain/errors.ts';
import type { Identity } from '../../domain/identity.ts';
import { leafStates, machineGraph } from '../../kernel/actors/machine-graph.ts';
import { replayStoredActor, type ReplayedVersion, type StoredActorReplay } from '../../kernel/actors/replay.ts';
import type { ActorRepo, ActorRow, JournalEntry } from '../../kernel/db/actor.repo.ts';
import type { ActorOutboxRow, OutboxRepo } from '../../kernel/db/outbox.repo.ts';
import type { AppRuntime } from '../../kernel/registry.ts';
import type { ActorSummary, InspectorSummary, TimelineEntry, WarehouseResults } from '../../protocol/index.ts';

export interface InspectorDeps {
  readonly runtime: AppRuntime;
  readonly actors: ActorRepo;
  readonly outbox: OutboxRepo;
  readonly clock: () => number;
  readonly logger: Pick<Logger, 'info'>;
  /** Asks the outbox relay to deliver soon (after a requeue). */
  readonly nudgeRelay: () => void;
}

/** A listing cursor: the creation time and id of a page's last actor, opaque to clients. */
function encodeCursor(row: Pick<ActorRow, 'createdAt' | 'id'>): string {
  return Buffer.from(JSON.stringify([row.createdAt, row.id])).toString('base64url');
}

function decodeCursor(cursor: string | undefined): { createdAt: number; id: string } | undefined {
  if (cursor === undefined) return undefined;
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    // An id's characters only: the id goes into a query, and PostgreSQL refuses NUL in text.
    if (typeof createdAt === 'number' && Number.isSafeInteger(createdAt) && typeof id === 'string' && /^[A-Za-z0-9_.:-]{1,100}$/.test(id))
      return { createdAt, id };
  } catch {
    // not ours
  }
  throw new AppError('VALIDATION', 'before: not a cursor this server gave out');
}

export function actorSummary(row: ActorRow): ActorSummary {
  return {
    id: row.id,
    kind: row.kind,
    state: row.state,
    version: row.version,
    ownerId: row.ownerId,
    status: row.status,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

function timelineEntry(entry: JournalEntry, replayed: ReplayedVersion | undefined): TimelineEntry {
  return {
    version: entry.version,
    at: entry.at,
    event: replayed?.event ?? (entry.event as TimelineEntry['event']),
    state: replayed?.state ?? null,
    changed: replayed?.changed ?? [],
    redacted: replayed?.redacted ?? false,
  };
}

export class InspectorService {
  constructor(private readonly deps: InspectorDeps) {}

  /** Actors by kind and state: every state the machine can rest in (0 included), then any other stored state. */
  async summary(): Promise<InspectorSummary> {
    const counts = await this.deps.actors.countsByKindAndState();
    const kinds = new Map<string, Map<string, number>>();
    for (const kind of this.deps.runtime.kindNames().sort()) {
      const definition = this.deps.runtime.kindDefinition(kind)!;
      kinds.set(kind, new Map(leafStates(machineGraph(definition.machine)).map((state) => [state, 0])));
    }
    for (const { kind, state, count } of counts) {
      let states = kinds.get(kind);
      if (!states) kinds.set(kind, (states = new Map()));
      states.set(state, (states.get(state) ?? 0) + count);
    }
    const list = [...kinds]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([kind, states]) => {
        const entries = [...states].map(([state, count]) => ({ state, count }));
        return { kind, total: entries.reduce((sum, entry) => sum + entry.count, 0), states: entries };
      });
    return { total: list.reduce((sum, kind) => sum + kind.total, 0), kinds: list, at: this.deps.clock() };
  }

  /** Every actor, newest first, filtered by kind, state and `q` (an id prefix or an owner id), a page at a time. */
  async search(query: {
    kind?: string | undefined;
    state?: string | undefined;
    q?: string | undefined;
    limit?: number | undefined;
    before?: string | undefined;
  }): Promise<WarehouseResults['inspect:actors']> {
    const limit = query.limit ?? 50;
    const rows = await this.deps.actors.search({ kind: query.kind, state: query.state, q: query.q, limit: limit + 1, before: decodeCursor(query.before) });
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return { actors: page.map(actorSummary), nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
  }

  /** One actor: its row, its machine drawn with the current state, its journal replayed (the newest `limit` entries) and the snapshot check. */
  async actor(id: string, limit = 1000): Promise<WarehouseResults['inspect:actor']> {
    const { row, entries, kind, replay } = await this.replayed(id);
    return {
      actor: { ...actorSummary(row), machineVersion: row.machineVersion, context: row.persisted.context },
      machine: { ...machineGraph(kind.machine), current: row.state },
      timeline: entries.slice(-limit).map((entry) => timelineEntry(entry, replay.at(entry.version))),
      journalLength: entries.length,
      check: replay.check!,
    };
  }

  /** The actor at `version`, rebuilt by replaying its journal, and whether the whole replay matches the stored snapshot. */
  async replayAt(id: string, version: number): Promise<WarehouseResults['inspect:replay']> {
    const { row, replay } = await this.replayed(id);
    const at = replay.at(version);
    if (!at) {
      if (version > row.version) throw new AppError('NOT_FOUND', `${row.kind} ${id} has versions 1 to ${row.version}`);
      // A compacted journal (retention) says so: its message and `details.compacted`, never a mismatch.
      throw new AppError('NOT_FOUND', `${row.kind} ${id} v${version} cannot be rebuilt: ${replay.check?.mismatch?.message ?? replay.failure?.message}`, {
        details: { failure: replay.failure, ...(replay.check?.compacted ? { compacted: replay.check.compacted } : {}) },
      });
    }
    const { value: _value, ...replayed } = at;
    return { id, kind: row.kind, replayed, check: replay.check! };
  }

  /** The actor's outbox rows (its domain events) with each flow's delivery. */
  async deliveries(id: string, limit = 200): Promise<WarehouseResults['inspect:deliveries']> {
    return { id, rows: await this.deps.outbox.ofActor(id, limit) };
  }

  /** Admins only: puts one parked delivery back in line (attempts reset); a running relay delivers it. */
  async retry(identity: Identity, seq: number, flow: string): Promise<{ row: ActorOutboxRow }> {
    if (identity.role !== 'admin') throw new AppError('FORBIDDEN', 'only an admin may retry a delivery');
    const requeued = await this.deps.outbox.requeueParked({ seq, flow });
    const row = await this.deps.outbox.row(seq);
    if (requeued === 0) {
      const delivery = row?.deliveries.find((d) => d.flow === flow);
      if (!delivery) throw new AppError('NOT_FOUND', `outbox row ${seq} has no delivery to flow ${flow}`);
      throw new AppError('INVALID_TRANSITION', `the delivery of outbox row ${seq} to ${flow} is ${delivery.state}, not parked`, {
        details: { state: delivery.state },
      });
    }
    this.deps.logger.info({ seq, flow, by: identity.sub }, 'parked delivery requeued from the inspector');
    this.deps.nudgeRelay();
    return { row: row! };
  }

  private async replayed(id: string): Promise<StoredActorReplay> {
    const found = await replayStoredActor(this.deps.actors, (kind) => this.deps.runtime.kindDefinition(kind), id);
    if (!found) throw new AppError('NOT_FOUND', `actor ${id} does not exist`);
    return found;
  }
}
