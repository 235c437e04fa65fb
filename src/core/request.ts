import { z } from 'zod';
import { InvalidRequestError } from './errors';

/**
 * The one request shape every provider accepts. `model.stream(input)` validates the input with
 * `requestSchema` before any I/O and carries the normalized result in the `request` event.
 */

const textPart = z.strictObject({ type: z.literal('text'), text: z.string() });
export type TextPart = z.infer<typeof textPart>;

/** `'Hi'` is shorthand for `[{ type: 'text', text: 'Hi' }]`; the normalized form is always parts. */
const content = z.union([z.string(), z.array(textPart)]).transform((c): TextPart[] => (typeof c === 'string' ? [{ type: 'text', text: c }] : c));

const toolName = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected a tool name of 1-64 letters, digits, "_" or "-"');

const toolCallInMessage = z.strictObject({
  id: z.string().min(1),
  name: toolName,
  /** JSON text as the model produced it, or an object (serialized for the wire). */
  arguments: z.union([z.string(), z.record(z.string(), z.unknown())]),
});

const message = z.discriminatedUnion('role', [
  z.strictObject({ role: z.literal('system'), content }),
  z.strictObject({ role: z.literal('user'), content, name: z.string().optional() }),
  z.strictObject({
    role: z.literal('assistant'),
    content: content.optional(),
    toolCalls: z.array(toolCallInMessage).optional(),
  }),
  z.strictObject({ role: z.literal('tool'), toolCallId: z.string().min(1), content }),
]);

const jsonSchemaObject = z.record(z.string(), z.unknown());

const tool = z.strictObject({
  name: toolName,
  description: z.string().optional(),
  /** JSON Schema of the arguments object. */
  parameters: jsonSchemaObject.default({ type: 'object', properties: {} }),
  strict: z.boolean().optional(),
});

const toolChoice = z.union([z.enum(['auto', 'none', 'required']), z.strictObject({ name: toolName })], {
  error: 'expected "auto", "none", "required" or { name: "<tool name>" }',
});

const responseFormat = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('text') }),
  z.strictObject({
    type: z.literal('json'),
    /** Without a schema: JSON mode. With one: structured output. */
    schema: jsonSchemaObject.optional(),
    name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).optional(),
    strict: z.boolean().optional(),
  }),
]);

/** Tags operators use for ledgers, limits and cache scopes. Never sent to the provider. */
const metadata = z.record(z.string(), z.string());

export const requestSchema = z
  .strictObject({
    messages: z.array(message).min(1, 'expected at least one message'),
    tools: z.array(tool).optional(),
    toolChoice: toolChoice.optional(),
    temperature: z.number().min(0).max(2).optional(),
    topP: z.number().min(0).max(1).optional(),
    maxOutputTokens: z.number().int().positive().optional(),
    stop: z.union([z.string().min(1), z.array(z.string().min(1)).min(1).max(4)]).optional(),
    seed: z.number().int().optional(),
    responseFormat: responseFormat.optional(),
    metadata: metadata.optional(),
    /** Extra body fields per provider, merged into the wire body as is: `{ openai: { reasoning_effort: 'low' } }`. */
    providerOptions: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
  })
  .superRefine((req, ctx) => {
    const names = new Set<string>();
    req.tools?.forEach((t, i) => {
      if (names.has(t.name)) ctx.addIssue({ code: 'custom', path: ['tools', i, 'name'], message: `duplicate tool name "${t.name}"` });
      names.add(t.name);
    });
    if (req.toolChoice !== undefined && !req.tools?.length && req.toolChoice !== 'none' && req.toolChoice !== 'auto') {
      ctx.addIssue({ code: 'custom', path: ['toolChoice'], message: 'expected tools to choose from' });
    }
    if (typeof req.toolChoice === 'object' && req.tools && !names.has(req.toolChoice.name)) {
      ctx.addIssue({ code: 'custom', path: ['toolChoice', 'name'], message: `expected the name of one of the tools (${[...names].join(', ')})` });
    }
  });

