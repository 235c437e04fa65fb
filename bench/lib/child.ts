/**
 * Runs a bench script in a fresh Node process and returns its JSON stdout.
 *
 * A child runs as an esbuild bundle when `bundleChildren()` has built one for its script (what
 * `bench/run.ts` does at the start of a run): the bench code and `src/` in one ES module, npm
 * packages left as imports and loaded by Node as usual. It starts in ~0.1–0.3 s where the same
 * script under the tsx loader takes ~0.5–1 s — with some 200 fresh processes per full run, that
 * is what keeps the suite within its time. Without a bundle, the child runs under tsx.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ChildOptions {
  /** Extra Node flags, e.g. `--cpu-prof`, `--expose-gc`. */
  readonly nodeFlags?: readonly string[];
  readonly cwd?: string;
  /** Kill the child after this long. @defaultValue 120_000 */
  readonly timeoutMs?: number;
}

/** `--import <tsx loader>`, resolved from here so children work from any working directory. */
export const TSX_FLAGS: readonly string[] = ['--import', import.meta.resolve('tsx')];

/** Absolute path of a file next to `from` (an `import.meta.url`). */
export function here(from: string, relative: string): string {
  return fileURLToPath(new URL(relative, from));
}

/** Every child run so far: how long it lived (spawn → exit), for the time budget (`childTimes`). */
const lifetimes: number[] = [];

/**
 * Children started since the last call, and their total lifetime (spawn → exit, ms): `run.ts`
 * logs it per section, so the time budget (bench/README.md) can be checked against where the
 * seconds go.
 */
export function takeChildTimes(): { readonly processes: number; readonly ms: number } {
  const taken = lifetimes.splice(0);
  return { processes: taken.length, ms: taken.reduce((a, b) => a + b, 0) };
}

/** Script path (.ts) → its bundle (.mjs). */
const bundles = new Map<string, string>();

/** Every `bench/<section>/run-one.ts`. */
export function childScripts(): string[] {
  const bench = here(import.meta.url, '../');
  return readdirSync(bench, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => join(bench, entry.name, 'run-one.ts'))
    .filter((path) => existsSync(path));
}

/**
 * Bundles `scripts` with esbuild into `bench/results/tmp/build/<pid>/` (inside the repository, so
 * the bundles resolve npm packages from its node_modules) and makes `runChildJson` use them.
 * Returns a function that removes the bundles.
 */
export async function bundleChildren(scripts: readonly string[]): Promise<() => Promise<void>> {
  const { build } = await import('esbuild');
  const bench = here(import.meta.url, '../');
  const outdir = join(here(import.meta.url, '../results/tmp/build/'), String(process.pid));
  const result = await build({
    entryPoints: [...scripts],
    outdir,
    outbase: bench,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    outExtension: { '.js': '.mjs' },
    metafile: true,
    logLevel: 'warning',
  });
  const server = Object.keys(result.metafile.inputs).find((input) => input.endsWith('bench/server.ts'));
  if (server) throw new Error(`a child script imports ${server}; import bench/lib/wire.ts instead`);
  for (const script of scripts) bundles.set(script, join(outdir, relative(bench, script).replace(/\.ts$/, '.mjs')));
  return async () => {
    for (const script of scripts) bundles.delete(script);
    await rm(outdir, { recursive: true, force: true });
  };
}

/**
 * Spawns `node [flags] <bundle> [args]` (or `node [flags] --import tsx <script> [args]`), waits
 * for it, and parses the LAST line of its stdout as JSON. A non-zero exit or unparsable output
 * rejects with the child's stderr.
 */
export function runChildJson<T>(script: string, args: readonly string[], options: ChildOptions = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    const bundle = bundles.get(script);
    const entry = bundle ? [bundle] : [...TSX_FLAGS, script];
    const spawned = performance.now();
    const child = spawn(process.execPath, [...(options.nodeFlags ?? []), ...entry, ...args], {
      cwd: options.cwd ?? process.cwd(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const lived = performance.now() - spawned;
      lifetimes.push(lived);
      // BENCH_TRACE=1: every child's lifetime, to see where a section's seconds go.
      if (process.env['BENCH_TRACE']) process.stderr.write(`  [child ${(lived / 1000).toFixed(2)} s] ${relative(process.cwd(), script)} ${args.filter((a) => !a.startsWith('http')).join(' ')}\n`);
      const last = stdout.trim().split('\n').pop() ?? '';
      if (code !== 0) {
        reject(new Error(`${script} ${args.join(' ')} exited with ${signal ?? code}\n${stderr.trim()}\n${stdout.trim()}`));
        return;
      }
      try {
        resolve(JSON.parse(last) as T);
      } catch {
        reject(new Error(`${script} ${args.join(' ')}: no JSON result on stdout\n${stderr.trim()}\n${stdout.trim()}`));
      }
    });
  });
}

/**
 * `runChildJson`, but a failure is recorded (in `failures`, and logged) instead of thrown, so one
 * broken contender does not stop a section.
 */
export async function tryChildJson<T>(
  script: string,
  args: readonly string[],
  options: ChildOptions,
  label: string,
  failures: string[],
  log: (line: string) => void,
): Promise<T | undefined> {
  try {
    return await runChildJson<T>(script, args, options);
  } catch (error) {
    const message = `${label} failed: ${error instanceof Error ? error.message : String(error)}`;
    failures.push(message);
    log(message);
    return undefined;
  }
}

/** The order of contenders in round `round`: as given in even rounds, reversed in odd ones. */
export function roundOrder<T>(items: readonly T[], round: number): readonly T[] {
  return round % 2 === 0 ? items : [...items].reverse();
}
