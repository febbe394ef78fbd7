// The identity module: guest tokens, customer registration and login, staff accounts, and token verification for
// every namespace and route. A guest who signs in keeps its carts (the cart module adopts them).
import { AppError } from '../../domain/errors.ts';
import { defineModule } from '../../kernel/module.ts';
import { loginSchema, registerSchema } from '../../protocol/index.ts';
import { AccountRepo } from './account.repo.ts';
import { AuthService } from './auth.service.ts';

export { AuthService } from './auth.service.ts';

declare module '../../kernel/registry.ts' {
  interface Services {
    readonly auth: AuthService;
  }
}

export const identityModule = defineModule({
  name: 'identity',
  create: ({ config, clock, db, services }) => {
    const auth = new AuthService(config.jwtSecret, clock, new AccountRepo(db.knex));
    return {
      services: { auth },
      authenticate: (token) => auth.verify(token),
      routes: (routes, { parse, bearer, authAttempts }) => {
        routes.post('/api/auth/guest', async () => {
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
        routes.get('/api/me', async (request) => {
          const identity = await bearer(request);
          if (!identity) throw new AppError('UNAUTHORIZED', 'a bearer token is required');
          const customer = identity.role === 'guest' ? null : ((await auth.getCustomer(identity.sub)) ?? null);
          return { identity, customer };
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
