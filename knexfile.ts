// knex CLI configuration: the same settings the app uses, from DATABASE_URL.
import { loadConfig } from './src/config.ts';
import { knexConfig } from './src/kernel/db/db.ts';
import { appMigrations } from './src/modules/index.ts';

export default knexConfig(loadConfig().databaseUrl, appMigrations());
