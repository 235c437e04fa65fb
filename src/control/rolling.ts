/**
 * A count over a sliding time window, in a fixed ring of buckets: adding is O(1) (amortized over
 * at most `buckets` clears when time jumps ahead), memory is O(buckets) — never one entry per
 * token. Times are whatever clock the caller uses (a scheduler's `now()`).
 */
export class RollingCount {
  private readonly counts: Float64Array;
  private readonly bucketMs: number;
  private origin = 0;
  /** Index, counted from `origin`, of the newest bucket. */
  private head = 0;
  private sum = 0;

  /** `windowMs` > 0 and finite, divided into `buckets` buckets. */
  constructor(
    private readonly windowMs: number,
    buckets = 10,
  ) {
    this.counts = new Float64Array(buckets);
    this.bucketMs = windowMs / buckets;
  }

  /** Forgets everything and starts the window at `now`. */
  reset(now: number): void {
    this.counts.fill(0);
    this.origin = now;
    this.head = 0;
    this.sum = 0;
  }

  /** Adds `amount` at time `now` (not earlier than the last call's `now`). */
  add(now: number, amount: number): void {
    this.advance(now);
    this.counts[this.head % this.counts.length]! += amount;
    this.sum += amount;
  }

  /** What was added during the window ending at `now` (bucket resolution). */
  total(now: number): number {
    this.advance(now);
    return this.sum;
  }

  /**
   * Per second over the window ending at `now`: the total ÷ the window, or ÷ the time since
   * `reset` while that is shorter (at least one bucket, so a first burst does not read as infinite).
   */
  perSecond(now: number): number {
    const span = Math.min(this.windowMs, Math.max(now - this.origin, this.bucketMs));
    return (this.total(now) / span) * 1000;
  }

  private advance(now: number): void {
    const index = Math.floor((now - this.origin) / this.bucketMs);
    if (index <= this.head) return;
    const size = this.counts.length;
    if (index - this.head >= size) {
      this.counts.fill(0);
      this.sum = 0;
    } else {
      for (let i = this.head + 1; i <= index; i++) {
        this.sum -= this.counts[i % size]!;
        this.counts[i % size] = 0;
      }
      // Float subtraction can leave dust where the window is really empty.
      if (this.sum < 1e-9) this.sum = 0;
    }
    this.head = index;
  }
}
