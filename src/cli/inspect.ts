// `npm run inspect -- <kind> <id> [--at <version>] [--json]`: an actor's journal replayed through its machine, as a
// timeline (version, time, event, state, what changed) or the state and context at one version, checked against
// the stored snapshot. Reads only: it neither migrates nor writes the database.
import { existsSync } from 'node:fs';
import type { ActorKindDefinition } from '../kernel/actors/kinds.ts';
import type { ReplayedVersion, SnapshotCheck, StoredActorReplay, ValueChange } from '../kernel/actors/replay.ts';
import { parseCli, userErrorLine } from './args.ts';

const USAGE = `usage: npm run inspect -- <kind> <id> [options]

Prints an actor's journal as a timeline — version, time, event, the state it led
to and what it changed in the context — rebuilt by replaying the journal through
the kind's machine, and checks the replay against the stored snapshot.

options:
  --at <version>   the state and context at that version instead of the timeline
  --json           machine-readable output
  -h, --help       this text

kinds: %KINDS%
DATABASE_URL (or DATA_DIR) selects the database, as for npm start.
exit status: 0 the replay matches the stored snapshot; 1 no such actor (or the
database cannot be read); 2 bad usage; 3 the replay does not match the snapshot;
4 the journal was compacted by retention (an old cart): nothing to replay, the
snapshot is kept.
`;

const kinds = new Map<string, ActorKindDefinition>();
/** The kinds of actor, from the application's modules (loaded after the arguments are checked: mistakes answer at once). */
async function loadKinds(): Promise<string[]> {
  const { defaultModules } = await import('../modules/index.ts');
  for (const module of defaultModules()) {
    for (const [name, definition] of Object.entries(module.kinds ?? {})) kinds.set(name, definition as ActorKindDefinition);
  }
  return [...kinds.keys()].sort();
}

const cli = await parseCli({
  name: 'inspect',
  usage: async () => USAGE.replace('%KINDS%', (await loadKinds()).join(', ')),
  options: { at: { type: 'string' }, json: { type: 'boolean' } },
  positionals: ['kind', 'id'],
  missing: { kind: 'a kind and an actor id are required', id: 'an actor id is required' },
});
const { values } = cli;
const [kind, id] = cli.positionals as [string, string];
if (values.at !== undefined && !/^[1-9]\d{0,9}$/.test(values.at))
  cli.usageError(`--at takes a version (a whole number from 1), not ${JSON.stringify(values.at)}`);
const at = values.at === undefined ? undefined : Number(values.at);
function fail(message: string, code: 1 | 2 = 2): never {
  return code === 2 ? cli.usageError(message) : cli.fail(message, code);
}

const [{ isPostgresUrl, loadConfig }, { replayStoredActor }, { ActorRepo }, { openDb }, { appMigrations }, kindNames] = await Promise.all([
  import('../config.ts'),
  import('../kernel/actors/replay.ts'),
  import('../kernel/db/actor.repo.ts'),
  import('../kernel/db/db.ts'),
  import('../modules/index.ts'),
  loadKinds(),
]);
if (!kinds.has(kind)) fail(`unknown kind ${JSON.stringify(kind)}; kinds: ${kindNames.join(', ')}`);

let databaseUrl: string;
try {
  databaseUrl = loadConfig().databaseUrl;
} catch (error) {
  fail(userErrorLine(error), 1);
}
if (!isPostgresUrl(databaseUrl) && databaseUrl !== ':memory:' && !existsSync(databaseUrl))
  fail(`no database at ${databaseUrl} (set DATABASE_URL or DATA_DIR)`, 1);

const db = openDb(databaseUrl, appMigrations());
let status = 0;
try {
  const found = await replayStoredActor(new ActorRepo(db.knex), (name) => kinds.get(name), id);
  if (!found) fail(`no actor ${id} in ${describe(databaseUrl)}`, 1);
  if (found.row.kind !== kind) fail(`${id} is ${article(found.row.kind)}, not ${article(kind)}`, 1);
  const check = found.replay.check!;
  if (at === undefined) printTimeline(found);
  else {
    const version = found.replay.at(at);
    if (!version && check.compacted && at <= found.row.version) cli.fail(`${kind} ${id} v${at} cannot be rebuilt: ${found.replay.failure?.message}`, 4);
    if (!version) {
      fail(
        at > found.row.version
          ? `${kind} ${id} has versions 1 to ${found.row.version}`
          : `${kind} ${id} v${at} cannot be rebuilt: ${check.mismatch?.message ?? found.replay.failure?.message}`,
        1,
      );
    }
    printVersion(found, version);
  }
  if (check.compacted) status = 4;
  else if (!check.matches) status = 3;
} catch (error) {
  // A database that cannot be read (no tables yet, unreachable): one line, no stack.
  process.stderr.write(`inspect: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}\n`);
  status = 1;
} finally {
  await db.close();
}
process.exit(status);

