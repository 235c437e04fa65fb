/**
 * The package test's tools: pack the built repository, install the tarball into a fresh project
 * under os.tmpdir(), run processes there with a clean environment, and find the documented code
 * blocks. Nothing here writes inside the repository.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const repo = fileURLToPath(new URL('../..', import.meta.url));
export const fixtures = fileURLToPath(new URL('./fixtures', import.meta.url));

/** The package.json of a package in the repository's node_modules (read as a file: not every package exports it). */
const manifest = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(repo, 'node_modules', name, 'package.json'), 'utf8')) as Record<string, unknown>;
/** A file of a package in the repository's node_modules, found from its package.json. */
const fromPackage = (name: string, file: (manifest: Record<string, unknown>) => string): string => join(repo, 'node_modules', name, file(manifest(name)));
const bin = (name: string, command: string): string => fromPackage(name, (m) => (m['bin'] as Record<string, string>)[command]!);

/** The repository's own tools, resolved from its node_modules (the temp project has none of them). */
export const tools = {
  /** What `node --import tsx` loads (tsx's `exports['.']`). */
  tsxLoader: pathToFileURL(fromPackage('tsx', (m) => (m['exports'] as Record<string, string>)['.']!)).href,
  tsc: bin('typescript', 'tsc'),
  attw: bin('@arethetypeswrong/cli', 'attw'),
  publint: bin('publint', 'publint'),
};

/** API keys (and the Ollama host) that must not reach an example: without them, nothing can call a real API. */
const SECRETS = ['OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'GEMINI_API_KEY', 'GOOGLE_API_KEY', 'GROQ_API_KEY', 'OLLAMA_HOST'];

/** npm settings passed on to the temp project's `npm install`: where packages come from and how to reach it. */
const NPM_NETWORK = /^npm_config_(registry|.+:registry|cache|userconfig|globalconfig|cafile|ca|strict_ssl|proxy|https_proxy|noproxy)$/i;

/**
 * The environment of a user's shell: without API keys, without what vitest sets (NODE_ENV=test,
 * VITEST_*), and without the npm_* variables of the `npm test` that runs us (an `npm install` in
 * the temp project must not see the repository's `npm_config_local_prefix`, `npm_package_*`
 * and the like) except the registry and network settings.
 */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (SECRETS.includes(key) || /^(VITEST|INIT_CWD$|NODE_ENV$|TEST$|TSX_)/i.test(key)) continue;
    if (/^npm_/i.test(key) && !NPM_NETWORK.test(key)) continue;
    env[key] = value;
  }
  return { ...env, NO_COLOR: '1', ...extra };
}

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
  readonly timedOut: boolean;
}

export interface RunOptions {
  readonly cwd: string;
  /** Killed (SIGKILL) after this long. */
  readonly timeoutMs: number;
  readonly env?: NodeJS.ProcessEnv;
}

/** Runs a command to its end; never rejects: the result says how it ended. */
export function run(command: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd: options.cwd, env: options.env ?? cleanEnv(), timeout: options.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const failure = error as (Error & { code?: unknown; signal?: NodeJS.Signals | null; killed?: boolean }) | null;
        const code = failure === null ? 0 : typeof failure.code === 'number' ? failure.code : null;
        const ms = performance.now() - started;
        const timedOut = failure !== null && failure.killed === true && failure.signal === 'SIGKILL';
        const spawnError = failure !== null && typeof failure.code === 'string' ? `\n[spawn failed: ${failure.message}]` : '';
        resolve({ code, signal: failure?.signal ?? null, stdout, stderr: stderr + spawnError, ms, timedOut });
      },
    );
  });
}

/** `node <args>` with the Node running this test. */
export const node = (args: readonly string[], options: RunOptions): Promise<RunResult> => run(process.execPath, args, options);

