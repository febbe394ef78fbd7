// The identity module: guest tokens, customer registration and login, staff accounts, and token verification for
// every namespace and route, sessions (logout, password change, token expiry), profile, address book and account
// deletion. A guest who signs in keeps its carts (the cart module adopts them).
import { AppError } from '../../domain/errors.ts';
import type { Clock } from '../../domain/identity.ts';
import type { Db } from '../../kernel/db/db.ts';
import { command } from '../../kernel/gateway/commands.ts';
import { defineModule, type StoreCommandTable } from '../../kernel/module.ts';
import { accountDeletionSchema, loginSchema, passwordChangeSchema, profileUpdateSchema, registerSchema, storeCommands as c } from '../../protocol/index.ts';
import { AccountRepo } from './account.repo.ts';
import { AuthService } from './auth.service.ts';
import * as accounts from './migrations/007_accounts.ts';

export { AuthService } from './auth.service.ts';

/** Accounts on their own, for command-line tools that run without the app (`npm run create-staff`): no sockets, no events. */
export function standaloneAuth(secret: string, db: Db, clock: Clock): AuthService {
  return new AuthService(secret, clock, new AccountRepo(db.knex));
}

declare module '../../kernel/registry.ts' {
  interface Services {
    readonly auth: AuthService;
  }
}

export const identityModule = defineModule({
  name: 'identity',
  migrations: [accounts],
  create: ({ config, clock, db, services, clients, eraseCustomer, logger, domainEvents }) => {
    const repo = new AccountRepo(db.knex, domainEvents);
    const auth = new AuthService(config.jwtSecret, clock, repo, clients, config.tokenTtlSeconds, logger);
    return {
      services: { auth },
      authenticate: (token) => auth.verify(token),
      commands: {
        store: {
          'addresses:list': command(c['addresses:list'], async ({ identity }) => ({ addresses: await auth.addresses(identity) })),
          'address:save': command(c['address:save'], async ({ identity }, p) => ({ addresses: await auth.saveAddress(identity, p) })),
          'address:delete': command(c['address:delete'], async ({ identity }, p) => ({ addresses: await auth.deleteAddress(identity, p.addressId) })),
        } satisfies Partial<StoreCommandTable>,
      },
      sweeps: { 'expired revocations': () => repo.pruneRevoked(clock()) },
      routes: (routes, { parse, bearer, authAttempts, guestTokens }) => {
        routes.post('/api/auth/guest', guestTokens, async () => {
          const { token, identity } = await auth.guest();
          return { token, guestId: identity.sub };
        });
        // A guest who registers or logs in keeps its carts: send the guest token as the bearer.
        routes.post('/api/auth/register', authAttempts, async (request, reply) => {
          const guest = await bearer(request).catch(() => undefined);
          const { token, customer } = await auth.register(parse(registerSchema, request.body));
          const adoptedCarts = guest ? await services.carts.adoptGuestCarts(guest.sub, customer.id) : [];
          return reply.status(201).send({ token, customer, adoptedCarts });
        });
        routes.post('/api/auth/login', authAttempts, async (request) => {
          const guest = await bearer(request).catch(() => undefined);
          const { token, customer } = await auth.login(parse(loginSchema, request.body));
          const adoptedCarts = guest ? await services.carts.adoptGuestCarts(guest.sub, customer.id) : [];
          return { token, customer, adoptedCarts };
        });
        const caller = async (request: Parameters<typeof bearer>[0]) => {
          const identity = await bearer(request);
          if (!identity) throw new AppError('UNAUTHORIZED', 'a bearer token is required');
          return identity;
        };
        routes.get('/api/me', async (request) => {
          const { tokenId: _token, expiresAt: _expires, ...identity } = await caller(request);
          const customer = identity.role === 'guest' ? null : ((await auth.getCustomer(identity.sub)) ?? null);
          return { identity, customer };
        });
        // Ends this token's session everywhere: it is refused from now on and its sockets are disconnected on every node.
        routes.post('/api/auth/logout', async (request, reply) => {
          await auth.logout(await caller(request));
          return reply.status(204).send();
        });
        routes.patch('/api/me', authAttempts, async (request) => auth.updateProfile(await caller(request), parse(profileUpdateSchema, request.body)));
        routes.post('/api/me/password', authAttempts, async (request) => auth.changePassword(await caller(request), parse(passwordChangeSchema, request.body)));
        // The account's personal data goes: orders, carts and shipments are anonymised first, then the account itself.
        routes.delete('/api/me', authAttempts, async (request, reply) => {
          const identity = await caller(request);
          const { password } = parse(accountDeletionSchema, request.body);
          await auth.deleteAccount(identity, password, eraseCustomer);
          return reply.status(204).send();
        });
      },
      start: async () => {
        if (config.adminEmail && config.adminPassword) {
          await auth.upsertAccount({ email: config.adminEmail, password: config.adminPassword, name: 'Administrator', role: 'admin' });
        }
      },
    };
  },
});
