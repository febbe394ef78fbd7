// The actor runtime: load-or-create, per-actor mailbox, durable compare-and-set persistence, deadlines, passivation.
import { Subject } from 'rxjs';
import { initialTransition, type AnyStateMachine, type InputFrom, type SnapshotFrom } from 'xstate';
import { AppError } from '../../domain/errors.ts';
import type { ActorWriter, StoredColumns } from '../db/actor-writer.ts';
import type { ActorRepo, ActorRow, OutboxEntry, PersistedState } from '../db/actor.repo.ts';
import { annotateActiveSpan, currentTraceparent, inSpan } from '../tracing.ts';
import { GroupCommit } from './group-commit.ts';
import { createTransition, type Transition } from './transition.ts';
import { refusedBecause, stateName, type ActorKindDefinition, type CommandEvent } from './kinds.ts';
import { Mailbox } from './mailbox.ts';

/**
 * The machines a runtime hosts, by kind name (`ActorRuntime<{ cart: CartMachine }>`). Kinds are registered by
 * the modules; the runtime names none. Written as a mapped type over `Kinds` so an interface (the application's
 * `ActorKinds` registry, which modules extend) qualifies, not only a type literal.
 */
export type KindMap<Kinds = Record<string, AnyStateMachine>> = { readonly [K in keyof Kinds]: AnyStateMachine };

/** A kind name of `Kinds`. */
export type KindOf<Kinds extends KindMap<Kinds>> = keyof Kinds & string;

/** One actor as it is in memory: its row as stored and its live XState snapshot. */
export interface LiveActor<M extends AnyStateMachine = AnyStateMachine> {
  readonly id: string;
  readonly kind: string;
  readonly version: number;
  readonly state: string;
  readonly ownerId: string | null;
  readonly snapshot: SnapshotFrom<M>;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/**
 * Makes the event to apply from the actor as it is inside its serialized
 * step: throw an `AppError` to refuse, return `null` when there is nothing to do.
 */
export type Decide<M extends AnyStateMachine> = (actor: LiveActor<M>) => CommandEvent<M> | null | Promise<CommandEvent<M> | null>;

/** What `attempt` returns: the actor after the event, or the machine's refusal and the actor it was judged on. */
export type Attempt<M extends AnyStateMachine> =
  | { readonly ok: true; readonly actor: LiveActor<M> }
  | { readonly ok: false; readonly actor: LiveActor<M>; readonly refusal: AppError };

export interface DomainEventRecord {
  readonly type: string;
  readonly [field: string]: unknown;
}

/** Published after each commit, in commit order per actor. */
export interface ActorChange {
  readonly actor: LiveActor;
  readonly kind: string;
  readonly id: string;
  readonly version: number;
  readonly state: string;
  readonly ownerId: string | null;
  readonly context: unknown;
  readonly event: unknown;
  readonly emitted: readonly DomainEventRecord[];
  readonly at: number;
}

export interface RuntimeLogger {
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

export interface ActorRuntimeOptions<Kinds extends KindMap<Kinds>> {
  readonly repo: ActorRepo;
  /** Writes snapshot + journal + outbox of one or many changes in one transaction. */
  readonly writer: ActorWriter;
  /** Commit changes of different actors that arrive together in one transaction. @default true */
  readonly groupCommit?: boolean;
  readonly kinds: { readonly [K in KindOf<Kinds>]: ActorKindDefinition<Kinds[K]> };
  readonly clock: () => number;
  readonly logger: RuntimeLogger;
  /** Reload-and-retry attempts after losing a compare-and-set, before `CONFLICT`. @default 5 */
  readonly maxConflictRetries?: number;
  /** Called after every commit that wrote outbox rows. */
  readonly onOutboxWritten?: () => void;
  /**
   * Other nodes write the same actors: `get` reads the database instead of
   * trusting memory. `send` still starts from memory and reloads when its
   * compare-and-set finds a newer version. @default false
   */
  readonly sharedDatabase?: boolean;
}

interface CacheEntry {
  actor: LiveActor;
  lastUsedAt: number;
  /** The row's indexed columns as stored for `actor.version`, so an update writes only those that change. */
  stored: StoredColumns;
}

const storedColumns = (row: ActorRow): StoredColumns => ({
  machineVersion: row.machineVersion,
  state: row.state,
  status: row.status,
  ownerId: row.ownerId,
  nextDeadlineAt: row.nextDeadlineAt,
});

/**
 * Hosts every cart, order and shipment. `send` is serialized per actor; an
 * accepted event is written (snapshot compare-and-set, journal, outbox) in one
 * transaction before the caller or any subscriber hears of it.
 *
 * @example
 * const cart = await runtime.send('cart', cartId, { type: 'ADD_ITEM', productId, quantity: 1, unitPrice: 1299 });
 */
export class ActorRuntime<Kinds extends KindMap<Kinds>> {
  /** Every committed change, for pushes, projections and the inspector. */
  readonly changes$ = new Subject<ActorChange>();
  private readonly cache = new Map<string, CacheEntry>();
  private readonly mailbox = new Mailbox();
  private readonly maxRetries: number;
  private readonly commits: GroupCommit;
  private readonly transitions: { readonly [K in KindOf<Kinds>]: Transition<Kinds[K]> };

