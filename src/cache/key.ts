import type { ModelInfo } from '../core/events';
import type { LlmRequest } from '../core/request';

/**
 * Cache keys. A key is the SHA-256 (hex) of the canonical JSON of what decides the answer: the
 * model (provider, id, base URL), the normalized request without its `metadata`, and the scope
 * values the caller chose. SHA-256 rather than a fast 64/128-bit hash (FNV, xxhash) because a key
 * collision serves one prompt's answer to another — perhaps another user's — and prompts are
 * attacker-controlled input: only a cryptographic hash makes crafted collisions infeasible. It is
 * synchronous everywhere (a cache hit must be answered within the subscribe call, so async
 * `crypto.subtle` is out): Node's native SHA-256 when `process.getBuiltinModule` offers it, else a
 * small pure-JS SHA-256 (browsers, edge) that gives the same digest. Hashing a typical request
 * (~1 KB) takes a few microseconds; the same stream subscribed again right away reuses its key.
 */

/** Bump when the key derivation or the stored entry format changes: old entries then simply miss. */
const KEY_VERSION = 2;

/**
 * The default cache key of a request: SHA-256 hex of the canonical JSON of
 * `{ v, model: { provider, id, baseURL }, request (without metadata), scope }`.
 * Fields added to the request later become part of the key automatically (a missed hit, never a
 * wrong one). Metadata other than `scope` never changes it; API keys and headers are not in it.
 */
export function cacheKey(request: LlmRequest, model: ModelInfo, scope?: Readonly<Record<string, string>>): string {
  const modelJson = canonicalJson({ provider: model.provider, id: model.id, baseURL: model.baseURL });
  const scopeJson = canonicalJson(scope ?? {});
  const context = modelJson + scopeJson;
  if (request === last.request && context === last.context) return last.key;
  const key = sha256Hex(`{"v":${KEY_VERSION},"model":${modelJson},"request":${requestJson(request)},"scope":${scopeJson}}`);
  last = { request, context, key };
  return key;
}

/** A function of the request and the model it is for. */
export type RequestPredicate = (request: LlmRequest, model: ModelInfo) => boolean;

/** How `cache()` keys requests (its options of the same names; see `CacheConfig`). */
export interface KeyOptions {
  readonly key?: ((request: LlmRequest, model: ModelInfo) => string | undefined) | undefined;
  readonly when?: RequestPredicate | undefined;
  readonly bypass?: RequestPredicate | undefined;
  readonly scope?: string | readonly string[] | undefined;
  readonly prefix: string;
}

/**
 * `cache()`'s store key function: a request's key behind `prefix` — its own `key`, or `cacheKey()`
 * with the `scope` metadata values — or `undefined` when the request skips the cache (`when` or
 * `bypass` says so, `key` returns `undefined`, a `scope` value is missing). User code may throw; a
 * `key` that returns something other than a string or `undefined` throws a `TypeError`.
 */
export function storeKeyOf({ key, when, bypass, scope, prefix }: KeyOptions): (request: LlmRequest, model: ModelInfo) => string | undefined {
  const scopeKeys = scope === undefined ? [] : typeof scope === 'string' ? [scope] : scope;
  return (request, model) => {
    if (when && !when(request, model)) return undefined;
    if (bypass?.(request, model)) return undefined;
    if (key) {
      const own = key(request, model);
      if (own !== undefined && typeof own !== 'string') throw new TypeError(`cache(): key() must return a string or undefined; it returned ${typeof own}`);
      return own === undefined ? undefined : prefix + own;
    }
    const values: Record<string, string> = {};
    for (const name of scopeKeys) {
      const value = request.metadata?.[name];
      if (value === undefined) return undefined;
      values[name] = value;
    }
    return prefix + cacheKey(request, model, values);
  };
}

// The last key derived, by request object: a request is parsed once per `stream()` call and never
// mutated, so the same stream subscribed again right away (a second subscriber, an immediate
// retry) skips re-hashing the conversation. One slot, not a WeakMap of every request: weak entries
// outlive minor GCs, and on a busy server that made every request's garbage survive into the old
// generation (measured: scavenges 10× slower) to save a hash on the rare resubscription.
let last: { readonly request: LlmRequest | undefined; readonly context: string; readonly key: string } = { request: undefined, context: '', key: '' };

// Members of the normalized request whose values are free-form JSON (schemas, provider options,
// tool-call arguments given as objects): their key order is the caller's, so they are sorted.
const FREE_FORM: ReadonlySet<string> = new Set(['tools', 'responseFormat', 'providerOptions']);

/**
 * The canonical JSON of a normalized request, without `metadata`: top-level members sorted by name.
 * Everything else whose shape the request schema fixes (messages, their parts) comes out of the
 * schema's parse with its keys in the schema's order whatever order the caller wrote them in, so
 * native `JSON.stringify` is already canonical there — and 4–5× faster than sorting every object
 * on the hit path. Free-form members, and messages carrying tool-call arguments as objects, go
 * through `canonicalJson`. (A schema change that reorders fields changes keys: bump KEY_VERSION.)
 */
