// The outbox relay: fans committed domain events out to one delivery per flow and runs each flow on its own,
// at least once (after a crash too), retrying and finally parking a delivery that keeps failing.
import { lastValueFrom, of } from 'rxjs';
import type { Clock } from '../../domain/identity.ts';
import type { DeliveryRecord, OutboxRepo } from '../db/outbox.repo.ts';
import { Pump } from '../pump.ts';
import { contextFromTraceparent, recordFailure, SpanKind, startSpan, withSpan } from '../tracing.ts';
import type { Delivery, DomainEvent, DomainEventPayload, FlowDefinition } from './flows.ts';

export interface RelayLogger {
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

export interface OutboxRelayOptions {
  readonly outbox: OutboxRepo;
  readonly flows: readonly FlowDefinition[];
  readonly clock: Clock;
  readonly logger: RelayLogger;
  /** How long a claimed batch is ours before another relay may take it over. @default 10_000 */
  readonly leaseMs?: number;
  /** Deliveries claimed at once per flow; a node that dies holds at most this many until its lease ends. @default 25 */
  readonly batchSize?: number;
  /** Failed attempts after which a delivery is parked, per delivery class. @default { critical: 25, 'best-effort': 8 } */
  readonly maxAttempts?: Readonly<Record<Delivery, number>>;
  /** Called when a delivery is parked (for metrics). */
  readonly onParked?: (flow: string, record: DeliveryRecord) => void;
}

const MAX_BACKOFF_MS = 60_000;
const DEFAULT_MAX_ATTEMPTS: Readonly<Record<Delivery, number>> = { critical: 25, 'best-effort': 8 };

/**
 * Delivers outbox rows to the flows. Each flow has its own delivery record
 * per row and runs apart from the others: it sees each actor's events in
 * commit order, and a failure is retried with backoff for that flow alone —
 * other flows, and other actors in the same flow, go on. After `maxAttempts`
 * the delivery is parked (logged, counted, listed by `npm run outbox`) instead
 * of being retried forever. `nudge()` after a commit delivers promptly;
 * `drain()` at start-up delivers what a crash left behind.
 */
export class OutboxRelay {
  /** Fans new outbox rows out to their flows' delivery records, then nudges those flows. */
  private readonly fanOut: Pump;
  /** One pump per flow: a slow or failing flow holds up only its own deliveries. */
  private readonly pumps: ReadonlyArray<{ readonly flow: FlowDefinition; readonly pump: Pump }>;
  private readonly flowsByType = new Map<string, string[]>();
  private readonly maxAttempts: Readonly<Record<Delivery, number>>;
  /** Per flow, the timer that asks it again when its earliest failed delivery may be retried. */
  private readonly retries = new Map<string, { readonly at: number; readonly timer: NodeJS.Timeout }>();

  constructor(private readonly o: OutboxRelayOptions) {
    const names = new Set<string>();
    for (const flow of o.flows) {
      if (names.has(flow.name)) throw new Error(`two flows are named ${flow.name}`);
      names.add(flow.name);
      for (const type of flow.on) this.flowsByType.set(type, [...(this.flowsByType.get(type) ?? []), flow.name]);
    }
    this.maxAttempts = o.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    // The database is away: what is undelivered stays in the outbox for the next pass or the sweep.
    const failed = (what: string) => (error: unknown) => o.logger.warn({ err: error, pass: what }, 'outbox relay pass failed; will retry');
    this.fanOut = new Pump(async () => {
      const given = new Set<string>();
      for (;;) {
        const { rows, flows } = await o.outbox.fanOut((type) => this.flowsByType.get(type) ?? [], o.clock(), 200);
        for (const flow of flows) given.add(flow);
        if (rows === 0 || this.fanOut.isStopped) break;
      }
      // Every flow at its own pace: each has its own pump, so a slow or failing one never delays another. Only the
      // flows given new deliveries are asked: an idle flow's pass would be a claim that finds nothing. A failed
      // delivery asks its flow again when its backoff ends; what else may wait (a lease that ran out, another
      // node's event that unblocks one here) the periodic sweep takes (`nudgeAll`).
      for (const { flow, pump } of this.pumps) if (given.has(flow.name)) pump.nudge();
    }, failed('fan-out'));
    this.pumps = o.flows.map((flow) => ({ flow, pump: new Pump(() => this.pump(flow), failed(flow.name)) }));
  }

  /** Asks for delivery soon: new rows are fanned out, and every flow delivers what it has. */
  nudge(): void {
    this.fanOut.nudge();
  }

  /**
   * Asks the fan-out and every flow for a pass, without waiting for them (the periodic sweep: a lease that ran out,
   * an event another node fanned out). Unlike `drain()` it returns at once, however busy the flows stay.
   */
  nudgeAll(): void {
    this.fanOut.nudge();
    for (const { pump } of this.pumps) pump.nudge();
  }

  /** Delivers everything deliverable now and resolves when every flow is done (a failing delivery waits its backoff). */
  async drain(): Promise<void> {
    await this.fanOut.drain();
    await Promise.all(this.pumps.map(({ pump }) => pump.drain()));
  }

