// REST over Fastify: the error envelope, CORS, rate limiting, health, readiness, metrics and the API documents; the
// modules add their routes (auth, catalog, …). Thin: validate, call a service, shape the answer.
import { readFileSync } from 'node:fs';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { AppError, type ErrorCode } from '../../domain/errors.ts';
import type { Identity } from '../../domain/identity.ts';
import type { RouteHelpers } from '../module.ts';
import { asyncApiDocument, openApiDocument } from '../../protocol/index.ts';
import { toErrorBody, type ErrorLogger } from './errors.ts';

const STATUS: Record<ErrorCode, number> = {
  VALIDATION: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  INVALID_TRANSITION: 409,
  OUT_OF_STOCK: 409,
  SOLD_OUT: 409,
  LIMIT_REACHED: 409,
  CONFLICT: 409,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

export interface HttpOptions {
  /** Verifies a bearer token into the caller's identity. */
  readonly authenticate: (token: unknown) => Promise<Identity>;
  /** The modules' routes, registered under the same error envelope, CORS and rate limiting. */
  readonly routes: ReadonlyArray<(routes: FastifyInstance, helpers: RouteHelpers) => void>;
  /** Browser origins allowed to call the API; `*` allows any. */
  readonly corsOrigins: readonly string[];
  /** Login/registration attempts per IP per minute (password guessing, scrypt cost). */
  readonly authAttemptsPerMinute: number;
  readonly logger: ErrorLogger;
  /** Ready once start-up recovery ran and until shutdown begins. */
  readonly isReady: () => boolean;
  readonly metrics: () => Promise<{ contentType: string; body: string }>;
}

/** This server's version, as published in the API documents. */
const serverVersion = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input ?? {});
  if (!result.success) throw result.error;
  return result.data;
}

export function registerHttpRoutes(app: FastifyInstance, options: HttpOptions): void {
  const { logger, isReady, metrics, corsOrigins, authAttemptsPerMinute } = options;
  const bearer = async (request: FastifyRequest): Promise<Identity | undefined> => {
    const header = request.headers.authorization;
    if (!header) return undefined;
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match) throw new AppError('UNAUTHORIZED', 'Authorization must be "Bearer <token>"');
    return options.authenticate(match[1]);
  };
  void app.register(cors, { origin: corsOrigins.includes('*') ? true : [...corsOrigins], methods: ['GET', 'POST'] });
  void app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_request, context) => ({
      statusCode: 429,
      ok: false,
      error: { code: 'RATE_LIMITED', message: `too many attempts; try again in ${Math.ceil(context.ttl / 1000)} s` },
    }),
  });
  const authLimit = { config: { rateLimit: { max: authAttemptsPerMinute, timeWindow: 60_000 } } };
  // A JSON request with an empty body (a bodiless POST /api/auth/logout sent with the usual JSON header) has no
  // payload, as if it had no body at all; anything else is parsed as Fastify does (prototype poisoning refused).
  const json = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    json(request, text, done);
  });
  app.setErrorHandler((error, request, reply: FastifyReply) => {
    const fastifyError = error as { statusCode?: number; validation?: unknown; code?: string; message?: string };
    // Fastify's own 4xx (bad JSON, body too large, wrong content type) are the client's fault: say so plainly.
    if (fastifyError.statusCode && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500 && !(error instanceof AppError)) {
      const code: ErrorCode = fastifyError.statusCode === 429 ? 'RATE_LIMITED' : 'VALIDATION';
      return reply.status(fastifyError.statusCode).send({ ok: false, error: { code, message: fastifyError.message ?? 'bad request' } });
    }
    const body = toErrorBody(error, logger, { url: request.url, method: request.method });
    return reply.status(STATUS[body.code]).send({ ok: false, error: body });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ ok: false, error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` } }),
  );

  // Routes live in a plugin registered after rate-limit, so its hook sees them.
  void app.register(async (routes) => {
    routes.get('/health', async () => ({ status: 'ok' }));
    routes.get('/ready', async (_request, reply) => (isReady() ? { status: 'ready' } : reply.status(503).send({ status: 'not ready' })));
    routes.get('/metrics', async (_request, reply) => {
      const { contentType, body } = await metrics();
      return reply.type(contentType).send(body);
    });

    // The protocol, machine-readable, from the same zod schemas the gateway validates with.
    let docs: { openapi: object; asyncapi: object } | undefined;
    const apiDocs = () => (docs ??= { openapi: openApiDocument({ version: serverVersion }), asyncapi: asyncApiDocument({ version: serverVersion }) });
    routes.get('/openapi.json', async () => apiDocs().openapi);
    routes.get('/asyncapi.json', async () => apiDocs().asyncapi);

    const helpers: RouteHelpers = { parse, bearer, authAttempts: authLimit };
    for (const register of options.routes) register(routes, helpers);
  });
}
