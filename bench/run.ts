// `npm run bench`: Emporium beside raw Socket.IO and raw SQLite in one run. Prints a table with ratios and
// writes bench/results/latest.json and latest.md. `--quick` shrinks every size (a smoke run); `--out DIR`
// writes the results elsewhere; `--profile` writes V8 CPU profiles of the Emporium processes to DIR/prof;
// `--only a,b` runs some sections (roundtrip, fanout, events, checkout, memory, cluster, drop, recommendations).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { parseCli } from '../src/cli/args.ts';
import { runCluster, type ClusterSetupResult } from './cluster.ts';
import { now } from './lib/clock.ts';
import { REPO_ROOT, spawnChild, type Child } from './lib/ipc.ts';
import { consoleTable, legend, markdown, metric, ROW_NAMES, type Row, type RowName } from './rows.ts';
import {
  ackData,
  ClientPool,
  driverSocket,
  dropPhase,
  fanoutPhase,
  recommendationPhase,
  roundTrip,
  until,
  type DropResult,
  type FanoutResult,
  type RoundTripResult,
} from './scenarios.ts';
import type { InprocArgs } from './inproc.ts';
import type { MemoryArgs } from './memory.ts';
import type { MonthResult } from './month.ts';

const SECTIONS = ['roundtrip', 'fanout', 'events', 'checkout', 'memory', 'cluster', 'drop', 'recommendations', 'aging'] as const;
const cli = await parseCli({
  name: 'bench',
  usage: `usage: npm run bench [-- --quick] [--only <sections>] [--out <dir>] [--profile] [--sql-profile]

Measures Emporium beside raw Socket.IO and raw SQLite in one run; prints a table with ratios and writes
latest.json and latest.md (see bench/README.md). A full run takes 5–7 minutes on 2 cores.

options:
  --quick             tiny sizes: a smoke run in about 50 s (the figures mean nothing)
  --only <a,b>        only these sections: ${SECTIONS.join(', ')}
  --out <dir>         write the results here (default bench/results)
  --profile           V8 CPU profiles of the Emporium processes in <dir>/prof
  --sql-profile       time every SQL statement in the Emporium server (round trips, checkout)
  -h, --help          this text

exit status: 0 every row measured; 1 a row failed; 2 bad usage.
`,
  options: {
    quick: { type: 'boolean' },
    profile: { type: 'boolean' },
    'sql-profile': { type: 'boolean' },
    out: { type: 'string' },
    only: { type: 'string' },
  },
});
const quick = cli.values.quick === true;
const profile = cli.values.profile === true;
const outDir = path.resolve(cli.values.out ?? path.join(REPO_ROOT, 'bench', 'results'));
const only = cli.values.only?.split(',');
const unknownSection = only?.find((name) => name !== '' && !(SECTIONS as readonly string[]).includes(name));
if (unknownSection !== undefined) cli.usageError(`--only: no section ${JSON.stringify(unknownSection)} (sections: ${SECTIONS.join(', ')})`);
const profDir = profile ? path.join(outDir, 'prof') : undefined;
const sqlProfile = cli.values['sql-profile'] === true;

/** Diagnostic: prints where an Emporium server's SQL time went (with --sql-profile). */
async function printSqlStats(server: Child, label: string): Promise<void> {
  if (!sqlProfile) return;
  const stats = await server.request<{ cpuMs: number; statements: Array<{ sql: string; calls: number; ms: number }> } | null>('sqlStats');
  if (!stats) return;
  const total = stats.statements.reduce((n, s) => n + s.ms, 0);
  log(`   SQL in ${label}: ${total.toFixed(0)} ms of ${stats.cpuMs.toFixed(0)} ms server CPU; top statements:`);
  for (const s of stats.statements.slice(0, 30))
    log(`     ${s.ms.toFixed(0).padStart(6)} ms ${String(s.calls).padStart(7)} × ${((1000 * s.ms) / s.calls).toFixed(0).padStart(5)} µs  ${s.sql}`);
}

const SIZES = quick
  ? {
      pool: 2,
      roundTrip: { clients: [5, 10] as const, procs: 2, warmupMs: 200, durationMs: 1000 },
      fanout: { subscribers: [50, 100] as const, procs: 2, window: 4, warmupEvents: 2, durationMs: 1000, maxEvents: 200 },
      events: { durationMs: 500, warmupMs: 100, actors: 100 } satisfies InprocArgs,
      checkout: { clients: 5, procs: 2, warmupMs: 200, durationMs: 1000 },
      aging: { actors: 5_000, journalPerActor: 10, month: { days: 3, visitorsPerDay: 20 } },
      memory: { counts: [100, 300], rehydrate: 100 } satisfies MemoryArgs,
      cluster: null,
      drop: { quota: 5, buyers: 20, watchers: 20, procs: 2, leadMs: 1500 },
      recommendations: {
        clients: 4,
        procs: 2,
        cartsPerClient: 2,
        addsPerCart: 2,
        seedClients: 2,
        seedOrdersPerClient: 2,
        pushTimeoutMs: 10_000,
        durationMs: 10_000,
      },
    }
  : {
      pool: 4,
      roundTrip: { clients: [50, 500] as const, procs: 2, warmupMs: 1000, durationMs: 4000 },
      fanout: { subscribers: [1000, 5000] as const, procs: 4, window: 4, warmupEvents: 5, durationMs: 3000, maxEvents: 5000 },
      events: { durationMs: 2000, warmupMs: 400, actors: 1000 } satisfies InprocArgs,
      checkout: { clients: 50, procs: 2, warmupMs: 1000, durationMs: 4000 },
      aging: { actors: 1_000_000, journalPerActor: 10, month: { days: 30, visitorsPerDay: 150 } },
      memory: { counts: [10_000, 100_000], rehydrate: 10_000 } satisfies MemoryArgs,
      cluster: { clients: 50, subscribers: 1000, procs: 4, warmupMs: 1000, durationMs: 3000, window: 4, warmupEvents: 5, maxEvents: 5000 },
      drop: { quota: 100, buyers: 1000, watchers: 1000, procs: 4, leadMs: 1500 },
      recommendations: {
        clients: 20,
        procs: 2,
        cartsPerClient: 5,
        addsPerCart: 2,
        seedClients: 4,
        seedOrdersPerClient: 5,
        pushTimeoutMs: 10_000,
        durationMs: 20_000,
      },
    };

