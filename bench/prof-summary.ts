// Summarises V8 CPU profiles (.cpuprofile, from `npm run bench -- --profile`): self time by function and by
// package/folder, so "where does the time go" has numbers.
// Usage: npx tsx bench/prof-summary.ts <dir or files…> [--top N] [--skip-ms N] [--callers functionName]
//        [--buckets [--from functionName] [--window seconds]]: busy time by part of the command path (see BUCKETS),
//        from the first sample inside `functionName` (e.g. addItem: the load started) for `seconds`.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly hitCount?: number;
  readonly children?: readonly number[];
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const args = process.argv.slice(2);
const topIndex = args.indexOf('--top');
const top = topIndex >= 0 ? Number(args[topIndex + 1]) : 25;
const skipIndex = args.indexOf('--skip-ms');
/** Ignore the first N ms of each profile (start-up: module loading and compiling). */
const skipMs = skipIndex >= 0 ? Number(args[skipIndex + 1]) : 0;
const callersIndex = args.indexOf('--callers');
const callersOf = callersIndex >= 0 ? args[callersIndex + 1] : undefined;
const buckets = args.includes('--buckets');
const fromIndex = args.indexOf('--from');
const fromFunction = fromIndex >= 0 ? args[fromIndex + 1] : undefined;
const windowIndex = args.indexOf('--window');
const windowSeconds = windowIndex >= 0 ? Number(args[windowIndex + 1]) : undefined;
const valueIndexes = new Set([topIndex, skipIndex, callersIndex, fromIndex, windowIndex].filter((i) => i >= 0).map((i) => i + 1));
const inputs = args.filter((arg, i) => !arg.startsWith('--') && !valueIndexes.has(i));
const collect = (input: string): string[] =>
  statSync(input).isDirectory() ? readdirSync(input).flatMap((entry) => collect(path.join(input, entry))) : input.endsWith('.cpuprofile') ? [input] : [];
const files = inputs.flatMap(collect);