/** What callers pass to `model.stream()`: strings for content are fine. */
export type LlmRequestInput = z.input<typeof requestSchema>;
/** The validated, normalized request carried by the `request` event. */
export type LlmRequest = z.output<typeof requestSchema>;
export type Message = LlmRequest['messages'][number];
export type ToolDefinition = NonNullable<LlmRequest['tools']>[number];

/**
 * Validates and normalizes a request. Throws `InvalidRequestError` naming the first bad field,
 * what was expected and what came. Beyond the schema, the free-form members that go on the wire
 * as given — tool `parameters`, the `responseFormat` schema, `providerOptions`, a tool call's
 * `arguments` object — must be JSON: no `BigInt`, no object inside itself, at most 64 levels deep
 * (the member itself is level 1); `field` is the path to the offending value.
 */
export function parseRequest(input: unknown): LlmRequest {
  let result: ReturnType<typeof requestSchema.safeParse>;
  try {
    result = requestSchema.safeParse(input);
  } catch (error) {
    // safeParse reports bad values; a getter or a Proxy that throws while it reads gets out raw.
    const name = error instanceof Error ? `a ${error.name}` : 'something';
    throw new InvalidRequestError('(request)', `request: expected plain data; reading it threw ${name}`);
  }
  if (result.success) {
    // The schema takes these members as they come (`unknown` inside); the wire body is their JSON.
    const problem = notJson(input as LlmRequestInput);
    if (problem) throw new InvalidRequestError(formatPath(problem.path), `${shortPath(problem.path)}: ${problem.message}`);
    return result.data;
  }
  const issue = result.error.issues[0]!;
  // An unknown key is reported on its parent object; name the key itself, and what it held.
  const unknownKey = issue.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
  const path = unknownKey === undefined ? issue.path : [...issue.path, unknownKey];
  const field = formatPath(path);
  const received = describe(valueAt(input, path));
  const problem = unknownKey === undefined ? issue.message : `unknown field${RENAMED[unknownKey] ? ` (did you mean ${RENAMED[unknownKey]}?)` : ''}`;
  throw new InvalidRequestError(field || '(request)', `${field || 'request'}: ${problem}; received ${received}`);
}

/**
 * How deep a free-form member of a request (a tool's `parameters`, a `responseFormat` schema,
 * `providerOptions`, a tool call's `arguments` object) may nest: the member itself is level 1.
 * Real JSON Schemas stay far below it (providers' own limits on structured output are 5 to 10
 * schema levels, two object levels each); far beyond it, serializing overflows the stack.
 */
const MAX_JSON_DEPTH = 64;