  /** No new pass starts; resolves when the fan-out and every flow have finished the pass under way. */
  async stop(): Promise<void> {
    for (const { timer } of this.retries.values()) clearTimeout(timer);
    this.retries.clear();
    await this.fanOut.stop();
    await Promise.all(this.pumps.map(({ pump }) => pump.stop()));
  }

  private async pump(flow: FlowDefinition): Promise<void> {
    const leaseMs = this.o.leaseMs ?? 10_000;
    let batch: DeliveryRecord[];
    do {
      const claimedAt = this.o.clock();
      batch = await this.o.outbox.claim(flow.name, claimedAt, leaseMs, this.o.batchSize ?? 25);
      // What the flow is done with is settled in one transaction per batch (a crash before it only redelivers:
      // delivery is at least once anyway). A batch at most one event per actor, so order within an actor holds.
      const done: DeliveryRecord[] = [];
      const pastHalf = () => this.o.clock() - claimedAt > leaseMs / 2;
      try {
        for (const record of batch) {
          // Past half its lease the batch may be running out: settle what is done, then renew this record's, or
          // leave it to the relay that took it over. (Before that, the claim itself still holds: no write needed.)
          if (pastHalf()) {
            await this.o.outbox.markAllDone(done.splice(0), this.o.clock());
            if (!(await this.o.outbox.renew(record, this.o.clock(), leaseMs))) continue;
          }
          if (await this.deliver(flow, record)) done.push(record);
          // A delivery that ran long: what is done is settled before the lease can lapse under it.
          if (pastHalf()) await this.o.outbox.markAllDone(done.splice(0), this.o.clock());
        }
      } finally {
        // Also when the pass fails part-way (the database away): what ran is recorded if it can be, or runs again
        // once the lease ends (delivery is at least once).
        await this.o.outbox.markAllDone(done, this.o.clock()).catch((error: unknown) => {
          this.o.logger.warn({ err: error, flow: flow.name, deliveries: done.length }, 'could not record delivered events; they run again after their lease');
        });
      }
    } while (batch.length > 0 && !this.fanOut.isStopped);
  }

  /** Asks `flow` for a pass when a failed delivery may be retried: a retry waits on nothing else (no new event, no sweep). */
  private retryLater(flow: FlowDefinition, backoffMs: number): void {
    // A little after the retry time: a timer may fire a millisecond before the clock shows it.
    const delayMs = backoffMs + 20;
    const at = Date.now() + delayMs;
    const pending = this.retries.get(flow.name);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.retries.delete(flow.name);
      this.pumps.find((entry) => entry.flow === flow)?.pump.nudge();
    }, delayMs);
    timer.unref();
    this.retries.set(flow.name, { at, timer });
  }

  /** Runs the flow on one delivery: true when it succeeded (to be marked done), false when it failed and was recorded so. */
  private async deliver(flow: FlowDefinition, record: DeliveryRecord): Promise<boolean> {
    const event: DomainEvent = {
      seq: record.seq,
      actorId: record.actorId,
      type: record.type as DomainEvent['type'],
      payload: record.payload as unknown as DomainEventPayload,
      createdAt: record.createdAt,
    };
    // The trace of the step that wrote the event goes on here, on whichever node delivers it.
    const parent = contextFromTraceparent(record.traceparent);
    const span = startSpan(`flow ${flow.name} ${record.type}`, {
      kind: SpanKind.CONSUMER,
      parent,
      attributes: { 'emporium.flow': flow.name, 'emporium.event.type': record.type, 'emporium.outbox.seq': record.seq, 'emporium.actor.id': record.actorId },
    });
    if (record.attempts > 0) span.setAttribute('emporium.delivery.attempt', record.attempts + 1);
    try {
      await withSpan(span, () => lastValueFrom(flow.run(of(event)), { defaultValue: undefined }), parent);
      span.end();
    } catch (error) {
      recordFailure(span, error);
      const attempts = record.attempts + 1;
      const park = attempts >= this.maxAttempts[flow.delivery];
      const backoff = Math.min(MAX_BACKOFF_MS, 500 * 2 ** record.attempts);
      const details = { err: error, flow: flow.name, delivery: flow.delivery, seq: record.seq, type: record.type, actorId: record.actorId, attempts };
      // Logged inside the span: the line carries its trace id.
      withSpan(
        span,
        () => {
          if (park) {
            this.o.logger.error(details, 'flow keeps failing on this event; delivery parked (npm run outbox -- requeue to try again)');
            this.o.onParked?.(flow.name, record);
          } else {
            this.o.logger.warn(details, 'flow failed; will retry');
          }
        },
        parent,
      );
      span.setAttribute('emporium.delivery.parked', park);
      span.end();
      await this.o.outbox.markFailed(record, error instanceof Error ? error.message : String(error), this.o.clock() + backoff, park, this.o.clock());
      if (!park) this.retryLater(flow, backoff);
      return false;
    }
    return true;
  }
}
