import type { Subscriber, Subscription } from 'rxjs';
import type { LlmEvent } from '../core/events';

/**
 * Single-flight: one upstream call shared by every concurrent subscriber that missed on the same
 * key. The flight records what the upstream sent (for late joiners, and for the store at the end)
 * and fans it out; members join and leave freely, and the upstream is released only when the last
 * member leaves (a refcount). Flights are registered per store object, so operators created apart
 * (e.g. `cache(store)` inline in a request handler) still share them.
 */
export class Flight {
  /** Every event after `request`, and its time in ms since the flight started. */
  readonly events: LlmEvent[] = [];
  readonly times: number[] = [];
  private readonly members = new Set<Member>();
  private upstream: Subscription | undefined;
  private ended = false;

  constructor(
    private readonly registry: Map<string, Flight>,
    readonly key: string,
    private readonly now: () => number,
    private readonly onComplete: (flight: Flight) => void,
  ) {
    this.startedAt = now();
    registry.set(key, this);
  }

  private readonly startedAt: number;

  /**
   * Takes ownership of the upstream subscription — one that no member's teardown closes (the
   * leader hands it over detached), so a member leaving does not end it: it is released when the
   * last member leaves.
   */
  attach(upstream: Subscription): void {
    this.upstream = upstream;
    if (this.ended) upstream.unsubscribe();
  }

  /** Adds a member: it gets what was recorded so far, then the live events; it leaves when it unsubscribes. */
  join(subscriber: Subscriber<LlmEvent>): void {
    const member: Member = { subscriber, cursor: 0 };
    this.members.add(member);
    subscriber.add(() => this.leave(member));
    // Re-read `events.length` each turn: a live event arriving during the catch-up is picked up here
    // (the broadcast skips a member whose cursor is behind), so nothing is delivered twice or lost.
    while (member.cursor < this.events.length && !subscriber.closed) subscriber.next(this.events[member.cursor++]!);
  }

  /** The upstream's events, errors and completion come here (a flight is the observer of its call). */
  next(event: LlmEvent): void {
    if (this.ended || event.type === 'request') return; // an inner resubscription's repeat: each member has its own
    const index = this.events.length;
    this.events.push(event);
    this.times.push(this.now() - this.startedAt);
    for (const member of this.members) {
      if (member.cursor !== index) continue; // joined during this broadcast (already has it) or still catching up
      member.cursor = index + 1;
      member.subscriber.next(event);
    }
  }

  error(error: unknown): void {
    if (!this.end()) return;
    for (const member of this.members) member.subscriber.error(error);
  }

  complete(): void {
    if (!this.end()) return;
    this.onComplete(this);
    for (const member of this.members) member.subscriber.complete();
  }

  private end(): boolean {
    if (this.ended) return false;
    this.ended = true;
    if (this.registry.get(this.key) === this) this.registry.delete(this.key);
    return true;
  }

  private leave(member: Member): void {
    if (!this.members.delete(member) || this.members.size > 0 || !this.end()) return;
    this.upstream?.unsubscribe(); // the last one left before the end: a cancelled call, never stored
  }
}

interface Member {
  readonly subscriber: Subscriber<LlmEvent>;
  /** How many of `events` it has been given. */
  cursor: number;
}

const registries = new WeakMap<object, Map<string, Flight>>();

/** The in-flight calls of a store, by key. */
export function flightsOf(store: object): Map<string, Flight> {
  let flights = registries.get(store);
  if (!flights) registries.set(store, (flights = new Map()));
  return flights;
}
