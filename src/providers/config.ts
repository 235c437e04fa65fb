import { z } from 'zod';
import { registerSecret } from '../errors';

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
