// `npm run catalog:import -- <file.json|file.csv> [--dry-run]`: creates or updates categories and products from a file,
// validated with the same schemas as the /warehouse catalog commands; re-running a file changes nothing new.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseCli } from './args.ts';

const USAGE = `usage: npm run catalog:import -- <file> [--dry-run]

Creates or updates categories (by slug) and products (by SKU) in DATABASE_URL.

  <file>.json   { "categories": [ { "slug", "name", "description"?, "parent"?, "position"? } ],
                  "products":   [ { "sku", "name", "description"?, "price", "currency"?, "category",
                                    "images"?, "attributes"?, "stock"? } ] }
                (or just the array of products)
  <file>.csv    one product per row, with a header row:
                sku,name,description,price,currency,category,images,attributes,stock
                images separated by "|"; attributes as key=value pairs separated by ";"
                (numbers and true/false are typed); empty cells are left out

  price         integer minor units (cents for EUR)
  category      a category's slug; it must exist or be in the same file
  stock         units on hand for a product the file creates (an existing product's stock is the
                warehouse's: use stock:restock)

options:
  --dry-run     validate the whole file and report what would change; write nothing
  -h, --help    this text

Every record is validated first; if any is invalid, nothing is written and the errors are listed
(exit code 1). A running node serves the changes at once (its clients see them when they next read).
exit status: 0 imported (or valid, with --dry-run); 1 invalid records or the database cannot be reached;
2 bad usage (no such file, not .json or .csv).
`;

const cli = await parseCli({
  name: 'catalog:import',
  usage: USAGE,
  options: { 'dry-run': { type: 'boolean' } },
  positionals: ['file'],
  missing: { file: 'a file is required' },
});
const file = cli.positionals[0]!;
// Exit 2 for the file named (unreadable, not .json or .csv), 1 for what is in it.
function fail(message: string, code = 2): never {
  return cli.fail(message, code);
}

const [{ parse: parseCsv }, { z }, { categoryInputSchema, productInputSchema }] = await Promise.all([
  import('csv-parse/sync'),
  import('zod'),
  import('../protocol/index.ts'),
]);

const stockSchema = z.number().int().min(0).max(1_000_000).optional();
const productRecordSchema = productInputSchema.extend({ stock: stockSchema });
const fileSchema = z.union([
  z.object({ categories: z.array(z.unknown()).default([]), products: z.array(z.unknown()).default([]) }).strict(),
  z.array(z.unknown()).transform((products) => ({ categories: [] as unknown[], products })),
]);

/** `key=value;key=value` with numbers and booleans typed. */
function attributesFromCell(cell: string): Record<string, string | number | boolean> {
  const attributes: Record<string, string | number | boolean> = {};
  for (const pair of cell.split(';')) {
    if (pair.trim() === '') continue;
    const at = pair.indexOf('=');
    if (at <= 0) throw new Error(`attribute ${JSON.stringify(pair)} is not key=value`);
    const key = pair.slice(0, at).trim();
    const raw = pair.slice(at + 1).trim();
    attributes[key] = raw === 'true' ? true : raw === 'false' ? false : raw !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
  }
  return attributes;
}

/** A CSV row as a product record: empty cells left out, numbers and lists parsed. */
function productFromRow(row: Record<string, string>): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(row)) {
    if (value.trim() === '') continue;
    if (column === 'price' || column === 'stock') record[column] = Number(value);
    else if (column === 'images')
      record.images = value
        .split('|')
        .map((url) => url.trim())
        .filter(Boolean);
    else if (column === 'attributes') record.attributes = attributesFromCell(value);
    else record[column] = value;
  }
  return record;
}

