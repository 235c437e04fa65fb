import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { describeRun, node, pack, tools, type Packed } from './helpers';

/**
 * The tarball `npm pack` makes of the built repository, as the registry would get it, linted by
 * @arethetypeswrong/cli (types resolve under node10, node16 CJS and ESM, bundler, for every
 * entry) and publint (exports, files, formats). Both read the tarball itself: the same bytes
 * installed.test.ts installs, and nothing is written into the repository.
 */
let packed: Packed;

beforeAll(async () => {
  packed = await pack();
}, 180_000);

afterAll(() => {
  if (packed) rmSync(packed.dir, { recursive: true, force: true });
});

describe('the packed tarball', () => {
  it('holds dist/ (Node and browser graphs, ESM, CJS and declarations), the README, the LICENSE and package.json, and nothing else', () => {
    for (const file of ['package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/index.d.cts', 'dist/browser/index.js', 'dist/browser/index.cjs']) {
      expect(packed.files, file).toContain(file);
    }
    expect(packed.files.filter((file) => !/^(package\.json|README\.md|LICENSE(\.\w+)?|dist\/.+)$/.test(file))).toEqual([]);
  });

  it('has no problems for @arethetypeswrong/cli (attw)', async () => {
    const result = await node([tools.attw, packed.tarball, '--format', 'json'], { cwd: packed.dir, timeoutMs: 120_000 });
    const report = describeRun('attw --format json', result);
    const { problems, analysis } = JSON.parse(result.stdout) as { problems: object; analysis: { problems: unknown[]; entrypoints: Record<string, unknown> } };
    expect(Object.keys(problems), report).toEqual([]);
    expect(analysis.problems, report).toEqual([]);
    expect(Object.keys(analysis.entrypoints).sort()).toEqual(['.', './operators', './package.json', './providers', './testing']);
    expect(result.code, report).toBe(0);
  }, 180_000);

  it('has no problems for publint (suggestions included)', async () => {
    const result = await node([tools.publint, 'run', packed.tarball, '--level', 'suggestion'], { cwd: packed.dir, timeoutMs: 120_000 });
    const report = describeRun('publint', result);
    expect(result.code, report).toBe(0);
    expect(result.stdout, report).toContain('All good!');
  }, 180_000);
});
