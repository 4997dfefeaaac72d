/**
 * Exponential backoff with full jitter: the n-th retry waits a uniformly
 * random time in [0, min(max, base * 2^n)], so a fleet of runners that lost
 * the platform together does not reconnect together.
 */
export class Backoff {
  private attempt = 0;

  constructor(readonly baseMs = 1000, readonly maxMs = 5 * 60 * 1000) {}

  next(): number {
    const ceiling = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.floor(Math.random() * ceiling);
  }

  reset(): void {
    this.attempt = 0;
  }
}
