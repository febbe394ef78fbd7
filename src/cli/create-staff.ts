// `npm run create-staff -- <email> <name> [--admin]`: creates or updates a warehouse staff account; the password comes from STAFF_PASSWORD or stdin.
import { createInterface } from 'node:readline/promises';
import { parseCli } from './args.ts';

const cli = await parseCli({
  name: 'create-staff',
  usage: `usage: npm run create-staff -- <email> <name> [--admin]

Creates a warehouse staff account, or updates the one with that e-mail address (name, password, role), in
DATABASE_URL; migrates the database first. The name may be several words (Ann Smith).

options:
  --admin       an admin account (staff otherwise)
  -h, --help    this text

The password (8+ characters) comes from STAFF_PASSWORD, else from stdin (prompted on a terminal).
exit status: 0 the account is ready; 1 the database cannot be reached; 2 bad usage (a bad e-mail, name or password).
`,
  options: { admin: { type: 'boolean' } },
  positionals: ['email', 'name...'],
  missing: { email: 'an e-mail address and a name are required', name: 'a name is required' },
});
const admin = cli.values.admin === true;
const [email, ...nameParts] = cli.positionals;

async function readPassword(): Promise<string> {
  if (process.env.STAFF_PASSWORD) return process.env.STAFF_PASSWORD;
  if (!process.stdin.isTTY) {
    // Piped: read it all (`echo secret | npm run create-staff -- …`).
    let text = '';
    for await (const chunk of process.stdin) text += String(chunk);
    return text.trim();
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question('password (8+ characters): ')).trim();
  } finally {
    rl.close();
  }
}

const { z } = await import('zod');
const invalid = (issues: readonly { path: PropertyKey[]; message: string }[]) =>
  cli.usageError(issues.map((issue) => `${issue.path.join('.') || 'password'}: ${issue.message}`).join('; '));
const account = z.object({ email: z.string().email(), name: z.string().min(1).max(200) }).safeParse({ email, name: nameParts.join(' ') });
if (!account.success) invalid(account.error.issues);
const password = z
  .string()
  .min(8, 'password must be at least 8 characters')
  .safeParse(await readPassword().catch(() => ''));
if (!password.success) invalid(password.error.issues);
const input = { data: { ...account.data!, password: password.data! } };

const [{ loadConfig }, { migrateLatest, openDb }, { appMigrations }, { standaloneAuth }] = await Promise.all([
  import('../config.ts'),
  import('../kernel/db/db.ts'),
  import('../modules/index.ts'),
  import('../modules/identity/index.ts'),
]);
try {
  const config = loadConfig();
  const db = openDb(config.databaseUrl, appMigrations());
  try {
    await migrateLatest(db);
    const saved = await standaloneAuth(config.jwtSecret, db, Date.now).upsertAccount({ ...input.data, role: admin ? 'admin' : 'staff' });
    process.stdout.write(`${saved.role} account ready: ${saved.email} (${saved.id})\n`);
  } finally {
    await db.close();
  }
} catch (error) {
  cli.exitOnUserError(error);
  throw error;
}