const rows = new Map<RowName, Row>();
const set = (row: Row) => rows.set(row.name, row);
const log = (message: string) => process.stdout.write(`${message}\n`);
const started = now();
const elapsed = () => `${((now() - started) / 1000).toFixed(0)}s`;

/** The commit measured, and whether src/ had uncommitted changes (others may be editing it). */
function revision(): string {
  const git = (...args: string[]) => spawnSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).stdout?.trim() ?? '';
  const head = git('rev-parse', '--short', 'HEAD') || 'unknown';
  return git('status', '--porcelain', '--', 'src') ? `${head} + uncommitted changes in src/` : head;
}

function openFilesLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    return line ? Number(line.split(/\s{2,}/)[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Runs one section; on failure its rows are reported as errors (the rest of the bench goes on). */
async function section(name: string, owns: readonly RowName[], work: () => Promise<void>): Promise<void> {
  if (only && !only.includes(name)) {
    for (const row of owns)
      set({ name: row, title: row, reference: '', subject: '', status: 'skipped', note: `not run (--only ${only.join(',')})`, metrics: [] });
    return;
  }
  log(`\n== ${name} (${elapsed()})`);
  try {
    await work();
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0]! : String(error);
    log(`   ${name} failed: ${error instanceof Error ? error.stack : message}`);
    for (const row of owns)
      if (!rows.has(row)) set({ name: row, title: row, reference: '', subject: '', status: 'error', note: message.slice(0, 300), metrics: [] });
  }
}

const errorNote = (label: string, r: { errors: number; errorSamples: readonly string[] }) =>
  r.errors > 0 ? ` ${label}: ${r.errors} commands failed (${r.errorSamples.join('; ')}).` : '';

async function stopAll(children: readonly (Child | undefined)[]): Promise<void> {
  await Promise.all(children.map((child) => child?.stop().catch(() => undefined)));
}

async function main(): Promise<number> {
  const limit = openFilesLimit();
  const maxSockets = Math.max(...SIZES.fanout.subscribers, SIZES.drop.buyers + SIZES.drop.watchers) + 500;
  log(`Emporium bench (${quick ? 'quick' : 'full'}) — ${cpus().length} CPUs, node ${process.version}, open files limit ${limit ?? '?'}`);
  if (limit !== undefined && limit < maxSockets)
    log(`WARNING: open files limit ${limit} < ${maxSockets}: fan-out rows may fail (run through npm run bench, which raises it)`);
  mkdirSync(outDir, { recursive: true });
  if (profDir) mkdirSync(profDir, { recursive: true });

  const pool = new ClientPool(SIZES.pool);
  let rawEcho50: RoundTripResult | undefined;
  try {
    // ------------------------------------------------------------ 1. round trips
    await section('roundtrip', ['roundtrip-50', 'roundtrip-500', 'roundtrip-50-sync-full'], async () => {
      const raw = spawnChild('raw-echo', 'bench/raw-server.ts');
      const persisted = spawnChild('raw-persisted', 'bench/raw-persisted-server.ts', { args: [JSON.stringify({ products: 20 })], cpuProfDir: profDir });
      const emporium = spawnChild('emporium', 'bench/emporium-server.ts', { args: [JSON.stringify({ products: 20, sqlProfile })], cpuProfDir: profDir });
      const { clients, procs, warmupMs, durationMs } = SIZES.roundTrip;
      const measure = (server: Child, url: string, n: number, op: 'echo' | 'addItem', products: readonly string[]) =>
        roundTrip(pool, {
          urls: [url],
          namespace: op === 'echo' ? '/' : '/store',
          clients: n,
          procs,
          op,
          guest: op === 'addItem',
          products,
          warmupMs,
          durationMs,
          server,
        });
      try {
        const [{ url: rawUrl }, reference, info] = await Promise.all([
          raw.request('info'),
          persisted.request('info'),
          emporium.request('info', undefined, 120_000),
        ]);
        for (const [index, n] of clients.entries()) {
          const name: RowName = index === 0 ? 'roundtrip-50' : 'roundtrip-500';
          log(`   ${n} clients: raw echo…`);
          const a = await measure(raw, rawUrl, n, 'echo', info.products);
          log(`   ${n} clients: raw persisted addItem…`);
          const p = await measure(persisted, reference.url, n, 'addItem', reference.products);
          log(`   ${n} clients: Emporium cart:addItem…`);
          const b = await measure(emporium, info.url, n, 'addItem', info.products);
          if (index === 0) rawEcho50 = a;
          const first = index === 0;
          set({
            name,
            title: `Ack round trip, ${n} clients in a closed loop, ${durationMs / 1000} s`,
            reference:
              'raw Socket.IO echo with ack (own process); "vs raw persisted" lines: raw Socket.IO + raw better-sqlite3 doing what a persisted add must (bench/raw-persisted-server.ts)',
            subject: 'cart:addItem on /store, persisted (createApp, SQLite)',
            status: 'ok',
            note: (errorNote('A', a) + errorNote('raw persisted', p) + errorNote('B', b)).trim() || undefined,
            metrics: [
              metric('acks/s', '/s', a.perSecond, b.perSecond, first ? { kind: 'ratio>=', value: 0.4 } : undefined),
              metric('acks/s vs raw persisted', '/s', p.perSecond, b.perSecond, first ? { kind: 'ratio>=', value: 0.8 } : undefined),
              metric('p50', 'ms', a.p50, b.p50),
              metric('p99', 'ms', a.p99, b.p99, first ? { kind: 'ratio<=', value: 3 } : undefined),
              metric('p99 vs raw persisted', 'ms', p.p99, b.p99),
              metric('server CPU per ack', 'ms', a.serverCpuMsPerOp, b.serverCpuMsPerOp, first ? { kind: 'value<=', value: 0.12 } : undefined),
              metric('server CPU per ack vs raw persisted', 'ms', p.serverCpuMsPerOp, b.serverCpuMsPerOp),
            ],
            detail: { raw: a, rawPersisted: p, emporium: b },
          });
        }
        await printSqlStats(emporium, 'the round trips');
      } finally {
        await stopAll([raw, persisted, emporium]);
      }
      // Durability as a choice: the same round trip with every commit synced to disk (SQLITE_SYNCHRONOUS=full).
      const n = clients[0];
      const persistedFull = spawnChild('raw-persisted-full', 'bench/raw-persisted-server.ts', {
        args: [JSON.stringify({ products: 20, synchronous: 'full' })],
      });
      const emporiumFull = spawnChild('emporium-full', 'bench/emporium-server.ts', { args: [JSON.stringify({ products: 20, sqliteSynchronous: 'full' })] });
      try {
        const [reference, info] = await Promise.all([persistedFull.request('info'), emporiumFull.request('info', undefined, 120_000)]);
        log(`   ${n} clients, synchronous=FULL: raw persisted addItem…`);
        const p = await measure(persistedFull, reference.url, n, 'addItem', reference.products);
        log(`   ${n} clients, SQLITE_SYNCHRONOUS=full: Emporium cart:addItem…`);
        const b = await measure(emporiumFull, info.url, n, 'addItem', info.products);
        const normal = rows.get('roundtrip-50')?.metrics[0]?.subject ?? null;
        set({
          name: 'roundtrip-50-sync-full',
          title: `Ack round trip with every commit synced to disk (survives power loss), ${n} clients in a closed loop, ${durationMs / 1000} s`,
          reference: 'raw Socket.IO + raw better-sqlite3 (as in the "vs raw persisted" lines above), synchronous=FULL',
          subject: 'cart:addItem on /store with SQLITE_SYNCHRONOUS=full',
          status: 'ok',
          note: `${(errorNote('A', p) + errorNote('B', b)).trim()} With synchronous=normal (roundtrip-50 B): ${normal === null ? '—' : Math.round(normal)} acks/s.`.trim(),
          metrics: [
            metric('acks/s', '/s', p.perSecond, b.perSecond, { kind: 'ratio>=', value: 0.8 }),
            metric('p50', 'ms', p.p50, b.p50),
            metric('p99', 'ms', p.p99, b.p99),
            metric('server CPU per ack', 'ms', p.serverCpuMsPerOp, b.serverCpuMsPerOp),
          ],
          detail: { rawPersisted: p, emporium: b },
        });
      } finally {
        await stopAll([persistedFull, emporiumFull]);
      }
    });

    // ------------------------------------------------------------ 2. fan-out (and 5. heap per idle socket)
    await section('fanout', ['fanout-1000', 'fanout-5000', 'heap-per-socket-1000', 'heap-per-socket-5000'], async () => {
      const { subscribers, procs, window, warmupEvents, durationMs, maxEvents } = SIZES.fanout;
      const results: Record<'raw' | 'emporium', { heap: number[]; fanout: FanoutResult[]; external: number[] }> = {
        raw: { heap: [], fanout: [], external: [] },
        emporium: { heap: [], fanout: [], external: [] },
      };
      for (const kind of ['raw', 'emporium'] as const) {
        const server =
          kind === 'raw'
            ? spawnChild('raw-fanout', 'bench/raw-server.ts', { exposeGc: true })
            : spawnChild('emporium', 'bench/emporium-server.ts', { exposeGc: true, args: [JSON.stringify({ products: 2, sqlProfile })], cpuProfDir: profDir });
        let driver: Awaited<ReturnType<typeof driverSocket>> | undefined;
        try {
          const info = await server.request('info', undefined, 120_000);
          const namespace = kind === 'raw' ? '/' : '/store';
          const guest = kind === 'emporium';
          const topic = kind === 'raw' ? 'product:bench' : `product:${info.products[0]}`;
          if (kind === 'emporium') await server.request('trackProduct', info.products[0]);
          driver = kind === 'raw' ? await driverSocket(info.url, '/') : await driverSocket(info.url, '/warehouse', info.staffToken);
          const socket = driver;

          // Heap per idle connected socket: warm the code paths, then measure at each size.
          await pool.connect({ urls: [info.url], namespace, total: 20, procs: 1, guest });
          await pool.closeAll();
          await new Promise((resolve) => setTimeout(resolve, 300));
          const base = await server.request('heap');
          let connected = 0;
          for (const n of subscribers) {
            log(`   ${kind}: ${n} idle sockets…`);
            // Each answer is the total now connected (or subscribed) across the processes.
            connected = await pool.connect({ urls: [info.url], namespace, total: n - connected, procs, guest });
            if (connected !== n) throw new Error(`only ${connected} of ${n} ${kind} clients connected`);
            await new Promise((resolve) => setTimeout(resolve, 500));
            const heap = await server.request('heap');
            results[kind].heap.push((heap.heapUsed - base.heapUsed) / n);
            results[kind].external.push((heap.external - base.external) / n);
          }

          // Fan-out to the first size, then to all.
          let subscribed = 0;
          for (const n of subscribers) {
            subscribed = await pool.subscribe({ kind, topic, total: n - subscribed, procs });
            if (subscribed !== n) throw new Error(`only ${subscribed} of ${n} ${kind} clients subscribed`);
            log(`   ${kind}: fan-out to ${n}…`);
            results[kind].fanout.push(
              await fanoutPhase(pool, {
                procs,
                subscribers: n,
                fire: async () => {
                  const sentAt = now();
                  const data =
                    kind === 'raw'
                      ? await ackData<{ stock: { version: number } }>(socket, 'fire', { room: topic })
                      : await ackData<{ stock: { version: number } }>(socket, 'stock:restock', { productId: info.products[0], quantity: 1 });
                  return { version: data.stock.version, sentAt };
                },
                times: () => server.request('commitTimes'),
                reset: () => server.request('clearCommitTimes'),
                warmupEvents,
                durationMs,
                maxEvents,
                window,
                server,
              }),
            );
          }
        } finally {
          driver?.close();
          await pool.closeAll();
          await stopAll([server]);
        }
      }
      subscribers.forEach((n, i) => {
        const a = results.raw.fanout[i]!;
        const b = results.emporium.fanout[i]!;
        const short = (r: FanoutResult) => (r.deliveries < r.expectedDeliveries ? ` ${r.expectedDeliveries - r.deliveries} deliveries missing.` : '');
        set({
          name: i === 0 ? 'fanout-1000' : 'fanout-5000',
          title: `Fan-out to ${n} subscribed sockets over ${procs} client processes, ≤ ${window} events in flight, ${durationMs / 1000} s`,
          reference: 'raw io.to(room).emit (latency from the emit)',
          subject: 'stock:changed after stock:restock on /warehouse (latency from the commit)',
          status: 'ok',
          note: `A sent ${a.events} events, B ${b.events}.${short(a)}${short(b)}`,
          metrics: [
            metric('deliveries/s', '/s', a.perSecond, b.perSecond, { kind: 'ratio>=', value: 0.9 }),
            metric('p50', 'ms', a.p50, b.p50),
            metric('p99', 'ms', a.p99, b.p99),
            metric('server CPU per delivery', 'ms', a.serverCpuMsPerDelivery, b.serverCpuMsPerDelivery),
          ],
          detail: { raw: a, emporium: b },
        });
        set({
          name: i === 0 ? 'heap-per-socket-1000' : 'heap-per-socket-5000',
          title: `Server heap per idle connected socket, ${n} sockets (heapUsed delta after full GCs ÷ ${n})`,
          reference: 'raw Socket.IO server, default namespace',
          subject: 'Emporium /store, guest token per socket',
          status: 'ok',
          note: `Outside the heap (external): A ${Math.round(results.raw.external[i]!)} B, B ${Math.round(results.emporium.external[i]!)} B per socket.`,
          metrics: [metric('heap/socket', 'B', results.raw.heap[i], results.emporium.heap[i], { kind: 'value<=', value: 15 * 1024 })],
          detail: { rawHeapPerSocket: results.raw.heap[i], emporiumHeapPerSocket: results.emporium.heap[i] },
        });
      });
    });

    // ------------------------------------------------------------ 3. persisted events per second, in-process
    await section('events', ['events-1-actor', 'events-1000-actors', 'events-group-commit-1-actor', 'events-group-commit-1000-actors'], async () => {
      const args = SIZES.events;
      const timeout = 120_000;
      const rawChild = spawnChild('inproc-raw', 'bench/inproc.ts', { cpuProfDir: profDir });
      let raw: any;
      let same: any;
      try {
        log('   raw ceiling…');
        raw = await rawChild.request('raw', args, timeout);
        same = await rawChild.request('rawSameWrites', args, timeout);
      } finally {
        await stopAll([rawChild]);
      }
      const rtChild = spawnChild('inproc-runtime', 'bench/inproc.ts', { cpuProfDir: profDir });
      let rt: any;
      try {
        log('   runtime…');
        rt = await rtChild.request('runtime', args, timeout);
      } finally {
        await stopAll([rtChild]);
      }
      for (const many of [false, true]) {
        const label = many ? `${args.actors} distinct actors, concurrent` : '1 actor, sequential';
        const ceiling = many ? raw.ceilingMany : raw.ceiling1;
        const sameWrites = many ? same.sameWritesMany : same.sameWrites1;
        const xstate = many ? raw.xstateMany : raw.xstate1;
        const runtime = many ? rt.runtimeMany : rt.runtime1;
        const groupCommit = many ? rt.groupCommitMany : rt.groupCommit1;
        set({
          name: many ? 'events-1000-actors' : 'events-1-actor',
          title: `Persisted actor events per second in-process, ${label}, ${args.durationMs / 1000} s`,
          reference: 'XState transition + JSON.stringify + one prepared upsert per transaction (better-sqlite3, WAL, synchronous=NORMAL)',
          subject: rt.groupCommitOption ? 'app.runtime.send(cart, SET_QUANTITY), GROUP_COMMIT=false' : 'app.runtime.send(cart, SET_QUANTITY)',
          status: 'ok',
          note: 'Info lines: "same writes" is the raw path doing exactly the runtime\'s writes (CAS UPDATE + journal INSERT on Emporium\'s schema); "XState only" has no database.',
          metrics: [
            metric('events/s', '/s', ceiling.perSecond, runtime.perSecond, { kind: 'ratio>=', value: 0.8 }),
            metric('events/s vs same writes', '/s', sameWrites.perSecond, runtime.perSecond),
            metric('XState only (A)', '/s', xstate.perSecond, null),
          ],
          detail: { ceiling, sameWrites, xstate, runtime },
        });
        set(
          groupCommit
            ? {
                name: many ? 'events-group-commit-1000-actors' : 'events-group-commit-1-actor',
                title: `Persisted events per second with group commit, ${label}`,
                reference: 'the raw per-event ceiling (as above)',
                subject: 'app.runtime.send with GROUP_COMMIT=true (the default)',
                status: 'ok',
                note: `Per-event commit (GROUP_COMMIT=false) for comparison: ${Math.round(runtime.perSecond)}/s.`,
                metrics: [metric('events/s', '/s', ceiling.perSecond, groupCommit.perSecond, { kind: 'ratio>=', value: 1.5 })],
                detail: { ceiling, groupCommit },
              }
            : {
                name: many ? 'events-group-commit-1000-actors' : 'events-group-commit-1-actor',
                title: `Persisted events per second with group commit, ${label}`,
                reference: 'the raw per-event ceiling',
                subject: 'app.runtime.send with group commit on',
                status: 'n/a',
                note: 'n/a: the runtime has no group-commit option yet (wire it in groupCommitOverrides() in bench/inproc.ts); target ≥ 1.5x the ceiling.',
                metrics: [],
              },
        );
      }
    });

    // ------------------------------------------------------------ 4. checkout flows
    await section('checkout', ['checkout-flows-50'], async () => {
      const { clients, procs, warmupMs, durationMs } = SIZES.checkout;
      const emporium = spawnChild('emporium', 'bench/emporium-server.ts', { args: [JSON.stringify({ products: 30, sqlProfile })], cpuProfDir: profDir });
      try {
        const info = await emporium.request('info', undefined, 120_000);
        log(`   ${clients} clients: create, add 3, checkout, pay…`);
        const b = await roundTrip(pool, {
          urls: [info.url],
          namespace: '/store',
          clients,
          procs,
          op: 'checkout',
          guest: true,
          products: info.products,
          warmupMs,
          durationMs,
          server: emporium,
        });
        set({
          name: 'checkout-flows-50',
          title: `Whole checkout flows (cart:create, 3 × cart:addItem, cart:checkout, order:pay), ${clients} clients in a closed loop, ${durationMs / 1000} s, PAYMENT_LATENCY_MS=0`,
          reference: 'six raw echo acks per flow (roundtrip-50 A ÷ 6), for scale only',
          subject: 'flows through Emporium',
          status: 'ok',
          note: errorNote('B', b).trim() || undefined,
          metrics: [
            metric('flows/s', '/s', rawEcho50 ? rawEcho50.perSecond / 6 : null, b.perSecond),
            metric('p50 per flow', 'ms', null, b.p50),
            metric('p99 per flow', 'ms', null, b.p99),
            metric('server CPU per flow', 'ms', rawEcho50?.serverCpuMsPerOp != null ? rawEcho50.serverCpuMsPerOp * 6 : null, b.serverCpuMsPerOp),
          ],
          detail: { emporium: b },
        });
        await printSqlStats(emporium, 'the checkout flows');
      } finally {
        await stopAll([emporium]);
      }
    });

    // ------------------------------------------------------------ 4b. cost as the store ages
    await section('aging', ['aged-roundtrip-50', 'aged-checkout-flows-50', 'month-db-size'], async () => {
      const { actors, journalPerActor } = SIZES.aging;
      const dir = mkdtempSync(path.join(tmpdir(), 'emporium-aged-'));
      const filler = spawnChild('prefill', 'bench/prefill.ts');
      try {
        log(`   pre-filling ${actors.toLocaleString('en-US')} actors and ${(actors * journalPerActor).toLocaleString('en-US')} journal rows…`);
        const filled = await filler.request<{ bytes: number; seconds: number }>('prefill', { dir, actors, journalPerActor }, 1_800_000);
        log(`   pre-filled in ${filled.seconds.toFixed(0)} s: ${(filled.bytes / 2 ** 20).toFixed(0)} MiB`);
        const { clients, procs, warmupMs, durationMs } = SIZES.roundTrip;
        const checkout = SIZES.checkout;
        const results: Record<'empty' | 'aged', { add: RoundTripResult; flows: RoundTripResult }> = {} as never;
        for (const which of ['empty', 'aged'] as const) {
          const server = spawnChild(`emporium-${which}`, 'bench/emporium-server.ts', {
            args: [JSON.stringify({ products: 30, ...(which === 'aged' ? { dataDir: dir } : {}) })],
          });
          try {
            const info = await server.request('info', undefined, 300_000);
            log(`   ${which} store: ${clients[0]} clients cart:addItem, then ${checkout.clients} clients checkout flows…`);
            const add = await roundTrip(pool, {
              urls: [info.url],
              namespace: '/store',
              clients: clients[0],
              procs,
              op: 'addItem',
              guest: true,
              products: info.products,
              warmupMs,
              durationMs,
              server,
            });
            const flows = await roundTrip(pool, {
              urls: [info.url],
              namespace: '/store',
              clients: checkout.clients,
              procs: checkout.procs,
              op: 'checkout',
              guest: true,
              products: info.products,
              warmupMs: checkout.warmupMs,
              durationMs: checkout.durationMs,
              server,
            });
            results[which] = { add, flows };
          } finally {
            await stopAll([server]);
          }
        }
        const filledNote = `Pre-filled: ${actors.toLocaleString('en-US')} actors (carts expired or checked out, orders delivered) with ${journalPerActor} journal rows each, ${(filled.bytes / 2 ** 20).toFixed(0)} MiB.`;
        for (const [name, key, unit] of [
          ['aged-roundtrip-50', 'add', 'acks/s'],
          ['aged-checkout-flows-50', 'flows', 'flows/s'],
        ] as const) {
          const a = results.empty[key];
          const b = results.aged[key];
          set({
            name,
            title:
              key === 'add'
                ? `cart:addItem round trip, ${clients[0]} clients, on an aged store`
                : `Checkout flows, ${checkout.clients} clients, on an aged store`,
            reference: 'the same on an empty store (same run)',
            subject: `the same on a store pre-filled as below`,
            status: 'ok',
            note: `${(errorNote('A', a) + errorNote('B', b)).trim()} ${filledNote}`.trim(),
            metrics: [
              // Within 1.2x: the aged store keeps at least 1/1.2 of the empty store's rate.
              metric(unit, '/s', a.perSecond, b.perSecond, { kind: 'ratio>=', value: 1 / 1.2 }),
              metric('p99', 'ms', a.p99, b.p99, { kind: 'ratio<=', value: 1.2 }),
              metric(key === 'add' ? 'server CPU per ack' : 'server CPU per flow', 'ms', a.serverCpuMsPerOp, b.serverCpuMsPerOp),
            ],
            detail: { empty: a, aged: b, prefill: { ...filled, actors, journalPerActor } },
          });
        }
      } finally {
        await stopAll([filler]);
        rmSync(dir, { recursive: true, force: true });
      }
      // A month of traffic through the real app on a simulated clock, with retention off and on (bench/month.ts).
      const { days, visitorsPerDay } = SIZES.aging.month;
      const sizes: Partial<Record<'off' | 'on', MonthResult>> = {};
      for (const retention of [false, true]) {
        const monthDir = mkdtempSync(path.join(tmpdir(), 'emporium-month-'));
        const child = spawnChild('month', 'bench/month.ts');
        try {
          log(`   a simulated month, ${days} days × ${visitorsPerDay} visitors, retention ${retention ? 'on' : 'off'}…`);
          sizes[retention ? 'on' : 'off'] = await child.request<MonthResult>('run', { days, visitorsPerDay, retention, dir: monthDir }, 900_000);
        } finally {
          await stopAll([child]);
          rmSync(monthDir, { recursive: true, force: true });
        }
      }
      const off = sizes.off!;
      const on = sizes.on!;
      const counts = (r: MonthResult) =>
        `journal ${r.rows.actor_journal.toLocaleString('en-US')}, outbox ${r.rows.outbox.toLocaleString('en-US')}, idempotency keys ${r.rows.idempotency_keys.toLocaleString('en-US')}`;
      set({
        name: 'month-db-size',
        title: `Database size after a simulated month: ${days} days × ${visitorsPerDay} visitors (about 10% buy), the app's default retention windows, a pass every simulated hour`,
        reference: 'retention off',
        subject: 'retention on (RETENTION_INTERVAL_MS)',
        status: 'ok',
        note: `${on.traffic.visitors.toLocaleString('en-US')} visitors, ${on.traffic.orders.toLocaleString('en-US')} orders; actors ${on.rows.actors.toLocaleString('en-US')} either way (snapshots are kept). Rows: off ${counts(off)}; on ${counts(on)}. File size (no VACUUM): off ${(off.fileBytes / 2 ** 20).toFixed(1)} MiB, on ${(on.fileBytes / 2 ** 20).toFixed(1)} MiB.`,
        metrics: [metric('bytes in use', 'B', off.usedBytes, on.usedBytes), metric('file', 'B', off.fileBytes, on.fileBytes)],
        detail: { off, on },
      });
    });

    // ------------------------------------------------------------ 5. heap per live actor, rehydration
    await section('memory', ['heap-per-actor-10000', 'heap-per-actor-100000', 'rehydrate-from-cold'], async () => {
      const child = spawnChild('memory', 'bench/memory.ts', { exposeGc: true, cpuProfDir: profDir });
      try {
        log(`   ${SIZES.memory.counts.join(' and ')} carts…`);
        const result = await child.request('run', SIZES.memory, 600_000);
        SIZES.memory.counts.forEach((count, i) => {
          const raw = result.raw[i];
          const emporium = result.emporium[i];
          set({
            name: i === 0 ? 'heap-per-actor-10000' : 'heap-per-actor-100000',
            title: `Heap per idle live cart, ${count.toLocaleString('en-US')} created through app.runtime.create (heapUsed delta after full GCs ÷ count)`,
            reference: 'a bare XState snapshot (initialTransition) per id in a Map, serialized once like a persisted one',
            subject: 'Emporium runtime (live actor cache)',
            status: 'ok',
            note: `${emporium.live} actors live; created at ${Math.round(emporium.createPerSecond)}/s.`,
            metrics: [metric('heap/actor', 'B', raw.bytesPerActor, emporium.bytesPerActor, { kind: 'value<=', value: 4096 })],
            detail: { raw, emporium },
          });
        });
        const { get, send, rawGet } = result.rehydrate;
        set({
          name: 'rehydrate-from-cold',
          title: `Rehydration from cold: passivate all, then bring back ${get.actors.toLocaleString('en-US')} carts (64 at a time)`,
          reference: 'prepared SELECT + JSON.parse + machine.resolveState (better-sqlite3, second connection)',
          subject: 'app.runtime.get / app.runtime.send on a passivated actor',
          status: 'ok',
          metrics: [metric('get, actors/s', '/s', rawGet.perSecond, get.perSecond), metric('send, actors/s', '/s', null, send.perSecond)],
          detail: result.rehydrate,
        });
      } finally {
        await stopAll([child]);
      }
    });

    // ------------------------------------------------------------ 6. cluster
    await section('cluster', ['cluster-roundtrip-50', 'cluster-fanout-1000'], async () => {
      const sizes = SIZES.cluster;
      const skip = (reason: string) => {
        for (const name of ['cluster-roundtrip-50', 'cluster-fanout-1000'] as const) {
          set({ name, title: name, reference: '1 node on PostgreSQL', subject: '2 nodes + Redis on PostgreSQL', status: 'skipped', note: reason, metrics: [] });
        }
      };
      if (!sizes) return skip('skipped in --quick mode');
      const outcome = await runCluster(pool, sizes, profDir);
      if ('skipped' in outcome) return skip(outcome.skipped);
      const { single, cluster } = outcome as { single: ClusterSetupResult; cluster: ClusterSetupResult };
      set({
        name: 'cluster-roundtrip-50',
        title: `cart:addItem round trip, ${sizes.clients} clients in a closed loop, ${sizes.durationMs / 1000} s (nodes: node --import tsx src/main.ts)`,
        reference: '1 node on PostgreSQL',
        subject: '2 nodes + Redis on PostgreSQL, clients split between them',
        status: 'ok',
        note: (errorNote('A', single.roundTrip) + errorNote('B', cluster.roundTrip)).trim() || undefined,
        metrics: [
          metric('acks/s', '/s', single.roundTrip.perSecond, cluster.roundTrip.perSecond),
          metric('p50', 'ms', single.roundTrip.p50, cluster.roundTrip.p50),
          metric('p99', 'ms', single.roundTrip.p99, cluster.roundTrip.p99),
          metric('PostgreSQL rows read per ack', 'n', single.rowsReadPerAck, cluster.rowsReadPerAck),
          metric('node CPU per ack (all nodes)', 'ms', single.nodeCpuMsPerAck, cluster.nodeCpuMsPerAck),
        ],
        detail: {
          single: single.roundTrip,
          cluster: cluster.roundTrip,
          rowsReadPerAck: { single: single.rowsReadPerAck, cluster: cluster.rowsReadPerAck },
          nodeCpuMsPerAck: { single: single.nodeCpuMsPerAck, cluster: cluster.nodeCpuMsPerAck },
        },
      });
      set({
        name: 'cluster-fanout-1000',
        title: `stock:changed fan-out to ${sizes.subscribers} subscribers, ≤ ${sizes.window} events in flight (latency from the driver's stock:restock send)`,
        reference: '1 node on PostgreSQL',
        subject: '2 nodes + Redis, subscribers split between them, restocks sent to the first',
        status: 'ok',
        note: `A sent ${single.fanout.events} events, B ${cluster.fanout.events}.`,
        metrics: [
          metric('deliveries/s', '/s', single.fanout.perSecond, cluster.fanout.perSecond),
          metric('p50', 'ms', single.fanout.p50, cluster.fanout.p50),
          metric('p99', 'ms', single.fanout.p99, cluster.fanout.p99),
        ],
        detail: { single: single.fanout, cluster: cluster.fanout },
      });
    });

    // ------------------------------------------------------------ 7. a limited drop (stock pushes coalesced), raw fan-out beside it
    await section('drop', ['drop-sellout'], async () => {
      const sizes = SIZES.drop;
      // Its own server, with STOCK_PUSH_WINDOW_MS left at the app's default: the fan-out rows' server turns coalescing off.
      const emporium = spawnChild('emporium-drop', 'bench/emporium-server.ts', {
        args: [JSON.stringify({ products: 2, stockPushWindowMs: 'default', sqlProfile })],
        cpuProfDir: profDir,
      });
      let b: DropResult;
      let windowMs: number;
      let sweepMs: number;
      try {
        const info = await emporium.request('info', undefined, 120_000);
        windowMs = info.stockPushWindowMs;
        sweepMs = info.sweepIntervalMs;
        await emporium.request('trackProduct', info.products[0]);
        log(`   drop of ${sizes.quota} units: ${sizes.watchers} watchers, ${sizes.buyers} buyers, STOCK_PUSH_WINDOW_MS=${windowMs}…`);
        b = await dropPhase(pool, {
          url: info.url,
          staffToken: info.staffToken,
          productId: info.products[0],
          listPrice: info.prices[0],
          ...sizes,
          // The buyers' adds each schedule a recommendations push (debounced): let those pass before the rush.
          settleMs: info.recommendationsDebounceMs + 750,
          server: emporium,
        });
        log(
          `   sold ${b.soldAtDropPrice} of ${b.quota} at the drop price in ${b.sellOutMs?.toFixed(0)} ms, last answer after ${b.lastAnswerMs.toFixed(0)} ms; answers ${JSON.stringify(b.codes)}`,
        );
        const { connect, add, settle, drain } = b.phases;
        log(
          `   (connecting ${(connect / 1000).toFixed(1)} s, adds ${(add / 1000).toFixed(1)} s, settling ${(settle / 1000).toFixed(1)} s, last pushes ${(drain / 1000).toFixed(1)} s after the last answer)`,
        );
        await printSqlStats(emporium, 'the drop');
      } finally {
        await stopAll([emporium]);
      }

      // A: the same number of deliveries through raw Socket.IO (as many events as B pushed per watcher, to as many sockets).
      const events = Math.max(1, Math.round(b.deliveries / b.watchers));
      let a: FanoutResult | undefined;
      let rawNote = '';
      const raw = spawnChild('raw-drop', 'bench/raw-server.ts');
      let driver: Awaited<ReturnType<typeof driverSocket>> | undefined;
      try {
        const { url } = await raw.request('info');
        log(`   raw reference: ${events} events to ${sizes.watchers} sockets…`);
        const connected = await pool.connect({ urls: [url], namespace: '/', total: sizes.watchers, procs: sizes.procs, guest: false });
        if (connected !== sizes.watchers) throw new Error(`only ${connected} of ${sizes.watchers} raw clients connected`);
        const subscribed = await pool.subscribe({ kind: 'raw', topic: 'product:bench', total: sizes.watchers, procs: sizes.procs });
        if (subscribed !== sizes.watchers) throw new Error(`only ${subscribed} of ${sizes.watchers} raw clients joined`);
        const socket = (driver = await driverSocket(url, '/'));
        a = await fanoutPhase(pool, {
          procs: sizes.procs,
          subscribers: sizes.watchers,
          fire: async () => {
            const sentAt = now();
            const data = await ackData<{ stock: { version: number } }>(socket, 'fire', { room: 'product:bench' });
            return { version: data.stock.version, sentAt };
          },
          times: () => raw.request('commitTimes'),
          reset: () => raw.request('clearCommitTimes'),
          warmupEvents: 2,
          durationMs: 30_000,
          maxEvents: events,
          window: 4,
          server: raw,
        });
      } catch (error) {
        rawNote = ` The raw reference failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}.`;
      } finally {
        driver?.close();
        await pool.closeAll();
        await stopAll([raw]);
      }

      const codes = Object.entries(b.codes)
        .sort((x, y) => y[1] - x[1])
        .map(([code, n]) => `${code} ${n}`)
        .join(', ');
      set({
        name: 'drop-sellout',
        title: `Limited drop of ${b.quota} units (perCustomerLimit 1) to ${b.buyers} buyers checking out at once (a guest and a cart each, the unit added at the drop price once live), ${b.watchers} watchers on product:<id>, STOCK_PUSH_WINDOW_MS=${windowMs} (coalescing on, the default)`,
        reference:
          `for the counts, the quota and what an uncoalesced stream would push (one stock:changed per stock change, one offer:remaining per unit claimed); ` +
          `for deliveries/s and delays, raw io.to(room).emit of as many deliveries (${events} events, B's pushes per watcher, to ${b.watchers} sockets, ≤ 4 in flight; delays from the emit): ` +
          `a ceiling, not a like-for-like rate, since B's pushes are paced by the sales and the coalescing window`,
        subject:
          'Emporium: "sold at drop price" counts OK checkout answers whose order holds the unit at the drop price, checked against the server (the offer soldOut with 0 remaining, stock:get); ' +
          'sell-out time runs from the first checkout sent to the commit of the stock transaction claiming the last unit, last answer to the last checkout answer; ' +
          'deliveries/s counts stock:changed + offer:remaining received by the watchers, from the first checkout sent to the last receipt; ' +
          'delays run from the commit of the stock change whose level the push carries (for offer:remaining r, the checkout that left quota − r claimed), so the coalescing window is included; pushes per watcher are means',
        status: b.problems.length > 0 ? 'error' : 'ok',
        note:
          `${b.problems.length > 0 ? `NOT AS EXPECTED: ${b.problems.join('; ')}. ` : ''}` +
          `Answers: ${codes}; "sold at list price" counts OK answers at another price than the drop's (a cart the sell-out re-priced before its checkout ran: a normal sale, not a drop unit). ` +
          `Server after the rush: offer ${b.server.state}, ${b.server.remaining} remaining, the stock lost ${b.server.stockTaken} units. ` +
          `The drop went live ${Math.round(b.startLagMs)} ms after startsAt (sweep every ${sweepMs} ms). ` +
          `${b.watchersWithLastLevel} of ${b.watchers} watchers got the last stock level, ${b.watchersSawSoldOut} the sell-out; stock:changed per watcher ${b.stockPerWatcher.min}–${b.stockPerWatcher.max}, offer:remaining ${b.remainingPerWatcher.min}–${b.remainingPerWatcher.max}. ` +
          `Server CPU from the rush to the last push: ${Math.round(b.serverCpuMs)} ms.${rawNote}`,
        metrics: [
          metric('sold at drop price', 'n', b.quota, b.soldAtDropPrice, { kind: 'value=', value: b.quota }),
          metric('sell-out time', 'ms', null, b.sellOutMs),
          metric('last answer', 'ms', null, b.lastAnswerMs),
          metric('sold at list price', 'n', null, b.soldAtOtherPrice),
          metric('push deliveries/s', '/s', a?.perSecond, b.perSecond),
          metric('stock:changed p50', 'ms', a?.p50, b.stock.p50),
          metric('stock:changed p99', 'ms', a?.p99, b.stock.p99),
          metric('offer:remaining p50', 'ms', a?.p50, b.remaining.p50),
          metric('offer:remaining p99', 'ms', a?.p99, b.remaining.p99),
          metric('stock:changed/watcher', 'n', b.stockChanges, b.stockPerWatcher.mean),
          metric('offer:remaining/watcher', 'n', b.quota, b.remainingPerWatcher.mean),
        ],
        detail: { emporium: b, raw: a },
      });
    });

    // ------------------------------------------------------------ 8. recommendation update latency
    await section('recommendations', ['recommendation-latency'], async () => {
      const sizes = SIZES.recommendations;
      const emporium = spawnChild('emporium-reco', 'bench/emporium-server.ts', { args: [JSON.stringify({ products: 12, sqlProfile })], cpuProfDir: profDir });
      try {
        const info = await emporium.request('info', undefined, 120_000);
        const debounceMs: number = info.recommendationsDebounceMs;
        const orders = sizes.seedClients * sizes.seedOrdersPerClient;
        log(`   seeding the co-purchase graph: ${orders} paid orders of 3 products each…`);
        const connected = await pool.connect({ urls: [info.url], namespace: '/store', total: sizes.seedClients, procs: 1, guest: true });
        if (connected !== sizes.seedClients) throw new Error(`only ${connected} of ${sizes.seedClients} seeding clients connected`);
        const from = now();
        const seeded = await pool.procs[0]!.request<{ allOps: number; errors: number; errorSamples: string[] }>(
          'loop',
          { op: 'checkout', products: info.products, measureFrom: from, measureUntil: from + 60_000, maxOpsPerClient: sizes.seedOrdersPerClient },
          120_000,
        );
        await pool.closeAll();
        if (seeded.allOps !== orders) throw new Error(`seeding paid ${seeded.allOps} of ${orders} orders: ${seeded.errorSamples.join('; ')}`);
        // The graph grows a few ms after each order.paid (a best-effort flow): wait until it ranks a co-purchase first.
        const graph = await until(async () => {
          const response = await fetch(`${info.url}/api/products/${info.products[0]}/recommendations`, { signal: AbortSignal.timeout(10_000) }).catch(
            () => undefined,
          );
          if (!response?.ok) return false;
          const body = (await response.json()) as { recommendations: Array<{ reason: string }> };
          return body.recommendations[0]?.reason === 'boughtTogether';
        }, 15_000);
        if (!graph) throw new Error('the co-purchase graph did not rank a bought-together product within 15 s of the seeded orders');

        const { clients, procs, cartsPerClient, addsPerCart, pushTimeoutMs, durationMs } = sizes;
        log(`   ${clients} clients × ${cartsPerClient} carts × ${addsPerCart} adds, RECOMMENDATIONS_DEBOUNCE_MS=${debounceMs}…`);
        const r = await recommendationPhase(pool, {
          url: info.url,
          clients,
          procs,
          cartsPerClient,
          addsPerCart,
          products: info.products,
          pushTimeoutMs,
          durationMs,
        });
        const problems = [
          ...(r.fromAck.count === 0 ? ['no recommendations:updated arrived'] : []),
          ...(r.missing > 0 ? [`${r.missing} adds got no recommendations:updated for their cart version within ${pushTimeoutMs} ms`] : []),
          ...(r.inCart > 0 ? [`${r.inCart} pushes recommended a product already in the cart`] : []),
        ];
        const beyond = (value: number | null) => (value === null ? null : value - debounceMs);
        set({
          name: 'recommendation-latency',
          title: `recommendations:updated after cart:addItem: ${clients} guests × ${cartsPerClient} carts × ${addsPerCart} adds (${r.fromAck.count} samples), each add waiting for its push, after ${orders} paid orders seeded the co-purchase graph; RECOMMENDATIONS_DEBOUNCE_MS=${debounceMs} (the default) is inside B`,
          reference:
            'a subscribe to recommendations:<cartId> right after the push (its answer computes the same recommendations afresh, with no debounce): round trip',
          subject: `the recommendations:updated push for the cart version the add acked, from the cart:addItem ack (debounce included; "beyond the debounce" subtracts ${debounceMs} ms)`,
          status: problems.length > 0 ? 'error' : 'ok',
          note:
            `${problems.length > 0 ? `NOT AS EXPECTED: ${problems.join('; ')}. ` : ''}` +
            `From the add's send instead of its ack: p50 ${r.fromSend.p50?.toFixed(1)} ms, p99 ${r.fromSend.p99?.toFixed(1)} ms.${errorNote('B', r)}`,
          metrics: [
            metric('p50', 'ms', r.subscribe.p50, r.fromAck.p50),
            metric('p99', 'ms', r.subscribe.p99, r.fromAck.p99),
            metric('p50 beyond the debounce', 'ms', r.subscribe.p50, beyond(r.fromAck.p50)),
            metric('p99 beyond the debounce', 'ms', r.subscribe.p99, beyond(r.fromAck.p99)),
          ],
          detail: { ...r, debounceMs, seededOrders: orders },
        });
        await printSqlStats(emporium, 'the recommendations');
      } finally {
        await pool.closeAll();
        await stopAll([emporium]);
      }
    });
  } finally {
    await pool.stop();
  }

  // ------------------------------------------------------------ report
  const ordered = ROW_NAMES.map(
    (name) => rows.get(name) ?? { name, title: name, reference: '', subject: '', status: 'error' as const, note: 'not measured', metrics: [] },
  );
  const seconds = (now() - started) / 1000;
  const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`;
  const when = new Date().toISOString();
  const mode = `${quick ? 'quick (smoke run: tiny sizes, figures mean nothing)' : 'full'}, revision ${revision()}`;
  writeFileSync(
    path.join(outDir, 'latest.json'),
    `${JSON.stringify({ when, mode: quick ? 'quick' : 'full', revision: revision(), machine, seconds, sizes: SIZES, rows: ordered }, null, 2)}\n`,
  );
  writeFileSync(path.join(outDir, 'latest.md'), markdown(ordered, { when, mode, machine, seconds }));
  log(`\n${consoleTable(ordered)}\n`);
  for (const line of legend(ordered)) log(`  ${line}`);
  log(`\n${quick ? 'quick' : 'full'} run took ${seconds.toFixed(0)} s; wrote ${path.relative(process.cwd(), path.join(outDir, 'latest.json'))} and latest.md`);
  if (profDir) log(`CPU profiles in ${profDir} (summarise with: npx tsx bench/prof-summary.ts ${profDir})`);
  return ordered.some((row) => row.status === 'error') ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
