// Maps anything a handler throws to the protocol's error body; unexpected errors are logged, never shown.
import { ZodError } from 'zod';
import { AppError, type ErrorBody } from '../../domain/errors.ts';

export interface ErrorLogger {
  error(object: object, message: string): void;
}

/** The longest `message` a `VALIDATION` error has: it names the problems, it never echoes a large input back. */
export const MAX_VALIDATION_MESSAGE = 300;
/** How many issues the message names (the rest are counted), and how many `details.issues` lists. */
const MESSAGE_ISSUES = 3;
const DETAIL_ISSUES = 20;
/** The longest path and issue message kept (an unknown key, or a record's key, may be anything the client sent). */
const MAX_PATH = 80;
const MAX_ISSUE_MESSAGE = 160;

/** `text`, cut to at most `max` characters (an ellipsis marks the cut), with control characters shown as `?`. */
export function clip(text: string, max: number): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: replacing control characters is the point
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length <= max ? clean : `${clean.slice(0, max - 1)}…`;
}

/**
 * Formats zod issues as `path: message` a client developer can act on: the first few in `message` (bounded, the
 * rest counted), more in `details.issues`, each path and message cut short, so a payload with a thousand unknown
 * keys or a 10,000-character key never comes back whole.
 */
export function validationBody(error: ZodError): ErrorBody {
  const issues = error.issues.slice(0, DETAIL_ISSUES).map((issue) => ({
    path: clip(issue.path.map(String).join('.') || '(payload)', MAX_PATH),
    message: clip(issue.message, MAX_ISSUE_MESSAGE),
  }));
  const named = issues.slice(0, MESSAGE_ISSUES).map((issue) => `${issue.path}: ${issue.message}`);
  const more = error.issues.length - named.length;
  const message = named.join('; ') + (more > 0 ? `; and ${more} more problem${more === 1 ? '' : 's'}` : '');
  return { code: 'VALIDATION', message: clip(message, MAX_VALIDATION_MESSAGE), details: { issues } };
}

/** What a command payload with binary data in it (a Buffer, an ArrayBuffer, a typed array) is told. */
export const BINARY_PAYLOAD_MESSAGE = 'payload must be a JSON object; binary data is not accepted';

const isBinary = (value: unknown): boolean => value instanceof ArrayBuffer || ArrayBuffer.isView(value);

/**
 * Where binary data is in a payload (Socket.IO delivers binary attachments as Buffers): `(payload)` for the
 * payload itself, the dot path of the first one inside it, or undefined when there is none. Looks through plain
 * objects and arrays only, at most `budget` values deep and wide (a larger payload fails its schema anyway).
 */
export function binaryPath(payload: unknown, budget = 10_000): string | undefined {
  if (isBinary(payload)) return '(payload)';
  let left = budget;
  const walk = (value: unknown, path: string, depth: number): string | undefined => {
    if (isBinary(value)) return path;
    if (value === null || typeof value !== 'object' || depth > 32) return undefined;
    for (const [key, child] of Object.entries(value)) {
      if (--left < 0) return undefined;
      const found = walk(child, path ? `${path}.${key}` : key, depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  return walk(payload, '', 0);
}

/** The `VALIDATION` body for binary data found at `path` (see {@link binaryPath}). */
export function binaryBody(path: string): ErrorBody {
  return {
    code: 'VALIDATION',
    message: path === '(payload)' ? BINARY_PAYLOAD_MESSAGE : clip(`${path}: binary data is not accepted; the payload must be JSON`, MAX_VALIDATION_MESSAGE),
    details: { issues: [{ path: clip(path, MAX_PATH), message: 'binary data is not accepted' }] },
  };
}

export function toErrorBody(error: unknown, logger: ErrorLogger, context: object = {}): ErrorBody {
  if (error instanceof AppError) return error.toBody();
  if (error instanceof ZodError) return validationBody(error);
  logger.error({ err: error, ...context }, 'unexpected error');
  return { code: 'INTERNAL', message: 'internal error; it has been logged' };
}