function readRecords(filePath: string): { categories: unknown[]; products: unknown[] } {
  let text: string;
  try {
    text = readFileSync(filePath, 'utf8');
  } catch (error) {
    fail(`cannot read ${filePath}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const extension = path.extname(filePath).toLowerCase();
  if (extension === '.csv') {
    try {
      const rows = parseCsv(text, { columns: true, skip_empty_lines: true, trim: true, bom: true }) as Record<string, string>[];
      return { categories: [], products: rows.map(productFromRow) };
    } catch (error) {
      fail(`${filePath} is not valid CSV: ${error instanceof Error ? error.message : String(error)}`, 1);
    }
  }
  if (extension !== '.json') fail(`${filePath}: use a .json or .csv file`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    fail(`${filePath} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`, 1);
  }
  const shape = fileSchema.safeParse(json);
  if (!shape.success) fail(`${filePath}: expected { "categories": [...], "products": [...] } or an array of products`, 1);
  return shape.data;
}

const issuesOf = (error: { issues: readonly { path: PropertyKey[]; message: string }[] }) =>
  error.issues.map((issue) => `${issue.path.join('.') || '(record)'}: ${issue.message}`).join('; ');

const records = readRecords(file);
const problems: string[] = [];
const categories = records.categories.flatMap((record, index) => {
  const result = categoryInputSchema.safeParse(record);
  if (!result.success) problems.push(`categories[${index}]: ${issuesOf(result.error)}`);
  return result.success ? [result.data] : [];
});
const products = records.products.flatMap((record, index) => {
  const result = productRecordSchema.safeParse(record);
  // CSV rows are numbered as a spreadsheet shows them: the header is row 1.
  const where = path.extname(file).toLowerCase() === '.csv' ? `row ${index + 2}` : `products[${index}]`;
  if (!result.success) problems.push(`${where}: ${issuesOf(result.error)}`);
  return result.success ? [result.data] : [];
});
const skus = new Set<string>();
for (const product of products) {
  if (skus.has(product.sku)) problems.push(`SKU ${product.sku} appears twice`);
  skus.add(product.sku);
}
if (problems.length > 0) {
  process.stderr.write(`${problems.length} invalid record(s) in ${file}; nothing was written:\n${problems.map((line) => `  ${line}`).join('\n')}\n`);
  process.exit(1);
}

// Parents before children: a category comes once its parent is in the database or earlier in the file.
const ordered: typeof categories = [];
const pending = [...categories];
const inFile = new Set(categories.map((category) => category.slug));
while (pending.length > 0) {
  const placed = new Set(ordered.map((category) => category.slug));
  const ready = pending.filter((category) => !category.parent || !inFile.has(category.parent) || placed.has(category.parent));
  if (ready.length === 0) fail(`the categories ${pending.map((category) => category.slug).join(', ')} are each other's parents`, 1);
  for (const category of ready) {
    ordered.push(category);
    pending.splice(pending.indexOf(category), 1);
  }
}

const [{ loadConfig }, { migrateLatest, openDb }, { standaloneCatalog }, { appMigrations }, { standaloneInventory }] = await Promise.all([
  import('../config.ts'),
  import('../kernel/db/db.ts'),
  import('../modules/catalog/index.ts'),
  import('../modules/index.ts'),
  import('../modules/inventory/index.ts'),
]);
try {
  const db = openDb(loadConfig().databaseUrl, appMigrations());
  try {
    await migrateLatest(db);
    const catalog = standaloneCatalog(db, Date.now);
    const inventory = standaloneInventory(db, Date.now);
    const dryRun = cli.values['dry-run'] === true;
    const counts = { categoriesCreated: 0, categoriesUpdated: 0, productsCreated: 0, productsUpdated: 0, productsUnchanged: 0, stocked: 0 };
    const known = new Set((await catalog.listCategories()).flatMap((category) => [category.slug, category.id]));
    for (const category of ordered) known.add(category.slug);
    const missing = products.filter((product) => !known.has(product.category)).map((product) => `${product.sku}: category ${product.category} does not exist`);
    if (missing.length > 0) fail(`${missing.length} product(s) name an unknown category; nothing was written:\n  ${missing.join('\n  ')}`, 1);
    if (dryRun) {
      process.stdout.write(`${file}: ${ordered.length} categories and ${products.length} products are valid (dry run: nothing written)\n`);
    } else {
      for (const category of ordered) {
        const { created } = await catalog.upsertCategory(category);
        counts[created ? 'categoriesCreated' : 'categoriesUpdated']++;
      }
      for (const { stock, ...product } of products) {
        const { product: saved, created, changed } = await catalog.upsertProduct(product);
        counts[created ? 'productsCreated' : changed ? 'productsUpdated' : 'productsUnchanged']++;
        if (created && stock) {
          await inventory.restock(saved.id, stock);
          counts.stocked++;
        }
      }
      process.stdout.write(
        `${file}: categories ${counts.categoriesCreated} created, ${counts.categoriesUpdated} updated; products ${counts.productsCreated} created, ${counts.productsUpdated} updated, ${counts.productsUnchanged} unchanged (${counts.stocked} stocked)\n`,
      );
    }
  } finally {
    await db.close();
  }
} catch (error) {
  cli.exitOnUserError(error);
  throw error;
}
