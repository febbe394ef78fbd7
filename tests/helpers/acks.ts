// Ack assertions for tests that read a command's answer as a whole: its data if it succeeded, its error if it was refused.
import type { ExecutionContext } from 'ava';
import type { Ack, ErrorCode } from '../../src/protocol/index.ts';

/** The ack's data; fails the test (and throws) if the command was refused. */
export function data<T>(t: ExecutionContext, ack: Ack<T>, label = 'command'): T {
  if (!ack.ok) {
    const { error } = ack;
    t.fail(`${label}: expected ok, got ${error.code}: ${error.message}`);
    throw new Error(error.message);
  }
  return ack.data;
}

/** The ack's error, asserted to carry `code`; fails the test (and throws) if the command succeeded. */
export function failed(t: ExecutionContext, ack: Ack<unknown>, code: ErrorCode, label = 'command'): { code: string; message: string; details?: unknown } {
  if (ack.ok) {
    t.fail(`${label}: expected ${code}, got ok`);
    throw new Error(`${label} unexpectedly succeeded`);
  }
  t.is(ack.error.code, code, `${label}: ${ack.error.message}`);
  return ack.error;
}
