/**
 * The savings workload: a synthetic trace, generated from a seed and committed as
 * `bench/savings/trace.json`, so every run replays exactly the same requests.
 *
 *   npx tsx bench/savings/trace.ts            regenerate trace.json (same seed → same bytes)
 *
 * What it models (every parameter is in `TRACE_PARAMETERS` and printed beside the results):
 * - `requests` arrivals, Poisson at `ratePerSecond`, spread over `tenants` tenants with skewed
 *   traffic shares.
 * - A pool of `distinctPrompts` prompts drawn with Zipf(`zipfS`) popularity, so a few prompts
 *   repeat often (FAQ-like questions) and most are rare — the shape that gives a cache its hits.
 * - `easyShare` of the prompts are short and easy (a question of 15–60 words; answers of
 *   60–250 tokens); the rest are long and hard (a question over a pasted document of
 *   1,200–5,000 words; answers of 300–900 tokens), marked by the words a router's rules look for.
 *
 * The documents are not stored: each long prompt has a word count and a seed, and
 * `promptText()` regenerates its text deterministically.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../../src/core/random';

export const TRACE_PARAMETERS = {
  seed: 20261123,
  requests: 2000,
  distinctPrompts: 3000,
  zipfS: 0.85,
  easyShare: 0.7,
  ratePerSecond: 4,
  tenants: { acme: 0.55, globex: 0.3, initech: 0.15 } as Readonly<Record<string, number>>,
} as const;

export type PromptKind = 'easy' | 'hard';

export interface TracePrompt {
  readonly id: number;
  readonly kind: PromptKind;
  readonly question: string;
  /** Hard prompts: words of the pasted document, regenerated from `docSeed`. */
  readonly docWords?: number;
  readonly docSeed?: number;
  /** How long the (simulated) answer is, in tokens. */
  readonly answerTokens: number;
}

export interface TraceRequest {
  /** Arrival, ms from the start. */
  readonly at: number;
  readonly tenant: string;
  readonly prompt: number;
}

export interface Trace {
  readonly parameters: typeof TRACE_PARAMETERS;
  readonly prompts: readonly TracePrompt[];
  readonly requests: readonly TraceRequest[];
}

const TOPICS = ['billing', 'invoices', 'the API rate limits', 'streaming responses', 'SSO login', 'webhooks', 'data export', 'team seats', 'the mobile app', 'refunds', 'usage alerts', 'the audit log'];
const EASY_FORMS = [
  'How do I change {t}?',
  'Where can I find {t} in the dashboard?',
  'Is {t} included in the free plan?',
  'Can you explain {t} in one paragraph?',
  'What is the quickest way to set up {t}?',
  'Who can see {t} on my account?',
];
const HARD_FORMS = [
  'Analyze the following contract and list every clause about {t}, with risks and a recommendation:',
  'Review this incident report about {t}; explain the root cause step by step and propose a remediation plan:',
  'Summarize this design document on {t}, compare the two proposals in depth and justify which one to choose:',
];
const WORDS =
  'the system request model token stream cost budget answer latency provider cache tenant user invoice clause party agreement service level data region retention security incident timeline customer support release policy review metric error retry limit queue owner approval quarter revenue contract renewal notice term obligation'.split(
    ' ',
  );

/** Generates the trace for `parameters` (deterministic). */
export function generateTrace(parameters = TRACE_PARAMETERS): Trace {
  const random = mulberry32(parameters.seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const between = (lo: number, hi: number): number => Math.round(lo + random() * (hi - lo));
  const prompts: TracePrompt[] = [];
  for (let id = 0; id < parameters.distinctPrompts; id++) {
    const topic = pick(TOPICS);
    if (random() < parameters.easyShare) {
      const filler = Array.from({ length: between(8, 50) }, () => pick(WORDS)).join(' ');
      prompts.push({ id, kind: 'easy', question: `${pick(EASY_FORMS).replace('{t}', topic)} Context: ${filler}.`, answerTokens: between(60, 250) });
    } else {
      prompts.push({ id, kind: 'hard', question: pick(HARD_FORMS).replace('{t}', topic), docWords: between(1200, 5000), docSeed: Math.floor(random() * 2 ** 31), answerTokens: between(300, 900) });
    }
  }
  // Zipf popularity over a shuffled pool, so popularity does not follow easy/hard by id.
  const order = prompts.map((p) => p.id);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const weights = order.map((_, rank) => 1 / (rank + 1) ** parameters.zipfS);
  const total = weights.reduce((a, b) => a + b, 0);
  const cumulative: number[] = [];
  weights.reduce((sum, w, i) => (cumulative[i] = sum + w / total), 0);
  const tenants = Object.entries(parameters.tenants);
  const requests: TraceRequest[] = [];
  let at = 0;
  for (let i = 0; i < parameters.requests; i++) {
    at += -Math.log(1 - random()) * (1000 / parameters.ratePerSecond);
    const u = random();
    const rank = cumulative.findIndex((c) => c >= u);
    let v = random();
    let tenant = tenants[0]![0];
    for (const [name, share] of tenants) {
      if ((v -= share) < 0) {
        tenant = name;
        break;
      }
    }
    requests.push({ at: Math.round(at), tenant, prompt: order[rank === -1 ? order.length - 1 : rank]! });
  }
  // Only the prompts the requests use are kept (ids unchanged): the file stays small.
  const used = new Set(requests.map((r) => r.prompt));
  return { parameters, prompts: prompts.filter((p) => used.has(p.id)), requests };
}

/** The full user message of a prompt (hard prompts get their document regenerated). */
/** The prompt of a request, by id. */
export function promptIndex(trace: Trace): ReadonlyMap<number, TracePrompt> {
  return new Map(trace.prompts.map((p) => [p.id, p]));
}

export function promptText(prompt: TracePrompt): string {
  if (prompt.docWords === undefined) return prompt.question;
  const random = mulberry32(prompt.docSeed ?? 0);
  const words: string[] = [];
  for (let i = 0; i < prompt.docWords; i++) words.push(WORDS[Math.floor(random() * WORDS.length)]!);
  return `${prompt.question}\n\n${words.join(' ')}`;
}

export const TRACE_PATH = fileURLToPath(new URL('./trace.json', import.meta.url));

export function serializeTrace(trace: Trace): string {
  // One request per line: readable diffs, small file.
  return `{\n"parameters": ${JSON.stringify(trace.parameters)},\n"prompts": [\n${trace.prompts.map((p) => JSON.stringify(p)).join(',\n')}\n],\n"requests": [\n${trace.requests.map((r) => JSON.stringify(r)).join(',\n')}\n]\n}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(TRACE_PATH, serializeTrace(generateTrace()));
  process.stderr.write(`wrote ${TRACE_PATH}\n`);
}