  constructor(private readonly options: ActorRuntimeOptions<Kinds>) {
    this.maxRetries = options.maxConflictRetries ?? 5;
    this.commits = new GroupCommit(options.writer, { enabled: options.groupCommit ?? true });
    const definitions = Object.entries(options.kinds) as Array<[KindOf<Kinds>, ActorKindDefinition<AnyStateMachine>]>;
    this.transitions = Object.fromEntries(definitions.map(([kind, definition]) => [kind, createTransition(definition.machine)])) as {
      readonly [K in KindOf<Kinds>]: Transition<Kinds[K]>;
    };
  }

  /** Compare-and-sets lost to another writer since start (each one cost a reload and a retry). */
  conflicts = 0;

  /** Number of actors in memory right now. */
  get liveCount(): number {
    return this.cache.size;
  }

  /** Actors in memory right now, by kind (kinds with none are absent). */
  liveCountByKind(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const { actor } of this.cache.values()) counts.set(actor.kind, (counts.get(actor.kind) ?? 0) + 1);
    return counts;
  }

  /**
   * Creates the actor with `input`, or returns the existing one with that id
   * (so a retried create is harmless). `created` tells which happened.
   */
  create<K extends KindOf<Kinds>>(kind: K, id: string, input: InputFrom<Kinds[K]>): Promise<{ actor: LiveActor<Kinds[K]>; created: boolean }> {
    return this.step(kind, id, 'create', async () => {
      const existing = await this.load(kind, id);
      if (existing) return { actor: existing, created: false };
      const definition = this.definition(kind);
      const at = this.options.clock();
      const [snapshot, actions] = initialTransition(definition.machine, input);
      const actor = this.toLive(kind, id, 1, snapshot, at, at);
      const row = this.toRow(actor);
      const outbox = this.outboxEntries(kind, id, actions, at);
      const outcome = await this.commits.submit({
        op: 'insert',
        actor: row,
        expectedVersion: 0,
        journal: { actorId: id, kind, version: 1, event: { type: 'xstate.init', input }, at },
        outbox,
      });
      if (outcome instanceof Error) throw outcome;
      if (outcome === 'conflict') {
        // Another node created it between our read and our write.
        const winner = await this.load(kind, id, { fresh: true });
        if (!winner) throw new AppError('CONFLICT', `${kind} ${id} could not be created`);
        return { actor: winner, created: false };
      }
      this.remember(actor, storedColumns(row));
      this.published(actor, { type: 'xstate.init' }, outbox, at);
      annotateActiveSpan({ 'emporium.actor.version': 1, 'emporium.actor.created': true });
      return { actor, created: true };
    });
  }

