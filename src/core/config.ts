import { z } from 'zod';
import { ConfigurationError } from './errors';
import type { Model } from './model';

/**
 * Validates a factory's options at construction: a bad option throws `ConfigurationError` naming
 * the option, what was expected and what came. Secret-looking values are never echoed.
 */
export function parseConfig<S extends z.ZodType>(factory: string, schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  // Name an unknown key itself, rather than describing the whole options object (which holds the apiKey).
  const path = issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined ? [...issue.path, issue.keys[0]] : issue.path;
  const field = path.map(String).join('.');
  const received = field === '' ? value : path.reduce<unknown>((v, key) => (v as Record<PropertyKey, unknown> | undefined)?.[key as PropertyKey], value);
  // The options as a whole (e.g. a key passed where the object belongs) and secret fields: the type only.
  const shown = field === '' || path.some(isSecretName) ? (received === undefined ? 'nothing' : typeof received) : describeValue(received);
  throw new ConfigurationError(`${factory}(): ${field || 'options'}: ${issue.message}; received ${shown}`);
}

/**
 * Option names whose values may be credentials: `apiKey`, `key`, `secret`, `password`, `auth…`,
 * `headers`, and a singular `token` at the end (`token`, `accessToken`) — but not token counts
 * such as `maxOutputTokens` or `tokensPerMinute`, whose values a user needs to see.
 */
function isSecretName(segment: PropertyKey): boolean {
  const name = String(segment);
  return /key$|secret|password|auth|headers|cookie/i.test(name) || /token$/i.test(name);
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value); // Infinity, NaN: not JSON's "null"
  try {
    // Mask URL credentials (user:password@) before showing a value.
    const text = (JSON.stringify(value) ?? String(value)).replace(/([a-z]+:\/\/)[^/?#"]*@/gi, '$1***@');
    return shortened(text);
  } catch {
    return String(value);
  }
}

/** A text cut to at most 60 characters for a message: the first 57 and `...`. */
export function shortened(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Schema for a function option; `what` says which, e.g. `'a function (error) => boolean'`. */
export function functionSchema<T>(what: string): z.ZodType<T> {
  return z.custom<T>((value) => typeof value === 'function', `expected ${what}`);
}

/** Schema for a `Model` option (`fallback`'s models, `hedge`'s and `route`'s): an object with `info.name` and `stream()`. */
export const modelSchema: z.ZodType<Model> = z.custom<Model>(
  (m) => typeof (m as Model | undefined)?.stream === 'function' && typeof (m as Model).info?.name === 'string',
  'expected a Model (info and stream())',
);
