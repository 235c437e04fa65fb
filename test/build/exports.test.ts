import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The public surface on purpose: each entry point's exports — runtime values and types — are
 * listed in test/build/api/<entry>.api.txt, so any change to the public API shows in review as a
 * diff of those files. (Run `npx vitest run test/build/exports.test.ts -u` after a deliberate change.)
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const entries = {
  rxllm: 'src/index.ts',
  'rxllm (browser)': 'src/index.browser.ts',
  'rxllm/operators': 'operators/index.ts',
  'rxllm/providers': 'src/providers/index.ts',
  'rxllm/testing': 'src/testing/index.ts',
} as const;

function surface(entry: string): { values: string[]; types: string[] } {
  const program = ts.createProgram([`${root}/${entry}`], {
    strict: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    skipLibCheck: true,
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const file = program.getSourceFile(`${root}/${entry}`)!;
  const values: string[] = [];
  const types: string[] = [];
  for (const symbol of checker.getExportsOfModule(checker.getSymbolAtLocation(file)!)) {
    const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    (target.flags & ts.SymbolFlags.Value ? values : types).push(symbol.name);
  }
  return { values: values.sort(), types: types.sort() };
}

describe('public surface', () => {
  for (const [name, entry] of Object.entries(entries)) {
    it(`${name}: its export list is the reviewed one`, async () => {
      const { values, types } = surface(entry);
      const runtime = Object.keys(await import(/* @vite-ignore */ `${root}/${entry}`)).sort();
      expect(runtime).toEqual(values);
      const text = [`# ${name} (${entry}): ${values.length} runtime exports, ${types.length} types`, '', '## values', ...values, '', '## types', ...types, ''].join('\n');
      await expect(text).toMatchFileSnapshot(`api/${name.replace(/[/ ()]+/g, '-').replace(/-$/, '')}.api.txt`);
    }, 60_000);
  }
});
