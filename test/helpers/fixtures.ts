// (Test convention.) Fake keys are written as `sk-${'…'}` so that secret scanners do not flag the test sources;
// at run time they are ordinary key-shaped strings, which is what the redaction tests need.

import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The recorded provider fixtures, copied into the repository (see test/fixtures/SOURCES.md for their origins and licences). */
export const FIXTURES_DIR = fileURLToPath(new URL('../fixtures', import.meta.url));

/** Every recorded body in a fixture folder, by name: `.sse` streams and `.json` error bodies (not their `.headers.json`). */
export function recordedBodies(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.sse') || (name.endsWith('.json') && !name.endsWith('.headers.json')))
    .sort();
}
