// `npm run build:web`: bundles the three pages (storefront, warehouse board, actor inspector) from web/ into
// dist/web/ with esbuild — Preact and the typed SDK included, nothing fetched at run time. `npm start` runs it first.
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { parseCli } from '../src/cli/args.ts';

export const PAGES = ['storefront', 'warehouse', 'inspector'] as const;
const root = path.join(import.meta.dirname, '..');

/** Builds every page into `outDir` (default dist/web): `<page>/index.html`, `<page>/app.js`, and the shared `app.css`. */
export async function buildWeb(outDir = path.join(root, 'dist/web'), options: { minify?: boolean } = {}): Promise<string> {
  rmSync(outDir, { recursive: true, force: true });
  await build({
    entryPoints: Object.fromEntries(PAGES.map((page) => [`${page}/app`, path.join(root, 'web', page, 'main.tsx')])),
    outdir: outDir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: options.minify ?? true,
    sourcemap: 'linked',
    legalComments: 'none',
    logLevel: 'warning',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  for (const page of PAGES) {
    mkdirSync(path.join(outDir, page), { recursive: true });
    copyFileSync(path.join(root, 'web', page, 'index.html'), path.join(outDir, page, 'index.html'));
  }
  copyFileSync(path.join(root, 'web/shared/app.css'), path.join(outDir, 'app.css'));
  return outDir;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const cli = await parseCli({
    name: 'build:web',
    usage: `usage: npm run build:web [-- --out <dir>] [--no-minify]

Bundles web/ (storefront, warehouse, inspector) into dist/web/ with esbuild; npm start runs it first.

options:
  --out <dir>     build into this folder instead of dist/web (emptied first)
  --no-minify     readable bundles
  -h, --help      this text

exit status: 0 built; 1 the build failed; 2 bad usage.
`,
    options: { out: { type: 'string' }, 'no-minify': { type: 'boolean' } },
  });
  const out = cli.values.out === undefined ? undefined : path.resolve(cli.values.out);
  try {
    const dir = await buildWeb(out, { minify: cli.values['no-minify'] !== true });
    console.log(`web pages built into ${path.relative(process.cwd(), dir) || dir}`);
  } catch (error) {
    console.error(`build:web failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
    process.exit(1);
  }
}