/** Where a free-form member of a request is not JSON, and why. */
interface JsonProblem {
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

/**
 * The first free-form member of a valid request that `JSON.stringify` could not write as it will
 * be sent — a `BigInt`, an object inside itself, nesting deeper than `MAX_JSON_DEPTH`, a `toJSON()`
 * or getter that throws — or `undefined`. Without this, such a request passed validation and failed
 * later with a raw `TypeError` / `RangeError`, after its `request` event. Reads the caller's input,
 * not the parsed copy, so a path names the very object that holds the fault.
 */
function notJson(input: LlmRequestInput): JsonProblem | undefined {
  const members: Array<[PropertyKey[], unknown]> = [];
  input.messages.forEach((message, i) => {
    if (message.role !== 'assistant') return;
    message.toolCalls?.forEach((call, j) => {
      if (typeof call.arguments === 'object') members.push([['messages', i, 'toolCalls', j, 'arguments'], call.arguments]);
    });
  });
  input.tools?.forEach((tool, i) => {
    if (tool.parameters !== undefined) members.push([['tools', i, 'parameters'], tool.parameters]);
  });
  if (input.responseFormat?.type === 'json' && input.responseFormat.schema !== undefined) members.push([['responseFormat', 'schema'], input.responseFormat.schema]);
  if (input.providerOptions !== undefined) members.push([['providerOptions'], input.providerOptions]);
  // metadata needs no walk: the schema holds its values to strings.
  for (const [path, value] of members) {
    const problem = jsonWalk(path, value);
    if (problem) return problem;
  }
  return undefined;
}

/** Thrown inside the walk to unwind it at the first fault. */
class NotJson implements JsonProblem {
  constructor(
    readonly path: readonly PropertyKey[],
    readonly message: string,
  ) {}
}

/**
 * Walks `root` as `JSON.stringify` would (own enumerable keys, `toJSON()` first). Recursion is
 * bounded by `MAX_JSON_DEPTH`, so a 10 000-deep input costs 64 frames, not a stack overflow.
 * Objects already found good are remembered with the height of what hangs below them, so an object
 * shared many times over (a DAG) is walked once, not once per path to it.
 */
function jsonWalk(base: readonly PropertyKey[], root: unknown): NotJson | undefined {
  const path: PropertyKey[] = [...base];
  const ancestors: object[] = [];
  const heights = new WeakMap<object, number>();
  const errorName = (error: unknown): string => (error instanceof Error ? `a ${error.name}` : 'something');

  /** Object levels in `value`'s tree (0 for a leaf, 1 for an object of leaves); `path` ends at `value`, `depth` is its level. */
  const visit = (value: unknown, key: PropertyKey, depth: number): number => {
    if ((typeof value === 'object' && value !== null) || typeof value === 'bigint') {
      const toJSON = (value as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') {
        try {
          value = toJSON.call(value, typeof key === 'number' ? String(key) : key);
        } catch (error) {
          throw new NotJson(path, `expected a JSON value; received an object whose toJSON() threw ${errorName(error)}`);
        }
      }
    }
    if (typeof value === 'bigint') {
      throw new NotJson(path, `expected a JSON value (a number or a string); received a BigInt, ${shortened(`${String(value)}n`)}`);
    }
    if (typeof value !== 'object' || value === null) return 0;
    const seen = ancestors.indexOf(value);
    if (seen >= 0) {
      throw new NotJson(path, `expected a JSON value; received a circular reference to ${formatPath(path.slice(0, base.length + seen)) || 'the request'} (an object inside itself)`);
    }
    const known = heights.get(value);
    if (known !== undefined && depth + known - 1 <= MAX_JSON_DEPTH) return known;
    if (depth > MAX_JSON_DEPTH) throw new NotJson(path, `expected JSON nested at most ${MAX_JSON_DEPTH} levels deep; received deeper nesting`);
    ancestors.push(value);
    let below = 0;
    const child = (key: PropertyKey): void => {
      path.push(key);
      let item: unknown;
      try {
        item = (value as Record<PropertyKey, unknown>)[key];
      } catch (error) {
        throw new NotJson(path, `expected a JSON value; reading it threw ${errorName(error)}`);
      }
      below = Math.max(below, visit(item, key, depth + 1));
      path.pop();
    };
    if (Array.isArray(value)) for (let i = 0; i < value.length; i++) child(i);
    else for (const key of Object.keys(value)) child(key);
    ancestors.pop();
    heights.set(value, below + 1);
    return below + 1;
  };

  try {
    visit(root, base[base.length - 1] ?? '', 1);
    return undefined;
  } catch (error) {
    if (error instanceof NotJson) return new NotJson([...error.path], error.message);
    throw error;
  }
}

/** A path for a message: a very deep one keeps its start and its end. */
function shortPath(path: readonly PropertyKey[]): string {
  const text = formatPath(path);
  return text.length > 120 ? `${text.slice(0, 60)}…${text.slice(-50)}` : text;
}

function shortened(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Wire names people carry over from the provider APIs, and what they are called here. */
const RENAMED: Readonly<Record<string, string>> = {
  max_tokens: 'maxOutputTokens',
  max_completion_tokens: 'maxOutputTokens',
  max_output_tokens: 'maxOutputTokens',
  top_p: 'topP',
  tool_choice: 'toolChoice',
  response_format: 'responseFormat',
  tool_calls: 'toolCalls',
  tool_call_id: 'toolCallId',
};

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : out ? `.${String(key)}` : String(key);
  return out;
}

function valueAt(root: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let value = root;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Joins the text parts of a message's content. */
export function contentText(parts: ReadonlyArray<TextPart> | undefined): string {
  if (!parts) return '';
  return parts.length === 1 ? parts[0]!.text : parts.map((p) => p.text).join('');
}