/** `an order`, `a cart`. */
function article(noun: string): string {
  return `${/^[aeiou]/i.test(noun) ? 'an' : 'a'} ${noun}`;
}

function describe(url: string): string {
  return isPostgresUrl(url) ? url.replace(/\/\/[^@/]*@/, '//…@') : url;
}

function printTimeline(found: StoredActorReplay): void {
  const { row, entries, replay } = found;
  const check = replay.check!;
  if (values.json) {
    const timeline = entries.map((entry) => {
      const version = replay.at(entry.version);
      return version ? withoutValue(version) : { version: entry.version, at: entry.at, event: entry.event, state: null, changed: [], redacted: false };
    });
    process.stdout.write(`${JSON.stringify({ actor: actorOf(row), timeline, check }, null, 2)}\n`);
    if (check.compacted) process.stderr.write(`COMPACTED: ${found.replay.failure?.message}\n`);
    else if (!check.matches) process.stderr.write(`MISMATCH: ${check.mismatch!.message}\n`);
    return;
  }
  const out: string[] = [header(row)];
  for (const entry of entries) {
    const version = replay.at(entry.version);
    const type = (entry.event as { type?: string } | null)?.type ?? '?';
    const state = version ? version.state : '(not replayed)';
    const what = !version ? '' : version.redacted ? 'personal data erased (not replayed)' : entry.version === 1 ? 'created' : changes(version.changed);
    out.push(`v${String(entry.version).padEnd(4)} ${new Date(entry.at).toISOString()}  ${type.padEnd(22)} ${state.padEnd(16)} ${what}`.trimEnd());
  }
  process.stdout.write(`${out.join('\n')}\n`);
  report(check);
}

function printVersion({ row, replay }: StoredActorReplay, version: ReplayedVersion): void {
  const check = replay.check!;
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ actor: actorOf(row), replayed: withoutValue(version), check }, null, 2)}\n`);
    if (!check.matches) process.stderr.write(`MISMATCH: ${check.mismatch!.message}\n`);
    return;
  }
  const out = [
    header(row),
    `at v${version.version} (${new Date(version.at).toISOString()}, ${version.event.type}): state ${version.state}${version.redacted ? ' (personal data erased)' : ''}`,
    `changed: ${version.version === 1 ? 'created' : changes(version.changed) || 'nothing in context'}`,
    'context:',
    JSON.stringify(version.context, null, 2),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
  report(check);
}

function header(row: StoredActorReplay['row']): string {
  return `${row.kind} ${row.id} · ${row.state} · version ${row.version} · owner ${row.ownerId ?? 'none'} · machine v${row.machineVersion}`;
}

function actorOf(row: StoredActorReplay['row']) {
  const { persisted, nextDeadlineAt: _deadline, ...rest } = row;
  return { ...rest, context: persisted.context };
}

function withoutValue({ value: _value, ...version }: ReplayedVersion) {
  return version;
}

/** `total: 500 → 1000; +items[1]; -pendingPayment`, values cut short. */
function changes(list: readonly ValueChange[]): string {
  const short = (value: unknown) => {
    const text = JSON.stringify(value) ?? 'undefined';
    return text.length > 60 ? `${text.slice(0, 57)}…` : text;
  };
  return list
    .map((change) => {
      if (!('before' in change)) return `+${change.path} = ${short(change.after)}`;
      if (!('after' in change)) return `-${change.path}`;
      return `${change.path}: ${short(change.before)} → ${short(change.after)}`;
    })
    .join('; ');
}

/** The snapshot check, loud when it fails (on stderr too, so a pipe still shows it); a compacted journal is said plainly. */
function report(check: SnapshotCheck): void {
  for (const note of check.notes) process.stdout.write(`note: ${note}\n`);
  if (check.compacted) {
    process.stdout.write(`journal compacted through v${check.compacted.throughVersion}: nothing to replay (not a mismatch)\n`);
    return;
  }
  if (check.matches) {
    process.stdout.write(`replay matches the stored snapshot (v${check.storedVersion})\n`);
    return;
  }
  const lines = [`MISMATCH: ${check.mismatch!.message}`];
  for (const difference of check.mismatch!.differences) {
    lines.push(
      `  ${difference.path}: replayed ${JSON.stringify(difference.replayed) ?? '(absent)'}, stored ${JSON.stringify(difference.stored) ?? '(absent)'}`,
    );
  }
  process.stderr.write(`${lines.join('\n')}\n`);
}
