// Jepsen/Elle-style history: a seeded PRNG, a recorder of operations (invoke, completion, outcome), pushes and faults,
// what PostgreSQL holds at the end, and the checkers. Each checker is a pure function returning violations.
import { isDeepStrictEqual } from 'node:util';
import type pg from 'pg';
import type { AnyStateMachine } from 'xstate';
import { replayJournal as replayActorJournal } from '../../src/kernel/actors/replay.ts';
import { cartMachine } from '../../src/modules/cart/cart.machine.ts';
import { orderMachine } from '../../src/modules/order/order.machine.ts';
import { shipmentMachine } from '../../src/modules/shipment/shipment.machine.ts';

// ---------------------------------------------------------------------------------------------------------------
// Seeded randomness: every random choice of a run (workload and faults) comes from one seed.

/** mulberry32: a small, fast 32-bit PRNG with a good enough spread for test schedules. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** FNV-1a over a label, mixed with a seed: independent streams per role ("faults", "customer 3"). */
function mix(seed: number, label: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export class Rng {
  private readonly next: () => number;

  constructor(readonly seed: number) {
    this.next = mulberry32(seed);
  }

  /** A fresh seed for a run: from HISTORY_SEED when set, random otherwise. */
  static seedFromEnv(value = process.env.HISTORY_SEED): number {
    if (value !== undefined && value !== '') {
      const seed = Number(value);
      if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`HISTORY_SEED must be a non-negative integer, got ${JSON.stringify(value)}`);
      return seed >>> 0;
    }
    return Math.floor(Math.random() * 4_294_967_296) >>> 0;
  }

  /** An independent stream for `label`, the same for the same seed whatever else was drawn. */
  fork(label: string): Rng {
    return new Rng(mix(this.seed, label));
  }

  float(): number {
    return this.next();
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }

  shuffle<T>(items: readonly T[]): T[] {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [copy[i], copy[j]] = [copy[j]!, copy[i]!];
    }
    return copy;
  }

  /** Exactly `count` draws at once, so a step consumes the same randomness whatever it ends up doing. */
  draws(count: number): number[] {
    return Array.from({ length: count }, () => this.next());
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The recorder.

export type Outcome =
  | { readonly type: 'ok'; readonly data: any }
  | { readonly type: 'refused'; readonly code: string; readonly message: string; readonly details?: unknown }
  /** No ack: the connection went away or the ack timed out. The command may or may not have run (and may run later). */
  | { readonly type: 'unknown'; readonly reason: string };

export interface Operation {
  readonly id: number;
  /** The customer's label (c03) and its token's subject (guest_…). */
  readonly customer: string;
  readonly owner: string;
  /** The node whose connection carried it. */
  readonly node: string;
  readonly command: string;
  readonly payload: any;
  /** Concurrent duplicates (same requestId to both nodes at once) share a group. */
  readonly group: string | undefined;
  readonly phase: string;
  readonly invokedAt: number;
  completedAt: number | undefined;
  outcome: Outcome | undefined;
}

export type FaultKind = 'pg-cut' | 'pg-slow' | 'redis-cut' | 'redis-slow' | 'sigterm' | 'sigkill';

export interface FaultWindow {
  readonly id: number;
  readonly kind: FaultKind;
  readonly nodes: readonly string[];
  readonly detail: string;
  readonly startedAt: number;
  endedAt: number | undefined;
  /** SIGTERM and SIGKILL: when the process had exited. */
  exitedAt?: number;
}

export interface PushRecord {
  readonly client: string;
  readonly node: string;
  readonly event: string;
  readonly view: any;
  readonly at: number;
}

export interface Violation {
  readonly check: string;
  readonly message: string;
}

/** Everything that happened in a run, in the order it happened. */
export class History {
  /** Times in reports are relative to this; `begin()` moves it to the start of the workload. */
  startedAt = Date.now();
  readonly ops: Operation[] = [];
  readonly faults: FaultWindow[] = [];
  readonly pushes: PushRecord[] = [];
  readonly notes: string[] = [];

  constructor(readonly seed: number) {}

  begin(): void {
    this.startedAt = Date.now();
  }

  invoke(fields: Omit<Operation, 'id' | 'invokedAt' | 'completedAt' | 'outcome'>): Operation {
    const op: Operation = { ...fields, id: this.ops.length + 1, invokedAt: Date.now(), completedAt: undefined, outcome: undefined };
    this.ops.push(op);
    return op;
  }

  complete(op: Operation, outcome: Outcome): Operation {
    op.completedAt = Date.now();
    op.outcome = outcome;
    return op;
  }

  faultStarted(kind: FaultKind, nodes: readonly string[], detail: string): FaultWindow {
    const window: FaultWindow = { id: this.faults.length + 1, kind, nodes, detail, startedAt: Date.now(), endedAt: undefined };
    this.faults.push(window);
    return window;
  }

  faultEnded(window: FaultWindow): void {
    window.endedAt = Date.now();
  }

  /** `+12.345s`: a time relative to the start of the run. */
  rel(at: number | undefined): string {
    return at === undefined ? '(never)' : `+${((at - this.startedAt) / 1000).toFixed(3)}s`;
  }

  describe(op: Operation): string {
    const outcome = !op.outcome
      ? 'pending'
      : op.outcome.type === 'ok'
        ? `ok${versionText(op)}`
        : op.outcome.type === 'refused'
          ? `refused ${op.outcome.code} ${JSON.stringify(op.outcome.message)}`
          : `unknown (${op.outcome.reason})`;
    const group = op.group ? ` [dup ${op.group}]` : '';
    return `#${op.id} ${op.customer}@${op.node} ${op.command} ${JSON.stringify(shortPayload(op.payload))}${group} invoked ${this.rel(op.invokedAt)} completed ${this.rel(op.completedAt)} -> ${outcome}`;
  }

  describeFault(fault: FaultWindow): string {
    const exit = fault.exitedAt ? `, exited ${this.rel(fault.exitedAt)}` : '';
    return `fault #${fault.id} ${fault.kind} on ${fault.nodes.join('+')} (${fault.detail}) ${this.rel(fault.startedAt)} .. ${this.rel(fault.endedAt)}${exit}`;
  }
}

function shortPayload(payload: any): any {
  if (!payload || typeof payload !== 'object') return payload;
  const { payment, ...rest } = payload as Record<string, unknown>;
  return payment ? { ...rest, card: String((payment as { cardNumber?: string }).cardNumber ?? '').slice(-4) } : rest;
}

function versionText(op: Operation): string {
  const ref = viewOf(op);
  return ref ? ` ${ref.id}@v${ref.version}${ref.view?.state ? ` (${ref.view.state})` : ''}` : '';
}

// ---------------------------------------------------------------------------------------------------------------
// Reading operations.

export type ViewKind = 'cart' | 'order' | 'shipment' | 'product';

export interface ViewRef {
  readonly kind: ViewKind;
  readonly id: string;
  readonly version: number;
  readonly view: any;
}

/** The entity view an ok operation answered with (the product topic's view is keyed by the product id). */
export function viewOf(op: Operation): ViewRef | undefined {
  if (op.outcome?.type !== 'ok') return undefined;
  const data = op.outcome.data as Record<string, any> | undefined;
  if (!data) return undefined;
  if (op.command === 'subscribe') {
    const [kind, id] = splitTopic(String(op.payload?.topic ?? ''));
    const view = data.view;
    if (!view || typeof view.version !== 'number') return undefined;
    return { kind: kind as ViewKind, id: kind === 'product' ? id : String(view.id), version: view.version, view };
  }
  for (const kind of ['cart', 'order', 'shipment'] as const) {
    const view = data[kind];
    if (view && typeof view.version === 'number') return { kind, id: String(view.id), version: view.version, view };
  }
  return undefined;
}

export function splitTopic(topic: string): [string, string] {
  const at = topic.indexOf(':');
  return at < 0 ? [topic, ''] : [topic.slice(0, at), topic.slice(at + 1)];
}

/** The actor an operation addresses (a checkout addresses its cart), when the payload names one. */
export function targetOf(op: Operation): string | undefined {
  if (op.command === 'subscribe') return splitTopic(String(op.payload?.topic ?? ''))[1] || undefined;
  return op.payload?.cartId ?? op.payload?.orderId ?? op.payload?.shipmentId;
}

/**
 * Commands whose ok answer is a new version this very command made. (`order:cancel` is not one: when the
 * cancelled shipment's own flow cancels the order first, the customer's cancel answers that version.)
 */
export const WRITES: ReadonlySet<string> = new Set(['cart:addItem', 'cart:setQuantity', 'cart:removeItem']);

/** The journal event each write command appends, and whether an event's fields are this operation's. */
const WRITE_EVENTS: Readonly<Record<string, { type: string; matches: (event: any, payload: any) => boolean }>> = {
  'cart:addItem': { type: 'ADD_ITEM', matches: (e, p) => e.productId === p.productId && e.quantity === p.quantity },
  'cart:setQuantity': { type: 'SET_QUANTITY', matches: (e, p) => e.productId === p.productId && e.quantity === p.quantity },
  'cart:removeItem': { type: 'REMOVE_ITEM', matches: (e, p) => e.productId === p.productId },
};

export const CUSTOMER_CANCEL_REASON = 'cancelled by customer';

const DID_NOT_RUN = new Set(['VALIDATION', 'RATE_LIMITED', 'UNAVAILABLE', 'FORBIDDEN', 'NOT_FOUND']);

/**
 * Could `op` have written something? Ok: yes. Unknown or INTERNAL: maybe. A refusal: per the
 * protocol, these codes mean nothing was written — for `cart:checkout` only the codes that stop it
 * before its first write, since a checkout that fails OUT_OF_STOCK records its attempt on the cart.
 */
export function mayHaveWritten(op: Operation): boolean {
  const outcome = op.outcome;
  if (outcome?.type !== 'refused') return true;
  if (outcome.code === 'INTERNAL') return true;
  if (op.command === 'cart:checkout') return !DID_NOT_RUN.has(outcome.code);
  return false;
}

/** The interval in which an effect of `op` may carry its `at` stamp: unbounded after an unknown outcome. */
function effectWindow(op: Operation): [number, number] {
  if (!op.outcome || op.outcome.type === 'unknown' || op.completedAt === undefined) return [op.invokedAt, Number.POSITIVE_INFINITY];
  return [op.invokedAt, op.completedAt];
}

// ---------------------------------------------------------------------------------------------------------------
// What PostgreSQL holds at the end.

export interface JournalEntry {
  readonly actorId: string;
  readonly kind: string;
  readonly version: number;
  readonly event: { readonly type: string; readonly [field: string]: any };
  readonly at: number;
}

export interface StoredActor {
  readonly id: string;
  readonly kind: string;
  readonly version: number;
  readonly state: string;
  readonly ownerId: string | null;
  readonly snapshot: { readonly value: unknown; readonly context: any };
}

export interface ChargeRow {
  readonly id: string;
  readonly key: string;
  readonly kind: string;
  readonly orderId: string;
  readonly status: string;
  readonly declineReason: string | null;
}

export interface ReservationRow {
  readonly orderId: string;
  readonly productId: string;
  readonly quantity: number;
  readonly status: string;
}

export interface ProductRow {
  readonly id: string;
  readonly onHand: number;
  readonly reserved: number;
  readonly stockVersion: number;
}

export interface Facts {
  readonly journal: readonly JournalEntry[];
  readonly actors: readonly StoredActor[];
  readonly charges: readonly ChargeRow[];
  readonly reservations: readonly ReservationRow[];
  readonly products: readonly ProductRow[];
  /** `cart:create` idempotency records: `<owner>:<requestId>` -> cart id. */
  readonly cartKeys: ReadonlyMap<string, string>;
  /** Journals retention compacted (actor id -> last version deleted): none is expected during a run (windows are days). */
  readonly compactions?: ReadonlyMap<string, number>;
}

/** Reads everything the checkers need straight from PostgreSQL (not through any node). */
export async function loadFacts(db: pg.Pool, productIds: readonly string[]): Promise<Facts> {
  const journal = await db.query<{ actor_id: string; kind: string; version: number; event: string; at: string | number }>(
    'select actor_id, kind, version, event, at from actor_journal order by actor_id, version',
  );
  const actors = await db.query<{ id: string; kind: string; version: number; state: string; owner_id: string | null; snapshot: string }>(
    'select id, kind, version, state, owner_id, snapshot from actors',
  );
  const charges = await db.query<{ id: string; idempotency_key: string; kind: string; order_id: string; status: string; decline_reason: string | null }>(
    'select id, idempotency_key, kind, order_id, status, decline_reason from payment_charges',
  );
  const reservations = await db.query<{ order_id: string; product_id: string; quantity: number; status: string }>(
    'select order_id, product_id, quantity, status from reservations',
  );
  const products = await db.query<{ id: string; on_hand: number; reserved: number; stock_version: string | number }>(
    'select id, on_hand, reserved, stock_version from products where id = any($1)',
    [productIds],
  );
  const keys = await db.query<{ key: string; result: string }>(`select key, result from idempotency_keys where scope = 'cart:create'`);
  const compactions = await db.query<{ actor_id: string; through_version: number }>('select actor_id, through_version from actor_journal_compactions');
  return {
    journal: journal.rows.map((row) => ({
      actorId: row.actor_id,
      kind: row.kind,
      version: Number(row.version),
      event: JSON.parse(row.event),
      at: Number(row.at),
    })),
    actors: actors.rows.map((row) => ({
      id: row.id,
      kind: row.kind,
      version: Number(row.version),
      state: row.state,
      ownerId: row.owner_id,
      snapshot: JSON.parse(row.snapshot),
    })),
    charges: charges.rows.map((row) => ({
      id: row.id,
      key: row.idempotency_key,
      kind: row.kind,
      orderId: row.order_id,
      status: row.status,
      declineReason: row.decline_reason,
    })),
    reservations: reservations.rows.map((row) => ({ orderId: row.order_id, productId: row.product_id, quantity: Number(row.quantity), status: row.status })),
    products: products.rows.map((row) => ({
      id: row.id,
      onHand: Number(row.on_hand),
      reserved: Number(row.reserved),
      stockVersion: Number(row.stock_version),
    })),
    cartKeys: new Map(keys.rows.map((row) => [row.key, row.result])),
    compactions: new Map(compactions.rows.map((row) => [row.actor_id, Number(row.through_version)])),
  };
}

function journalByActor(facts: Facts): Map<string, JournalEntry[]> {
  const byActor = new Map<string, JournalEntry[]>();
  for (const entry of facts.journal) {
    let list = byActor.get(entry.actorId);
    if (!list) byActor.set(entry.actorId, (list = []));
    list.push(entry);
  }
  for (const list of byActor.values()) list.sort((x, y) => x.version - y.version);
  return byActor;
}

// ---------------------------------------------------------------------------------------------------------------
// Replay: fold each actor's journal through its machine.

const MACHINES: Readonly<Record<string, AnyStateMachine>> = { cart: cartMachine, order: orderMachine, shipment: shipmentMachine };

export interface ReplayedVersion {
  readonly version: number;
  readonly at: number;
  readonly event: JournalEntry['event'];
  readonly state: string;
  readonly value: unknown;
  readonly context: any;
}

export interface Replay {
  /** Every actor's snapshots, index i = version i + 1 (as far as the replay got). */
  readonly byActor: ReadonlyMap<string, readonly ReplayedVersion[]>;
  readonly violations: Violation[];
}

/**
 * Replays every journal through the machines (the kernel's `replayJournal`): version 1 must be `xstate.init`
 * with the input, every later event must be accepted by the machine in the state the earlier ones led to, and
 * the result must equal the stored snapshot (value and context), state and version.
 */
export function replayJournal(facts: Facts): Replay {
  const violations: Violation[] = [];
  const byActor = new Map<string, ReplayedVersion[]>();
  const stored = new Map(facts.actors.map((actor) => [actor.id, actor]));
  for (const [actorId, entries] of journalByActor(facts)) {
    const kind = entries[0]!.kind;
    const machine = MACHINES[kind];
    if (!machine) {
      violations.push({ check: 'replay', message: `${actorId}: unknown kind ${kind}` });
      continue;
    }
    const row = stored.get(actorId);
    const replay = replayActorJournal({ machine }, entries, row && { version: row.version, state: row.state, persisted: row.snapshot });
    byActor.set(actorId, [...replay.versions]);
    const { failure } = replay;
    // Gaps are reported by checkJournal.
    if (failure?.reason === 'not-init') violations.push({ check: 'replay', message: `${actorId}: ${failure.message}` });
    else if (failure && failure.reason !== 'gap') violations.push({ check: 'replay', message: `${actorId} v${failure.version}: ${failure.message}` });
    if (!row) {
      violations.push({ check: 'replay', message: `${actorId}: journaled (${entries.length} entries) but has no stored snapshot` });
      continue;
    }
    const last = replay.versions.at(-1);
    if (!last || last.version !== row.version) continue; // checkJournal reports the mismatch
    const differences = replay.check?.mismatch?.differences ?? [];
    if (differences.some((d) => d.path === 'value' || d.path === 'context' || d.path.startsWith('context.') || d.path.startsWith('context['))) {
      violations.push({
        check: 'replay',
        message: `${actorId} v${row.version}: replay gives ${JSON.stringify({ value: last.value, context: last.context })}, stored ${JSON.stringify(row.snapshot)}`,
      });
    } else if (differences.some((d) => d.path === 'state')) {
      violations.push({ check: 'replay', message: `${actorId}: stored state column ${row.state}, snapshot says ${last.state}` });
    }
  }
  return { byActor, violations };
}

// ---------------------------------------------------------------------------------------------------------------
// The checks.

/**
 * Per actor: journal versions are exactly 1..n, n is the stored version, and every stored actor has a journal. The
 * checks need whole journals: a journal retention compacted (actor_journal_compactions; only old final carts, after
 * CART_JOURNAL_RETENTION_MS, days) cannot be one of a run's, and is reported as such rather than as a gap.
 */
export function checkJournal(facts: Facts): Violation[] {
  const violations: Violation[] = [];
  const journals = journalByActor(facts);
  const compactions = facts.compactions ?? new Map<string, number>();
  for (const [actorId, through] of compactions) {
    violations.push({
      check: 'journal',
      message: `${actorId}: journal compacted by retention through v${through} during the run (the checks need whole journals)`,
    });
  }
  for (const actor of facts.actors) {
    if (compactions.has(actor.id)) continue;
    const versions = (journals.get(actor.id) ?? []).map((entry) => entry.version);
    const expected = Array.from({ length: actor.version }, (_, i) => i + 1);
    if (!isDeepStrictEqual(versions, expected)) {
      const seen = new Set<number>();
      const duplicates = versions.filter((v) => {
        const again = seen.has(v);
        seen.add(v);
        return again;
      });
      const missing = expected.filter((v) => !seen.has(v));
      const beyond = versions.filter((v) => v > actor.version);
      violations.push({
        check: 'journal',
        message: `${actor.id} (stored v${actor.version}): journal versions not 1..${actor.version}: missing [${missing.join(',')}] duplicated [${duplicates.join(',')}] beyond [${beyond.join(',')}]`,
      });
    }
  }
  const storedIds = new Set(facts.actors.map((actor) => actor.id));
  for (const actorId of journals.keys())
    if (!storedIds.has(actorId)) violations.push({ check: 'journal', message: `${actorId}: journal entries without an actor` });
  return violations;
}

/**
 * Real-time order per actor, among ok operations: if A was acknowledged before B was invoked, B's
 * version is at least A's (no stale read), and higher when B is a write (it made a new version).
 * Two acknowledged writes never claim the same version.
 */
export function checkRealTimeOrder(history: History): Violation[] {
  const violations: Violation[] = [];
  const byActor = new Map<string, Array<{ op: Operation; ref: ViewRef }>>();
  for (const op of history.ops) {
    const ref = viewOf(op);
    if (!ref || op.completedAt === undefined) continue;
    let list = byActor.get(ref.id);
    if (!list) byActor.set(ref.id, (list = []));
    list.push({ op, ref });
  }
  for (const [actorId, list] of byActor) {
    const byCompletion = [...list].sort((x, y) => x.op.completedAt! - y.op.completedAt!);
    for (const later of list) {
      // The highest version acknowledged strictly before `later` was invoked.
      let before: { op: Operation; ref: ViewRef } | undefined;
      for (const earlier of byCompletion) {
        if (earlier.op.completedAt! >= later.op.invokedAt) break;
        if (!before || earlier.ref.version > before.ref.version) before = earlier;
      }
      if (!before) continue;
      const isWrite = WRITES.has(later.op.command);
      if (later.ref.version < before.ref.version || (isWrite && later.ref.version === before.ref.version)) {
        violations.push({
          check: 'real-time order',
          message: `${actorId}: ${history.describe(later.op)} saw v${later.ref.version} although ${history.describe(before.op)} had been acknowledged before it began`,
        });
      }
    }
    const writes = new Map<number, Operation>();
    for (const { op, ref } of list) {
      if (!WRITES.has(op.command)) continue;
      const other = writes.get(ref.version);
      if (other)
        violations.push({
          check: 'real-time order',
          message: `${actorId} v${ref.version} acknowledged to two writes: ${history.describe(other)} and ${history.describe(op)}`,
        });
      else writes.set(ref.version, op);
    }
  }
  return violations;
}

/**
 * Every acknowledged version is in the journal; an acknowledged write's entry is its own event
 * (type, fields, and an `at` within the operation); creates, checkouts and payments left the
 * journal entries that their answer implies.
 */
export function checkAcknowledgedInJournal(history: History, facts: Facts): Violation[] {
  const violations: Violation[] = [];
  const journals = journalByActor(facts);
  const actors = new Map(facts.actors.map((actor) => [actor.id, actor]));
  const entry = (actorId: string, version: number) => journals.get(actorId)?.find((e) => e.version === version);
  for (const op of history.ops) {
    const ref = viewOf(op);
    if (!ref || ref.kind === 'product') continue;
    const at = entry(ref.id, ref.version);
    if (!at) {
      violations.push({
        check: 'acknowledged in journal',
        message: `${history.describe(op)}: ${ref.id} v${ref.version} is not in the journal (an acknowledged change was lost)`,
      });
      continue;
    }
    const write = WRITE_EVENTS[op.command];
    if (write) {
      const [from, to] = effectWindow(op);
      if (ref.id !== targetOf(op) || at.event.type !== write.type || !write.matches(at.event, op.payload) || at.at < from || at.at > to) {
        violations.push({
          check: 'acknowledged in journal',
          message: `${history.describe(op)}: journal ${ref.id} v${ref.version} is ${JSON.stringify(at.event)} stamped ${history.rel(at.at)}, not this ${write.type}`,
        });
      }
    }
    if (op.command === 'cart:create') {
      const init = entry(ref.id, 1);
      if (init?.event.type !== 'xstate.init' || init.event.input?.customerId !== op.owner) {
        violations.push({
          check: 'acknowledged in journal',
          message: `${history.describe(op)}: ${ref.id} was not created for ${op.owner}: ${JSON.stringify(init?.event)}`,
        });
      }
    }
    if (op.command === 'cart:checkout') {
      const started = (journals.get(op.payload.cartId) ?? []).some(
        (e) => e.event.type === 'CHECKOUT_STARTED' && e.event.requestId === op.payload.requestId && e.event.orderId === ref.id,
      );
      const order = actors.get(ref.id);
      if (!started || order?.snapshot.context.cartId !== op.payload.cartId) {
        violations.push({
          check: 'acknowledged in journal',
          message: `${history.describe(op)}: the cart's journal has no CHECKOUT_STARTED ${op.payload.requestId} -> ${ref.id}, or the order is not this cart's (${order?.snapshot.context.cartId})`,
        });
      }
    }
    if (op.command === 'order:pay') {
      const requests = (journals.get(ref.id) ?? []).filter((e) => e.event.type === 'PAY_REQUESTED' && e.event.requestId === op.payload.requestId);
      if (!requests.some((e) => e.version <= ref.version)) {
        const later = requests[0];
        violations.push({
          check: 'acknowledged in journal',
          message: later
            ? `${history.describe(op)}: answered v${ref.version}, older than its own request's PAY_REQUESTED at v${later.version} (stamped ${history.rel(later.at)}): a stale view instead of the attempt's outcome (order now v${actors.get(ref.id)?.version} ${actors.get(ref.id)?.state})`
            : `${history.describe(op)}: no PAY_REQUESTED ${op.payload.requestId} in ${ref.id}'s journal at all`,
        });
      }
    }
    if (op.command === 'order:cancel') {
      const [from, to] = effectWindow(op);
      const cancelled = (journals.get(ref.id) ?? []).some((e) => e.version <= ref.version && e.event.type === 'CANCEL' && e.at >= from && e.at <= to);
      if (!cancelled || ref.view.state !== 'cancelled') {
        violations.push({
          check: 'acknowledged in journal',
          message: `${history.describe(op)}: no CANCEL of ${ref.id} stamped during the operation at or before v${ref.version}`,
        });
      }
    }
  }
  return violations;
}

/**
 * Every journal entry a client command makes is explained by an operation that may have written it:
 * line changes and customer cancels one-to-one (an ok write claims its own version; others go to an
 * unknown or INTERNAL operation with the same fields invoked before the entry's stamp); payment and
 * checkout starts by an operation with that requestId; carts by a `cart:create` of their owner; orders
 * by their cart's checkout. An entry explained only by refused operations is a refused write that left a trace.
 */
/** The shipment's journal has a customer's CANCEL stamped no later than `at` (itself checked against the order's cancel commands). */
function stoppedByCustomer(shipmentJournal: readonly { event: { type: string; reason?: string }; at: number }[] | undefined, at: number): boolean {
  return (shipmentJournal ?? []).some((entry) => entry.event.type === 'CANCEL' && entry.event.reason === CUSTOMER_CANCEL_REASON && entry.at <= at);
}

export function checkJournalExplained(history: History, facts: Facts): Violation[] {
  const violations: Violation[] = [];
  const journals = journalByActor(facts);
  const opsByTarget = new Map<string, Operation[]>();
  for (const op of history.ops) {
    const target = targetOf(op);
    if (!target) continue;
    let list = opsByTarget.get(target);
    if (!list) opsByTarget.set(target, (list = []));
    list.push(op);
  }
  const claimed = new Set<Operation>();
  const refusedAlike = (ops: readonly Operation[]) => ops.filter((op) => !mayHaveWritten(op)).map((op) => history.describe(op));

  for (const [actorId, entries] of journals) {
    const ops = opsByTarget.get(actorId) ?? [];
    // Ok writes claim their own version first.
    const claimedVersions = new Set<number>();
    for (const op of ops) {
      const ref = viewOf(op);
      if (ref && WRITES.has(op.command) && ref.id === actorId) {
        claimedVersions.add(ref.version);
        claimed.add(op);
      }
    }
    for (const entry of entries) {
      const type = entry.event.type;
      const writeCommand = Object.entries(WRITE_EVENTS).find(([, w]) => w.type === type)?.[0];
      if (writeCommand) {
        if (claimedVersions.has(entry.version)) continue;
        const alike = ops.filter((op) => op.command === writeCommand && WRITE_EVENTS[writeCommand]!.matches(entry.event, op.payload));
        const candidate = alike
          .filter((op) => !claimed.has(op) && op.outcome?.type !== 'ok' && mayHaveWritten(op))
          .filter((op) => {
            const [from, to] = effectWindow(op);
            return entry.at >= from && entry.at <= to;
          })
          .sort((x, y) => x.invokedAt - y.invokedAt)[0];
        if (candidate) {
          claimed.add(candidate);
          continue;
        }
        violations.push({
          check: 'journal explained',
          message: `${actorId} v${entry.version} ${JSON.stringify(entry.event)} stamped ${history.rel(entry.at)} was made by no acknowledged, unknown or INTERNAL operation; refused operations alike: ${JSON.stringify(refusedAlike(alike))}`,
        });
        continue;
      }
      const customerCancel = type === 'CANCEL' && entry.event.reason === CUSTOMER_CANCEL_REASON;
      if (type === 'PAY_REQUESTED' || type === 'CHECKOUT_STARTED' || customerCancel) {
        const command = type === 'PAY_REQUESTED' ? 'order:pay' : type === 'CHECKOUT_STARTED' ? 'cart:checkout' : 'order:cancel';
        // A customer's cancel stops the order's shipment first: that CANCEL is in the shipment's journal, made by the order's cancel.
        const orderOfShipment = actorId.startsWith('ship_') ? `order_${actorId.slice('ship_'.length)}` : undefined;
        const source = customerCancel && orderOfShipment ? (opsByTarget.get(orderOfShipment) ?? []) : ops;
        const alike = source.filter((op) => op.command === command && (customerCancel || op.payload.requestId === entry.event.requestId));
        const explained =
          alike.some((op) => {
            const [from, to] = effectWindow(op);
            return mayHaveWritten(op) && entry.at >= from && entry.at <= to;
          }) ||
          // A customer's cancel stops the shipment first; if the command then failed (INTERNAL, a node lost),
          // the stopped shipment's saga finishes the order's cancel with the customer's reason, later.
          (customerCancel && actorId.startsWith('order_') && stoppedByCustomer(journals.get(`ship_${actorId.slice('order_'.length)}`), entry.at));
        // The stall sweep finishes a checkout, never starts one; nothing but a customer's command starts a payment.
        if (!explained) {
          violations.push({
            check: 'journal explained',
            message: `${actorId} v${entry.version} ${JSON.stringify(entry.event)} stamped ${history.rel(entry.at)}: no ${command}${customerCancel ? '' : ` with requestId ${entry.event.requestId}`} that may have written it; refused alike: ${JSON.stringify(refusedAlike(alike))}`,
          });
        }
      }
    }
  }

  // Carts: one per `cart:create` key of its owner, and that key was sent by a create that may have run.
  const cartIdsByKey = facts.cartKeys;
  const keyOfCart = new Map([...cartIdsByKey].map(([key, cartId]) => [cartId, key]));
  const creates = history.ops.filter((op) => op.command === 'cart:create');
  const owners = new Set(history.ops.map((op) => op.owner));
  for (const actor of facts.actors) {
    if (actor.kind !== 'cart' || !owners.has(actor.snapshot.context.customerId)) continue;
    const key = keyOfCart.get(actor.id);
    const sent = key && creates.filter((op) => `${op.owner}:${op.payload.requestId}` === key);
    if (!key || !sent || sent.length === 0) {
      violations.push({
        check: 'journal explained',
        message: `cart ${actor.id} of ${actor.snapshot.context.customerId} has no cart:create behind it (key ${key ?? 'none'})`,
      });
    } else if (!sent.some(mayHaveWritten)) {
      violations.push({
        check: 'journal explained',
        message: `cart ${actor.id} was created although every cart:create with its key was refused: ${JSON.stringify(sent.map((op) => history.describe(op)))}`,
      });
    }
  }
  for (const op of creates) {
    const ref = viewOf(op);
    const stored = cartIdsByKey.get(`${op.owner}:${op.payload.requestId}`);
    if (ref && stored !== ref.id)
      violations.push({ check: 'journal explained', message: `${history.describe(op)}: answered ${ref.id} but its key holds ${stored}` });
  }
  // Orders: each is the order its cart's checkout named.
  for (const actor of facts.actors) {
    if (actor.kind !== 'order') continue;
    const cartId = actor.snapshot.context.cartId as string;
    const named = (journals.get(cartId) ?? []).some((e) => e.event.type === 'CHECKOUT_STARTED' && e.event.orderId === actor.id);
    if (!named)
      violations.push({ check: 'journal explained', message: `order ${actor.id} exists but cart ${cartId}'s journal never started a checkout for it` });
  }
  return violations;
}

/** Ack views and pushes show exactly what the replay has at their version. */
export function checkViewsMatchReplay(history: History, replay: Replay): Violation[] {
  const violations: Violation[] = [];
  const check = (where: string, kind: string, view: any) => {
    if (kind === 'product' || !view || typeof view.version !== 'number') return;
    const replayed = replay.byActor.get(view.id)?.[view.version - 1];
    if (!replayed) {
      violations.push({ check: 'views match replay', message: `${where}: ${view.id} v${view.version} (${view.state}) is not a version the journal has` });
      return;
    }
    const problems = viewDifferences(kind, view, replayed);
    if (problems.length > 0) violations.push({ check: 'views match replay', message: `${where}: ${view.id} v${view.version}: ${problems.join('; ')}` });
  };
  for (const op of history.ops) {
    const ref = viewOf(op);
    if (ref) check(history.describe(op), ref.kind, ref.view);
  }
  for (const push of history.pushes) check(`push ${push.event} to ${push.client} at ${history.rel(push.at)}`, push.event.split(':')[0]!, push.view);
  return violations;
}

function viewDifferences(kind: string, view: any, replayed: ReplayedVersion): string[] {
  const problems: string[] = [];
  const c = replayed.context;
  const same = (field: string, shown: unknown, expected: unknown) => {
    if (!isDeepStrictEqual(shown, expected)) problems.push(`${field} shown ${JSON.stringify(shown)}, journal has ${JSON.stringify(expected)}`);
  };
  same('state', view.state, replayed.state);
  if (kind === 'cart') {
    same(
      'items',
      (view.items ?? []).map((l: any) => [l.productId, l.quantity]),
      (c.items ?? []).map((l: any) => [l.productId, l.quantity]),
    );
    same('orderId', view.orderId ?? null, c.checkout?.orderId ?? null);
  } else if (kind === 'order') {
    same('paymentAttempts', view.paymentAttempts, c.paymentAttempts);
    same('payment', view.payment?.chargeId ?? null, c.payment?.chargeId ?? null);
    same('lastPaymentError', view.lastPaymentError, c.lastPaymentError);
  }
  return problems;
}

/** What the checker allows for each refusal code, and why (PROTOCOL.md §3.3 and §5, narrowed by what this workload makes decidable). */
export const REFUSALS = {
  documented: {
    'cart:create': ['CONFLICT'],
    'cart:get': ['NOT_FOUND', 'FORBIDDEN'],
    'cart:addItem': ['NOT_FOUND', 'FORBIDDEN', 'INVALID_TRANSITION', 'VALIDATION', 'OUT_OF_STOCK', 'CONFLICT'],
    'cart:setQuantity': ['NOT_FOUND', 'FORBIDDEN', 'INVALID_TRANSITION', 'VALIDATION', 'OUT_OF_STOCK', 'CONFLICT'],
    'cart:removeItem': ['NOT_FOUND', 'FORBIDDEN', 'INVALID_TRANSITION', 'CONFLICT'],
    'cart:checkout': ['NOT_FOUND', 'FORBIDDEN', 'INVALID_TRANSITION', 'OUT_OF_STOCK', 'CONFLICT'],
    'order:get': ['NOT_FOUND', 'FORBIDDEN'],
    'order:pay': ['NOT_FOUND', 'FORBIDDEN', 'INVALID_TRANSITION', 'CONFLICT'],
    'order:cancel': ['NOT_FOUND', 'FORBIDDEN', 'INVALID_TRANSITION', 'CONFLICT'],
    subscribe: ['NOT_FOUND', 'FORBIDDEN'],
  } as Readonly<Record<string, readonly string[]>>,
  /** Every /store command may also answer these (§5). */
  common: ['VALIDATION', 'RATE_LIMITED', 'UNAVAILABLE', 'INTERNAL'],
  why: [
    'FORBIDDEN, VALIDATION, RATE_LIMITED: never here (own ids only, valid payloads, lines far below the limits, far under the rate budget)',
    "UNAVAILABLE: only from a node draining after SIGTERM (the op overlaps that node's SIGTERM..exit window, +1 s)",
    "INTERNAL: only while some node's PostgreSQL link is cut or slowed (the op overlaps a pg fault, +3 s)",
    'NOT_FOUND: only cart:removeItem / cart:setQuantity 0 when the line was absent at some instant of the op (every id used was acknowledged)',
    'INVALID_TRANSITION: only when the replayed journal shows a state that refuses the command at some instant of the op; never for a checkout or payment whose requestId was already accepted',
    'OUT_OF_STOCK, CONFLICT: as documented, not decided further',
  ],
} as const;

const UNAVAILABLE_GRACE_MS = 1000;
const INTERNAL_GRACE_MS = 3000;
/** A version is visible from its commit, which follows its `at` stamp by at most this (slow and frozen links included). */
export const VISIBILITY_SLACK_MS = 4000;

/** The replayed versions an operation may have seen: current at some instant of [invoke - slack, complete]. */
export function versionsDuring(replay: Replay, actorId: string, from: number, to: number): readonly ReplayedVersion[] {
  const versions = replay.byActor.get(actorId) ?? [];
  return versions.filter((v, i) => {
    const next = versions[i + 1];
    return v.at <= to && (!next || next.at >= from - VISIBILITY_SLACK_MS);
  });
}

export function checkRefusals(history: History, facts: Facts, replay: Replay): Violation[] {
  const violations: Violation[] = [];
  const actors = new Map(facts.actors.map((actor) => [actor.id, actor]));
  const journals = journalByActor(facts);
  const overlaps = (op: Operation, from: number, to: number) => op.invokedAt <= to && (op.completedAt ?? Number.POSITIVE_INFINITY) >= from;
  for (const op of history.ops) {
    if (op.outcome?.type !== 'refused') continue;
    const { code } = op.outcome;
    const bad = (why: string) => violations.push({ check: 'refusal codes', message: `${history.describe(op)}: ${why}` });
    const documented = [...(REFUSALS.documented[op.command] ?? []), ...REFUSALS.common];
    if (!documented.includes(code)) {
      bad(`${code} is not a documented answer of ${op.command}`);
      continue;
    }
    const from = op.invokedAt;
    const to = op.completedAt ?? Number.POSITIVE_INFINITY;
    const target = targetOf(op);
    const seen = target ? versionsDuring(replay, target, from, to) : [];
    /** A checkout whose requestId had already started the checkout of an order that came to be must answer that order. */
    const checkDuplicateCheckout = () => {
      const started = (journals.get(op.payload.cartId) ?? []).find(
        (e) => e.event.type === 'CHECKOUT_STARTED' && e.event.requestId === op.payload.requestId && e.at <= to && actors.has(e.event.orderId),
      );
      if (started)
        bad(
          `refused although its requestId started the checkout of ${started.event.orderId} (cart v${started.version} at ${history.rel(started.at)}), which exists: a duplicate must get that order`,
        );
    };
    /** A payment whose requestId was already accepted (authorizing or settled) is answered, never refused. */
    const checkDuplicatePayment = () => {
      const entries = journals.get(op.payload.orderId) ?? [];
      const interrupted = entries.some(
        (e) => e.event.type === 'PAYMENT_DECLINED' && e.event.requestId === op.payload.requestId && e.event.reason === 'payment_interrupted',
      );
      const accepted = entries.find((e) => e.event.type === 'PAY_REQUESTED' && e.event.requestId === op.payload.requestId && e.at <= to);
      if (accepted && !interrupted)
        bad(`refused although its requestId was accepted at v${accepted.version} (${history.rel(accepted.at)}): a duplicate gets that attempt's outcome`);
    };
    switch (code) {
      case 'FORBIDDEN':
      case 'VALIDATION':
      case 'RATE_LIMITED':
        bad(`${code} although the command was valid, the caller's own and under the rate budget`);
        break;
      case 'UNAVAILABLE': {
        const draining = history.faults.some(
          (f) =>
            f.kind === 'sigterm' &&
            f.nodes.includes(op.node) &&
            overlaps(op, f.startedAt, (f.exitedAt ?? f.endedAt ?? Number.POSITIVE_INFINITY) + UNAVAILABLE_GRACE_MS),
        );
        if (!draining) bad(`UNAVAILABLE from node ${op.node}, which was not shutting down`);
        break;
      }
      case 'INTERNAL': {
        const pgFault = history.faults.some(
          (f) => f.kind.startsWith('pg-') && overlaps(op, f.startedAt, (f.endedAt ?? Number.POSITIVE_INFINITY) + INTERNAL_GRACE_MS),
        );
        if (!pgFault) bad('INTERNAL while no PostgreSQL link was faulty');
        break;
      }
      case 'NOT_FOUND': {
        const lineCommand = op.command === 'cart:removeItem' || (op.command === 'cart:setQuantity' && op.payload.quantity === 0);
        if (!lineCommand) {
          bad(`NOT_FOUND for ${target}, which exists (${actors.get(target ?? '')?.state ?? 'product'})`);
          break;
        }
        const absent = seen.some((v) => !(v.context.items ?? []).some((line: any) => line.productId === op.payload.productId));
        if (!absent) bad(`NOT_FOUND although ${op.payload.productId} was in the cart at every version it could see (${describeVersions(history, seen)})`);
        break;
      }
      case 'INVALID_TRANSITION': {
        if (op.command === 'cart:addItem' || op.command === 'cart:setQuantity' || op.command === 'cart:removeItem') {
          const refusing = seen.some((v) => v.state !== 'active' || to >= v.context.expiresAt);
          if (!refusing) bad(`INVALID_TRANSITION although the cart was active at every version it could see (${describeVersions(history, seen)})`);
        } else if (op.command === 'cart:checkout') {
          const refusing = seen.some((v) => v.state !== 'active' || (v.context.items ?? []).length === 0 || to >= v.context.expiresAt);
          if (!refusing) bad(`INVALID_TRANSITION although the cart was active with items at every version it could see (${describeVersions(history, seen)})`);
          checkDuplicateCheckout();
        } else if (op.command === 'order:pay') {
          const refusing = seen.some((v) => v.state !== 'awaitingPayment' || to >= v.context.paymentDeadline);
          if (!refusing)
            bad(
              `INVALID_TRANSITION although the order was awaitingPayment before its deadline at every version it could see (${describeVersions(history, seen)})`,
            );
          checkDuplicatePayment();
        } else if (op.command === 'order:cancel') {
          const refusing = seen.some((v) => ['authorizing', 'shipped', 'delivered', 'cancelled', 'expired'].includes(v.state));
          if (!refusing) bad(`INVALID_TRANSITION although the order was cancellable at every version it could see (${describeVersions(history, seen)})`);
        }
        break;
      }
      case 'OUT_OF_STOCK':
        if (op.command === 'cart:checkout') checkDuplicateCheckout();
        break;
      default:
        break;
    }
  }
  return violations;
}

function describeVersions(history: History, versions: readonly ReplayedVersion[]): string {
  const lines = (v: ReplayedVersion) =>
    v.context.items ? ` [${v.context.items.map((l: any) => `${String(l.productId).slice(-6)}x${l.quantity}`).join(' ')}]` : '';
  return versions.map((v) => `v${v.version} ${v.state}${lines(v)} stamped ${history.rel(v.at)}`).join(', ') || 'none';
}

/**
 * Answers as PROTOCOL.md describes them: a customer's cancel answers `cancelled` with cancelReason
 * "cancelled by customer" (§5 order:cancel); concurrent duplicates of one payment get the same outcome,
 * "with one charge and one chargeId" (§9 order:pay).
 */
export function checkAnswers(history: History): Violation[] {
  const violations: Violation[] = [];
  const groups = new Map<string, Operation[]>();
  for (const op of history.ops) {
    const ref = viewOf(op);
    if (!ref) continue;
    if (op.command === 'order:cancel' && (ref.view.state !== 'cancelled' || ref.view.cancelReason !== CUSTOMER_CANCEL_REASON)) {
      violations.push({
        check: 'answers as documented',
        message: `${history.describe(op)}: a customer's cancel answered state ${ref.view.state}, cancelReason ${JSON.stringify(ref.view.cancelReason)} (documented: cancelled, "${CUSTOMER_CANCEL_REASON}")`,
      });
    }
    if (op.command === 'order:pay' && op.group) groups.set(op.group, [...(groups.get(op.group) ?? []), op]);
  }
  const outcomeOf = (view: any) =>
    view.payment
      ? `paid with ${view.payment.chargeId}`
      : view.state === 'authorizing'
        ? 'authorizing'
        : `not paid (${view.lastPaymentError ?? 'no error'}, ${view.paymentAttempts} attempts)`;
  for (const [group, ops] of groups) {
    const outcomes = new Set(ops.map((op) => outcomeOf(viewOf(op)!.view)));
    if (outcomes.size > 1) {
      violations.push({
        check: 'answers as documented',
        message: `duplicates of payment ${group} got different outcomes: ${ops.map((op) => `${history.describe(op)} = ${outcomeOf(viewOf(op)!.view)}`).join(' | ')}`,
      });
    }
  }
  return violations;
}

/**
 * A fulfilling order is cancelled only after its shipment was (ARCHITECTURE.md: "the shipment is cancelled
 * first, so it can never ship afterwards"): the shipment's CANCEL is stamped before the order's.
 */
export function checkShipmentCancelledFirst(_facts: Facts, replay: Replay): Violation[] {
  const violations: Violation[] = [];
  for (const [orderId, versions] of replay.byActor) {
    versions.forEach((v, i) => {
      const before = versions[i - 1];
      if (v.event.type !== 'CANCEL' || before?.state !== 'fulfilling') return;
      const shipmentId = before.context.shipmentId as string;
      const shipment = replay.byActor.get(shipmentId) ?? [];
      const cancelled = shipment.find((s) => s.state === 'cancelled');
      if (!cancelled || cancelled.at > v.at) {
        violations.push({
          check: 'shipment cancelled first',
          message: `${orderId} v${v.version} cancelled (${JSON.stringify(v.event)}) while fulfilling, but shipment ${shipmentId} was ${
            cancelled
              ? `cancelled only later, at v${cancelled.version} (${cancelled.at - v.at} ms after)`
              : `never cancelled (${shipment.at(-1)?.state ?? 'missing'})`
          }: it could still have shipped`,
        });
      }
    });
  }
  return violations;
}

/**
 * No duplicates: at most one order per cart; every ok answer to one (cart, requestId) names the same
 * order; at most one succeeded charge per order and per payment key; every succeeded charge is its
 * order's recorded payment; an acknowledged payment shows that charge.
 */
export function checkNoDuplicates(history: History, facts: Facts): Violation[] {
  const violations: Violation[] = [];
  const ordersByCart = new Map<string, string[]>();
  for (const actor of facts.actors) {
    if (actor.kind !== 'order') continue;
    const cartId = actor.snapshot.context.cartId as string;
    ordersByCart.set(cartId, [...(ordersByCart.get(cartId) ?? []), actor.id]);
  }
  for (const [cartId, orders] of ordersByCart) {
    if (orders.length > 1) violations.push({ check: 'no duplicates', message: `cart ${cartId} became ${orders.length} orders: ${orders.join(', ')}` });
  }
  const answers = new Map<string, Map<string, Operation>>();
  for (const op of history.ops) {
    const ref = viewOf(op);
    if (op.command !== 'cart:checkout' || !ref) continue;
    const key = `${op.payload.cartId}/${op.payload.requestId}`;
    const seen = answers.get(key) ?? new Map<string, Operation>();
    seen.set(ref.id, op);
    answers.set(key, seen);
  }
  for (const [key, seen] of answers) {
    if (seen.size > 1)
      violations.push({
        check: 'no duplicates',
        message: `checkout ${key} answered different orders: ${[...seen.values()].map((op) => history.describe(op)).join(' | ')}`,
      });
  }
  const orders = new Map(facts.actors.filter((a) => a.kind === 'order').map((a) => [a.id, a]));
  const charges = facts.charges.filter((row) => row.kind === 'charge');
  const perKey = new Map<string, number>();
  const succeededPerOrder = new Map<string, ChargeRow[]>();
  for (const row of charges) {
    perKey.set(row.key, (perKey.get(row.key) ?? 0) + 1);
    const keyOrder = /^pay:([^:]+):/.exec(row.key)?.[1];
    if (keyOrder !== row.orderId) violations.push({ check: 'no duplicates', message: `charge ${row.id} has key ${row.key} but order ${row.orderId}` });
    if (row.status !== 'succeeded') continue;
    succeededPerOrder.set(row.orderId, [...(succeededPerOrder.get(row.orderId) ?? []), row]);
    const paid = orders.get(row.orderId)?.snapshot.context.payment;
    if (paid?.chargeId !== row.id) {
      violations.push({
        check: 'no duplicates',
        message: `charge ${row.id} (${row.key}) succeeded but order ${row.orderId} (${orders.get(row.orderId)?.state ?? 'missing'}) records payment ${JSON.stringify(paid ?? null)}: money taken outside the order`,
      });
    }
  }
  for (const [key, count] of perKey) if (count > 1) violations.push({ check: 'no duplicates', message: `payment key ${key} charged ${count} times` });
  for (const [orderId, rows] of succeededPerOrder) {
    if (rows.length > 1)
      violations.push({ check: 'no duplicates', message: `order ${orderId} charged ${rows.length} times: ${rows.map((r) => `${r.id} ${r.key}`).join(', ')}` });
  }
  for (const op of history.ops) {
    const ref = viewOf(op);
    if (op.command !== 'order:pay' || !ref?.view.payment) continue;
    const row = charges.find((c) => c.id === ref.view.payment.chargeId);
    if (row?.status !== 'succeeded' || row.orderId !== ref.id) {
      violations.push({
        check: 'no duplicates',
        message: `${history.describe(op)}: shows charge ${ref.view.payment.chargeId}, ledger has ${JSON.stringify(row ?? null)}`,
      });
    }
  }
  return violations;
}

/**
 * Stock: on_hand never moved (nothing ships or is restocked here), reserved is the sum of active
 * reservations and at most on_hand, every order that holds stock holds exactly its lines, and no
 * other order (or order-less reservation) holds any.
 */
export function checkStock(facts: Facts, initialOnHand: ReadonlyMap<string, number>): Violation[] {
  const violations: Violation[] = [];
  const active = facts.reservations.filter((r) => r.status === 'active');
  for (const product of facts.products) {
    const sum = active.filter((r) => r.productId === product.id).reduce((n, r) => n + r.quantity, 0);
    if (product.reserved !== sum) violations.push({ check: 'stock', message: `${product.id}: reserved ${product.reserved} != active reservations ${sum}` });
    if (product.reserved > product.onHand || product.reserved < 0)
      violations.push({ check: 'stock', message: `${product.id}: reserved ${product.reserved} outside 0..on_hand ${product.onHand}` });
    const initial = initialOnHand.get(product.id);
    if (initial !== undefined && product.onHand !== initial)
      violations.push({ check: 'stock', message: `${product.id}: on_hand ${product.onHand}, was ${initial} and nothing shipped` });
  }
  const orders = new Map(facts.actors.filter((a) => a.kind === 'order').map((a) => [a.id, a]));
  const holding = new Set(['awaitingPayment', 'authorizing', 'paid', 'fulfilling']);
  const heldBy = new Map<string, Map<string, number>>();
  for (const r of active) {
    const lines = heldBy.get(r.orderId) ?? new Map<string, number>();
    lines.set(r.productId, (lines.get(r.productId) ?? 0) + r.quantity);
    heldBy.set(r.orderId, lines);
  }
  for (const [orderId, lines] of heldBy) {
    const order = orders.get(orderId);
    if (!order)
      violations.push({ check: 'stock', message: `reservation of order ${orderId}, which does not exist, still holds ${JSON.stringify([...lines])}` });
    else if (!holding.has(order.state))
      violations.push({ check: 'stock', message: `order ${orderId} is ${order.state} but still holds ${JSON.stringify([...lines])}` });
  }
  for (const order of orders.values()) {
    if (!holding.has(order.state)) continue;
    const expected = new Map<string, number>();
    for (const line of order.snapshot.context.items as Array<{ productId: string; quantity: number }>)
      expected.set(line.productId, (expected.get(line.productId) ?? 0) + line.quantity);
    const held = heldBy.get(order.id) ?? new Map<string, number>();
    if (!isDeepStrictEqual(new Map([...held].sort()), new Map([...expected].sort()))) {
      violations.push({
        check: 'stock',
        message: `order ${order.id} (${order.state}) holds ${JSON.stringify([...held])}, its lines are ${JSON.stringify([...expected])}`,
      });
    }
  }
  return violations;
}

/** A client's view of one followed topic, against what is stored. */
export interface HeldView {
  readonly client: string;
  readonly topic: string;
  readonly version: number | undefined;
}

/**
 * Every followed topic of every client holds the stored version (actors) or stock version (products).
 * For a client left behind, says which versions it missed and whether any client was ever pushed them
 * (never pushed anywhere: the change was committed but not announced; pushed elsewhere: lost on the way).
 */
export function checkConvergence(held: readonly HeldView[], facts: Facts, history?: History): Violation[] {
  const versions = new Map<string, number>();
  for (const actor of facts.actors) versions.set(`${actor.kind}:${actor.id}`, actor.version);
  for (const product of facts.products) versions.set(`product:${product.id}`, product.stockVersion);
  const journals = journalByActor(facts);
  const violations: Violation[] = [];
  for (const view of held) {
    const stored = versions.get(view.topic);
    if (stored === undefined) {
      violations.push({ check: 'convergence', message: `${view.client} follows ${view.topic}, which is not stored` });
      continue;
    }
    if (view.version === stored) continue;
    let detail = '';
    const [kind, id] = splitTopic(view.topic);
    if (history && kind !== 'product') {
      const missed = (journals.get(id) ?? []).filter((e) => e.version > (view.version ?? 0));
      detail = `; missed ${missed
        .map((e) => {
          const pushedTo = [...new Set(history.pushes.filter((p) => p.view.id === id && p.view.version === e.version).map((p) => p.client))];
          return `v${e.version} ${e.event.type} stamped ${history.rel(e.at)} (pushed to ${pushedTo.length ? pushedTo.join(' ') : 'no client at all'})`;
        })
        .join(', ')}`;
    }
    violations.push({ check: 'convergence', message: `${view.client} holds ${view.topic} v${view.version ?? 'none'}, stored v${stored}${detail}` });
  }
  return violations;
}
