// Diagnostic (`npm run bench -- --sql-profile`): times every better-sqlite3 statement execution in this process,
// by SQL text, by wrapping the Statement prototype. Nothing in src/ changes; the wrapper costs a few µs per call.
import Database from 'better-sqlite3';

export interface SqlStat {
  readonly sql: string;
  readonly calls: number;
  readonly ms: number;
}

type Method = (this: { source: string }, ...args: unknown[]) => unknown;

export function profileSql(): () => SqlStat[] {
  const probe = new Database(':memory:');
  const proto = Object.getPrototypeOf(probe.prepare('select 1')) as Record<string, Method>;
  probe.close();
  const stats = new Map<string, { calls: number; ms: number }>();
  for (const name of ['run', 'all', 'get'] as const) {
    const original = proto[name]!;
    proto[name] = function (this: { source: string }, ...args: unknown[]) {
      const started = performance.now();
      try {
        return original.apply(this, args);
      } finally {
        const sql = this.source.replace(/\s+/g, ' ').slice(0, 160);
        const entry = stats.get(sql) ?? { calls: 0, ms: 0 };
        entry.calls++;
        entry.ms += performance.now() - started;
        stats.set(sql, entry);
      }
    };
  }
  return () => [...stats.entries()].map(([sql, s]) => ({ sql, ...s })).sort((a, b) => b.ms - a.ms);
}
