// Retention: what the store no longer needs is deleted as it ages, so it does not grow for ever. Dispatched outbox
// rows (with their deliveries), idempotency records past their window, and the journals of actors that rest in a
// final state and keep their history elsewhere (carts: the order is their audit trail; modules declare them).
// It runs on its own slow timer, in small transactions with a yield to the event loop between two, on every node
// at once if need be (the repo's deletes are by key and skip rows another node holds). docs/OPERATIONS.md "Retention".
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { AnyStateMachine } from 'xstate';
import type { Clock } from '../domain/identity.ts';
import { machineGraph } from './actors/machine-graph.ts';
import type { ActorCursor, OutboxCursor, RetentionRepo } from './db/retention.repo.ts';

/**
 * A module's word that the journals of its actors of `kind` may go once they rest in one of `states` (final states
 * of the machine) unchanged for `olderThanMs`. The snapshot row stays, and so do the actor's answers; only the
 * replay of its history is lost (recorded in `actor_journal_compactions`). Declare it only for a kind whose
 * history is kept elsewhere: an order's or a shipment's journal is its audit trail and is never declared.
 */
export interface JournalRetention {
  readonly kind: string;
  readonly states: readonly string[];
  readonly olderThanMs: number;
}

export interface RetentionOptions {
  readonly repo: RetentionRepo;
  readonly clock: Clock;
  readonly logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** How often a pass runs; `0` turns the timer off (`runOnce()` still runs one when asked). */
  readonly intervalMs: number;
  /** Rows per transaction. */
  readonly batchSize: number;
  /** Dispatched outbox rows older than this go. */
  readonly outboxOlderThanMs: number;
  /** Idempotency records older than this go. */
  readonly idempotencyOlderThanMs: number;
  /** Journals that may be compacted (checked against the machines: final states only). */
  readonly journals: readonly JournalRetention[];
  /** The machine of a kind, to check that `journals` names final states only. */
  readonly machineOf: (kind: string) => AnyStateMachine | undefined;
  /** The `/metrics` registry: `emporium_retention_pruned_total{what}` and `emporium_retention_failures_total{task}`. */
  readonly metrics?: Registry;
  /** Between two batches: lets the commands that queued meanwhile run first. @default the next event-loop turn */
  readonly pause?: () => Promise<void>;
  /** After each batch that deleted something (tests watch the job interleave with commands). */
  readonly onBatch?: (task: RetentionTask, deleted: number) => void;
}

export type RetentionTask = 'outbox' | 'idempotency' | `journal:${string}`;

/** What one pass deleted. */
export interface RetentionReport {
  readonly outboxRows: number;
  readonly outboxDeliveries: number;
  readonly idempotencyKeys: number;
  /** Journal entries deleted, and of how many actors. */
  readonly journalEntries: number;
  readonly journalsCompacted: number;
  /** Transactions that deleted something. */
  readonly batches: number;
  /** Tasks that failed this pass (logged; the next pass tries again). */
  readonly failed: readonly RetentionTask[];
  /** The pass was cut short by `stop()`. */
  readonly stopped: boolean;
}

/**
 * The retention job of one node. `start()` runs a pass every `intervalMs` (never two at once: a pass still
 * running when the timer fires is not doubled); `stop()` ends it after the batch under way, before the database
 * closes. Each task fails alone: its error is logged and counted, the other tasks go on, and the next pass tries
 * again.
 *
 * @example
 * const retention = new RetentionJob({ repo, clock, logger, intervalMs: 600_000, batchSize: 500, … });
 * retention.start();
 * await retention.stop();
 */
export class RetentionJob {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RetentionReport> | undefined;
  private stopping = false;
  /** Per kind and state: how far the walk over aged final actors got. Kept between passes (a later one only sees newly aged actors). */
  private readonly cursors = new Map<string, ActorCursor>();
  private readonly pruned: Counter<'what'> | undefined;
  private readonly failures: Counter<'task'> | undefined;
  private readonly pause: () => Promise<void>;

  constructor(private readonly o: RetentionOptions) {
    for (const { kind, states } of o.journals) {
      const machine = o.machineOf(kind);
      if (!machine) throw new Error(`journal retention names kind ${kind}, which no module registers`);
      const finals = new Set(
        machineGraph(machine)
          .states.filter((state) => state.type === 'final' && state.parent === null)
          .map((state) => state.name),
      );
      const notFinal = states.filter((state) => !finals.has(state));
      if (notFinal.length > 0) throw new Error(`journal retention of ${kind}: ${notFinal.join(', ')} is not a final state (final: ${[...finals].join(', ')})`);
    }
    this.pause = o.pause ?? (() => nextTurn());
    if (o.metrics) {
      this.pruned = new Counter({
        name: 'emporium_retention_pruned_total',
        help: 'Rows deleted by retention, by what: outbox_rows, outbox_deliveries, idempotency_keys, journal_entries, journals_compacted (actors)',
        labelNames: ['what'],
        registers: [o.metrics],
      });
      for (const what of ['outbox_rows', 'outbox_deliveries', 'idempotency_keys', 'journal_entries', 'journals_compacted']) this.pruned.inc({ what }, 0);
      this.failures = new Counter({
        name: 'emporium_retention_failures_total',
        help: 'Retention tasks that failed (logged; retried on the next pass), by task',
        labelNames: ['task'],
        registers: [o.metrics],
      });
    }
  }

