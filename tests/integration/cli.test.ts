// Every command-line script answers --help with its usage (exit 0) and refuses an unknown option or a bad value
// with one line on stderr and exit code 2, never a stack trace, before it touches a database or starts a server.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';

const ROOT = path.resolve(import.meta.dirname, '../..');

interface Script {
  readonly file: string;
  /** How its errors start. */
  readonly name: string;
  /** The npm script its usage names. */
  readonly npm: string;
  /** Options its usage must list. */
  readonly options: readonly string[];
}

const SCRIPTS: readonly Script[] = [
  { file: 'src/cli/catalog-import.ts', name: 'catalog:import', npm: 'catalog:import', options: ['--dry-run'] },
  { file: 'src/cli/create-staff.ts', name: 'create-staff', npm: 'create-staff', options: ['--admin'] },
  { file: 'src/cli/inspect.ts', name: 'inspect', npm: 'inspect', options: ['--at', '--json'] },
  { file: 'src/cli/migrate.ts', name: 'migrate', npm: 'migrate', options: [] },
  { file: 'src/cli/outbox.ts', name: 'outbox', npm: 'outbox', options: ['--flow', '--seq', '--limit'] },
  { file: 'scripts/cluster.ts', name: 'cluster', npm: 'cluster', options: ['--nodes', '--port', '--data-dir'] },
  { file: 'scripts/build-web.ts', name: 'build:web', npm: 'build:web', options: ['--out', '--no-minify'] },
  { file: 'scripts/test-postgres.ts', name: 'test:postgres', npm: 'test:postgres', options: ['--match', '--serial', '--timeout'] },
  { file: 'bench/run.ts', name: 'bench', npm: 'bench', options: ['--quick', '--only', '--out', '--profile', '--sql-profile'] },
];
const script = (name: string) => SCRIPTS.find((candidate) => candidate.name === name)!;

// Nothing may be written here: a script that got past its arguments would create the database or its data.
const dataDir = mkdtempSync(path.join(tmpdir(), 'emporium-cli-'));
const ENV: NodeJS.ProcessEnv = { ...process.env };
for (const name of ['PORT', 'STAFF_PASSWORD', 'ADMIN_EMAIL', 'ADMIN_PASSWORD', 'NODE_ID', 'TEST_DATABASE_URL']) delete ENV[name];
Object.assign(ENV, {
  DATA_DIR: dataDir,
  DATABASE_URL: path.join(dataDir, 'db', 'emporium.sqlite'),
  // Unreachable: a script that went on would fail on these rather than start Redis or PostgreSQL.
  REDIS_URL: 'redis://127.0.0.1:1',
  TEST_POSTGRES_URL: 'postgres://127.0.0.1:1/none',
  LOG_LEVEL: 'silent',
  NO_COLOR: '1',
});

test.after.always(() => rmSync(dataDir, { recursive: true, force: true }));

// Two children at a time (each is a node with tsx): the machine has two cores and other test files run beside.
let running = 0;
const waiting: (() => void)[] = [];
async function slot<T>(work: () => Promise<T>): Promise<T> {
  if (running >= 2) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await work();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

interface Result {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `node --import=tsx <file> ...args`, in its own process group (a script that went on is killed with all it started). */
function run(file: string, args: readonly string[], env: NodeJS.ProcessEnv = ENV): Promise<Result> {
  return slot(
    () =>
      new Promise<Result>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import=tsx', file, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk) => (stdout += String(chunk)));
        child.stderr.on('data', (chunk) => (stderr += String(chunk)));
        const timer = setTimeout(() => {
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            // already gone
          }
          reject(new Error(`${file} ${args.join(' ')} did not finish within 60 s: ${stdout.slice(-2000)}${stderr.slice(-2000)}`));
        }, 60_000);
        child.on('error', (error) => {
          clearTimeout(timer);
          reject(error);
        });
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
      }),
  );
}

const NO_STACK = /^\s+at /m;