  /**
   * Applies one event, or the event `decide` makes of the actor as it is when
   * its turn comes (inside the serialized step, so checks and the write see
   * the same state). `decide` may throw an `AppError` to refuse, or return
   * `null` when there is nothing to apply (the actor is returned as it is).
   * Rejects with `NOT_FOUND`, `INVALID_TRANSITION` (nothing written) or
   * `CONFLICT` (lost the compare-and-set `maxConflictRetries` times).
   *
   * With a shared database every refusal and every `null` is judged on the
   * stored state: a decision made on the in-memory copy is made again on a
   * fresh read before it is answered.
   *
   * @example
   * await runtime.send('cart', cartId, (cart) => {
   *   if (!cart.snapshot.context.items.some((line) => line.productId === productId)) throw new AppError('NOT_FOUND', 'not in the cart');
   *   return { type: 'REMOVE_ITEM', productId };
   * });
   */
  async send<K extends KindOf<Kinds>>(kind: K, id: string, eventOrDecide: CommandEvent<Kinds[K]> | Decide<Kinds[K]>): Promise<LiveActor<Kinds[K]>> {
    const outcome = await this.attempt(kind, id, eventOrDecide);
    if (!outcome.ok) throw outcome.refusal;
    return outcome.actor;
  }

  /**
   * `send`, with the machine's refusal returned as a value instead of thrown: an expected outcome for a caller
   * that has something to do about it (a saga step checks whether the refusal was one it expects). `refusal`
   * is the error `send` would throw (the machine's reason, or `INVALID_TRANSITION`); `actor` is the state it
   * was judged on. A refusal by `decide`, `NOT_FOUND` and `CONFLICT` still reject.
   */
  attempt<K extends KindOf<Kinds>>(kind: K, id: string, eventOrDecide: CommandEvent<Kinds[K]> | Decide<Kinds[K]>): Promise<Attempt<Kinds[K]>> {
    const named = typeof eventOrDecide === 'function' ? undefined : (eventOrDecide as { type: string }).type;
    return this.step(kind, id, named, async (): Promise<Attempt<Kinds[K]>> => {
      let fresh = false;
      let lost = 0;
      for (;;) {
        // Another node may have changed the actor since we cached it: whatever is not a write is judged again
        // on the stored state (needless when this turn's copy was just read from the database).
        const judgeAgain = !fresh && this.options.sharedDatabase === true && this.cache.has(id);
        const current = await this.load(kind, id, { fresh });
        fresh = true;
        if (!current) throw new AppError('NOT_FOUND', `${kind} ${id} does not exist`);
        let event: CommandEvent<Kinds[K]> | null;
        try {
          event = typeof eventOrDecide === 'function' ? await (eventOrDecide as Decide<Kinds[K]>)(current) : eventOrDecide;
        } catch (error) {
          if (judgeAgain) continue;
          throw error;
        }
        if (event === null) {
          if (judgeAgain) continue;
          annotateActiveSpan({ 'emporium.actor.version': current.version, 'emporium.actor.outcome': 'unchanged' });
          return { ok: true, actor: current };
        }
        if (named === undefined) {
          const type = (event as { type: string }).type;
          annotateActiveSpan({ 'emporium.actor.event': type }, `actor ${kind} ${type}`);
        }
        const at = this.options.clock();
        const stamped = { ...(event as object), at } as never;
        const snapshot = current.snapshot as SnapshotFrom<AnyStateMachine>;
        // An event the machine does not take (no enabled transition, or every guard false) leaves the very same snapshot.
        const [next, actions] = snapshot.status === 'active' ? this.transitions[kind](snapshot as never, stamped) : [snapshot, []];
        if (next === snapshot) {
          if (judgeAgain) continue;
          // The machine may say why (a business rule); otherwise the event simply does not apply in this state.
          const why = this.definition(kind).refusal?.(snapshot as never, stamped);
          const refusal = why
            ? refusedBecause(why)
            : new AppError('INVALID_TRANSITION', `${kind} in state ${current.state} does not accept ${(event as { type: string }).type}`, {
                details: { state: current.state, event: (event as { type: string }).type },
              });
          annotateActiveSpan({ 'emporium.actor.version': current.version, 'emporium.actor.outcome': 'refused', 'emporium.error.code': refusal.code });
          return { ok: false, actor: current, refusal };
        }
        const actor = this.toLive(kind, id, current.version + 1, next as SnapshotFrom<AnyStateMachine>, current.createdAt, at);
        const outbox = this.outboxEntries(kind, id, actions, at);
        if (!(await this.commitUpdate(actor, current.version, stamped, outbox, at))) {
          annotateActiveSpan({ 'emporium.actor.conflicts': lost + 1 });
          if (++lost > this.maxRetries) throw new AppError('CONFLICT', `${kind} ${id} is being changed elsewhere; try again`);
          continue;
        }
        annotateActiveSpan({ 'emporium.actor.version': actor.version, 'emporium.actor.outcome': 'applied' });
        return { ok: true, actor };
      }
    });
  }

