/**
 * Checks the provider suites share: a call that must fail (one terminal, typed), no trace of a
 * key in any rendering of an error, a factory that must throw `ConfigurationError`, and
 * unsubscribing mid-stream closing the socket.
 */
import { inspect } from 'node:util';
import { lastValueFrom, take, toArray, type Observable } from 'rxjs';
import { expect } from 'vitest';
import { ConfigurationError, LlmError, text, type LlmEvent } from 'rxllm';
import type { MockReply, MockServer } from 'rxllm/testing';
import { pause, record } from './observe';

/** Every way an error gets shown: its message, JSON, stack, `String()` and `inspect()` (10 levels deep). */
export function errorRenderings(error: unknown): { message: string; json: string; stack: string; string: string; inspect: string } {
  const e = error as Error;
  return { message: e.message, json: JSON.stringify(e), stack: String(e.stack), string: String(e), inspect: inspect(e, { depth: 10 }) };
}

/**
 * Asserts that none of `texts` (named, e.g. `errorRenderings(error)`, or a list) holds any of
 * `secrets`: a string as a substring, a pattern as a match. Failures name the text.
 */
export function expectNoneContains(texts: Readonly<Record<string, string>> | readonly string[], secrets: ReadonlyArray<string | RegExp>): void {
  for (const [how, rendered] of Object.entries(texts)) {
    for (const secret of secrets) {
      if (typeof secret === 'string') expect(rendered, how).not.toContain(secret);
      else expect(rendered, how).not.toMatch(secret);
    }
  }
}

/** Runs `make`, which must throw a `ConfigurationError`, and returns that error. */
export function thrownConfigurationError(make: () => unknown): ConfigurationError {
  let thrown: unknown;
  try {
    make();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(ConfigurationError);
  return thrown as ConfigurationError;
}

/**
 * Subscribes to one call that must fail and checks the one-terminal contract on a plain observer:
 * one error, no complete, nothing after the error — also `settleMs` later, room for a stray second
 * terminal or a late event — and the error is an `LlmError`. Returns it and the events before it.
 */
export async function oneFailure(stream: Observable<LlmEvent>, settleMs: number): Promise<{ error: LlmError; events: LlmEvent[] }> {
  const seen = record(stream);
  await seen.terminal;
  await pause(settleMs);
  expect(seen.errors).toHaveLength(1);
  expect(seen.completes).toBe(0);
  expect(seen.nextAfterTerminal).toBe(0);
  const error = seen.errors[0] as LlmError;
  expect(LlmError.is(error)).toBe(true);
  return { error, events: seen.values };
}

/**
 * Unsubscribing mid-stream closes the socket: `reply` (a slow one: many chunks with a delay
 * between them) is served for `stream`, whose first three text deltas must be `firstThree`; `take(3)`
 * then unsubscribes, and the server must record the close mid-response, before the whole body
 * was written. The server must have seen exactly this one request.
 */
export async function expectTakeThreeClosesSocket(server: MockServer, stream: Observable<LlmEvent>, reply: MockReply, firstThree: readonly string[]): Promise<void> {
  const bodyBytes = (reply.chunks ?? []).reduce((sum, chunk) => sum + Buffer.byteLength(chunk), 0);
  server.enqueue(reply);
  expect(await lastValueFrom(stream.pipe(text(), take(3), toArray()))).toEqual(firstThree);
  expect(server.requests).toHaveLength(1);
  // By id: keep-alive sockets of earlier tests on this server stay open, rightly.
  const connection = await server.waitForClose(server.requests[0]!.connectionId);
  expect(connection.closedMidResponse).toBe(true);
  expect(connection.bytesWritten).toBeLessThan(bodyBytes);
}