/** Exit 2 and exactly one line on stderr: `<name>: <message>`, no stack frame. */
function assertUsageError(t: ExecutionContext, result: Result, name: string, message: RegExp): void {
  const shown = `stdout: ${result.stdout}\nstderr: ${result.stderr}`;
  t.is(result.code, 2, shown);
  t.is(result.stderr.split('\n').length, 2, `exactly one line on stderr: ${shown}`);
  t.true(result.stderr.startsWith(`${name}: `), shown);
  t.regex(result.stderr, message);
  t.notRegex(result.stderr, NO_STACK);
  t.notRegex(result.stdout, NO_STACK);
}

for (const { file, name, npm, options } of SCRIPTS) {
  test(`${name} --help prints its usage and exits 0`, async (t) => {
    const result = await run(file, ['--help']);
    t.is(result.code, 0, result.stderr);
    t.true(result.stdout.startsWith(`usage: npm run ${npm}`), result.stdout);
    for (const option of [...options, '-h, --help']) t.true(result.stdout.includes(option), `the usage names ${option}`);
    t.regex(result.stdout, /exit status/);
    t.is(result.stderr, '');
  });

  test(`${name} --no-such-option is one line on stderr and exit 2`, async (t) => {
    assertUsageError(t, await run(file, ['--no-such-option']), name, /: Unknown option '--no-such-option' \(try --help\)\n$/);
  });
}

test('-h is --help, and --help wins over a mistake beside it', async (t) => {
  const [short, both] = await Promise.all([run('src/cli/outbox.ts', ['-h']), run('scripts/cluster.ts', ['--nodes', 'many', '--help', '--frob'])]);
  t.is(short.code, 0, short.stderr);
  t.regex(short.stdout, /^usage: npm run outbox/);
  t.is(both.code, 0, both.stderr);
  t.regex(both.stdout, /^usage: npm run cluster/);
});

const BAD_USAGE: ReadonlyArray<readonly [name: string, args: readonly string[], message: RegExp]> = [
  ['catalog:import', [], /a file is required/],
  ['catalog:import', ['a.json', 'b.json'], /Unexpected argument 'b\.json'/],
  ['create-staff', ['ann@example.com'], /a name is required/],
  ['create-staff', ['not-an-email', 'Ann'], /email/],
  ['inspect', ['order'], /an actor id is required/],
  ['inspect', ['order', 'ord_1', '--at', 'zero'], /--at takes a version/],
  ['migrate', ['now'], /Unexpected argument 'now'/],
  ['outbox', [], /a command is required/],
  ['outbox', ['parked', '--limit', 'ten'], /--limit takes a whole number/],
  ['cluster', ['--nodes', '40'], /--nodes takes a whole number from 1 to 16, not "40"/],
  ['build:web', ['--out'], /'--out <value>' argument missing/],
  ['test:postgres', ['--match'], /argument missing/],
  ['bench', ['--only', 'roundtrip,frob'], /--only: no section "frob"/],
];
for (const [name, args, message] of BAD_USAGE) {
  test(`${name} ${args.join(' ') || '(no arguments)'}: a usage error, one line, exit 2`, async (t) => {
    assertUsageError(t, await run(script(name).file, args), name, message);
  });
}

test("a user's mistake at run time is one line too: a missing file (exit 2), a bad environment (exit 1)", async (t) => {
  const missing = path.join(tmpdir(), 'emporium-cli-no-such-file.json');
  const [noFile, badConfig] = await Promise.all([run(script('catalog:import').file, [missing]), run(script('migrate').file, [], { ...ENV, PORT: 'eighty' })]);
  t.is(noFile.code, 2, noFile.stderr);
  t.is(noFile.stderr, `catalog:import: cannot read ${missing}: ENOENT\n`);
  t.is(badConfig.code, 1, badConfig.stderr);
  t.regex(badConfig.stderr, /^migrate: invalid configuration: PORT: .*\n$/);
  t.notRegex(badConfig.stderr, NO_STACK);
});

test.after('no script got as far as its database or data', (t) => {
  t.deepEqual(readdirSync(dataDir), []);
});
