// Summarises V8 CPU profiles (.cpuprofile, from `npm run bench -- --profile`): self time by function and by
// package/folder, so "where does the time go" has numbers.
// Usage: npx tsx bench/prof-summary.ts <dir or files…> [--top N] [--skip-ms N] [--callers functionName]
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
const valueIndexes = new Set([topIndex, skipIndex, callersIndex].filter((i) => i >= 0).map((i) => i + 1));
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

for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
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
