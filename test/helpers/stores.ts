import { asyncScheduler, type SchedulerLike } from 'rxjs';
import { memoryStore, type MemoryStore, type Store } from 'rxllm';

/** A store that answers every call with a Promise (a Redis stand-in), over a memory store. */
export const asyncStore = (inner: MemoryStore = memoryStore()): Store => ({
  get: async (k) => inner.get(k),
  set: async (k, v, o) => inner.set(k, v, o),
  delete: async (k) => inner.delete(k),
  increment: async (k, by, o) => inner.increment(k, by, o),
});

/**
 * A clock to set by hand, for ledgers and stores: `now()` is `clock.t`, starting at `iso`; it
 * schedules on asyncScheduler. (Inside TestScheduler.run() asyncScheduler.now() is virtual time,
 * frame 0 being 1970, so ledgers in marble tests take this instead.)
 */
export const clockAt = (iso: string): SchedulerLike & { t: number } => {
  const clock = { t: Date.parse(iso), now: () => clock.t, schedule: asyncScheduler.schedule.bind(asyncScheduler) };
  return clock as SchedulerLike & { t: number };
};
