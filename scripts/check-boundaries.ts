// `npm run check:boundaries [root]`: fails when an import crosses a layer boundary of docs/ARCHITECTURE.md (run in CI).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

// The repository to check: this one, or another given as the first argument (the test checks fixtures).
const ROOT = path.resolve(process.argv[2] ?? path.join(import.meta.dirname, '..'));

interface Rule {
  /** Files the rule applies to (relative to the repository, `/` separators). */
  readonly files: RegExp;
  readonly why: string;
  /** Imports allowed from these files: packages by name, project files by path. Anything else is a violation. */
  readonly allow?: readonly RegExp[];
  /** Imports forbidden from these files (checked when `allow` is not given). */
  readonly deny?: readonly RegExp[];
  /** A rule that depends on both ends: true when `from` may import `to`. */
  readonly may?: (from: string, to: string) => boolean;
}

/** `src/modules/cart/cart.service.ts` -> `cart`; undefined outside a module folder. */
const moduleOf = (file: string) => /^src\/modules\/([^/]+)\//.exec(file)?.[1];

const RULES: readonly Rule[] = [
  {
    files: /^src\/modules\/[^/]+\/.*\.machine\.ts$/,
    why: 'machines are pure: they import only xstate, domain value types and protocol types',
    allow: [/^xstate$/, /^src\/domain\/types\.ts$/, /^src\/protocol\//],
  },
  {
    files: /^src\/protocol\//,
    why: 'the protocol is the one source of the wire: it depends on zod and domain value types only',
    allow: [/^zod$/, /^src\/domain\/types\.ts$/, /^src\/protocol\//],
  },
  {
    files: /^src\/client\//,
    why: 'the SDK runs in browsers and apps: socket.io-client and the protocol only',
    allow: [/^socket\.io-client$/, /^src\/protocol\//, /^src\/client\//],
  },
  {
    files: /^src\/kernel\//,
    why: 'the kernel knows no domain: it imports no module',
    deny: [/^src\/modules\//],
  },
  {
    files: /^src\/kernel\/gateway\//,
    why: 'the gateway never touches the database: it calls services',
    deny: [/^(knex|objection|better-sqlite3|pg)$/, /^src\/kernel\/db\//],
  },
  {
    files: /^src\/kernel\/db\//,
    why: 'the database layer is below the outbox relay and the gateway',
    deny: [/^src\/kernel\/(outbox|gateway)\//],
  },
  {
    files: /^src\/modules\/[^/]+\//,
    why: 'a module imports another module only through its index.ts',
    may: (from, to) => {
      const other = moduleOf(to);
      return other === undefined || other === moduleOf(from) || to === `src/modules/${other}/index.ts`;
    },
  },
  {
    files: /^src\/(?!modules\/|kernel\/)/,
    why: 'code outside the modules (the composition root, the CLI) reaches a module only through its index.ts',
    may: (_from, to) => {
      const other = moduleOf(to);
      return other === undefined || to === `src/modules/${other}/index.ts`;
    },
  },
  {
    files: /^src\/(?!app\.ts|main\.ts|cli\/)/,
    why: 'only the composition root (app.ts), main.ts and the CLI commands may import the composition root',
    deny: [/^src\/app\.ts$/, /^src\/main\.ts$/],
  },
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return full.endsWith('.ts') ? [full] : [];
  });
}

/** A module specifier as the rules see it: a package name, or a project path relative to the repository. */
function target(fromFile: string, specifier: string): string {
  if (specifier.startsWith('.'))
    return path
      .relative(ROOT, path.resolve(path.dirname(fromFile), specifier))
      .split(path.sep)
      .join('/');
  if (specifier.startsWith('node:')) return specifier;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

const violations: string[] = [];
for (const file of sourceFiles(path.join(ROOT, 'src'))) {
  const relative = path.relative(ROOT, file).split(path.sep).join('/');
  const rules = RULES.filter((rule) => rule.files.test(relative));
  if (rules.length === 0) continue;
  const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  for (const imported of importedFiles) {
    const to = target(file, imported.fileName);
    for (const rule of rules) {
      const allowed = rule.may
        ? rule.may(relative, to)
        : rule.allow
          ? rule.allow.some((pattern) => pattern.test(to))
          : !rule.deny?.some((pattern) => pattern.test(to));
      if (!allowed) violations.push(`${relative} imports ${imported.fileName}: ${rule.why}`);
    }
  }
}

if (violations.length > 0) {
  process.stderr.write(`${violations.length} import(s) cross a boundary:\n${violations.map((line) => `  ${line}`).join('\n')}\n`);
  process.exit(1);
}
process.stdout.write('import boundaries hold\n');
