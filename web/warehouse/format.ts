// Pure helpers of the warehouse board: labels, errors in words, money and time as form fields.
import { EmporiumError, type ShipmentStateName } from '../../src/client/index.ts';
import { ApiError } from '../shared/session.ts';

export const STATE_LABELS: Record<ShipmentStateName, string> = {
  pending: 'Pending',
  picking: 'Picking',
  packed: 'Packed',
  shipped: 'Shipped',
  inTransit: 'In transit',
  delivered: 'Delivered',
  exception: 'Exception',
  cancelled: 'Cancelled',
};

export const OFFER_STATE_LABELS = { scheduled: 'Scheduled', live: 'Live', soldOut: 'Sold out', ended: 'Ended', cancelled: 'Cancelled' } as const;

/** A long id made short for people: its prefix and its last six characters (`order_…3e1f9a`). */
export function shortId(id: string): string {
  const cut = id.indexOf('_');
  if (cut < 0 || id.length - cut < 12) return id;
  return `${id.slice(0, cut + 1)}…${id.slice(-6)}`;
}

const HINTS: Partial<Record<string, string>> = {
  INVALID_TRANSITION: 'Not allowed in its current state',
  CONFLICT: 'Changed elsewhere meanwhile',
  FORBIDDEN: 'Not allowed',
  NOT_FOUND: 'Not found',
  VALIDATION: 'Please check the form',
  RATE_LIMITED: 'Too many requests; wait a moment',
  UNAVAILABLE: 'The server is busy or restarting; try again',
  UNAUTHORIZED: 'Your session ended; sign in again',
  INTERNAL: 'The server had a problem (it has been logged)',
};

/** An error as one sentence for people, with its code for support. */
export function describeError(error: unknown): string {
  if (error instanceof EmporiumError || error instanceof ApiError) {
    const hint = HINTS[error.code];
    const issues = error instanceof EmporiumError ? validationIssues(error.details) : [];
    const detail = issues.length > 0 ? issues.join('; ') : error.message;
    return `${hint ? `${hint}: ` : ''}${detail} (${error.code})`;
  }
  if (error instanceof Error) {
    if (/timed? ?out/i.test(error.message)) return 'No answer from the server in time. Check the connection and try again.';
    return error.message;
  }
  return String(error);
}

function validationIssues(details: unknown): string[] {
  const issues = (details as { issues?: Array<{ path: string; message: string }> } | undefined)?.issues;
  if (!Array.isArray(issues)) return [];
  return issues.map((issue) => (issue.path === '(payload)' ? issue.message : `${issue.path}: ${issue.message}`));
}

/** How many decimals a currency has (2 for EUR, 0 for JPY). */
export function currencyDecimals(currency: string): number {
  try {
    return new Intl.NumberFormat('en-US', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    return 2;
  }
}

/** `12.90` (or `12,90`) in `currency` → integer minor units; null when it is not an amount. */
export function toMinorUnits(text: string, currency: string): number | null {
  const decimals = currencyDecimals(currency);
  const match = /^(\d{1,9})(?:[.,](\d*))?$/.exec(text.trim());
  if (!match) return null;
  const fraction = match[2] ?? '';
  if (fraction.length > decimals) return null;
  return Number(match[1]) * 10 ** decimals + Number(fraction.padEnd(decimals, '0') || '0');
}

/** Integer minor units → the text of an amount field (`1290` EUR → `12.90`). */
export function fromMinorUnits(amount: number, currency: string): string {
  const decimals = currencyDecimals(currency);
  if (decimals === 0) return String(amount);
  const whole = Math.floor(amount / 10 ** decimals);
  return `${whole}.${String(amount % 10 ** decimals).padStart(decimals, '0')}`;
}

/** Epoch ms → the value of a `datetime-local` field (local time, to the second). */
export function toLocalInput(at: number): string {
  const date = new Date(at);
  return new Date(at - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
}

/** A `datetime-local` value (local time) → epoch ms; null when empty or not a date. */
export function fromLocalInput(value: string): number | null {
  if (!value) return null;
  const at = new Date(value).getTime();
  return Number.isNaN(at) ? null : at;
}

export const formatAt = (at: number) => new Date(at).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** `key: value` lines → attributes; numbers and true/false become such, quotes keep text. Throws on a bad line. */
export function parseAttributes(text: string): Record<string, string | number | boolean> {
  const attributes: Record<string, string | number | boolean> = {};
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line) continue;
    const match = /^([a-zA-Z][a-zA-Z0-9_]*)\s*[:=]\s*(.*)$/.exec(line);
    if (!match) throw new Error(`attributes, line ${index + 1}: write it as "name: value" (a name starts with a letter)`);
    const [, key, value = ''] = match;
    const quoted = /^"(.*)"$/.exec(value);
    attributes[key!] = quoted ? quoted[1]! : value === 'true' ? true : value === 'false' ? false : /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
  }
  return attributes;
}

/** Attributes → `key: value` lines (text that would read back as a number or a boolean is quoted). */
export function formatAttributes(attributes: Record<string, string | number | boolean>): string {
  return Object.entries(attributes)
    .map(([key, value]) => `${key}: ${typeof value === 'string' && /^(true|false|-?\d+(\.\d+)?)$/.test(value) ? `"${value}"` : String(value)}`)
    .join('\n');
}
