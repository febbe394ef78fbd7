// Per-key serialization: tasks for one key run one after another, keys run in parallel.

/**
 * A keyed FIFO of async tasks. Each key's tasks run strictly in order; a
 * failing task does not stop the ones after it.
 *
 * @example
 * const mailbox = new Mailbox();
 * await mailbox.run('cart_1', () => applyEvent());
 */
export class Mailbox {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** True while `key` has a task queued or running. */
  isBusy(key: string): boolean {
    return this.tails.has(key);
  }

  get size(): number {
    return this.tails.size;
  }

  /** Resolves when every task queued so far has finished. */
  async drain(): Promise<void> {
    while (this.tails.size > 0) await Promise.all([...this.tails.values()]);
  }
}