  /**
   * Erases personal data from one actor, in any state (final ones too): its context is rewritten by
   * `redactContext` — not through its machine, which has no event for it — as a new version with the journal
   * event `emporium.redacted`, and every earlier journal event is rewritten by `redactEvent`. Watchers get the
   * redacted view. Undefined when there is no such actor.
   */
  redact<K extends KindOf<Kinds>>(
    kind: K,
    id: string,
    redactContext: (context: SnapshotFrom<Kinds[K]>['context']) => SnapshotFrom<Kinds[K]>['context'],
    redactEvent: (event: unknown) => unknown,
  ): Promise<LiveActor<Kinds[K]> | undefined> {
    return this.mailbox.run(id, async () => {
      for (let lost = 0; ; ) {
        const current = await this.load(kind, id, { fresh: true });
        if (!current) return undefined;
        const definition = this.definition(kind);
        const snapshot = current.snapshot as SnapshotFrom<AnyStateMachine>;
        const next = definition.machine.resolveState({
          value: snapshot.value,
          context: redactContext(snapshot.context),
        } as never) as SnapshotFrom<AnyStateMachine>;
        const at = this.options.clock();
        const actor = this.toLive(kind, id, current.version + 1, next, current.createdAt, at);
        const event = { type: 'emporium.redacted', at };
        if (!(await this.commitUpdate(actor, current.version, event, [], at))) {
          if (++lost > this.maxRetries) throw new AppError('CONFLICT', `${kind} ${id} is being changed elsewhere; try again`);
          continue;
        }
        await this.options.repo.redactJournal(id, redactEvent);
        return actor;
      }
    });
  }

  /**
   * The actor as last committed; undefined when there is none. With a shared
   * database it is read from the database every time, so it is never older
   * than a version any node has acknowledged.
   */
  async get<K extends KindOf<Kinds>>(kind: K, id: string): Promise<LiveActor<Kinds[K]> | undefined> {
    return this.load(kind, id, { fresh: this.options.sharedDatabase === true });
  }

  /** Rebuilds a live actor from a stored row, e.g. for listings that read many rows at once. */
  fromRow<K extends KindOf<Kinds>>(kind: K, row: ActorRow): LiveActor<Kinds[K]> {
    const definition = this.definition(kind);
    const persisted = this.migrated(definition, row);
    const snapshot = definition.machine.resolveState(persisted as never) as SnapshotFrom<Kinds[K]>;
    return {
      id: row.id,
      kind,
      version: row.version,
      state: row.state,
      ownerId: row.ownerId,
      snapshot,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    };
  }

