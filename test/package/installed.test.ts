import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeBlocks, copyFixtures, describeRun, limiter, node, packAndInstall, repo, tools, tscProblems, writeJson, type Installed, type RunResult } from './helpers';

/**
 * What users install is what we test (ARCHITECTURE.md §6): the built repository is packed with
 * `npm pack`, the tarball installed with rxjs into a fresh project under os.tmpdir(), and
 * everything below runs there, in fresh Node processes, against `node_modules/rxllm`: the demo,
 * every documented example (README.md, docs/**\/*.md), TypeScript strict under two resolutions,
 * CommonJS, error identity across entries and copies, the shared tokenizer cache, a minified
 * browser bundle, and the browser build's imports. `npm test` builds dist/ first.
 */

// Discovered now, from the documents as they are: one test per block.
const blocks = codeBlocks();
const runnable = blocks.filter((block) => block.kind === 'run');
const examples = readdirSync(join(repo, 'examples')).filter((name) => name.endsWith('.ts'));

/** Processes this suite runs at once (2 cores are shared with the rest of `npm test`). */
const slot = limiter(Number(process.env['RXLLM_PACKAGE_TEST_CONCURRENCY'] ?? 3));
/** A documented example must exit on its own within this: proof that nothing keeps the process alive. */
const BLOCK_LIMIT_MS = 30_000;
/** Vitest's limit for a test that waits for a slot and then runs a process: generous, never the thing measured. */
const TEST_TIMEOUT = 240_000;

let project: Installed;
let root: string; // the temp project, with symlinks resolved: what Node reports for resolved files
let started = 0;
/** Process time of each runnable block, for the summary. */
const blockMs = new Map<string, number>();

/** Runs `node <args>` in the temp project, when a slot is free. */
const inProject = (args: readonly string[], timeoutMs = 60_000): Promise<RunResult> => slot(() => node(args, { cwd: project.dir, timeoutMs }));
/** Runs a TypeScript file with the repository's tsx, in the temp project (which has its own tsconfig.json, without paths). */
const tsx = (file: string, timeoutMs = 60_000): Promise<RunResult> => inProject(['--import', tools.tsxLoader, file], timeoutMs);
/** The JSON a fixture prints on its last line, once it exited 0. */
const json = <T>(result: RunResult, label: string): T => {
  expect(result.code, describeRun(label, result)).toBe(0);
  try {
    return JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '') as T;
  } catch {
    throw new Error(`expected a line of JSON at the end of the output\n${describeRun(label, result)}`);
  }
};
/** A file URL or path inside the installed package's dist/. */
const inDist = (file: string): string => `${pathToFileURL(join(root, 'node_modules/rxllm/dist')).href}/${file}`;

beforeAll(async () => {
  started = performance.now();
  project = await packAndInstall();
  root = realpathSync(project.dir);
  copyFixtures(project.dir);
  for (const block of blocks) {
    mkdirSync(dirname(join(project.dir, block.file)), { recursive: true });
    writeFileSync(join(project.dir, block.file), block.code);
  }
  cpSync(join(repo, 'examples'), join(project.dir, 'examples'), { recursive: true, filter: (src) => !src.includes('node_modules') });
  cpSync(join(repo, 'examples/demo.ts'), join(project.dir, 'demo.ts'));
  // Type-checking: every block (runnable and no-run) and every example, each its own module.
  const include = ['blocks/*.ts', 'examples/*.ts', 'fixtures/canary.ts'];
  const common = { strict: true, noEmit: true, target: 'ES2022', types: ['node'], moduleDetection: 'force' };
  // A bundler user (browser and Node code together): DOM types.
  writeJson(join(project.dir, 'tsconfig.bundler.json'), {
    compilerOptions: { ...common, module: 'ESNext', moduleResolution: 'Bundler', lib: ['ES2023', 'DOM', 'DOM.Iterable'], skipLibCheck: true },
    include,
  });
  // A Node user: NodeNext, no DOM lib, every .d.ts checked (rxllm's, rxjs's, @types/node's).
  writeJson(join(project.dir, 'tsconfig.nodenext.json'), {
    compilerOptions: { ...common, module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2023'], skipLibCheck: false },
    include,
  });
  console.log(`[package] packed in ${project.packed.ms.toFixed(0)} ms, installed in ${project.installMs.toFixed(0)} ms (${project.dir}); ${blocks.length} code blocks, ${runnable.length} runnable`);
}, 300_000);

afterAll(() => {
  project?.cleanup();
  if (started === 0) return;
  const slowest = [...blockMs].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([name, ms]) => `${name} ${(ms / 1000).toFixed(1)} s`);
  const total = [...blockMs.values()].reduce((sum, ms) => sum + ms, 0);
  console.log(
    `[package] installed-package suite: ${((performance.now() - started) / 1000).toFixed(1)} s; ${blockMs.size} blocks ran for ${(total / 1000).toFixed(1)} s of process time in all (slowest: ${slowest.join('; ')})`,
  );
});