  /** Whether the timer runs passes (`intervalMs` above 0). */
  get enabled(): boolean {
    return this.o.intervalMs > 0;
  }

  /** Starts the timer (nothing when `intervalMs` is 0). The first pass runs one interval from now. */
  start(): void {
    if (!this.enabled || this.timer || this.stopping) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      // runOnce never rejects: every task's failure is caught, logged and counted.
      void this.runOnce();
    }, this.o.intervalMs);
    this.timer.unref();
  }

  /** No new pass starts; a pass under way ends after its current batch. Resolves once it has. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Runs one pass now, or joins the one running; resolves with what it deleted. Never rejects. */
  runOnce(): Promise<RetentionReport> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async pass(): Promise<RetentionReport> {
    const started = Date.now();
    const totals = { outboxRows: 0, outboxDeliveries: 0, idempotencyKeys: 0, journalEntries: 0, journalsCompacted: 0, batches: 0 };
    const failed: RetentionTask[] = [];
    const now = this.o.clock();
    const batch = this.o.batchSize;
    const tasks: Array<[RetentionTask, () => Promise<void>]> = [
      [
        'outbox',
        async () => {
          let cursor: OutboxCursor | null = null;
          do {
            const result = await this.o.repo.pruneOutbox(now - this.o.outboxOlderThanMs, batch, cursor);
            cursor = result.next;
            totals.outboxRows += result.rows;
            totals.outboxDeliveries += result.deliveries;
            this.count('outbox_rows', result.rows);
            this.count('outbox_deliveries', result.deliveries);
            if (!(await this.batchDone('outbox', result.rows, totals))) return;
          } while (cursor);
        },
      ],
      [
        'idempotency',
        async () => {
          for (let more = true; more; ) {
            const result = await this.o.repo.pruneIdempotency(now - this.o.idempotencyOlderThanMs, batch);
            more = result.more;
            totals.idempotencyKeys += result.keys;
            this.count('idempotency_keys', result.keys);
            if (!(await this.batchDone('idempotency', result.keys, totals))) return;
          }
        },
      ],
      ...this.o.journals.flatMap(({ kind, states, olderThanMs }) =>
        states.map((state): [RetentionTask, () => Promise<void>] => [
          `journal:${kind}`,
          async () => {
            const before = now - olderThanMs;
            const key = `${kind}:${state}`;
            for (;;) {
              const page = await this.o.repo.agedFinalActors(kind, state, before, batch, this.cursors.get(key) ?? null);
              if (page.length === 0) return;
              // An actor with a long journal may take several transactions: counted once.
              const compacted = new Set<string>();
              for (let more = true; more; ) {
                const result = await this.o.repo.compactJournals(kind, state, page, before, batch, this.o.clock());
                more = result.more;
                const fresh = result.actors.filter((id) => !compacted.has(id));
                for (const id of fresh) compacted.add(id);
                totals.journalEntries += result.entries;
                totals.journalsCompacted += fresh.length;
                this.count('journal_entries', result.entries);
                this.count('journals_compacted', fresh.length);
                if (!(await this.batchDone(`journal:${kind}`, result.entries, totals))) return;
              }
              // Only once the page is done: a page cut short (stop, failure) is walked again next time.
              const last = page.at(-1)!;
              this.cursors.set(key, { updatedAt: last.updatedAt, id: last.id });
              if (page.length < batch || !(await this.batchDone(`journal:${kind}`, 0, totals))) return;
            }
          },
        ]),
      ),
    ];
    for (const [task, run] of tasks) {
      if (this.stopping) break;
      try {
        await run();
      } catch (error) {
        failed.push(task);
        this.failures?.inc({ task });
        this.o.logger.error({ err: error, task }, 'retention task failed; the next pass tries again');
      }
    }
    const report: RetentionReport = { ...totals, failed, stopped: this.stopping };
    const deleted = totals.outboxRows + totals.idempotencyKeys + totals.journalEntries;
    if (deleted > 0) this.o.logger.info({ ...totals, ms: Date.now() - started }, 'retention pruned old rows');
    return report;
  }

  /** Counts a batch, then lets the event loop run (commands first); false when the job is stopping. */
  private async batchDone(task: RetentionTask, deleted: number, totals: { batches: number }): Promise<boolean> {
    if (deleted > 0) {
      totals.batches++;
      this.o.onBatch?.(task, deleted);
    }
    await this.pause();
    return !this.stopping;
  }

  private count(what: string, n: number): void {
    if (n > 0) this.pruned?.inc({ what }, n);
  }
}
