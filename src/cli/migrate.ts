// `npm run migrate`: applies pending migrations to DATABASE_URL and exits.
import { parseCli } from './args.ts';

const cli = await parseCli({
  name: 'migrate',
  usage: `usage: npm run migrate [-- --help]

Applies the pending migrations to DATABASE_URL (or DATA_DIR/emporium.sqlite) and exits; every node also
does so at start.

options:
  -h, --help    this text

exit status: 0 done (or already up to date); 1 the database cannot be reached or a migration failed; 2 bad usage.
`,
});

const [{ loadConfig }, { migrateLatest, openDb }, { appMigrations }] = await Promise.all([
  import('../config.ts'),
  import('../kernel/db/db.ts'),
  import('../modules/index.ts'),
]);
try {
  const db = openDb(loadConfig().databaseUrl, appMigrations());
  try {
    const applied = await migrateLatest(db);
    process.stdout.write(applied.length > 0 ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
  } finally {
    await db.close();
  }
} catch (error) {
  cli.exitOnUserError(error);
  throw error;
}
