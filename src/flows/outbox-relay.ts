// The outbox relay: claims committed domain events and runs every flow on each, at least once, after a crash too.
import { lastValueFrom, merge, of } from 'rxjs';
import type { Clock } from '../domain/identity.ts';
import type { OutboxRecord, OutboxRepo } from '../persistence/outbox.repo.ts';
import type { DomainEvent, DomainEventPayload, Flow } from './domain-events.ts';

export interface RelayLogger {
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

export interface OutboxRelayOptions {
  readonly outbox: OutboxRepo;
  readonly flows: readonly Flow[];
  readonly clock: Clock;
  readonly logger: RelayLogger;
  /** How long a claimed batch is ours before another relay may take it over. @default 10_000 */
  readonly leaseMs?: number;
  /** Rows claimed at once; a node that dies holds at most this many until its lease ends. @default 25 */
  readonly batchSize?: number;
}

const MAX_BACKOFF_MS = 60_000;

/**
 * Delivers outbox rows to the flows in commit order. A row is marked
 * dispatched only after every flow has finished with it; a failure is retried
 * with backoff. `nudge()` after a commit delivers promptly; `drain()` at
 * start-up delivers what a crash left behind.
 */
export class OutboxRelay {
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(private readonly o: OutboxRelayOptions) {}

  /** Asks for a drain soon; calls while one runs fold into one more pass. */
  nudge(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => {
      this.running = undefined;
    });
  }

  /** Delivers everything deliverable now and resolves when done. */
  async drain(): Promise<void> {
    this.nudge();
    while (this.running) await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    while (this.running) await this.running;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      let batch: OutboxRecord[];
      do {
        batch = await this.o.outbox.claim(this.o.clock(), this.o.leaseMs ?? 10_000, this.o.batchSize ?? 25);
        for (const record of batch) await this.deliver(record);
      } while (batch.length > 0 && !this.stopped);
    } while (this.again && !this.stopped);
  }

  private async deliver(record: OutboxRecord): Promise<void> {
    const event: DomainEvent = {
      seq: record.seq,
      actorId: record.actorId,
      type: record.type as DomainEvent['type'],
      payload: record.payload as unknown as DomainEventPayload,
      createdAt: record.createdAt,
    };
    try {
      await lastValueFrom(merge(...this.o.flows.map((flow) => flow(of(event)))), { defaultValue: undefined });
      await this.o.outbox.markDispatched(record.seq, this.o.clock());
    } catch (error) {
      const backoff = Math.min(MAX_BACKOFF_MS, 500 * 2 ** record.attempts);
      this.o.logger.warn({ err: error, seq: record.seq, type: record.type, attempts: record.attempts + 1 }, 'flow failed; will retry');
      await this.o.outbox.markFailed(record.seq, error instanceof Error ? error.message : String(error), this.o.clock() + backoff);
    }
  }
}
