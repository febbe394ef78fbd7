// Pure helpers of the actor inspector: errors in words, short ids, values as compact or pretty JSON.
import { EmporiumError } from '../../src/client/index.ts';
import { ApiError } from '../shared/session.ts';

const HINTS: Partial<Record<string, string>> = {
  FORBIDDEN: 'Not allowed',
  NOT_FOUND: 'Not found',
  VALIDATION: 'Please check what you typed',
  INVALID_TRANSITION: 'Not allowed in its current state',
  RATE_LIMITED: 'Too many requests; wait a moment',
  UNAVAILABLE: 'The server is busy or restarting; try again',
  UNAUTHORIZED: 'Your session ended; sign in again',
  INTERNAL: 'The server had a problem (it has been logged)',
};

/** An error as one sentence for people, with its code. */
export function describeError(error: unknown): string {
  if (error instanceof EmporiumError || error instanceof ApiError) {
    const hint = HINTS[error.code];
    return `${hint ? `${hint}: ` : ''}${error.message} (${error.code})`;
  }
  if (error instanceof Error) {
    if (/timed? ?out/i.test(error.message)) return 'No answer from the server in time. Check the connection and try again.';
    return error.message;
  }
  return String(error);
}

/** A long id made short for people: its prefix and its last six characters (`order_…3e1f9a`). */
export function shortId(id: string): string {
  const cut = id.indexOf('_');
  if (cut < 0 || id.length - cut < 12) return id;
  return `${id.slice(0, cut + 1)}…${id.slice(-6)}`;
}

/** A value on one line, cut at `max` characters. */
export function compact(value: unknown, max = 80): string {
  if (value === undefined) return '—';
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** A value as indented JSON, for a <pre>. */
export function pretty(value: unknown): string {
  try {
    return JSON.stringify(value, null, 2) ?? 'undefined';
  } catch {
    return String(value);
  }
}

/** The time of day with seconds (for the stream), or the full date and time. */
export const clock = (at: number) => new Date(at).toLocaleTimeString();

/** The route in the hash: the overview (`#/`) or an actor (`#/actor/<id>`). */
export type Route = { readonly page: 'overview' } | { readonly page: 'actor'; readonly id: string };

export function routeFromHash(hash = location.hash): Route {
  const match = /^#\/actor\/(.+)$/.exec(hash);
  if (match?.[1]) return { page: 'actor', id: decodeURIComponent(match[1]) };
  return { page: 'overview' };
}

export const actorHref = (id: string) => `#/actor/${encodeURIComponent(id)}`;
