// `npm run outbox -- <parked|requeue>`: lists flow deliveries parked after failing too often, and puts them back in line.
import { parseCli } from './args.ts';

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
exit status: 0 done; 1 the database cannot be reached; 2 bad usage.
`;

const cli = await parseCli({
  name: 'outbox',
  usage: USAGE,
  options: { flow: { type: 'string' }, seq: { type: 'string' }, limit: { type: 'string' } },
  positionals: ['command'],
  missing: { command: 'a command is required' },
});
const { values } = cli;
const [command] = cli.positionals;
if (command !== 'parked' && command !== 'requeue') cli.usageError(`unknown command ${JSON.stringify(command)}`);
const seq = cli.integer('seq');
const limit = cli.integer('limit') ?? 100;

const [{ loadConfig }, { migrateLatest, openDb }, { appMigrations }, { OutboxRepo }] = await Promise.all([
  import('../config.ts'),
  import('../kernel/db/db.ts'),
  import('../modules/index.ts'),
  import('../kernel/db/outbox.repo.ts'),
]);
try {
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
} catch (error) {
  cli.exitOnUserError(error);
  throw error;
}
