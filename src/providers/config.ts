import { z } from 'zod';
import { shortened } from '../core/config';
import { ConfigurationError, InvalidRequestError, registerSecret } from '../core/errors';
import type { Transport } from '../http/transport';
import type { LlmRequest } from '../core/request';

/** An environment variable, or undefined where there is no `process` (browsers). Empty counts as unset. */
export function readEnv(name: string): string | undefined {
  const value = typeof process === 'undefined' ? undefined : process.env?.[name];
  return value === undefined || value === '' ? undefined : value;
}

/** Lower-cases header names and registers credential-looking values so errors never show them. */
export function normalizeHeaders(headers: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (/auth|key|token|secret|cookie/.test(lower)) registerSecret(value.replace(/^(Bearer|Basic)\s+/i, ''));
    out[lower] = value;
  }
  return out;
}

/** An http(s) base URL without credentials in it (they would travel in events and logs). */
export const baseUrlSchema = z
  .url({ protocol: /^https?$/, error: 'expected an http(s) URL such as "https://api.openai.com/v1"' })
  .refine((value) => !/^[a-z]+:\/\/[^/?#]*@/i.test(value), 'expected no user:password in the URL: pass credentials as apiKey or headers');

/** The `headers` option of a provider: extra headers sent with every call. */
export const headersSchema = z.record(z.string(), z.string());

/** The `transport` option of a provider: anything with `send()`. */
export const transportSchema = z.custom<Transport>((t) => typeof (t as Transport | undefined)?.send === 'function', 'expected a Transport with send()');

/** The `apiKey` option of a provider: a non-empty string. */
export const apiKeySchema = z.string().min(1);

/**
 * The API key a factory was given, else the one in the environment variable `envName` (or, when
 * that is unset, in `alternativeEnvName`). No key at all throws a `ConfigurationError` that names
 * the factory and the variable(s). Registering the key for redaction is left to the caller.
 */
export function requireApiKey(factory: string, given: string | undefined, envName: string, alternativeEnvName?: string): string {
  const apiKey = given ?? readEnv(envName) ?? (alternativeEnvName === undefined ? undefined : readEnv(alternativeEnvName));
  if (apiKey === undefined) {
    const variables = alternativeEnvName === undefined ? envName : `${envName} (or ${alternativeEnvName})`;
    throw new ConfigurationError(`${factory}(): no API key. Pass { apiKey } or set ${variables} (for a keyless run, use simulated())`);
  }
  return apiKey;
}

/** A base URL without its trailing slashes. */
export function withoutTrailingSlashes(baseURL: string): string {
  return baseURL.replace(/\/+$/, '');
}

/** The URL of `path` under `baseURL` (trailing slashes of the base dropped): `endpoint(base, 'messages')`. */
export function endpoint(baseURL: string, path: string): string {
  return `${withoutTrailingSlashes(baseURL)}/${path}`;
}

/** The first headers of a JSON request whose response streams as SSE (provider headers and the key follow). */
export const SSE_REQUEST_HEADERS: Readonly<Record<'content-type' | 'accept', string>> = { 'content-type': 'application/json', accept: 'text/event-stream' };

/**
 * The request's `providerOptions` under the first of `names` that has any (`a ?? b`), e.g.
 * `providerOptionsFor(request, info.provider, 'openai')`.
 */
export function providerOptionsFor(request: LlmRequest, ...names: readonly string[]): Record<string, unknown> | undefined {
  for (const name of names) {
    const options = request.providerOptions?.[name];
    if (options !== undefined && options !== null) return options;
  }
  return undefined;
}

/**
 * A tool call's arguments as the JSON object a wire format wants: an object as it is, `''` as `{}`,
 * other text parsed. Text that is not a JSON object throws `InvalidRequestError` on `field`, with
 * the message `describe` makes from the text shortened for display.
 */
export function toolArgumentsObject(args: string | Record<string, unknown>, field: string, describe: (shown: string) => string): Record<string, unknown> {
  if (typeof args !== 'string') return args;
  if (args.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(args);
  } catch {
    parsed = undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new InvalidRequestError(field, describe(shortened(args)));
  }
  return parsed as Record<string, unknown>;
}
