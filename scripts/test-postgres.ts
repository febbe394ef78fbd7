// `npm run test:postgres`: the integration suite again, on a throwaway PostgreSQL server (or TEST_POSTGRES_URL).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { exitWith, parseCli } from '../src/cli/args.ts';
import { startPostgres } from './local-services.ts';

// AVA's own options, passed on to it as given (checked here first, so a mistake costs no PostgreSQL server).
const avaBoolean = ['fail-fast', 'serial', 'tap', 'update-snapshots', 'verbose', 'watch', 'color'] as const;
const booleans = Object.fromEntries(avaBoolean.flatMap((name) => [name, `no-${name}`]).map((name) => [name, { type: 'boolean' } as const]));
const cli = await parseCli({
  name: 'test:postgres',
  usage: `usage: npm run test:postgres [-- [<pattern>...] [ava options]]

Runs the integration suite (tests/integration) again on a throwaway PostgreSQL server (initdb in a temp
folder, fsync off), or on TEST_POSTGRES_URL when it is set; needs Debian's postgresql package.
The arguments are AVA's, passed on as given: test files or globs (<pattern>) and

  -m, --match <title>        only tests whose title matches (repeatable)
  -s, --serial               run tests serially
  -c, --concurrency <n>      test files at once
  -T, --timeout <time>       global timeout (10s, 2m)
  -v, --verbose, -t, --tap   reporters
  --fail-fast, -u, --update-snapshots, --no-worker-threads, --node-arguments <args>, --config <file>, --color
  -h, --help                 this text

exit status: AVA's (0 every test passed, 1 a test failed); 1 PostgreSQL did not start; 2 bad usage.
`,
  options: {
    ...booleans,
    serial: { type: 'boolean', short: 's' },
    tap: { type: 'boolean', short: 't' },
    'update-snapshots': { type: 'boolean', short: 'u' },
    verbose: { type: 'boolean', short: 'v' },
    watch: { type: 'boolean', short: 'w' },
    'no-worker-threads': { type: 'boolean' },
    match: { type: 'string', short: 'm', multiple: true },
    concurrency: { type: 'string', short: 'c' },
    timeout: { type: 'string', short: 'T' },
    'node-arguments': { type: 'string' },
    config: { type: 'string' },
  },
  positionals: ['pattern?...'],
});

/**
 * Files that never reach the database, or whose servers run on SQLite whatever this says: the PostgreSQL pass would
 * only run them again. `npm test` runs them (on SQLite).
 */
const NOT_ON_POSTGRES = new Set([
  'cli.test.ts', // the scripts' argument parsing, before any database
  'crash.test.ts', // its child server is always on its own SQLite file (crashes on PostgreSQL: tests/cluster/sigkill.test.ts)
  'bench-smoke.test.ts', // the bench makes its own databases
  'api-docs.test.ts', // the documents come from the schemas
  'origins.test.ts', // CORS and the WebSocket origin check
  'mail-transport.test.ts', // SMTP against a test server
  'sdk-convergence.test.ts', // the SDK against a scripted server
  'sqlite-durability.test.ts', // SQLite's own synchronous setting and checkpoints
]);
const files =
  cli.positionals.length > 0
    ? []
    : readdirSync('tests/integration')
        .filter((name) => name.endsWith('.test.ts') && !NOT_ON_POSTGRES.has(name))
        .map((name) => `tests/integration/${name}`);

const server = await startPostgres().catch((error: unknown) =>
  exitWith('test:postgres', `PostgreSQL did not start: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`, 1),
);
let status = 1;
try {
  const result = spawnSync('npx', ['ava', ...files, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, TEST_POSTGRES_URL: server.url },
  });
  status = result.status ?? 1;
} finally {
  await server.stop();
}
process.exit(status);
