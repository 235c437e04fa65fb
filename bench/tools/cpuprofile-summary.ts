/**
 * Summarizes a V8 `.cpuprofile` (from `node --cpu-prof`): self time per function, and per
 * file/package, top N.
 *
 *   npx tsx bench/tools/cpuprofile-summary.ts bench/results/tmp/CPU.*.cpuprofile [--top 30] [--merge]
 *
 * `--merge` sums every given profile into one summary (several short processes of one contender,
 * e.g. the throughput child's `--profile` output from 5 runs).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '30' }, merge: { type: 'boolean', default: false } } });
const top = Number(values.top);

const shortUrl = (url: string): string => {
  if (url === '') return '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm !== -1) return url.slice(nm + 'node_modules/'.length);
  const work = url.indexOf('/work/main/');
  if (work !== -1) return url.slice(work + '/work/main/'.length);
  return url.replace(/^file:\/\//, '');
};

const pkgOf = (url: string): string => {
  if (url === '') return '(native / VM)';
  if (url.startsWith('node:')) return 'node: internals';
  const nm = url.lastIndexOf('node_modules/');
  if (nm !== -1) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const m = /\/work\/main\/([^/]+)\//.exec(url);
  return m ? `${m[1]}/` : url;
};

/** Self time (µs) per function key and per package of one profile, added into the given maps. */
function accumulate(file: string, byFunction: Map<string, number>, byPackage: Map<string, number>): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  for (const [id, us] of selfUs) {
    const { callFrame } = byId.get(id)!;
    const key = `${callFrame.functionName || '(anonymous)'}  ${shortUrl(callFrame.url)}${callFrame.url ? `:${callFrame.lineNumber + 1}` : ''}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    const pkg = pkgOf(callFrame.url);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
  }
}

function print(title: string, byFunction: Map<string, number>, byPackage: Map<string, number>): void {
  const total = [...byPackage.values()].reduce((a, b) => a + b, 0);
  const pct = (us: number): string => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
  const ms = (us: number): string => `${(us / 1000).toFixed(1).padStart(8)} ms`;
  console.log(`\n${title}: ${(total / 1000).toFixed(0)} ms sampled`);
  console.log('\nself time by package/file area:');
  for (const [key, us] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${ms(us)} ${pct(us)}  ${key}`);
  console.log(`\nself time by function (top ${top}):`);
  for (const [key, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${ms(us)} ${pct(us)}  ${key}`);
}

if (values.merge) {
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  for (const file of positionals) accumulate(file, byFunction, byPackage);
  print(`${positionals.length} profiles merged`, byFunction, byPackage);
} else {
  for (const file of positionals) {
    const byFunction = new Map<string, number>();
    const byPackage = new Map<string, number>();
    accumulate(file, byFunction, byPackage);
    print(file, byFunction, byPackage);
  }
}
