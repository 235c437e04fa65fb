/**
 * rxllm's errors inside a minified browser bundle: esbuild renames every class, so `name` must be
 * a literal, and `instanceof` / `is()` must rest on markers — also between the bundle's copy of
 * the classes and this process's own copy.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as here from '../src/core/errors';

/** The bundle's entry: it throws and catches inside the bundle, and reports what it saw. */
const ENTRY = `
import { ApiError, ConfigurationError, LlmError, RateLimitError, TimeoutError } from './src/core/errors';

export function throwAndCatch() {
  try {
    throw new RateLimitError({ message: 'slow down', status: 429, retryAfterMs: 2000, provider: 'openai' });
  } catch (err) {
    return {
      err,
      name: err.name,
      constructorName: err.constructor.name,
      stackHead: err.stack.split('\\n')[0],
      json: err.toJSON(),
      instanceOf: { RateLimitError: err instanceof RateLimitError, ApiError: err instanceof ApiError, LlmError: err instanceof LlmError, Error: err instanceof Error, TimeoutError: err instanceof TimeoutError },
      is: { RateLimitError: RateLimitError.is(err), ApiError: ApiError.is(err), LlmError: LlmError.is(err), TimeoutError: TimeoutError.is(err) },
      configurationIsTimeout: TimeoutError.is(new ConfigurationError('x')),
      apiIsRateLimit: new ApiError({ code: 'server_error', message: 'boom' }) instanceof RateLimitError,
    };
  }
}

export { ApiError, LlmError, RateLimitError, TimeoutError };
`;

interface Probe {
  readonly err: unknown;
  readonly name: string;
  readonly constructorName: string;
  readonly stackHead: string;
  readonly json: Record<string, unknown>;
  readonly instanceOf: Record<string, boolean>;
  readonly is: Record<string, boolean>;
  readonly configurationIsTimeout: boolean;
  readonly apiIsRateLimit: boolean;
}

interface Bundle {
  readonly throwAndCatch: () => Probe;
  readonly ApiError: typeof here.ApiError;
  readonly LlmError: typeof here.LlmError;
  readonly RateLimitError: typeof here.RateLimitError;
  readonly TimeoutError: typeof here.TimeoutError;
}

let dir: string;
let code: string;
let bundle: Bundle;

beforeAll(async () => {
  const result = await build({
    stdin: { contents: ENTRY, resolveDir: fileURLToPath(new URL('..', import.meta.url)), sourcefile: 'entry.js', loader: 'js' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  code = result.outputFiles[0]!.text;
  dir = await mkdtemp(join(tmpdir(), 'rxllm-errors-bundle-'));
  const file = join(dir, 'bundle.mjs');
  await writeFile(file, code);
  bundle = (await import(/* @vite-ignore */ pathToFileURL(file).href)) as Bundle;
});

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('errors in a minified esm bundle', () => {
  it('the minifier really renamed the classes (so the checks below are not vacuous)', () => {
    expect(code).not.toMatch(/class RateLimitError\b/);
    expect(bundle.throwAndCatch().constructorName).not.toBe('RateLimitError');
  });

  it('a thrown RateLimitError keeps its literal name in name, the stack and toJSON()', () => {
    const probe = bundle.throwAndCatch();
    expect(probe.name).toBe('RateLimitError');
    expect(probe.stackHead).toBe('RateLimitError: slow down');
    expect(probe.json).toEqual({ name: 'RateLimitError', code: 'rate_limited', message: 'slow down', retryable: true, status: 429, retryAfterMs: 2000, provider: 'openai' });
  });

  it('instanceof and is() hold inside the bundle: true for the class and its parents, false for siblings', () => {
    const probe = bundle.throwAndCatch();
    expect(probe.instanceOf).toEqual({ RateLimitError: true, ApiError: true, LlmError: true, Error: true, TimeoutError: false });
    expect(probe.is).toEqual({ RateLimitError: true, ApiError: true, LlmError: true, TimeoutError: false });
    expect(probe.configurationIsTimeout).toBe(false);
    expect(probe.apiIsRateLimit).toBe(false);
  });

  it("the bundle's error is one of this copy's classes, and this copy's error is one of the bundle's", () => {
    const fromBundle = bundle.throwAndCatch().err;
    expect(fromBundle instanceof here.RateLimitError && fromBundle instanceof here.ApiError && here.LlmError.is(fromBundle)).toBe(true);
    expect(here.TimeoutError.is(fromBundle) || fromBundle instanceof here.TimeoutError).toBe(false);

    const fromHere = new here.RateLimitError({ message: 'slow down' });
    expect(fromHere instanceof bundle.RateLimitError && fromHere instanceof bundle.ApiError && bundle.LlmError.is(fromHere)).toBe(true);
    expect(bundle.TimeoutError.is(fromHere) || fromHere instanceof bundle.TimeoutError).toBe(false);
    expect(bundle.RateLimitError.is(new here.ApiError({ code: 'server_error', message: 'boom' }))).toBe(false);
  });
});
