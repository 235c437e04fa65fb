import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * One copy of every module in dist/: tsup splits each module graph (Node: dist/, browser:
 * dist/browser/) into shared chunks, so `rxllm`, `rxllm/operators`, `rxllm/providers` and
 * `rxllm/testing` load the same errors, tokenizer cache and secret registry. Read from the
 * source maps: each source module must appear in exactly one emitted file per graph and format.
 * (`npm test` builds before it runs the suite.)
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const graphs = [
  { dir: 'dist', entries: ['index', 'operators', 'providers', 'testing'] },
  { dir: 'dist/browser', entries: ['index', 'operators', 'providers'] },
] as const;

/** Source module → the emitted files whose source maps list it. */
function modulesIn(dir: string, extension: '.js' | '.cjs'): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const file of readdirSync(`${root}/${dir}`).filter((name) => name.endsWith(`${extension}.map`))) {
    const { sources } = JSON.parse(readFileSync(`${root}/${dir}/${file}`, 'utf8')) as { sources: string[] };
    for (const source of sources) {
      const module = source.replace(/^(\.\.\/)+/, '');
      found.set(module, [...(found.get(module) ?? []), file]);
    }
  }
  return found;
}

describe('dist/', () => {
  it('is built (npm test runs `npm run build` first)', () => {
    expect(existsSync(`${root}/dist/index.js`), 'dist/ is missing: run `npm run build`').toBe(true);
  });

  for (const { dir, entries } of graphs) {
    for (const extension of ['.js', '.cjs'] as const) {
      it(`${dir}/*${extension}: every source module is bundled once`, () => {
        const modules = modulesIn(dir, extension);
        for (const entry of entries) expect(existsSync(`${root}/${dir}/${entry}${extension}`), `${entry}${extension}`).toBe(true);
        // The modules every entry needs are there at all…
        for (const module of ['src/core/errors.ts', 'src/core/stream.ts', 'src/cost/tokens.ts', 'src/core/events.ts']) expect(modules.has(module), module).toBe(true);
        if (entries.length === 4) expect(modules.has('operators/budget.ts')).toBe(true);
        // …and none twice.
        const twice = [...modules].filter(([, files]) => files.length > 1).map(([module, files]) => `${module} in ${files.join(', ')}`);
        expect(twice).toEqual([]);
      });
    }
  }

  it('the browser graph has no undici transport and no node: built-ins', () => {
    expect([...modulesIn('dist/browser', '.js').keys()].filter((module) => /undici|testing\/|simulated/.test(module))).toEqual([]);
    for (const file of readdirSync(`${root}/dist/browser`).filter((name) => name.endsWith('.js'))) {
      const code = readFileSync(`${root}/dist/browser/${file}`, 'utf8');
      expect(code, file).not.toMatch(/from ?['"]undici['"]|require\(['"]undici['"]\)|['"]node:[a-z_/]+['"]/);
    }
  });
});
