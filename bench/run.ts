/**
 * `npm run bench` — the benchmark suite.
 *
 *   npx tsx bench/run.ts                 all sections, full runs (< 6 min) → bench/results/latest.{json,md}, chart.svg
 *   npx tsx bench/run.ts --quick         1 small run per contender (CI smoke test, < 60 s) → bench/results/tmp/quick.{json,md}
 *   npx tsx bench/run.ts --section parse run only the named section(s) → bench/results/tmp/<names>.{json,md}
 *   npx tsx bench/run.ts --runs 7        processes per cell (every section)
 *   npx tsx bench/run.ts --out tmp/mine  write bench/results/tmp/mine.{json,md} instead
 *   npx tsx bench/run.ts --tsx           children under the tsx loader instead of esbuild bundles
 *
 * One server process (bench/server.ts) serves every section. Timings are never asserted; the exit
 * code is non-zero only for hard failures (a contender crashed or got the wrong token count).
 * Adding a section: write `bench/<name>/index.ts` exporting a `BenchSection`, list it in SECTIONS.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { bundleChildren, childScripts, takeChildTimes } from './lib/child';
import { machineInfo } from './lib/machine';
import type { BenchSection } from './lib/section';
import { abortSection } from './abort/index';
import { cacheSection } from './cache/index';
import { CLIENT_PACKAGES } from './clients/index';
import { memorySection } from './memory/index';
import { parseSection } from './parse/index';
import { pipelineSection } from './pipeline/index';
import { savingsSection } from './savings/index';
import { startBenchServer } from './server';
import { renderChart } from './tools/chart';
import { throughputSection } from './throughput/index';
import { ttftSection } from './ttft/index';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    section: { type: 'string', multiple: true },
    runs: { type: 'string' },
    sizes: { type: 'string' },
    out: { type: 'string' },
    tsx: { type: 'boolean', default: false },
  },
});
const quick = values.quick;
const runs = values.runs !== undefined ? Number(values.runs) : undefined;
const sizes = values.sizes?.split(',').map(Number);

const runsOverride = runs ? { runs } : {};
/** The sections, in run order. */
const SECTIONS: readonly BenchSection[] = [
  parseSection({ ...runsOverride, ...(sizes ? { sizes } : {}) }),
  ttftSection(runsOverride),
  throughputSection(runsOverride),
  memorySection(runsOverride),
  abortSection(runsOverride),
  cacheSection(runsOverride),
  pipelineSection(runsOverride),
  savingsSection(),
];

const selected = values.section?.length ? SECTIONS.filter((s) => values.section!.includes(s.name)) : SECTIONS;
if (values.section?.length && selected.length !== values.section.length) {
  console.error(`unknown section; have: ${SECTIONS.map((s) => s.name).join(', ')}`);
  process.exit(2);
}

const started = performance.now();
const log = (line: string): void => void process.stderr.write(`${line}\n`);
// Every contender's packages (the peers' exact versions belong next to their figures), then tsx.
const machine = machineInfo([...new Set([...Object.values(CLIENT_PACKAGES).flat(), 'tsx'])]);
log(`rxllm bench${quick ? ' (quick)' : ''} — ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}`);

// Children run as bundles (see lib/child.ts); `--tsx` runs them under the tsx loader instead.
const removeBundles = values.tsx ? async () => {} : await bundleChildren(childScripts());
const server = await startBenchServer();
const results: Record<string, unknown> = {};
const markdown: string[] = [];
const failures: string[] = [];
const sectionSeconds: Record<string, number> = {};
/** Per section: fresh processes started, and the seconds they lived (the rest is the parent's waiting and the server). */
const sectionProcesses: Record<string, { processes: number; seconds: number }> = {};
try {
  for (const section of selected) {
    log(`\n== ${section.name}: ${section.description}`);
    const sectionStart = performance.now();
    const result = await section.run({ server, quick, log });
    sectionSeconds[section.name] = Math.round((performance.now() - sectionStart) / 100) / 10;
    const children = takeChildTimes();
    sectionProcesses[section.name] = { processes: children.processes, seconds: Math.round(children.ms / 100) / 10 };
    log(`== ${section.name}: ${sectionSeconds[section.name]} s (${children.processes} processes, ${(children.ms / 1000).toFixed(1)} s in them)`);
    results[section.name] = result.json;
    markdown.push(result.markdown);
    failures.push(...result.failures);
  }
} finally {
  await server.close();
  await removeBundles();
}

const seconds = (performance.now() - started) / 1000;
const header = [
  `# rxllm benchmarks${quick ? ' (quick smoke run — not for comparison)' : ''}`,
  '',
  `${machine.cpu}, ${machine.cores} cores, ${machine.os}, Node ${machine.node}; ` +
    Object.entries(machine.versions).map(([name, version]) => `${name} ${version}`).join(', ') +
    `. ${machine.date}, ${seconds.toFixed(0)} s (` +
    Object.entries(sectionSeconds).map(([name, s]) => `${name} ${s.toFixed(0)} s`).join(', ') +
    ').',
  '',
].join('\n');
const md = `${header}\n${markdown.join('\n\n')}\n`;
const json = { machine, quick, seconds: Math.round(seconds * 10) / 10, sectionSeconds, sectionProcesses, sections: results, failures };

// Only a whole full run replaces the committed results; a quick run or a few sections go to tmp/.
const out = values.out ?? (quick ? 'tmp/quick' : values.section?.length ? `tmp/${values.section.join('+')}` : 'latest');
const path = fileURLToPath(new URL(`./results/${out}`, import.meta.url));
await mkdir(dirname(path), { recursive: true });
await writeFile(`${path}.json`, `${JSON.stringify(json, null, 2)}\n`);
await writeFile(`${path}.md`, md);
// The chart (tools/chart.ts): a full run's goes next to latest.json as chart.svg, any other run's to tmp/.
const svg = renderChart(json);
const chart = out === 'latest' ? 'chart.svg' : `${out}.svg`;
if (svg) await writeFile(fileURLToPath(new URL(`./results/${chart}`, import.meta.url)), svg);

process.stdout.write(`\n${md}\n`);
log(`wrote bench/results/${out}.{json,md}${svg ? ` and bench/results/${chart}` : ''} in ${seconds.toFixed(1)} s`);
if (failures.length > 0) {
  log(`\n${failures.length} failure(s):\n${failures.join('\n')}`);
  process.exitCode = 1;
}
