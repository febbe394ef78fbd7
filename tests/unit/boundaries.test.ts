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

test('a machine doing I/O, a gateway touching knex, a kernel naming a module and a module or a script reaching into another are each reported', (t) => {
  const root = fixture({
    'src/modules/cart/cart.machine.ts':
      "import knex from 'knex';\nimport { readFileSync } from 'node:fs';\nimport { setup } from 'xstate';\nimport type { CartLine } from '../../domain/types.ts';\n",
    'src/cli/import.ts':
      "import { CatalogRepo } from '../modules/catalog/catalog.repo.ts';\nimport { standaloneCatalog } from '../modules/catalog/index.ts';\n",
    'src/kernel/gateway/http.ts': "import type { Knex } from 'knex';\nimport { OutboxRepo } from '../db/outbox.repo.ts';\n",
    'src/kernel/actors/runtime.ts': "import { CartService } from '../../modules/cart/cart.service.ts';\nimport { Subject } from 'rxjs';\n",
    'src/modules/cart/cart.service.ts': "import { createApp } from '../../app.ts';\nimport { cartView } from './views.ts';\n",
    'src/modules/order/order.service.ts':
      "import { CheckoutService } from '../cart/checkout.service.ts';\nimport type { CartModule } from '../cart/index.ts';\nimport { AppError } from '../../domain/errors.ts';\n",
  });
  const { status, output } = check(root);
  t.is(status, 1);
  t.regex(output, /src\/modules\/cart\/cart\.machine\.ts imports knex: machines are pure/);
  t.regex(output, /src\/modules\/cart\/cart\.machine\.ts imports node:fs: machines are pure/);
  t.notRegex(output, /imports xstate/);
  t.regex(
    output,
    /src\/cli\/import\.ts imports \.\.\/modules\/catalog\/catalog\.repo\.ts: code outside the modules .* reaches a module only through its index\.ts/,
  );
  t.regex(output, /src\/kernel\/gateway\/http\.ts imports knex: the gateway never touches the database/);
  t.regex(output, /src\/kernel\/gateway\/http\.ts imports \.\.\/db\/outbox\.repo\.ts/);
  t.regex(output, /src\/kernel\/actors\/runtime\.ts imports \.\.\/\.\.\/modules\/cart\/cart\.service\.ts: the kernel knows no domain/);
  t.regex(output, /src\/modules\/cart\/cart\.service\.ts imports \.\.\/\.\.\/app\.ts: only the composition root/);
  t.regex(
    output,
    /src\/modules\/order\/order\.service\.ts imports \.\.\/cart\/checkout\.service\.ts: a module imports another module only through its index\.ts/,
  );
  t.notRegex(output, /cart\/index\.ts/);
  t.notRegex(output, /catalog\/index\.ts/);
  t.notRegex(output, /views\.ts/);
  t.regex(output, /8 import\(s\) cross a boundary/);
});
