/**
 * Handle accounting for the reliability suites: which timers and TCP sockets a run left behind.
 *
 * `process.getActiveResourcesInfo()` counts every ref'd timer in the process, the test runner's
 * own among them (its reporters and RPC come and go while a test runs), so a before/after count is
 * noisy. Instead an `async_hooks` hook records each timer (`Timeout`) and TCP socket (`TCPWRAP`)
 * created while tracking is on, with where it was created (the first stack frame outside Node's
 * and RxJS's internals), and forgets it when it is destroyed — a timer when it fired (not
 * repeating) or was cleared, a socket when it closed. What is still alive after a generous settle,
 * and was created by rxllm's code (`src/`, `operators/`; not `src/testing/`, the mock server) or by
 * undici on rxllm's behalf, is a leak. `process.getActiveResourcesInfo()` is reported beside it.
 */
import { createHook } from 'node:async_hooks';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Who created a timer or socket, by the innermost stack frame that is neither Node's nor RxJS's. */
export type Origin = 'rxllm' | 'undici' | 'mock-server' | 'test' | 'other';

export interface LiveHandle {
  readonly type: 'Timeout' | 'TCPWRAP';
  readonly origin: Origin;
  /** The frame that decided the origin, e.g. `operators/deadline.ts:97`. */
  readonly where: string;
}

export interface HandleTracker {
  /** Timers and sockets created since `start()` and still alive. */
  live(): LiveHandle[];
  /** The live ones a leak of the client would be: created by rxllm or undici (timers), or any TCP socket. */
  leaks(): LiveHandle[];
  stop(): void;
}

/** Starts recording timers and TCP sockets created from now on. One tracker at a time. */
export function trackHandles(): HandleTracker {
  const live = new Map<number, LiveHandle>();
  const hook = createHook({
    init(asyncId, type) {
      if (type !== 'Timeout' && type !== 'TCPWRAP') return;
      const [origin, where] = originOf(new Error().stack ?? '');
      live.set(asyncId, { type, origin, where });
    },
    destroy(asyncId) {
      live.delete(asyncId);
    },
  });
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 40;
  hook.enable();
  return {
    live: () => [...live.values()],
    leaks: () => [...live.values()].filter((h) => h.type === 'TCPWRAP' || h.origin === 'rxllm' || h.origin === 'undici'),
    stop() {
      hook.disable();
      Error.stackTraceLimit = limit;
    },
  };
}

function originOf(stack: string): [Origin, string] {
  for (const line of stack.split('\n').slice(1)) {
    const file = /\(?((?:file:\/\/)?\/[^():]+|node:[^():]+):(\d+):\d+\)?\s*$/.exec(line.trim());
    if (!file) continue;
    const path = file[1]!.replace(/^file:\/\//, '');
    if (path.startsWith('node:') || path.includes('/node_modules/rxjs/') || path.includes('/helpers/handles.ts')) continue;
    const where = `${path.startsWith(ROOT) ? path.slice(ROOT.length) : path}:${file[2]}`;
    // undici's process-wide ticker (its "fast timers" clock): one unref'd timer shared by every
    // undici client, which stops itself at its next tick once no undici timer is pending. Not a
    // call's; a call's own timers are the fast timers it registers there, and its socket.
    if (path.includes('/node_modules/undici/lib/util/timers.js')) return ['other', where];
    if (path.includes('/node_modules/undici/')) return ['undici', where];
    if (path.includes('/node_modules/')) return ['other', where];
    if (!path.startsWith(ROOT)) return ['other', where];
    const rel = path.slice(ROOT.length);
    if (rel.startsWith('src/testing/')) return ['mock-server', where];
    if (rel.startsWith('src/') || rel.startsWith('operators/')) return ['rxllm', where];
    return ['test', where];
  }
  return ['other', '(no frame)'];
}

/**
 * Polls (every 10 ms, up to `timeoutMs`) until `tracker` shows no leak; resolves with what is
 * still there then — empty when everything was released. Never rejects: the caller asserts, so a
 * failure names each survivor and where it was made.
 */
export async function settleLeaks(tracker: HandleTracker, timeoutMs = 3000): Promise<LiveHandle[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const leaks = tracker.leaks();
    if (leaks.length === 0 || Date.now() > until) return leaks;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The kinds `process.getActiveResourcesInfo()` reports that a leak would show as, counted. */
export function activeResourceCounts(): { Timeout: number; TCPSocketWrap: number } {
  const counts = { Timeout: 0, TCPSocketWrap: 0 };
  for (const kind of process.getActiveResourcesInfo()) if (kind === 'Timeout' || kind === 'TCPSocketWrap') counts[kind]++;
  return counts;
}