function area(url: string): string {
  if (!url) return '(native/vm)';
  const clean = url.replace(/^file:\/\//, '');
  const nm = clean.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = clean.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (clean.startsWith('node:')) return `node:${clean.slice(5).split('/')[0]}`;
  const src = clean.indexOf('/src/');
  if (src >= 0)
    return (
      'src/' +
      clean
        .slice(src + 5)
        .split('/')
        .slice(0, -1)
        .join('/') +
      '/' +
      path.basename(clean)
    );
  const bench = clean.indexOf('/bench/');
  if (bench >= 0) return `bench/${clean.slice(bench + 7)}`;
  return clean;
}

/**
 * Parts of the command path, in the order a sample is claimed: the first part with a frame on the sample's stack
 * takes it (so a product read inside the cart service counts as a product read, not as the cart service).
 */
const BUCKETS: ReadonlyArray<readonly [string, (frame: ProfileNode['callFrame'], where: string) => boolean]> = [
  ['actor write (SQLite statements, COMMIT)', (_f, where) => where.startsWith('src/kernel/db/actor-writer.ts')],
  ['other SQL through knex (product reads, …)', (_f, where) => where === 'knex' || where === 'src/kernel/db/sqlite-client.ts' || where === 'objection'],
  ['state machine (XState)', (_f, where) => where === 'xstate'],
  ['sending answers (Socket.IO encode, ws, writev)', (f, where) => (where === 'socket.io' && f.functionName === 'packet') || f.functionName === 'writev'],
  ['receiving commands (ws, Socket.IO decode)', (_f, where) => where === 'ws' || where === 'socket.io-parser' || where === 'engine.io'],
  ['change streams (RxJS: pushes, projections)', (_f, where) => where === 'rxjs'],
  ['validation (zod)', (_f, where) => where === 'zod'],
  ['garbage collection', (f) => f.functionName === '(garbage collector)'],
  ['cart service, runtime, gateway (own code)', (_f, where) => where.startsWith('src/')],
];

function bucketSummary(profile: Profile, byId: Map<number, ProfileNode>, file: string): void {
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const stackOf = (id: number) => {
    const frames: ProfileNode[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) frames.push(byId.get(at)!);
    return frames;
  };
  let start = 0;
  if (fromFunction) {
    let t = 0;
    const index = profile.samples.findIndex((id, i) => {
      t += profile.timeDeltas[i] ?? 0;
      return stackOf(id).some((node) => node.callFrame.functionName === fromFunction);
    });
    if (index < 0) {
      console.log(`\n${path.relative(process.cwd(), file)}: no sample inside ${fromFunction}, skipped`);
      return;
    }
    start = t;
  }
  const end = windowSeconds === undefined ? Number.POSITIVE_INFINITY : start + windowSeconds * 1e6;
  const totals = new Map<string, number>();
  let busy = 0;
  let t = 0;
  profile.samples.forEach((id, i) => {
    t += profile.timeDeltas[i] ?? 0;
    if (t < start || t > end) return;
    const us = profile.timeDeltas[i + 1] ?? 0;
    const stack = stackOf(id);
    if (stack[0]!.callFrame.functionName === '(idle)') return;
    busy += us;
    const bucket = BUCKETS.find(([, test]) => stack.some((node) => test(node.callFrame, area(node.callFrame.url))))?.[0] ?? 'other (Node.js, timers, promises)';
    totals.set(bucket, (totals.get(bucket) ?? 0) + us);
  });
  console.log(`\n${path.relative(process.cwd(), file)}: ${(busy / 1e6).toFixed(2)} s busy in the window; share of busy time by part:`);
  for (const [name, us] of [...totals.entries()].sort((a, b) => b[1] - a[1])) console.log(`    ${((100 * us) / busy).toFixed(1).padStart(5)} %  ${name}`);
}

for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  if (buckets) {
    bucketSummary(profile, new Map(profile.nodes.map((node) => [node.id, node])), file);
    continue;
  }
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  let elapsedUs = 0;
  profile.samples.forEach((id, i) => {
    elapsedUs += profile.timeDeltas[i] ?? 0;
    if (elapsedUs >= skipMs * 1000) selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const idle = [...selfUs.entries()].filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)').reduce((a, [, us]) => a + us, 0);
  const busy = total - idle;
  const byFunction = new Map<string, number>();
  const byArea = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') continue;
    const key = `${frame.functionName || '(anonymous)'}  ${area(frame.url)}:${frame.lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    const a = frame.functionName === '(garbage collector)' ? '(gc)' : frame.functionName === '(program)' ? '(program)' : area(frame.url);
    byArea.set(a, (byArea.get(a) ?? 0) + us);
  }
  const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)} %`;
  if (busy < 0.5e6) {
    console.log(`\n${path.relative(process.cwd(), file)}: ${(busy / 1e6).toFixed(2)} s busy (a loader thread or an idle process), skipped`);
    continue;
  }
  console.log(
    `\n${path.relative(process.cwd(), file)}: ${(total / 1e6).toFixed(1)} s profiled, ${(busy / 1e6).toFixed(1)} s busy (${((100 * busy) / total).toFixed(0)} %)`,
  );
  console.log('  self time by package / file:');
  for (const [key, us] of [...byArea.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`    ${pct(us)}  ${key}`);
  console.log('  self time by function:');
  for (const [key, us] of [...byFunction.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`    ${pct(us)}  ${key}`);
  if (callersOf) {
    // Who calls a function (--callers name): self time of its samples by the stack above it.
    const parent = new Map<number, number>();
    for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
    const stacks = new Map<string, number>();
    for (const [id, us] of selfUs) {
      if (byId.get(id)!.callFrame.functionName !== callersOf) continue;
      const frames: string[] = [];
      for (let at = parent.get(id); at !== undefined && frames.length < 10; at = parent.get(at)) {
        const frame = byId.get(at)!.callFrame;
        if (frame.functionName === '(root)') break;
        frames.push(`${frame.functionName || '(anonymous)'}@${area(frame.url)}:${frame.lineNumber + 1}`);
      }
      const key = frames.join(' < ');
      stacks.set(key, (stacks.get(key) ?? 0) + us);
    }
    console.log(`  callers of ${callersOf}:`);
    for (const [key, us] of [...stacks.entries()].sort((a, b) => b[1] - a[1]).slice(0, 10)) console.log(`    ${pct(us)}  ${key}`);
  }
}
