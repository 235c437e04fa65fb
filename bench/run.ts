/**
 * `npm run bench` — the benchmark suite.
 *
 *   npx tsx bench/run.ts                 all sections, full runs → bench/results/latest.{json,md}
 *   npx tsx bench/run.ts --quick         1 small run per contender (CI smoke test, < 30 s) → bench/results/tmp/quick.{json,md}
 *   npx tsx bench/run.ts --section parse run only the named section(s)
 *   npx tsx bench/run.ts --runs 7        processes per cell (sections that support it)
 *
 * One server process (bench/server.ts) serves every section. Timings are never asserted; the exit
 * code is non-zero only for hard failures (a contender crashed or got the wrong token count).
 * Adding a section: write `bench/<name>/index.ts` exporting a `BenchSection`, list it in SECTIONS.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { here } from './lib/child';
import { machineInfo } from './lib/machine';
import type { BenchSection } from './lib/section';
import { cacheSection } from './cache/index';
import { parseSection } from './parse/index';
import { startBenchServer } from './server';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    section: { type: 'string', multiple: true },
    runs: { type: 'string' },
    sizes: { type: 'string' },
  },
});
const quick = values.quick;
const runs = values.runs !== undefined ? Number(values.runs) : undefined;
const sizes = values.sizes?.split(',').map(Number);

/** The sections, in run order. `ttft`, `memory`, `peers` go here later. */
const SECTIONS: readonly BenchSection[] = [
  parseSection({ ...(runs ? { runs } : {}), ...(sizes ? { sizes } : {}) }),
  cacheSection(runs ? { runs } : {}),
];

const selected = values.section?.length ? SECTIONS.filter((s) => values.section!.includes(s.name)) : SECTIONS;
if (values.section?.length && selected.length !== values.section.length) {
  console.error(`unknown section; have: ${SECTIONS.map((s) => s.name).join(', ')}`);
  process.exit(2);
}

const started = performance.now();
const log = (line: string): void => void process.stderr.write(`${line}\n`);
const machine = machineInfo(['undici', 'eventsource-parser', 'rxjs', 'zod', 'tsx']);
log(`rxllm bench${quick ? ' (quick)' : ''} — ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}`);

const server = await startBenchServer();
const results: Record<string, unknown> = {};
const markdown: string[] = [];
const failures: string[] = [];
try {
  for (const section of selected) {
    log(`\n== ${section.name}: ${section.description}`);
    const result = await section.run({ server, quick, log });
    results[section.name] = result.json;
    markdown.push(result.markdown);
    failures.push(...result.failures);
  }
} finally {
  await server.close();
}

const seconds = (performance.now() - started) / 1000;
const header = [
  `# rxllm benchmarks${quick ? ' (quick smoke run — not for comparison)' : ''}`,
  '',
  `${machine.cpu}, ${machine.cores} cores, ${machine.os}, Node ${machine.node}; ` +
    Object.entries(machine.versions).map(([name, version]) => `${name} ${version}`).join(', ') +
    `. ${machine.date}, ${seconds.toFixed(0)} s.`,
  '',
].join('\n');
const md = `${header}\n${markdown.join('\n\n')}\n`;
const json = { machine, quick, seconds: Math.round(seconds * 10) / 10, sections: results, failures };

const dir = here(import.meta.url, quick ? './results/tmp/' : './results/');
await mkdir(dir, { recursive: true });
const base = quick ? 'quick' : 'latest';
await writeFile(`${dir}${base}.json`, `${JSON.stringify(json, null, 2)}\n`);
await writeFile(`${dir}${base}.md`, md);

process.stdout.write(`\n${md}\n`);
log(`wrote bench/results/${quick ? 'tmp/' : ''}${base}.{json,md} in ${seconds.toFixed(1)} s`);
if (failures.length > 0) {
  log(`\n${failures.length} failure(s):\n${failures.join('\n')}`);
  process.exitCode = 1;
}
