// Group commit: writes that arrive while a transaction is committing ride together in the next one.
import type { ActorWrite, ActorWriter, WriteOutcome } from '../db/actor-writer.ts';

interface Pending {
  readonly write: ActorWrite;
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
    if (!this.options.enabled) return this.writer.write([write]).then((outcomes) => outcomes[0]!);
    return new Promise((resolve, reject) => {
      this.queue.push({ write, resolve, reject });
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
        try {
          const outcomes = await this.writer.write(batch.map((pending) => pending.write));
          batch.forEach((pending, i) => {
            pending.resolve(outcomes[i]!);
          });
        } catch (error) {
          for (const pending of batch) pending.reject(error);
        }
      }
    } finally {
      this.flushing = false;
    }
  }
}
