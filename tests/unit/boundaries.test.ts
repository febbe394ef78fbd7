// The import-boundary check (scripts/check-boundaries.ts) passes on this repository and fails on a fixture that
// breaks each kind of rule, naming the file, the import and the reason.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { tempDir } from '../helpers/app.ts';

const SCRIPT = path.resolve(import.meta.dirname, '../../scripts/check-boundaries.ts');

function check(root?: string) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', SCRIPT, ...(root ? [root] : [])], { encoding: 'utf8' });
  return { status: result.status, output: result.stdout + result.stderr };
}

function fixture(files: Record<string, string>): string {
  const { dir } = tempDir('emporium-boundaries-');
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

test('this repository keeps its boundaries', (t) => {
  const { status, output } = check();
  t.is(status, 0, output);
});

test('a machine doing I/O, a gateway touching knex and a runtime naming a service are each reported', (t) => {
  const root = fixture({
    'src/machines/cart.machine.ts': "import knex from 'knex';\nimport { setup } from 'xstate';\nimport type { CartLine } from '../domain/types.ts';\n",
    'src/gateway/http.ts': "import type { Knex } from 'knex';\nimport { OutboxRepo } from '../persistence/outbox.repo.ts';\n",
    'src/actors/runtime.ts': "import { CartService } from '../services/cart.service.ts';\nimport { Subject } from 'rxjs';\n",
    'src/services/cart.service.ts': "import { createApp } from '../app.ts';\n",
  });
  const { status, output } = check(root);
  t.is(status, 1);
  t.regex(output, /src\/machines\/cart\.machine\.ts imports knex: machines are pure/);
  t.notRegex(output, /imports xstate/);
  t.regex(output, /src\/gateway\/http\.ts imports knex: the gateway never touches the database/);
  t.regex(output, /src\/gateway\/http\.ts imports \.\.\/persistence\/outbox\.repo\.ts/);
  t.regex(output, /src\/actors\/runtime\.ts imports \.\.\/services\/cart\.service\.ts: the actor runtime knows no domain/);
  t.regex(output, /src\/services\/cart\.service\.ts imports \.\.\/app\.ts: only the composition root/);
  t.regex(output, /5 import\(s\) cross a boundary/);
});
