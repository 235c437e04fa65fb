/**
 * A count over a sliding time window, in a fixed ring of buckets: adding is O(1) (amortized over
 * at most `buckets` clears when time jumps ahead), memory is O(buckets) — never one entry per
 * token. Times are whatever clock the caller uses (a scheduler's `now()`).
 *
 * Buckets are closed on the right: bucket `i` holds what was added in
 * `(origin + i·bucketMs, origin + (i + 1)·bucketMs]`, and bucket 0 also what came at `origin`
 * itself. So a count "over the last N ms" holds what came strictly after its start and up to now,
 * and a stream paced at exactly one token per 10 ms reads exactly 100/s, not 100/s plus the token
 * that sits on the window's edge.
 */
export class RollingCount {
  private readonly counts: Float64Array;
  private readonly bucketMs: number;
  private origin = 0;
  /** Index, counted from `origin`, of the newest bucket. */
  private head = 0;
  private sum = 0;
  /** What was added at `origin` itself (the first burst of a stream), counted in bucket 0 too. */
  private atOrigin = 0;

  /** `windowMs` > 0 and finite, divided into `buckets` buckets. */
  constructor(windowMs: number, buckets = 10) {
    this.counts = new Float64Array(buckets);
    this.bucketMs = windowMs / buckets;
  }

  /** Forgets everything and starts the window at `now`. */
  reset(now: number): void {
    this.counts.fill(0);
    this.origin = now;
    this.head = 0;
    this.sum = 0;
    this.atOrigin = 0;
  }

  /** Adds `amount` at time `now` (not earlier than the last call's `now`). */
  add(now: number, amount: number): void {
    this.advance(now);
    this.counts[this.head % this.counts.length]! += amount;
    this.sum += amount;
    if (now <= this.origin) this.atOrigin += amount;
  }

  /** What was added during the window ending at `now` (bucket resolution). */
  total(now: number): number {
    this.advance(now);
    return this.sum;
  }

  /**
   * Per second, over the time the counted buckets really cover — not over the whole window, whose
   * newest bucket is only partly gone by (dividing by the window read a steady stream ~5–10% low):
   *
   * - Once the window has moved past `reset`: what the buckets hold ÷ the time from the start of
   *   the oldest one to `now` (between `windowMs − bucketMs` and `windowMs`).
   * - Before that (a stream younger than the window): what came after `reset`'s moment ÷ the time
   *   since it — a rate between tokens, so the first burst, which has no time of its own behind it,
   *   is not counted (n tokens 10 ms apart read 100/s, not (n + 1)/s).
   * - At `reset`'s moment itself, with no time gone by: what came then ÷ one bucket, so a first
   *   burst reads as a finite rate.
   */
  perSecond(now: number): number {
    this.advance(now);
    const size = this.counts.length;
    if (this.head < size) {
      const span = now - this.origin;
      return span > 0 ? ((this.sum - this.atOrigin) / span) * 1000 : (this.sum / this.bucketMs) * 1000;
    }
    const start = this.origin + (this.head - size + 1) * this.bucketMs;
    return (this.sum / (now - start)) * 1000;
  }

  /** The bucket of `now`: `(origin + i·bucketMs, origin + (i + 1)·bucketMs]` is bucket `i`; `origin` is in bucket 0. */
  private indexOf(now: number): number {
    return now <= this.origin ? 0 : Math.ceil((now - this.origin) / this.bucketMs) - 1;
  }

  private advance(now: number): void {
    const index = this.indexOf(now);
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
