// The rows of the bench table, their targets, and how they print (console and Markdown).

/** Every row `npm run bench` reports, in order (quick mode keeps the names and shrinks the sizes). */
export const ROW_NAMES = [
  'roundtrip-50',
  'roundtrip-500',
  'roundtrip-50-sync-full',
  'fanout-1000',
  'fanout-5000',
  'events-1-actor',
  'events-1000-actors',
  'events-group-commit-1-actor',
  'events-group-commit-1000-actors',
  'checkout-flows-50',
  'heap-per-actor-10000',
  'heap-per-actor-100000',
  'heap-per-socket-1000',
  'heap-per-socket-5000',
  'rehydrate-from-cold',
  'cluster-roundtrip-50',
  'cluster-fanout-1000',
  'drop-sellout',
  'recommendation-latency',
  'aged-roundtrip-50',
  'aged-checkout-flows-50',
  'month-db-size',
] as const;

export type RowName = (typeof ROW_NAMES)[number];

export type Target =
  | { readonly kind: 'ratio>='; readonly value: number }
  | { readonly kind: 'ratio<='; readonly value: number }
  | { readonly kind: 'value<='; readonly value: number }
  | { readonly kind: 'value='; readonly value: number };

export interface Metric {
  readonly metric: string;
  /** `n`: a count (units sold, pushes per watcher). */
  readonly unit: '/s' | 'ms' | 'B' | 'n';
  /** A: the reference (raw building block, or the 1-node setup in the cluster rows). */
  readonly reference: number | null;
  /** B: Emporium. */
  readonly subject: number | null;
  /** B / A. */
  readonly ratio: number | null;
  readonly target?: Target | undefined;
  /** Whether the target is met (null: no target, or no figure). */
  readonly met: boolean | null;
}

export interface Row {
  readonly name: RowName;
  readonly title: string;
  /** What column A measures in this row. */
  readonly reference: string;
  /** What column B measures in this row. */
  readonly subject: string;
  readonly status: 'ok' | 'skipped' | 'n/a' | 'error';
  readonly note?: string | undefined;
  readonly metrics: readonly Metric[];
  /** Raw figures (counts, errors, sizes) behind the metrics. */
  readonly detail?: unknown;
}

export function metric(name: string, unit: Metric['unit'], reference: number | null | undefined, subject: number | null | undefined, target?: Target): Metric {
  const a = reference ?? null;
  const b = subject ?? null;
  const ratio = a !== null && b !== null && a !== 0 ? b / a : null;
  let met: boolean | null = null;
  if (target) {
    if (target.kind === 'value<=') met = b === null ? null : b <= target.value;
    else if (target.kind === 'value=') met = b === null ? null : b === target.value;
    else if (ratio !== null) met = target.kind === 'ratio>=' ? ratio >= target.value : ratio <= target.value;
  }
  return { metric: name, unit, reference: a, subject: b, ratio, target, met };
}

// ---------------------------------------------------------------- formatting

function significant(value: number, digits = 3): string {
  if (value === 0) return '0';
  const magnitude = Math.floor(Math.log10(Math.abs(value)));
  const decimals = Math.max(0, digits - 1 - magnitude);
  return value.toLocaleString('en-US', { maximumFractionDigits: decimals, minimumFractionDigits: 0 });
}

export function formatValue(value: number | null, unit: Metric['unit']): string {
  if (value === null || !Number.isFinite(value)) return '—';
  switch (unit) {
    case '/s':
      return value >= 1000 ? Math.round(value).toLocaleString('en-US') : significant(value);
    case 'ms':
      return Math.abs(value) < 0.1 ? `${significant(value * 1000)} µs` : `${significant(value)} ms`;
    case 'B':
      return Math.abs(value) >= 1024 ? `${significant(value / 1024)} KiB` : `${Math.round(value)} B`;
    case 'n':
      return Number.isInteger(value) ? value.toLocaleString('en-US') : significant(value);
  }
}

export function formatTarget(target: Target | undefined, unit: Metric['unit']): string {
  if (!target) return '';
  if (target.kind === 'value<=') return `≤ ${formatValue(target.value, unit)}`;
  if (target.kind === 'value=') return `= ${formatValue(target.value, unit)}`;
  return `${target.kind === 'ratio>=' ? '≥' : '≤'} ${Number(target.value.toFixed(2))}x`;
}

function verdict(m: Metric): string {
  if (!m.target) return '';
  const target = formatTarget(m.target, m.unit);
  if (m.met === null) return `${target} ?`;
  return `${target} ${m.met ? 'met' : 'MISSED'}`;
}

function ratioText(m: Metric): string {
  return m.ratio === null ? '—' : `${m.ratio >= 10 ? m.ratio.toFixed(1) : m.ratio.toFixed(2)}x`;
}

function lines(rows: readonly Row[]): string[][] {
  const out: string[][] = [];
  for (const row of rows) {
    if (row.status !== 'ok' || row.metrics.length === 0) {
      out.push([row.name, row.status === 'error' ? 'ERROR' : row.status, '—', '—', '—', row.note ?? '']);
      continue;
    }
    row.metrics.forEach((m, i) => {
      out.push([i === 0 ? row.name : '', m.metric, formatValue(m.reference, m.unit), formatValue(m.subject, m.unit), ratioText(m), verdict(m)]);
    });
  }
  return out;
}

const HEADER = ['row', 'metric', 'A (reference)', 'B (Emporium)', 'B/A', 'target'];

/** An aligned plain-text table for the console. */
export function consoleTable(rows: readonly Row[]): string {
  const body = lines(rows);
  const widths = HEADER.map((h, c) => Math.max(h.length, ...body.map((line) => (line[c] ?? '').length)));
  const fmt = (line: readonly string[]) =>
    line
      .map((cell, c) => (c >= 2 && c <= 4 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd();
  return [fmt(HEADER), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(fmt)].join('\n');
}

export function legend(rows: readonly Row[]): string[] {
  return rows.map((row) =>
    row.reference || row.subject
      ? `${row.name}: ${row.title}. A = ${row.reference}; B = ${row.subject}.${row.note ? ` ${row.note}` : ''}`
      : `${row.name}: ${row.status}${row.note ? ` — ${row.note}` : ''}`,
  );
}

export function markdown(
  rows: readonly Row[],
  meta: { readonly when: string; readonly mode: string; readonly machine: string; readonly seconds: number },
): string {
  const escapeCell = (cell: string) => cell.replaceAll('|', '\\|');
  const body = lines(rows);
  return [
    `# Emporium bench — ${meta.when}`,
    '',
    `Mode: ${meta.mode}. Machine: ${meta.machine}. Run took ${meta.seconds.toFixed(0)} s. Only ratios within one run are comparable.`,
    '',
    `| ${HEADER.join(' | ')} |`,
    `|${HEADER.map((_, c) => (c >= 2 && c <= 4 ? '---:' : '---')).join('|')}|`,
    ...body.map((line) => `| ${line.map(escapeCell).join(' | ')} |`),
    '',
    '## Rows',
    '',
    ...legend(rows).map((text) => `- ${escapeCell(text)}`),
    '',
  ].join('\n');
}