/** A readable account of a finished process, for assertion messages. */
export function describeRun(label: string, result: RunResult): string {
  const how = result.timedOut ? `killed after ${result.ms.toFixed(0)} ms (did not exit on its own)` : `exit code ${result.code}${result.signal ? `, signal ${result.signal}` : ''}, ${result.ms.toFixed(0)} ms`;
  const tail = (s: string): string => (s.length > 4000 ? `…${s.slice(-4000)}` : s);
  return `${label}: ${how}\n--- stdout ---\n${tail(result.stdout)}\n--- stderr ---\n${tail(result.stderr)}`;
}

/** At most `n` of the functions given to it run at once: keeps process spawns off the shared cores. */
export function limiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    else active++;
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}

// ---------------------------------------------------------------------------------------------
// Packing and installing

/** dist/ as `npm run build` leaves it; `npm test` builds before vitest runs. */
export function assertBuilt(): void {
  const missing = ['dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/browser/index.js'].filter((file) => !existsSync(join(repo, file)));
  if (missing.length > 0) {
    throw new Error(`The package test needs the built package, and dist/ lacks ${missing.join(', ')}: run \`npm run build\` first (\`npm test\` does).`);
  }
}

export interface Packed {
  /** The temp directory holding the tarball. */
  readonly dir: string;
  readonly tarball: string;
  readonly files: readonly string[];
  readonly ms: number;
}

/** `npm pack` of the repository as built (no lifecycle scripts: dist/ is not rebuilt) into a new temp directory. */
export async function pack(): Promise<Packed> {
  assertBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'rxllm-pack-'));
  const result = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: repo, timeoutMs: 120_000 });
  if (result.code !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(describeRun('npm pack', result));
  }
  const [info] = JSON.parse(result.stdout.slice(result.stdout.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const tarball = join(dir, info!.filename);
  if (!existsSync(tarball)) throw new Error(`npm pack reported ${info!.filename}, which is not in ${dir}`);
  return { dir, tarball, files: info!.files.map((file) => file.path), ms: result.ms };
}

export interface Installed {
  /** The temp project: package.json (`"type": "module"`), tsconfig.json without paths, node_modules. */
  readonly dir: string;
  readonly packed: Packed;
  readonly installMs: number;
  /** The installed package: `<dir>/node_modules/rxllm`. */
  readonly pkg: string;
  cleanup(): void;
}

/** The rxjs a user installs next to rxllm (its peer dependency), and @types/node at the repo's own version. */
const PEERS = ['rxjs@7.8.2', `@types/node@${String(manifest('@types/node')['version'])}`];

/** Packs the repository and installs the tarball, with rxjs, into a fresh project under os.tmpdir(). */
export async function packAndInstall(): Promise<Installed> {
  const packed = await pack();
  const dir = mkdtempSync(join(tmpdir(), 'rxllm-project-'));
  const cleanup = (): void => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(packed.dir, { recursive: true, force: true });
  };
  try {
    writeJson(join(dir, 'package.json'), { name: 'rxllm-package-test', version: '0.0.0', private: true, type: 'module' });
    // The project's own tsconfig (tsx reads it): no `paths`, so `rxllm` can only come from node_modules.
    writeJson(join(dir, 'tsconfig.json'), {
      compilerOptions: { target: 'ES2022', module: 'ESNext', moduleResolution: 'Bundler', strict: true, types: ['node'], skipLibCheck: true, noEmit: true },
    });
    const install = await run('npm', ['install', packed.tarball, ...PEERS, '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], { cwd: dir, timeoutMs: 240_000 });
    if (install.code !== 0) throw new Error(describeRun('npm install', install));
    const pkg = join(dir, 'node_modules/rxllm');
    if (!existsSync(join(pkg, 'package.json'))) throw new Error(`npm install left no ${pkg}`);
    return { dir, packed, installMs: install.ms, pkg, cleanup };
  } catch (error) {
    cleanup();
    throw error;
  }
}

export function writeJson(file: string, value: unknown): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** Copies test/package/fixtures into the temp project's `fixtures/`. */
export function copyFixtures(project: string): void {
  cpSync(fixtures, join(project, 'fixtures'), { recursive: true });
}

// ---------------------------------------------------------------------------------------------
// Documented code blocks

export interface CodeBlock {
  /** The document, relative to the repository: `README.md`, `docs/providers/gemini.md`. */
  readonly doc: string;
  /** 1-based among the document's ts blocks (runnable and no-run alike). */
  readonly index: number;
  /** Line of the opening fence. */
  readonly line: number;
  /** `run`: fenced ```ts — executed and type-checked; `no-run`: fenced ```ts no-run — type-checked only. */
  readonly kind: 'run' | 'no-run';
  /** The fence's info string, as written. */
  readonly info: string;
  readonly code: string;
  /** Its file in the temp project, e.g. `blocks/readme-03.ts`. */
  readonly file: string;
  /** `README.md block 3 (line 131)`: how a failure names it. */
  readonly name: string;
}

/** README.md and every docs/**\/*.md, as they are now (the docs change while we work: nothing is hard-coded). */
export function documents(): string[] {
  const docs: string[] = [];
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.md')) docs.push(relative(repo, path));
    }
  };
  walk(join(repo, 'docs'));
  return ['README.md', ...docs];
}

