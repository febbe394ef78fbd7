// A pump: runs a pass of work one at a time; asking while a pass runs makes one more pass after it. The outbox relay
// (one per flow) and the mail dispatcher run on it.

/**
 * Runs `pass` whenever nudged, never twice at once: nudges while a pass runs fold into one more pass after it.
 * A pass that throws is reported to `onError` and ends the round (the next nudge starts again).
 *
 * @example
 * const pump = new Pump(() => deliverDue(), (err) => logger.warn({ err }, 'pass failed; will retry'));
 * pump.nudge();        // soon
 * await pump.drain();  // now, and until nothing more was asked for
 */
export class Pump {
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly pass: () => Promise<void>,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Asks for a pass soon; calls while one runs fold into one more pass. */
  nudge(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop();
  }

  /** Runs a pass now (or joins the one running) and resolves when no more passes were asked for. */
  async drain(): Promise<void> {
    this.nudge();
    await this.idle();
  }

  /** Resolves when no pass is running, without asking for one. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** No new pass starts; resolves when the one under way has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.idle();
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        try {
          await this.pass();
        } catch (error) {
          this.onError(error);
          return;
        }
      } while (this.again && !this.stopped);
    } finally {
      // In the same step as the last check of `again`: a nudge can no longer land between the two and be lost.
      this.running = undefined;
    }
  }
}
