/**
 * `npm run soak` — the full soak: 5,000 streams at 200 concurrent through the full pipeline, with
 * random faults and unsubscribes (see engine.ts for what runs and what is checked).
 *
 *   npm run soak                                   5,000 streams, 200 at once, seed 1
 *   npm run soak -- --streams 20000 --concurrency 400 --seed 7
 *
 * Prints a summary table and writes it, with every figure, to bench/results/tmp/soak.json
 * (git-ignored; `--out` to change). Exits non-zero when an invariant broke. Run under
 * `node --expose-gc` (the npm script does) so the heap is measured after a real GC.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runSoak, summaryRows, violations } from './engine';

const { values } = parseArgs({
  options: {
    streams: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '200' },
    seed: { type: 'string', default: '1' },
    out: { type: 'string', default: fileURLToPath(new URL('../results/tmp/soak.json', import.meta.url)) },
    'max-heap-mb': { type: 'string', default: '8' },
  },
});

const report = await runSoak({
  streams: Number(values.streams),
  concurrency: Number(values.concurrency),
  seed: Number(values.seed),
  log: (line) => console.log(line),
});
const rows = summaryRows(report);
const width = Math.max(...rows.map(([what]) => what.length));
console.log('');
for (const [what, value] of rows) console.log(`${what.padEnd(width)}  ${value}`);
const machine = { node: process.version, cpus: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', platform: `${process.platform} ${process.arch}` };
console.log(`${'machine'.padEnd(width)}  ${machine.cpus} cores (${machine.cpu}), Node ${machine.node}, ${machine.platform}`);
const broken = violations(report, Number(values['max-heap-mb']));
await mkdir(dirname(values.out), { recursive: true });
await writeFile(values.out, `${JSON.stringify({ ...report, machine, violations: broken }, null, 2)}\n`);
console.log(`\nwritten to ${values.out}`);
if (broken.length > 0) {
  console.error(`\nsoak FAILED:\n- ${broken.join('\n- ')}`);
  if (report.handles.survivors.length > 0) console.error(report.handles.survivors);
  process.exitCode = 1;
} else {
  console.log('soak passed: every invariant held');
}
