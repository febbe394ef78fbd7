// Group commit: writes that arrive while a transaction is committing ride together in the next one.
import type { Context } from '@opentelemetry/api';
import type { ActorWrite, ActorWriter, WriteOutcome } from '../db/actor-writer.ts';
import { activeContext, inSpan, recordFailure, startSpan } from '../tracing.ts';

interface Pending {
  readonly write: ActorWrite;
  /** The trace context of the step that asked for the write: its `db commit` span is a child of that step. */
  readonly context: Context;
  resolve(outcome: WriteOutcome): void;
  reject(error: unknown): void;
}

/**
 * Queues actor writes and commits them in batches: the first write commits at
 * the end of the current event-loop turn, with whatever else arrived in that
 * turn; writes arriving while it commits form the next batch, committed as
 * soon as it is done. No write waits for a timer, and each is answered only
 * after the transaction holding it committed. With `enabled: false` every
 * write is its own transaction.
 */
export class GroupCommit {
  private queue: Pending[] = [];
  private flushing = false;

  constructor(
    private readonly writer: ActorWriter,
    private readonly options: { readonly enabled: boolean; readonly maxBatch?: number },
  ) {}

  submit(write: ActorWrite): Promise<WriteOutcome> {
    if (!this.options.enabled) {
      return inSpan('db commit', { attributes: { 'emporium.db.batch_size': 1 } }, async (span) => {
        const outcome = (await this.writer.write([write]))[0]!;
        if (outcome instanceof Error) recordFailure(span, outcome);
        else span.setAttribute('emporium.db.outcome', outcome);
        return outcome;
      });
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ write, context: activeContext(), resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        // Wait out the rest of this event-loop turn: commands from other sockets read in the same
        // I/O phase join this transaction instead of each paying for a commit of its own.
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.options.maxBatch ?? 500);
        // One transaction, one `db commit` span in each trace that has a write in it.
        const spans = batch.map((pending) => startSpan('db commit', { parent: pending.context, attributes: { 'emporium.db.batch_size': batch.length } }));
        try {
          const outcomes = await this.writer.write(batch.map((pending) => pending.write));
          batch.forEach((pending, i) => {
            const outcome = outcomes[i]!;
            if (outcome instanceof Error) recordFailure(spans[i]!, outcome);
            else spans[i]!.setAttribute('emporium.db.outcome', outcome);
            spans[i]!.end();
            pending.resolve(outcome);
          });
        } catch (error) {
          for (const span of spans) {
            recordFailure(span, error);
            span.end();
          }
          for (const pending of batch) pending.reject(error);
        }
      }
    } finally {
      this.flushing = false;
    }
  }
}