  /**
   * Delivers the timeout event of every actor whose deadline has passed. Runs
   * after a restart too, which is how deadlines survive one.
   */
  async sweepDeadlines(limit = 200): Promise<number> {
    const due = await this.options.repo.due(this.options.clock(), limit);
    let delivered = 0;
    for (const { id, kind: stored } of due) {
      // A kind this node does not host (a newer node's, during a rolling upgrade) is left to the nodes that do.
      if (!this.hosts(stored)) continue;
      const kind = stored;
      try {
        const actor = await this.load(kind, id, { fresh: true });
        const deadline = actor ? this.definition(kind).deadlineOf(actor.snapshot as never) : null;
        if (!deadline || deadline.at > this.options.clock()) continue;
        await this.send(kind, id, deadline.event as never);
        delivered++;
      } catch (error) {
        // Another node delivered it first, or the actor moved on: nothing to do.
        if (error instanceof AppError && (error.code === 'INVALID_TRANSITION' || error.code === 'CONFLICT')) continue;
        this.options.logger.error({ err: error, kind, id }, 'deadline delivery failed');
      }
    }
    return delivered;
  }

  /** Whether `kind` is registered with this runtime. */
  hosts(kind: string): kind is KindOf<Kinds> {
    return Object.hasOwn(this.options.kinds, kind);
  }

  /** The kinds this runtime hosts, by name. */
  kindNames(): string[] {
    return Object.keys(this.options.kinds);
  }

  /** The definition of `kind` (machine, version, migration) for replay and inspection; undefined when this node does not host it. */
  kindDefinition(kind: string): ActorKindDefinition | undefined {
    return this.hosts(kind) ? (this.options.kinds[kind] as unknown as ActorKindDefinition) : undefined;
  }

  /** Drops actors idle for `idleMs` or longer from memory (`0`: every idle one); they come back from the database on next use. */
  passivate(idleMs: number): number {
    const cutoff = this.options.clock() - idleMs;
    let dropped = 0;
    for (const [id, entry] of this.cache) {
      if (entry.lastUsedAt <= cutoff && !this.mailbox.isBusy(id)) {
        this.cache.delete(id);
        dropped++;
      }
    }
    return dropped;
  }

  /** Forgets the in-memory copy so the next use reads the database (used when another node changed it). */
  evict(id: string): void {
    if (!this.mailbox.isBusy(id)) this.cache.delete(id);
  }

  /** Waits for every queued command to finish. */
  drain(): Promise<void> {
    return this.mailbox.drain();
  }

  private definition<K extends KindOf<Kinds>>(kind: K): ActorKindDefinition<Kinds[K]> {
    return this.options.kinds[kind];
  }

  private async load<K extends KindOf<Kinds>>(kind: K, id: string, options: { fresh?: boolean } = {}): Promise<LiveActor<Kinds[K]> | undefined> {
    const cached = options.fresh ? undefined : this.cache.get(id);
    if (cached) {
      cached.lastUsedAt = this.options.clock();
      return cached.actor.kind === kind ? (cached.actor as LiveActor<Kinds[K]>) : undefined;
    }
    const row = await this.options.repo.load(id);
    if (!row || row.kind !== kind) return undefined;
    const actor = this.fromRow(kind, row);
    this.remember(actor, storedColumns(row));
    return actor;
  }

  private migrated(definition: ActorKindDefinition, row: ActorRow): PersistedState {
    if (row.machineVersion === definition.machineVersion) return row.persisted;
    if (row.machineVersion > definition.machineVersion) {
      throw new AppError('INTERNAL', `${row.kind} ${row.id} was written by a newer machine (v${row.machineVersion})`);
    }
    if (!definition.migrate) {
      throw new AppError('INTERNAL', `${row.kind} v${row.machineVersion} snapshots have no migration to v${definition.machineVersion}`);
    }
    return definition.migrate(row.persisted, row.machineVersion);
  }

  private toLive<K extends KindOf<Kinds>>(
    kind: K,
    id: string,
    version: number,
    snapshot: SnapshotFrom<AnyStateMachine>,
    createdAt: number,
    updatedAt: number,
  ): LiveActor<Kinds[K]> {
    const definition = this.definition(kind);
    return {
      id,
      kind,
      version,
      state: stateName(snapshot.value),
      ownerId: definition.ownerOf(snapshot as never),
      snapshot: snapshot as SnapshotFrom<Kinds[K]>,
      createdAt,
      updatedAt,
    };
  }