function requestJson(request: LlmRequest): string {
  const record = request as unknown as Record<string, unknown>;
  const names = Object.keys(record).sort();
  let out = '';
  for (const name of names) {
    const value = record[name];
    if (value === undefined || name === 'metadata') continue;
    const json = FREE_FORM.has(name) || (name === 'messages' && hasObjectArguments(request.messages)) ? canonicalJson(value) : JSON.stringify(value);
    out += (out.length > 0 ? ',' : '') + JSON.stringify(name) + ':' + json;
  }
  return '{' + out + '}';
}

const hasObjectArguments = (messages: LlmRequest['messages']): boolean =>
  messages.some((m) => m.role === 'assistant' && m.toolCalls?.some((call) => typeof call.arguments !== 'string') === true);

/** JSON with object keys sorted at every level (and `undefined` members left out), so equal data gives equal text. */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null'; // what JSON.stringify writes, -0 → "0" included
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      break;
    default:
      return 'null'; // undefined, functions, symbols in arrays (as JSON.stringify; in objects they are skipped below)
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    let out = '[' + canonicalJson(value[0]);
    for (let i = 1; i < value.length; i++) out += ',' + canonicalJson(value[i]);
    return out + ']';
  }
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return canonicalJson((value as { toJSON: () => unknown }).toJSON());
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length > 1) keys.sort();
  let out = '';
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const member = record[key];
    if (member === undefined || typeof member === 'function' || typeof member === 'symbol') continue;
    let name = quoted.get(key);
    if (name === undefined) {
      name = JSON.stringify(key);
      if (quoted.size < 1024) quoted.set(key, name);
    }
    out += (out.length > 0 ? ',' : '') + name + ':' + canonicalJson(member);
  }
  return '{' + out + '}';
}

// Quoted object keys: a request repeats the same few names (role, content, type, text, …) and
// quoting them is a visible share of the hashing cost. Bounded, so odd keys cannot grow it.
const quoted = new Map<string, string>();

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const INITIAL = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
const encoder = new TextEncoder();
// Scratch space, reused: hashing is synchronous and never re-entered, and allocating per call
// shows up on the hit path. The buffer only grows (to the longest request hashed, ×3 for UTF-8).
let bytes = new Uint8Array(4096);
const w = new Int32Array(64);
const state = new Int32Array(8);

// Node's own SHA-256 when there is one (several times faster), found without importing `node:`
// so the browser build stays clean; elsewhere the pure-JS digest below, which is identical.
const nodeCrypto = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule?.('crypto') as
  | { createHash(algorithm: 'sha256'): { update(text: string): { digest(encoding: 'hex'): string } } }
  | undefined;

/** SHA-256 (FIPS 180-4) of the UTF-8 bytes of `text`, as 64 lower-case hex digits. */
export function sha256Hex(text: string): string {
  return nodeCrypto ? nodeCrypto.createHash('sha256').update(text).digest('hex') : sha256HexJs(text);
}

/** `sha256Hex` in pure JS: what browsers and edge runtimes use. */
export function sha256HexJs(text: string): string {
  if (bytes.length < text.length * 3 + 72) bytes = new Uint8Array(text.length * 6 + 72);
  const b = bytes;
  const length = encoder.encodeInto(text, b).written;
  // Padding: 0x80, zeros, then the bit length as a 64-bit big-endian number, to a multiple of 64 bytes.
  const total = ((length + 8) >> 6) * 64 + 64;
  b.fill(0, length, total);
  b[length] = 0x80;
  const high = Math.floor(length / 0x20000000);
  const low = (length << 3) >>> 0;
  for (let i = 0; i < 4; i++) {
    b[total - 8 + i] = high >>> (24 - 8 * i);
    b[total - 4 + i] = low >>> (24 - 8 * i);
  }
  state.set(INITIAL);
  for (let offset = 0; offset < total; offset += 64) {
    for (let t = 0; t < 16; t++) {
      const i = offset + t * 4;
      w[t] = (b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!;
    }
    for (let t = 16; t < 64; t++) {
      const x = w[t - 15]!;
      const y = w[t - 2]!;
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[t] = (s0 + s1 + w[t - 16]! + w[t - 7]!) | 0;
    }
    let a = state[0]!, c1 = state[1]!, c2 = state[2]!, d = state[3]!, e = state[4]!, f = state[5]!, g = state[6]!, h = state[7]!;
    for (let t = 0; t < 64; t++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[t]! + w[t]!) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & c1) ^ (a & c2) ^ (c1 & c2))) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c2;
      c2 = c1;
      c1 = a;
      a = (t1 + t2) | 0;
    }
    state[0] = state[0]! + a;
    state[1] = state[1]! + c1;
    state[2] = state[2]! + c2;
    state[3] = state[3]! + d;
    state[4] = state[4]! + e;
    state[5] = state[5]! + f;
    state[6] = state[6]! + g;
    state[7] = state[7]! + h;
  }
  let out = '';
  for (let i = 0; i < 8; i++) out += hex(state[i]!);
  return out;
}

const hex = (word: number): string => (word >>> 0).toString(16).padStart(8, '0');