describe('the documents', () => {
  it('have runnable examples', () => {
    expect(runnable.filter((block) => block.doc === 'README.md').length).toBeGreaterThanOrEqual(3);
  });

  it('fence TypeScript as ```ts (runs) or ```ts no-run (type-checked only), nothing else', () => {
    const unknown = blocks.filter((block) => block.unknownMarker !== undefined).map((block) => `${block.name}: \`\`\`${block.info}`);
    expect(unknown).toEqual([]);
  });
});

describe.concurrent('the installed package', () => {
  it('is what tsx resolves in the temp project: node_modules/rxllm, not the repository', async () => {
    expect(root.startsWith(realpathSync(repo)), 'the temp project must be outside the repository').toBe(false);
    const { resolved, simulated } = json<{ resolved: Record<string, string>; simulated: string }>(await tsx('fixtures/resolve.ts'), 'tsx fixtures/resolve.ts');
    expect(resolved).toEqual({
      rxllm: inDist('index.js'),
      'rxllm/operators': inDist('operators.js'),
      'rxllm/providers': inDist('providers.js'),
      'rxllm/testing': inDist('testing.js'),
    });
    expect(simulated).toBe('function');
  }, TEST_TIMEOUT);

  it('loads every entry as ESM and as CommonJS, with the same exports', async () => {
    const script = `
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      const out = {};
      for (const entry of ['rxllm', 'rxllm/operators', 'rxllm/providers', 'rxllm/testing']) {
        out[entry] = {
          esm: { file: import.meta.resolve(entry), keys: Object.keys(await import(entry)).filter((k) => k !== 'default').sort() },
          cjs: { file: require.resolve(entry), keys: Object.keys(require(entry)).sort() },
        };
      }
      console.log(JSON.stringify(out));`;
    const out = json<Record<string, { esm: { file: string; keys: string[] }; cjs: { file: string; keys: string[] } }>>(
      await inProject(['--input-type=module', '-e', script]),
      'ESM and CJS exports',
    );
    for (const [entry, file] of [['rxllm', 'index'], ['rxllm/operators', 'operators'], ['rxllm/providers', 'providers'], ['rxllm/testing', 'testing']] as const) {
      expect(out[entry]!.esm.file, entry).toBe(inDist(`${file}.js`));
      expect(out[entry]!.cjs.file, entry).toBe(fileURLToPath(inDist(`${file}.cjs`)));
      expect(out[entry]!.esm.keys, `${entry}: ESM and CJS export the same names`).toEqual(out[entry]!.cjs.keys);
    }
    expect(out['rxllm']!.esm.keys).toEqual(expect.arrayContaining(['openai', 'simulated', 'collect', 'text', 'LlmError', 'createBreaker', 'createRateLimiter', 'createLedger', 'memoryStore', 'loadTokenCounter']));
    expect(out['rxllm/operators']!.esm.keys).toEqual(expect.arrayContaining(['budget', 'cache', 'circuitBreaker', 'deadline', 'meter', 'rateLimit', 'operate', 'relay', 'requestGate']));
    expect(out['rxllm/testing']!.esm.keys).toContain('startMockServer');
    expect(out['rxllm/providers']!.esm.keys).toContain('httpModel');
  }, TEST_TIMEOUT);

  it('ships every file its exports map names (types for import and require, browser and Node)', () => {
    const manifest = JSON.parse(readFileSync(join(project.pkg, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
    const targets: string[] = [];
    const walk = (value: unknown): void => {
      if (typeof value === 'string') targets.push(value);
      else if (value !== null && typeof value === 'object') Object.values(value).forEach(walk);
    };
    walk(manifest.exports);
    expect(targets.filter((target) => /\.d\.c?ts$/.test(target)).length).toBeGreaterThanOrEqual(14);
    expect(targets.filter((target) => !existsSync(join(project.pkg, target)))).toEqual([]);
  });

  it('resolves the browser build under the browser condition, which imports neither undici nor node: built-ins', async () => {
    const script = `
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      const entries = ['rxllm', 'rxllm/operators', 'rxllm/providers'];
      const m = await import('rxllm');
      console.log(JSON.stringify({
        esm: entries.map((e) => import.meta.resolve(e)),
        cjs: entries.map((e) => require.resolve(e)),
        api: { openai: typeof m.openai, fetchTransport: typeof m.fetchTransport, simulated: typeof m.simulated, undiciTransport: typeof m.undiciTransport },
      }));`;
    const out = json<{ esm: string[]; cjs: string[]; api: Record<string, string> }>(
      await inProject(['--conditions=browser', '--input-type=module', '-e', script]),
      'node --conditions=browser',
    );
    expect(out.esm).toEqual(['index.js', 'operators.js', 'providers.js'].map((f) => inDist(`browser/${f}`)));
    expect(out.cjs).toEqual(['index.cjs', 'operators.cjs', 'providers.cjs'].map((f) => fileURLToPath(inDist(`browser/${f}`))));
    expect(out.api).toEqual({ openai: 'function', fetchTransport: 'function', simulated: 'undefined', undiciTransport: 'undefined' });

    // Everything the browser graph loads (esbuild follows every import and require from the entries,
    // packages left external): its own files under dist/browser/, and only these packages.
    const graph = await build({
      absWorkingDir: root,
      entryPoints: Object.fromEntries([...out.esm.map((url) => fileURLToPath(url)), ...out.cjs].map((file, i) => [`entry-${i}`, file])),
      bundle: true,
      write: false,
      metafile: true,
      packages: 'external',
      external: ['node:*'],
      platform: 'browser',
      format: 'esm',
      outdir: join(root, 'out/browser-graph'),
      logLevel: 'silent',
    });
    const files = Object.keys(graph.metafile.inputs);
    expect(files.filter((file) => !file.startsWith('node_modules/rxllm/dist/browser/'))).toEqual([]);
    const external = new Map<string, string>(); // specifier → a file importing it
    for (const [file, input] of Object.entries(graph.metafile.inputs)) {
      for (const imported of input.imports) if (imported.external) external.set(imported.path, file);
    }
    const allowed = /^(rxjs|zod|eventsource-parser|js-tiktoken)(\/|$)/;
    const builtins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));
    const forbidden = [...external].filter(([specifier]) => specifier === 'undici' || specifier.startsWith('undici/') || builtins.has(specifier) || !allowed.test(specifier));
    expect(forbidden.map(([specifier, file]) => `${file} imports ${specifier}`)).toEqual([]);
    expect([...external.keys()]).toContain('rxjs');
  }, TEST_TIMEOUT);
});

describe.concurrent('examples/demo.ts, run against the installed package', () => {
  it('runs to the end with simulated(): streams, cancels, caches, falls back and cuts at a budget', async () => {
    // Not in a slot: the demo spends its ~10 s waiting on the simulator's pace, not on a core.
    const result = await node(['--import', tools.tsxLoader, 'demo.ts'], { cwd: project.dir, timeoutMs: 90_000 });
    const report = describeRun('demo.ts', result);
    expect(result.code, report).toBe(0);
    const out = result.stdout;
    expect(out, report).toMatch(/finish: stop; usage: \d+ in \/ \d+ out/);
    expect(out, report).toMatch(/mid-response: true/);
    expect(out, report).toContain('requests the server received: 0');
    expect(out, report).toMatch(/second call: cache hit, [\d.]+ ms, requests sent: 0/);
    expect(out, report).toContain('fallback simulated:primary -> simulated:backup');
    expect(out, report).toMatch(/\[budget: output-tokens \d+ > 20\]/);
    expect(out, report).toContain('-> finish: budget; the server saw the connection close mid-response: true');
    expect(out, report).toContain('refused (ledger-usd, preflight); requests sent: 0');
  }, TEST_TIMEOUT);
});

describe.concurrent('TypeScript --strict over every block (runnable and no-run) and examples/*.ts', () => {
  for (const [config, libCheck] of [['bundler', 'skipLibCheck true'], ['nodenext', "skipLibCheck false: rxllm's .d.ts, rxjs's and @types/node's are checked too"]] as const) {
    it(`type-checks with module and moduleResolution ${config} (${libCheck})`, async () => {
      const result = await inProject([tools.tsc, '-p', `tsconfig.${config}.json`, '--pretty', 'false', '--listFiles'], 180_000);
      const report = describeRun(`tsc -p tsconfig.${config}.json`, result);
      expect(tscProblems(result.stdout, blocks), report).toEqual([]);
      expect(result.code, report).toBe(0);
      // What it checked: every block and example, against the installed declarations (never the repository's src/).
      const listed = new Set(result.stdout.split('\n').map((line) => line.trim()).filter((line) => line.startsWith('/') && existsSync(line)).map((line) => realpathSync(line)));
      const files = [...blocks.map((block) => block.file), ...examples.map((name) => `examples/${name}`), 'fixtures/canary.ts'];
      expect(files.filter((file) => !listed.has(join(root, file))), report).toEqual([]);
      for (const entry of ['index', 'operators', 'providers', 'testing']) expect(listed.has(join(root, `node_modules/rxllm/dist/${entry}.d.ts`)), `${entry}.d.ts\n${report}`).toBe(true);
      const typescriptLib = join(dirname(realpathSync(tools.tsc)), '../lib/');
      expect([...listed].filter((file) => file.startsWith(realpathSync(repo)) && !file.startsWith(typescriptLib)), 'nothing from the repository but lib.*.d.ts').toEqual([]);
    }, TEST_TIMEOUT);
  }
});

describe.concurrent('CommonJS', () => {
  it('requires every entry and streams from simulated()', async () => {
    const out = json<{ resolved: string; text: string; finishReason: string; outputTokens: number }>(await inProject(['fixtures/smoke.cjs']), 'node fixtures/smoke.cjs');
    expect(out.resolved).toBe(fileURLToPath(inDist('index.cjs')));
    expect(out.text.split(' ').length).toBe(12);
    expect(out.finishReason).toBe('stop');
    expect(out.outputTokens).toBe(12);
  }, TEST_TIMEOUT);
});

type Verdicts = Record<string, { name: string; code: string; message: string; instanceofClass: boolean; instanceofLlmError: boolean; instanceofError: boolean; llmErrorIs: boolean }>;
const ERRORS = {
  TimeoutError: 'timeout',
  BudgetExceededError: 'budget_exceeded',
  CircuitOpenError: 'circuit_open',
  RateLimitQueueError: 'rate_limit_queue_full',
} as const;
/** Every error is its class, an LlmError and an Error, by `instanceof` and by `LlmError.is`, with its name and code. */
const expectIdentity = (verdicts: Verdicts, label: string): void => {
  expect(Object.keys(verdicts).sort(), label).toEqual(Object.keys(ERRORS).sort());
  for (const [name, code] of Object.entries(ERRORS)) {
    expect(verdicts[name], `${label}: ${name}`).toEqual({
      name,
      code,
      message: verdicts[name]!.message,
      instanceofClass: true,
      instanceofLlmError: true,
      instanceofError: true,
      llmErrorIs: true,
    });
  }
};

describe.concurrent('error identity across entries: an operator error is instanceof the classes of rxllm', () => {
  it('ESM: rxllm/operators errors against rxllm', async () => {
    const out = json<{ resolved: string; verdicts: Verdicts }>(await inProject(['fixtures/identity.mjs']), 'node fixtures/identity.mjs');
    expect(out.resolved).toBe(inDist('index.js'));
    expectIdentity(out.verdicts, 'ESM');
  }, TEST_TIMEOUT);

  it('CommonJS: rxllm/operators errors against rxllm', async () => {
    const out = json<{ resolved: string; verdicts: Verdicts }>(await inProject(['fixtures/identity.cjs']), 'node fixtures/identity.cjs');
    expect(out.resolved).toBe(fileURLToPath(inDist('index.cjs')));
    expectIdentity(out.verdicts, 'CJS');
  }, TEST_TIMEOUT);

  it('two copies in one process: ESM errors are instanceof the CJS classes, and CJS errors of the ESM ones', async () => {
    const out = json<{ files: { esm: string; cjs: string }; esmErrorsJudgedByCjs: Verdicts; cjsErrorsJudgedByEsm: Verdicts }>(
      await inProject(['fixtures/two-copies.mjs']),
      'node fixtures/two-copies.mjs',
    );
    expect(out.files).toEqual({ esm: inDist('index.js'), cjs: fileURLToPath(inDist('index.cjs')) });
    expectIdentity(out.esmErrorsJudgedByCjs, 'ESM errors, CJS classes');
    expectIdentity(out.cjsErrorsJudgedByEsm, 'CJS errors, ESM classes');
  }, TEST_TIMEOUT);
});

interface TokenizerRun {
  readonly format: string;
  readonly resolved: string;
  readonly preload: boolean;
  readonly preloadMs?: number;
  readonly rootSync?: boolean;
  readonly budget: { readonly subscriptions: number; readonly waited: boolean; readonly waitMs: number; readonly firstTextMs: number; readonly finishReason: string };
  readonly meter: { readonly events: number; readonly estimated: ReadonlyArray<boolean | undefined> };
}

describe.concurrent('one tokenizer cache behind every entry', () => {
  for (const [format, file, expected] of [
    ['ESM', 'fixtures/tokenizer.mjs', inDistLazy('operators.js')],
    ['CommonJS', 'fixtures/tokenizer.cjs', inDistLazy('operators.cjs', true)],
  ] as const) {
    it(`${format}: after loadTokenCounter() from rxllm, budget() from rxllm/operators does not wait for its tokenizer (< 5 ms)`, async () => {
      const [preload, cold] = await Promise.all([inProject([file, 'preload']), inProject([file, 'cold'])]);
      const warm = json<TokenizerRun>(preload, `node ${file} preload`);
      const control = json<TokenizerRun>(cold, `node ${file} cold`);
      console.log(
        `[package] tokenizer (${format}): preloaded in ${warm.preloadMs?.toFixed(0)} ms, then budget() waited ${warm.budget.waitMs.toFixed(2)} ms ` +
          `(first text after ${warm.budget.firstTextMs.toFixed(1)} ms); without the preload it waited ${control.budget.waitMs.toFixed(1)} ms (first text after ${control.budget.firstTextMs.toFixed(1)} ms)`,
      );
      expect(warm.resolved).toBe(expected());
      // The measure works: without the preload, budget() holds the call while the tokenizer loads.
      expect(control.budget.waited, JSON.stringify(control)).toBe(true);
      expect(control.budget.waitMs, JSON.stringify(control)).toBeGreaterThan(5);
      // With it, the operators' copy of the cache already has the counter: no wait at all.
      expect(warm.rootSync, JSON.stringify(warm)).toBe(true);
      expect(warm.budget.waited, JSON.stringify(warm)).toBe(false);
      expect(warm.budget.subscriptions, JSON.stringify(warm)).toBe(1);
      expect(warm.budget.waitMs, JSON.stringify(warm)).toBeLessThan(5);
      expect(warm.budget.finishReason).toBe('stop');
      // meter() counted with the exact tokenizer from its first event.
      expect(warm.meter.events, JSON.stringify(warm)).toBeGreaterThan(0);
      expect(warm.meter.estimated.every((estimated) => estimated === false), JSON.stringify(warm)).toBe(true);
    }, TEST_TIMEOUT);
  }
});

/** inDist, once the project exists (the test list is built before beforeAll runs). */
function inDistLazy(file: string, path = false): () => string {
  return () => (path ? fileURLToPath(inDist(file)) : inDist(file));
}

describe.concurrent('a minified browser bundle (esbuild) of the installed package', () => {
  it('keeps the error names: err.name is "RateLimitError" for a thrown RateLimitError', async () => {
    const outfile = join(project.dir, 'out/minified.js');
    const result = await build({
      absWorkingDir: project.dir,
      entryPoints: [join(project.dir, 'fixtures/minified-entry.mjs')],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      minify: true,
      outfile,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((input) => input.startsWith('node_modules/rxllm/dist/browser/')), inputs.join('\n')).toBe(true);
    expect(inputs.filter((input) => input.startsWith('node_modules/rxllm/') && !input.startsWith('node_modules/rxllm/dist/browser/'))).toEqual([]);
    expect(inputs.some((input) => /node_modules\/undici\//.test(input))).toBe(false);
    const names = json<Record<string, { name: string; code: string; isLlmError: boolean; toJSONName: string }>>(await inProject([outfile]), 'the minified bundle');
    expect(names['RateLimitError']).toEqual({ name: 'RateLimitError', code: 'rate_limited', isLlmError: true, toJSONName: 'RateLimitError' });
    for (const [expected, got] of Object.entries(names)) expect(got.name, expected).toBe(expected);
  }, TEST_TIMEOUT);
});

describe.concurrent('every runnable ```ts block of the documents, in a fresh process, with no API key', () => {
  for (const block of runnable) {
    it(`${block.name} exits 0 on its own within ${BLOCK_LIMIT_MS / 1000} s, printing something`, async () => {
      const result = await tsx(block.file, BLOCK_LIMIT_MS);
      blockMs.set(block.name, result.ms);
      const report = describeRun(`${block.name} (${block.file})\n${block.code}`, result);
      expect(result.timedOut, report).toBe(false);
      expect(result.code, report).toBe(0);
      expect(result.stdout.trim().length, report).toBeGreaterThan(0);
    }, TEST_TIMEOUT);
  }
});
