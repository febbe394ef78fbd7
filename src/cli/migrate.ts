// `npm run migrate`: applies pending migrations to DATABASE_URL and exits.
import { loadConfig } from '../config.ts';
import { migrateLatest, openDb } from '../kernel/db/db.ts';
import { appMigrations } from '../modules/index.ts';

const config = loadConfig();
const db = openDb(config.databaseUrl, appMigrations());
try {
  const applied = await migrateLatest(db);
  process.stdout.write(applied.length > 0 ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
} finally {
  await db.close();
}