/**
 * Every fenced block whose language is `ts` (or `typescript`), with what follows the language:
 * nothing (runnable), `no-run`, or something else (reported by the suite as an unknown marker,
 * so a typo such as `no_run` cannot quietly skip a block).
 */
export function codeBlocks(docs: readonly string[] = documents()): Array<CodeBlock & { readonly unknownMarker?: string }> {
  const blocks: Array<CodeBlock & { unknownMarker?: string }> = [];
  for (const doc of docs) {
    const lines = readFileSync(join(repo, doc), 'utf8').split(/\r?\n/);
    let index = 0;
    for (let i = 0; i < lines.length; i++) {
      const open = /^( {0,3})(`{3,}|~{3,})\s*(.*)$/.exec(lines[i]!);
      if (!open) continue;
      const [, indent, fence, info] = open as unknown as [string, string, string, string];
      // The block runs to the next fence of the same character, at least as long, with no info string.
      let end = i + 1;
      while (end < lines.length && !new RegExp(`^ {0,3}${fence[0]}{${fence.length},}\\s*$`).test(lines[end]!)) end++;
      const [lang = '', ...rest] = info.trim().split(/\s+/);
      if (lang === 'ts' || lang === 'typescript') {
        index++;
        const marker = rest.join(' ');
        const code = lines
          .slice(i + 1, end)
          .map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line))
          .join('\n');
        const stem = doc.replace(/\.md$/, '').replace(/[^A-Za-z0-9]+/g, '-').toLowerCase();
        blocks.push({
          doc,
          index,
          line: i + 1,
          kind: marker === 'no-run' ? 'no-run' : 'run',
          info: info.trim(),
          code: `${code}\n`,
          file: `blocks/${stem}-${String(index).padStart(2, '0')}.ts`,
          name: `${doc} block ${index} (line ${i + 1}${marker === 'no-run' ? ', no-run' : ''})`,
          ...(marker !== '' && marker !== 'no-run' ? { unknownMarker: marker } : {}),
        });
      }
      i = end;
    }
  }
  return blocks;
}

/** Maps `tsc --pretty false` output back to the blocks and examples it is about. */
export function tscProblems(output: string, blocks: readonly CodeBlock[]): string[] {
  const byFile = new Map(blocks.map((block) => [block.file, block.name]));
  return output
    .split('\n')
    .filter((line) => /error TS\d+/.test(line))
    .map((line) => {
      const file = /^([^(]+)\(/.exec(line)?.[1];
      const name = file === undefined ? undefined : byFile.get(file);
      return name === undefined ? line : `${name}: ${line}`;
    });
}
