/**
 * One cancellation measurement, in a FRESH process: one contender, each way it can leave a stream
 * (`--vias`), `--trials` times each after `--warmup` uncounted trials. The base URL selects the
 * server's `endless` mode with a tag, so the server logs, per stream, when its SOCKET closed.
 *
 *   node --import tsx bench/abort/run-one.ts --client ai-sdk --vias signal,break \
 *     --base-url http://127.0.0.1:PORT/knobs/mode=endless,rate=200,tag=abort-ai-sdk-0/v1
 *
 * A trial: the contender streams; inside its consumer, right after the `--after`-th delta, it
 * leaves (unsubscribe / abort() / break) and notes `process.hrtime.bigint()` just before. The
 * parent later pairs that with the server's socket-close time (one clock: CLOCK_MONOTONIC). Here,
 * the next trial waits until the server has seen this stream's socket close, or `--gap-ms` at
 * most (a long poll on the server's `/bench/streams/<tag>/<i>?wait=`), so a way that never closes
 * costs `--gap-ms` per trial, not `--never-ms`. Before exiting, the process waits until every
 * stream's socket has closed or `--never-ms` has passed since it was left — exiting closes every
 * socket, and a stream must not look closed just because the process ended.
 *
 * Trial i of the process is the tag's stream i: every trial makes exactly one request (retries off).
 * Prints one JSON line (`AbortRun`) on stdout.
 */
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { CLIENTS, isClientName, type LeaveVia } from '../clients/index';
import { nowNs } from '../clients/types';
import type { StreamRecord } from '../lib/wire';

export interface AbortTrial {
  readonly via: LeaveVia;
  /** The tag's stream index on the server. */
  readonly index: number;
  readonly warmup: boolean;
  readonly leftNs: number;
  /** How long the leaving call itself took (ms). */
  readonly leaveMs: number;
}

export interface AbortRun {
  readonly client: string;
  readonly tag: string;
  readonly after: number;
  readonly trials: readonly AbortTrial[];
}

const { values } = parseArgs({
  options: {
    client: { type: 'string' },
    'base-url': { type: 'string' },
    vias: { type: 'string' },
    trials: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    after: { type: 'string', default: '5' },
    'gap-ms': { type: 'string', default: '250' },
    'never-ms': { type: 'string', default: '2000' },
  },
});

function fail(message: string): never {
  process.stderr.write(`abort run-one: ${message}\n`);
  process.exit(1);
}

const name = values.client ?? fail('--client is required');
if (!isClientName(name)) fail(`unknown client "${name}"`);
const baseURL = values['base-url'] ?? fail('--base-url is required');
const tag = /\/knobs\/[^/]*\btag=([^,/]+)/.exec(baseURL)?.[1] ?? fail('--base-url needs a tag knob');
const trials = Number(values.trials);
const warmup = Number(values.warmup);
const after = Number(values.after);
const gapMs = Number(values['gap-ms']);
const neverMs = Number(values['never-ms']);
const origin = new URL(baseURL).origin;

/** GET on the server's side endpoint, on a connection of its own (never the contender's pool). */
function getJson<T>(path: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request(`${origin}${path}`, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (s: string) => (body += s));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as T);
        } catch (error) {
          reject(error);
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const client = await CLIENTS[name](baseURL);
const vias = (values.vias?.split(',') ?? client.leaveVia) as LeaveVia[];
for (const via of vias) if (!client.leaveVia.includes(via)) fail(`${name} cannot leave via "${via}" (has: ${client.leaveVia.join(', ')})`);

const results: AbortTrial[] = [];
let index = 0;
for (const via of vias) {
  for (let i = -warmup; i < trials; i++) {
    const left = await client.leave(after, via);
    results.push({ via, index, warmup: i < 0, leftNs: left.leftNs, leaveMs: left.leaveMs });
    await getJson<StreamRecord | null>(`/bench/streams/${tag}/${index}?wait=${gapMs}`);
    index++;
  }
}

// Streams still open: keep the process (and so their sockets) alive until `never-ms` has passed
// since each was left, so an open socket is not mistaken for one that closed.
const records = await getJson<StreamRecord[]>(`/bench/streams/${tag}`);
const open = results.filter((t) => records[t.index]?.closedNs === null);
if (open.length > 0) {
  const until = Math.max(...open.map((t) => t.leftNs)) + neverMs * 1e6 + 100e6;
  await sleep(Math.max(0, (until - nowNs()) / 1e6));
}
const run: AbortRun = { client: name, tag, after, trials: results };
process.stdout.write(`${JSON.stringify(run)}\n`);
process.exit(0);
