// `npm run create-staff -- <email> <name> [--admin]`: creates or updates a warehouse staff account; the password comes from STAFF_PASSWORD or stdin.
import { createInterface } from 'node:readline/promises';
import { z } from 'zod';
import { loadConfig } from '../config.ts';
import { migrateLatest, openDb } from '../kernel/db/db.ts';
import { appMigrations } from '../modules/index.ts';
import { AccountRepo } from '../modules/identity/account.repo.ts';
import { AuthService } from '../modules/identity/auth.service.ts';

const usage = 'usage: npm run create-staff -- <email> <name> [--admin]   (password from STAFF_PASSWORD or prompted)';

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

const args = process.argv.slice(2);
const admin = args.includes('--admin');
const [email, ...nameParts] = args.filter((arg) => arg !== '--admin');
const fail = (issues: readonly { path: PropertyKey[]; message: string }[]) => {
  process.stderr.write(`${issues.map((issue) => `${issue.path.join('.') || 'password'}: ${issue.message}`).join('\n')}\n${usage}\n`);
  process.exit(2);
};
const account = z.object({ email: z.string().email(), name: z.string().min(1).max(200) }).safeParse({ email, name: nameParts.join(' ') });
if (!account.success) fail(account.error.issues);
const password = z
  .string()
  .min(8, 'password must be at least 8 characters')
  .safeParse(await readPassword().catch(() => ''));
if (!password.success) fail(password.error.issues);
const input = { data: { ...account.data!, password: password.data! } };

const config = loadConfig();
const db = openDb(config.databaseUrl, appMigrations());
try {
  await migrateLatest(db);
  const saved = await new AuthService(config.jwtSecret, Date.now, new AccountRepo(db.knex)).upsertAccount({ ...input.data, role: admin ? 'admin' : 'staff' });
  process.stdout.write(`${saved.role} account ready: ${saved.email} (${saved.id})\n`);
} finally {
  await db.close();
}
