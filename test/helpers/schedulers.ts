import { asyncScheduler, Subscription, type SchedulerAction, type SchedulerLike } from 'rxjs';
import type { MockServer } from 'rxllm/testing';

/**
 * Real timers (asyncScheduler) that start only once `server` has received `count` requests. For
 * tests against the mock server with short limits: on a loaded machine a 30 ms timer could
 * otherwise fire before the request was even sent, and the test would measure loopback speed
 * instead of the operator.
 */
export function afterRequests(server: MockServer, count = 1): SchedulerLike {
  return {
    now: () => asyncScheduler.now(),
    schedule: ((work: (this: SchedulerAction<unknown>, state?: unknown) => void, delay?: number, state?: unknown) => {
      const timer = new Subscription();
      void server.waitForRequests(count).then(() => timer.closed || timer.add(asyncScheduler.schedule(work, delay, state)));
      return timer;
    }) as SchedulerLike['schedule'],
  };
}
