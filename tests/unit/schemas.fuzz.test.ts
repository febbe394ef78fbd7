// Property tests of the protocol's request schemas: for every command schema (/store and /warehouse) and every REST
// request schema, `safeParse` of any input never throws, and the VALIDATION body it makes is short and bounded.
// Seeded (FUZZ_SEED, default 20261201) and bounded (FUZZ_RUNS per schema): see "Fuzzing" in CONTRIBUTING.md.
import test from 'ava';
import fc from 'fast-check';
import { z } from 'zod';
import { MAX_VALIDATION_MESSAGE, validationBody } from '../../src/kernel/gateway/errors.ts';
import * as rest from '../../src/protocol/rest.ts';
import { idSchema, storeCommands, warehouseCommands } from '../../src/protocol/wire.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20261201);
const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
fc.configureGlobal({ seed: SEED, numRuns: RUNS });

/** The REST request schemas (bodies, queries, the `:id` path parameter); everything else rest.ts exports is an answer. */
const restRequests: Record<string, z.ZodType> = {
  registerSchema: rest.registerSchema,
  loginSchema: rest.loginSchema,
  productQuerySchema: rest.productQuerySchema,
  searchSuggestQuerySchema: rest.searchSuggestQuerySchema,
  profileUpdateSchema: rest.profileUpdateSchema,
  passwordChangeSchema: rest.passwordChangeSchema,
  accountDeletionSchema: rest.accountDeletionSchema,
  reviewQuerySchema: rest.reviewQuerySchema,
  recommendationQuerySchema: rest.recommendationQuerySchema,
  'path :id (idSchema)': idSchema,
};
const ANSWER = /Answer|Page|Facets/;

/** Every property name the schema knows, at any depth (from its JSON Schema), so generated objects reach its fields. */
function knownKeys(schema: z.ZodType): string[] {
  const keys = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const item of node) walk(item);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node)) {
      if (key === 'properties' && value && typeof value === 'object') for (const name of Object.keys(value)) keys.add(name);
      walk(value);
    }
  };
  walk(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }));
  return [...keys];
}

const nastyNumber = fc.oneof(
  fc.constantFrom(0, -0, -1, 1, 1.5, 1e-9, 1e9, 2 ** 31, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, Number.MAX_VALUE, Number.NaN, Infinity, -Infinity),
  fc.integer(),
  fc.double(),
);
const nastyString = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.string({ unit: 'grapheme' }),
  fc.constantFrom(
    '',
    ' ',
    'NaN',
    'Infinity',
    '-0',
    '1e3',
    '0x10',
    ' 2 ',
    '١٢',
    '\u0000',
    'a\nb',
    '\u202e',
    '__proto__',
    'constructor',
    'DE',
    'EUR',
    'sale',
    'drop',
  ),
  fc.string({ unit: fc.constantFrom('\u0000', '\u001f', '\u007f', '\t', 'a', '-', '😀'), maxLength: 40 }),
  fc.integer({ min: 50, max: 20_000 }).map((n) => 'x'.repeat(n)),
);
const leaf = fc.oneof(nastyNumber, nastyString, fc.boolean(), fc.constant(null), fc.constant(undefined));

/** Any input: JSON values, anything JavaScript has, and objects made of the schema's own keys with odd values. */
function inputs(schema: z.ZodType): fc.Arbitrary<unknown> {
  const keys = knownKeys(schema);
  const key = keys.length > 0 ? fc.oneof(fc.constantFrom(...keys), fc.string()) : fc.string();
  const value = fc.letrec<{ v: unknown }>((tie) => ({
    v: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(key, tie('v'), { maxKeys: 6 })),
  })).v;
  return fc.oneof(
    fc.jsonValue(),
    fc.anything({ withNullPrototype: true, withTypedArray: true, withSparseArray: true, withDate: true, withMap: true, withSet: true, withBigInt: true }),
    fc.dictionary(key, value, { maxKeys: keys.length + 3 }),
    fc.array(fc.dictionary(key, value), { maxLength: 3 }),
    leaf,
  );
}

const schemas: Array<[string, z.ZodType]> = [
  ...Object.entries(storeCommands).map(([name, schema]): [string, z.ZodType] => [`/store ${name}`, schema]),
  ...Object.entries(warehouseCommands).map(([name, schema]): [string, z.ZodType] => [`/warehouse ${name}`, schema]),
  ...Object.entries(restRequests).map(([name, schema]): [string, z.ZodType] => [`REST ${name}`, schema]),
];

test('every zod schema rest.ts exports is listed here as a request or named as an answer', (t) => {
  const listed = new Set(Object.values(restRequests));
  const missing = Object.entries(rest)
    .filter(([name, value]) => value instanceof z.ZodType && !listed.has(value) && !ANSWER.test(name))
    .map(([name]) => name);
  t.deepEqual(missing, [], 'a new REST request schema: add it to restRequests');
});

for (const [label, schema] of schemas) {
  test(`${label}: safeParse of any input never throws; its VALIDATION body is bounded`, (t) => {
    let refused = 0;
    fc.assert(
      fc.property(inputs(schema), (input) => {
        const result = schema.safeParse(input);
        if (result.success) return;
        refused++;
        const body = validationBody(result.error);
        const { issues } = body.details as { issues: Array<{ path: string; message: string }> };
        if (body.code !== 'VALIDATION') throw new Error(`code ${body.code}`);
        if (typeof body.message !== 'string' || body.message.length === 0 || body.message.length > MAX_VALIDATION_MESSAGE) {
          throw new Error(`message of ${body.message.length} characters`);
        }
        if (issues.length > 20) throw new Error(`${issues.length} issues`);
        for (const issue of issues) if (issue.path.length > 80 || issue.message.length > 160) throw new Error(`issue too long: ${JSON.stringify(issue)}`);
        // biome-ignore lint/suspicious/noControlCharactersInRegex: the point is that none are echoed back
        if (/[\u0000-\u001f\u007f]/.test(body.message)) throw new Error('a control character in the message');
        JSON.stringify(body); // serialisable: it goes on the wire
      }),
    );
    t.true(refused > 0, 'some inputs were refused');
  });
}
