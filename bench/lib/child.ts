/** Runs a bench script in a fresh Node process (under tsx) and returns its JSON stdout. */
import { spawn } from 'node:child_process';
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

/**
 * Spawns `node [flags] --import tsx <script> [args]`, waits for it, and parses the LAST line of
 * its stdout as JSON. A non-zero exit or unparsable output rejects with the child's stderr.
 */
export function runChildJson<T>(script: string, args: readonly string[], options: ChildOptions = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(options.nodeFlags ?? []), ...TSX_FLAGS, script, ...args], {
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
