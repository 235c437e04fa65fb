import { fileURLToPath } from 'node:url';

/** The shared recorded fixtures: `../shared/fixtures` beside the repository (as in CI's clone). */
export const FIXTURES_DIR = fileURLToPath(new URL('../../../shared/fixtures', import.meta.url));
