import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * The README's examples (and the provider pages' under docs/providers), pasted as written: every ```ts block (those marked `ts no-run` need a
 * key or a port) runs in a fresh tsx process and must exit 0 on its own — which also proves it
 * leaves nothing keeping the process alive.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const dir = `${root}/.readme-blocks`;
const documents = ['README.md', ...readdirSync(`${root}/docs/providers`).map((name) => `docs/providers/${name}`)];
const blocks = documents.flatMap((doc) => [...readFileSync(`${root}/${doc}`, 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => [doc, m[1]!] as const));
const run = promisify(execFile);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('README examples', () => {
  it('has runnable examples', () => expect(blocks.length).toBeGreaterThanOrEqual(3));

  it.each(blocks.map(([doc, code], i) => [i + 1, doc, code] as const))('block %i (%s) runs and exits on its own', async (index, _doc, code) => {
    mkdirSync(dir, { recursive: true });
    const file = `${dir}/block-${index}.ts`;
    writeFileSync(file, code);
    const env = { ...process.env };
    delete env['OPENAI_API_KEY'];
    const { stdout } = await run(process.execPath, ['--import', 'tsx', file], { cwd: root, env, timeout: 30_000 });
    expect(stdout.length).toBeGreaterThan(0);
  }, 40_000);
});
