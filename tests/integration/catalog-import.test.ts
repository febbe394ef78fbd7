// `npm run catalog:import`: a JSON file (category tree and products) and a CSV file (products) are imported into a
// database a node then serves; re-running a file changes nothing; an invalid file writes nothing and says why.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import type { CategoryView, ProductView } from '../../src/protocol/index.ts';
import { ensureDatabase, folderForTest, getJson, startApp, testConfig } from '../helpers/app.ts';

const SCRIPT = path.resolve(import.meta.dirname, '../../src/cli/catalog-import.ts');

function importFile(dataDir: string, file: string, ...args: string[]) {
  const { databaseUrl } = testConfig(dataDir);
  const result = spawnSync(process.execPath, ['--import', 'tsx', SCRIPT, file, ...args], {
    encoding: 'utf8',
    env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const catalogJson = {
  categories: [
    // A child before its parent: the import orders them.
    { slug: 'teapots', name: 'Teapots', parent: 'tea' },
    { slug: 'tea', name: 'Tea', description: 'Leaves and the things to brew them in' },
  ],
  products: [
    { sku: 'TEA-SENCHA', name: 'Sencha 100 g', price: 1450, category: 'tea', attributes: { origin: 'Shizuoka', organic: true }, stock: 40 },
    {
      sku: 'POT-TETSU',
      name: 'Tetsubin Kettle',
      description: 'Cast iron, 0.8 l',
      price: 6900,
      category: 'teapots',
      images: ['https://img.example/tetsubin.jpg'],
    },
  ],
};

test('a JSON catalog with a category tree and a CSV of products are imported; a second run changes nothing', async (t) => {
  const dataDir = folderForTest(t, 'emporium-import-');
  await ensureDatabase(testConfig(dataDir).databaseUrl); // on PostgreSQL (npm run test:postgres) the script needs its database
  const jsonFile = path.join(dataDir, 'catalog.json');
  writeFileSync(jsonFile, JSON.stringify(catalogJson));
  const first = importFile(dataDir, jsonFile);
  t.is(first.status, 0, first.stderr);
  t.regex(first.stdout, /categories 2 created, 0 updated; products 2 created, 0 updated, 0 unchanged \(1 stocked\)/);

  const csvFile = path.join(dataDir, 'more.csv');
  writeFileSync(
    csvFile,
    [
      'sku,name,description,price,currency,category,images,attributes,stock',
      'TEA-GENMAI,Genmaicha 100 g,"Green tea with roasted rice, nutty",1190,EUR,tea,https://img.example/g1.jpg|https://img.example/g2.jpg,origin=Kyoto;grams=100;organic=false,12',
      'POT-TETSU,Tetsubin Kettle,"Cast iron, 1.2 l",7900,,teapots,,,',
    ].join('\n'),
  );
  const csv = importFile(dataDir, csvFile);
  t.is(csv.status, 0, csv.stderr);
  t.regex(csv.stdout, /products 1 created, 1 updated, 0 unchanged \(1 stocked\)/);

  const again = importFile(dataDir, jsonFile);
  t.is(again.status, 0, again.stderr);
  t.regex(
    again.stdout,
    /categories 0 created, 2 updated; products 0 created, 1 updated, 1 unchanged \(0 stocked\)/,
    'only the kettle the CSV changed goes back',
  );

  const app = await startApp({ dataDir });
  t.teardown(() => app.stop());
  const categories = (await getJson<{ items: CategoryView[] }>(`${app.url}/api/categories`)).body.items;
  const tea = categories.find((c) => c.slug === 'tea');
  t.like(
    categories.find((c) => c.slug === 'teapots'),
    { parentId: tea?.id },
  );
  const products = (await getJson<{ items: ProductView[] }>(`${app.url}/api/products?pageSize=100`)).body.items;
  const bySku = new Map(products.map((p) => [p.sku, p]));
  t.like(bySku.get('TEA-SENCHA'), { price: 1450, available: 40, attributes: { origin: 'Shizuoka', organic: true } });
  t.like(bySku.get('TEA-GENMAI'), { price: 1190, available: 12, description: 'Green tea with roasted rice, nutty' });
  t.deepEqual(bySku.get('TEA-GENMAI')?.images, ['https://img.example/g1.jpg', 'https://img.example/g2.jpg']);
  t.deepEqual(bySku.get('TEA-GENMAI')?.attributes, { origin: 'Kyoto', grams: 100, organic: false });
  t.like(bySku.get('POT-TETSU'), { price: 6900, description: 'Cast iron, 0.8 l', available: 0 });
});

test('an invalid file writes nothing and names every bad record; a dry run writes nothing; --help and bad options', async (t) => {
  const dataDir = folderForTest(t, 'emporium-import-bad-');
  await ensureDatabase(testConfig(dataDir).databaseUrl);
  const bad = path.join(dataDir, 'bad.json');
  writeFileSync(
    bad,
    JSON.stringify({
      categories: [{ slug: 'Bad Slug', name: 'x' }],
      products: [
        { sku: 'OK-1', name: 'Fine', price: 100, category: 'tea' },
        { sku: 'BAD-1', name: 'Float price', price: 1.5, category: 'tea' },
        { sku: 'OK-1', name: 'Twice', price: 100, category: 'tea' },
      ],
    }),
  );
  const result = importFile(dataDir, bad);
  t.is(result.status, 1);
  t.regex(result.stderr, /nothing was written/);
  t.regex(result.stderr, /categories\[0\]: slug/);
  t.regex(result.stderr, /products\[1\]: price/);
  t.regex(result.stderr, /SKU OK-1 appears twice/);

  const unknownCategory = path.join(dataDir, 'unknown.json');
  writeFileSync(unknownCategory, JSON.stringify([{ sku: 'OK-2', name: 'Lost', price: 100, category: 'nowhere' }]));
  const lost = importFile(dataDir, unknownCategory);
  t.is(lost.status, 1);
  t.regex(lost.stderr, /OK-2: category nowhere does not exist/);

  const good = path.join(dataDir, 'good.json');
  writeFileSync(good, JSON.stringify(catalogJson));
  const dry = importFile(dataDir, good, '--dry-run');
  t.is(dry.status, 0, dry.stderr);
  t.regex(dry.stdout, /2 categories and 2 products are valid \(dry run: nothing written\)/);
  t.regex(importFile(dataDir, good).stdout, /categories 2 created/, 'the dry run wrote nothing');

  const help = importFile(dataDir, '--help');
  t.is(help.status, 0);
  t.regex(help.stdout, /usage: npm run catalog:import/);
  const unknown = importFile(dataDir, good, '--frobnicate');
  t.is(unknown.status, 2);
  t.regex(unknown.stderr, /^catalog:import: .*frobnicate/);
  t.is(unknown.stderr.trim().split('\n').length, 1, 'one line, no stack trace');
});