  private toRow(actor: LiveActor): ActorRow {
    const definition = this.definition(actor.kind as KindOf<Kinds>);
    const snapshot = actor.snapshot as SnapshotFrom<AnyStateMachine>;
    const deadline = snapshot.status === 'active' ? definition.deadlineOf(snapshot as never) : null;
    return {
      id: actor.id,
      kind: actor.kind,
      version: actor.version,
      machineVersion: definition.machineVersion,
      state: actor.state,
      status: snapshot.status === 'active' ? 'active' : 'done',
      ownerId: actor.ownerId,
      persisted: { value: snapshot.value, context: snapshot.context },
      nextDeadlineAt: deadline?.at ?? null,
      createdAt: actor.createdAt,
      updatedAt: actor.updatedAt,
    };
  }

  /** The domain events of a step, each carrying the step's trace context: the flows that consume it continue the trace. */
  private outboxEntries(kind: string, id: string, actions: readonly { type: string }[], at: number): OutboxEntry[] {
    const events = actions
      .filter((action) => action.type === 'xstate.emit')
      .map((action) => (action as unknown as { params: { event: DomainEventRecord } }).params.event);
    if (events.length === 0) return [];
    const traceparent = currentTraceparent();
    return events.map((event) => ({ actorId: id, kind, type: event.type, payload: event, createdAt: at, traceparent }));
  }

  /** One step of an actor in its mailbox turn, in the span `actor <kind> <event>` (with its id and version). */
  private step<T>(kind: string, id: string, event: string | undefined, work: () => Promise<T>): Promise<T> {
    const attributes = { 'emporium.actor.kind': kind, 'emporium.actor.id': id, ...(event ? { 'emporium.actor.event': event } : {}) };
    return this.mailbox.run(id, () => inSpan(event ? `actor ${kind} ${event}` : `actor ${kind}`, { attributes }, work));
  }

  /**
   * Writes `actor` as the version after `expectedVersion` (snapshot compare-and-set, journal, outbox), then
   * caches and publishes it. False when another writer got there first: the cached copy is dropped for a reload.
   */
  private async commitUpdate(actor: LiveActor, expectedVersion: number, event: unknown, outbox: readonly OutboxEntry[], at: number): Promise<boolean> {
    const row = this.toRow(actor);
    // What the row holds now, if the cached copy is the version this update replaces.
    const cached = this.cache.get(actor.id);
    const outcome = await this.commits.submit({
      op: 'update',
      actor: row,
      expectedVersion,
      journal: { actorId: actor.id, kind: actor.kind, version: actor.version, event, at },
      outbox,
      stored: cached?.actor.version === expectedVersion ? cached.stored : undefined,
    });
    if (outcome instanceof Error) throw outcome;
    if (outcome === 'conflict') {
      this.conflicts++;
      this.cache.delete(actor.id);
      return false;
    }
    this.remember(actor, storedColumns(row));
    this.published(actor, event, outbox, at);
    return true;
  }

  private remember(actor: LiveActor, stored: StoredColumns): void {
    // A read outside the mailbox may finish after a newer commit; never let it replace that.
    const cached = this.cache.get(actor.id);
    if (cached && cached.actor.version > actor.version) return;
    this.cache.set(actor.id, { actor, lastUsedAt: this.options.clock(), stored });
  }

  private published(actor: LiveActor, event: unknown, outbox: readonly OutboxEntry[], at: number): void {
    const change: ActorChange = {
      actor,
      kind: actor.kind,
      id: actor.id,
      version: actor.version,
      state: actor.state,
      ownerId: actor.ownerId,
      context: (actor.snapshot as SnapshotFrom<AnyStateMachine>).context,
      event,
      emitted: outbox.map((entry) => entry.payload as DomainEventRecord),
      at,
    };
    try {
      this.changes$.next(change);
    } catch (error) {
      this.options.logger.error({ err: error, kind: actor.kind, id: actor.id }, 'a change subscriber threw');
    }
    if (outbox.length > 0) this.options.onOutboxWritten?.();
  }
}
