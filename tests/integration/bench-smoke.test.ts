// `npm run bench -- --quick` (the CI smoke run of the benchmarks) exits cleanly and reports every row.
// No timing is asserted: quick sizes are tiny and CI machines are noisy.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { ROW_NAMES } from '../../bench/rows.ts';
import { REPO_ROOT } from '../helpers/child.ts';

// The bench does not touch the database under test; the PostgreSQL pass of this suite has nothing to add.
const maybe = process.env.TEST_POSTGRES_URL ? test.skip : test;

maybe('npm run bench -- --quick exits 0 and writes latest.json with every row', async (t) => {
  t.timeout(240_000);
  const out = mkdtempSync(path.join(tmpdir(), 'emporium-bench-smoke-'));
  const child = spawn('npm', ['run', 'bench', '--', '--quick', '--out', out], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so a timeout takes the whole tree down.
    detached: true,
  });
  t.teardown(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
    rmSync(out, { recursive: true, force: true });
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output = (output + String(chunk)).slice(-20_000)));
  child.stderr!.on('data', (chunk) => (output = (output + String(chunk)).slice(-20_000)));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));

  t.is(code, 0, output.slice(-6000));
  const file = path.join(out, 'latest.json');
  t.true(existsSync(file), 'latest.json written');
  t.true(existsSync(path.join(out, 'latest.md')), 'latest.md written');
  const results = JSON.parse(readFileSync(file, 'utf8')) as { mode: string; rows: Array<{ name: string; status: string }> };
  t.is(results.mode, 'quick');
  const names = results.rows.map((row) => row.name);
  for (const name of ROW_NAMES) t.true(names.includes(name), `row ${name} is reported`);
  t.false(
    results.rows.some((row) => row.status === 'error'),
    JSON.stringify(results.rows.filter((row) => row.status === 'error')),
  );
});
