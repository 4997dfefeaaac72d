/**
 * Exponential backoff, the runner's one: the n-th retry waits up to
 * min(max, base * 2^n). With full jitter (the default, for reconnects) the
 * wait is uniformly random below that, so a fleet of runners that lost the
 * platform together does not reconnect together; without it (the
 * supervisor's restarts of its one local child) it is exactly that.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    readonly baseMs = 1000,
    readonly maxMs = 5 * 60 * 1000,
    readonly jitter = true,
  ) {}

  next(): number {
    const ceiling = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return this.jitter ? Math.floor(Math.random() * ceiling) : ceiling;
  }

  reset(): void {
    this.attempt = 0;
  }
}
