import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The built package as users get it: `npm test` builds first (tsup), then this suite loads dist/
 * through the package's own `exports` map, in fresh Node processes.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const node = (args: string[]): string => execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
const built = existsSync(`${root}/dist/index.js`);

describe.skipIf(!built)('the built package (dist/)', () => {
  it('loads through exports as ESM and as CommonJS, with the same API', () => {
    const esm = node(['--input-type=module', '-e', "const m = await import('rxllm'); console.log(Object.keys(m).sort().join(','))"]);
    const cjs = node(['-e', "console.log(Object.keys(require('rxllm')).sort().join(','))"]);
    expect(esm.trim()).toBe(cjs.trim());
    for (const name of ['openai', 'openaiCompatible', 'simulated', 'text', 'collect', 'toAsyncIterable', 'toReadableStream', 'toSSE', 'LlmError']) {
      expect(esm.split(',').map((s) => s.trim())).toContain(name);
    }
  });

  it('has the operators and testing entry points', () => {
    const out = node([
      '--input-type=module',
      '-e',
      "const o = await import('rxllm/operators'); const t = await import('rxllm/testing'); console.log(typeof o.operate, typeof o.requestGate, typeof t.startMockServer)",
    ]);
    expect(out.trim()).toBe('function function function');
  });

  it('resolves a browser build that pulls in neither undici nor node: built-ins', () => {
    const resolved = node(['--conditions=browser', '--input-type=module', '-e', "console.log(import.meta.resolve('rxllm'))"]).trim();
    expect(resolved).toMatch(/dist\/index\.browser\.js$/);
    const bundle = readFileSync(fileURLToPath(resolved), 'utf8');
    expect(bundle).not.toMatch(/from ['"]undici['"]|require\(['"]undici['"]\)/);
    expect(bundle).not.toMatch(/['"]node:[a-z_]+['"]/);
    expect(bundle).toMatch(/fetch/);
    const api = node(['--conditions=browser', '--input-type=module', '-e', "const m = await import('rxllm'); console.log(typeof m.openai, typeof m.simulated)"]);
    expect(api.trim()).toBe('function undefined');
  });

  it('ships declaration files for every entry', () => {
    for (const file of ['index.d.ts', 'index.d.cts', 'index.browser.d.ts', 'operators.d.ts', 'testing.d.ts']) {
      expect(existsSync(`${root}/dist/${file}`), file).toBe(true);
    }
  });
});
