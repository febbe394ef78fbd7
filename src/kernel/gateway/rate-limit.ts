// A token bucket per connection: bursts are fine, floods are refused and then cut off.

export class TokenBucket {
  private tokens: number;
  private last: number;
  private refusedInRow = 0;

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = perSecond;
    this.last = now();
  }

  /** Takes one token; false when the bucket is empty. */
  take(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      this.refusedInRow = 0;
      return true;
    }
    this.refusedInRow++;
    return false;
  }

  /** A client that keeps sending after being refused a full second's worth is flooding. */
  get flooding(): boolean {
    return this.refusedInRow > this.perSecond;
  }
}
