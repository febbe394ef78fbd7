// `npm run test:postgres`: the integration suite again, on a throwaway PostgreSQL server (or TEST_POSTGRES_URL).
import { spawnSync } from 'node:child_process';
import { startPostgres } from './local-services.ts';

const server = await startPostgres();
let status = 1;
try {
  const result = spawnSync('npx', ['ava', 'tests/integration', ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, TEST_POSTGRES_URL: server.url },
  });
  status = result.status ?? 1;
} finally {
  await server.stop();
}
process.exit(status);
