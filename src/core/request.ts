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
 * what was expected and what came.
 */
export function parseRequest(input: unknown): LlmRequest {
  const result = requestSchema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  // An unknown key is reported on its parent object; name the key itself, and what it held.
  const unknownKey = issue.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
  const path = unknownKey === undefined ? issue.path : [...issue.path, unknownKey];
  const field = formatPath(path);
  const received = describe(valueAt(input, path));
  const problem = unknownKey === undefined ? issue.message : `unknown field${RENAMED[unknownKey] ? ` (did you mean ${RENAMED[unknownKey]}?)` : ''}`;
  throw new InvalidRequestError(field || '(request)', `${field || 'request'}: ${problem}; received ${received}`);
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
