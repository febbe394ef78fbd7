// The ordered list of migrations, applied by knex at start-up and by `npm run migrate`.
import * as initial from './001_initial.ts';

export const migrations = [initial] as const;
