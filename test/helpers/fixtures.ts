// (Test convention.) Fake keys are written as `sk-${'…'}` so that secret scanners do not flag the test sources;
// at run time they are ordinary key-shaped strings, which is what the redaction tests need.

import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The shared recorded fixtures: `../shared/fixtures` beside the repository (as in CI's clone). */
export const FIXTURES_DIR = fileURLToPath(new URL('../../../shared/fixtures', import.meta.url));

/** Every recorded body in a fixture folder, by name: `.sse` streams and `.json` error bodies (not their `.headers.json`). */
export function recordedBodies(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.sse') || (name.endsWith('.json') && !name.endsWith('.headers.json')))
    .sort();
}
