// `npm run outbox -- <parked|requeue>`: lists flow deliveries parked after failing too often, and puts them back in line.
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.ts';
import { migrateLatest, openDb } from '../kernel/db/db.ts';
import { appMigrations } from '../modules/index.ts';
import { OutboxRepo } from '../kernel/db/outbox.repo.ts';

const USAGE = `usage: npm run outbox -- <command> [options]

commands:
  parked              list parked deliveries (flow, outbox seq, event, attempts, last error)
  requeue             put parked deliveries back in line, attempts reset; a running node delivers them

options:
  --flow <name>       only this flow's deliveries
  --seq <n>           only this outbox row (requeue)
  --limit <n>         at most this many rows (parked; default 100)
  -h, --help          this text

DATABASE_URL selects the database, as for npm start.
`;

const parseOptions = () =>
  parseArgs({
    allowPositionals: true,
    options: { flow: { type: 'string' }, seq: { type: 'string' }, limit: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });

function fail(message: string): never {
  process.stderr.write(`outbox: ${message}\n`);
  process.exit(2);
}

let parsed: ReturnType<typeof parseOptions>;
try {
  parsed = parseOptions();
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
const { values, positionals } = parsed;
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const [command, ...extra] = positionals;
if (command !== 'parked' && command !== 'requeue')
  fail(command ? `unknown command ${JSON.stringify(command)} (try --help)` : 'a command is required (try --help)');
if (extra.length > 0) fail(`unexpected argument ${JSON.stringify(extra[0])}`);
const integer = (name: string, value: string | undefined) => {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) fail(`--${name} takes a whole number, not ${JSON.stringify(value)}`);
  return Number(value);
};
const seq = integer('seq', values.seq);
const limit = integer('limit', values.limit) ?? 100;

const db = openDb(loadConfig().databaseUrl, appMigrations());
try {
  await migrateLatest(db);
  const outbox = new OutboxRepo(db.knex, db.transaction);
  if (command === 'parked') {
    const parked = await outbox.parked(values.flow, limit);
    if (parked.length === 0) process.stdout.write('no parked deliveries\n');
    for (const entry of parked) {
      process.stdout.write(
        `${entry.flow}\tseq ${entry.seq}\t${entry.type}\t${entry.actorId}\t${entry.attempts} attempts\tparked ${new Date(entry.parkedAt).toISOString()}\t${entry.lastError ?? ''}\n`,
      );
    }
  } else {
    const requeued = await outbox.requeueParked({ flow: values.flow, seq });
    process.stdout.write(`${requeued} deliveries requeued\n`);
  }
} finally {
  await db.close();
}
