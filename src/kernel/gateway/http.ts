// REST over Fastify: the error envelope, CORS, rate limiting, health, readiness, metrics and the API documents; the
// modules add their routes (auth, catalog, …). Thin: validate, call a service, shape the answer.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import cors from '@fastify/cors';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { AppError, type ErrorBody, type ErrorCode } from '../../domain/errors.ts';
import type { Identity } from '../../domain/identity.ts';
import type { RouteHelpers } from '../module.ts';
import { asyncApiDocument, openApiDocument } from '../../protocol/index.ts';
import { clip, MAX_VALIDATION_MESSAGE, toErrorBody, type ErrorLogger } from './errors.ts';
import type { AttemptCounter } from './limits.ts';

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
  /** Password attempts per client address per minute, login and registration together (guessing, scrypt cost). */
  readonly authAttemptsPerMinute: number;
  /** Guest tokens per client address per minute (each is a principal that may hold carts). */
  readonly guestTokensPerMinute: number;
  /** Where attempts are counted: this node alone, or every node (Redis). */
  readonly attempts: AttemptCounter;
  /** Called with the limit's name each time a throttle refuses a request (for `/metrics`). */
  readonly onLimit?: ((limit: string) => void) | undefined;
  readonly logger: ErrorLogger;
  /** Ready once start-up recovery ran and until shutdown begins. */
  readonly isReady: () => boolean;
  readonly metrics: () => Promise<{ contentType: string; body: string }>;
  /** When set, `/metrics` answers only `Authorization: Bearer <metricsToken>` (else 401 `UNAUTHORIZED`). */
  readonly metricsToken?: string | undefined;
}

/** This server's version, as published in the API documents. */
const serverVersion = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Fastify's own words for its client errors, where they would puzzle a client or echo its input. */
const FRAMEWORK_MESSAGES: Readonly<Record<string, string>> = {
  FST_ERR_BAD_URL: 'the URL is not valid: a % escape in its path is malformed',
  FST_ERR_MAX_PARAM_LENGTH: 'a path parameter is too long (at most 100 characters)',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported content type; send JSON (content-type: application/json)',
};

/**
 * A client error Fastify raised itself (bad JSON, body too large, wrong content type, a malformed URL) as the
 * protocol's error with its HTTP status; undefined for anything else.
 */
function frameworkClientError(error: unknown): { status: number; body: ErrorBody } | undefined {
  if (error instanceof AppError || typeof error !== 'object' || error === null) return undefined;
  const { statusCode, code, message } = error as { statusCode?: unknown; code?: unknown; message?: unknown };
  if (typeof statusCode !== 'number' || statusCode < 400 || statusCode >= 500) return undefined;
  const errorCode: ErrorCode = statusCode === 429 ? 'RATE_LIMITED' : statusCode === 404 ? 'NOT_FOUND' : 'VALIDATION';
  const text = (typeof code === 'string' ? FRAMEWORK_MESSAGES[code] : undefined) ?? (typeof message === 'string' && message ? message : 'bad request');
  return { status: statusCode, body: { code: errorCode, message: clip(text, MAX_VALIDATION_MESSAGE) } };
}

/**
 * Fastify's `frameworkErrors`: the router's refusals (a path that is not valid percent-encoding, a path parameter
 * over `maxParamLength`) come before any hook, so before @fastify/cors: answered here with the envelope, and with
 * `Access-Control-Allow-Origin` for an allowed origin as @fastify/cors would have sent it.
 */
export function frameworkErrorHandler(corsOrigins: readonly string[]) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    const origin = request.headers.origin;
    if (origin && (corsOrigins.includes('*') || corsOrigins.includes(origin)))
      void reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
    const client = frameworkClientError(error);
    if (client) {
      void reply.status(client.status).send({ ok: false, error: client.body });
      return;
    }
    request.log.error({ err: error, url: clip(request.url, 200) }, 'unexpected router error');
    void reply.status(500).send({ ok: false, error: { code: 'INTERNAL', message: 'internal error; it has been logged' } });
  };
}

/**
 * Fastify's `clientErrorHandler`: a request Node's HTTP parser refuses (request line or headers too large, malformed
 * HTTP, too slow) gets the envelope too, without CORS headers (the parser gave up before `Origin` was read).
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, message] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'the request line or headers are too large']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'the request took too long to arrive']
        : [400, 'malformed HTTP request'];
  const body = JSON.stringify({ ok: false, error: { code: 'VALIDATION', message } });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

/** Whether an `Authorization` header is `Bearer <token>`, compared in constant time. */
function bearerIs(header: string | undefined, token: string): boolean {
  const given = /^Bearer\s+(.+)$/i.exec(header ?? '')?.[1] ?? '';
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(token));
}

function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input ?? {});
  if (!result.success) throw result.error;
  return result.data;
}

export function registerHttpRoutes(app: FastifyInstance, options: HttpOptions): void {
  const { logger, isReady, metrics, corsOrigins, authAttemptsPerMinute, guestTokensPerMinute, attempts } = options;
  const bearer = async (request: FastifyRequest): Promise<Identity | undefined> => {
    const header = request.headers.authorization;
    if (!header) return undefined;
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match) throw new AppError('UNAUTHORIZED', 'Authorization must be "Bearer <token>"');
    return options.authenticate(match[1]);
  };
  void app.register(cors, { origin: corsOrigins.includes('*') ? true : [...corsOrigins], methods: ['GET', 'POST'] });
  /**
   * A throttle of `max` requests per client address (`request.ip`, which `TRUST_PROXY` makes right behind a
   * proxy) per minute, shared by every route it guards; refused with 429 `RATE_LIMITED` and `Retry-After`.
   */
  const throttle = (limit: string, max: number, what: string) => ({
    preHandler: async (request: FastifyRequest, reply: FastifyReply) => {
      if (max <= 0) return;
      const waitMs = await attempts.hit(`${limit}:${request.ip}`, max, 60_000);
      if (waitMs === undefined) return;
      const seconds = Math.ceil(waitMs / 1000);
      options.onLimit?.(limit);
      void reply.header('retry-after', String(seconds));
      throw new AppError('RATE_LIMITED', `too many ${what} from this address; try again in ${seconds} s`);
    },
  });
  const authLimit = throttle('auth_attempts_per_ip', authAttemptsPerMinute, 'sign-in and registration attempts');
  const guestLimit = throttle('guest_tokens_per_ip', guestTokensPerMinute, 'guest tokens');
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
    // Fastify's own 4xx (bad JSON, body too large, wrong content type) are the client's fault: say so plainly.
    const client = frameworkClientError(error);
    if (client) return reply.status(client.status).send({ ok: false, error: client.body });
    const body = toErrorBody(error, logger, { url: clip(request.url, 200), method: request.method });
    return reply.status(STATUS[body.code]).send({ ok: false, error: body });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ ok: false, error: { code: 'NOT_FOUND', message: `no route ${request.method} ${clip(request.url.split('?')[0] ?? '', 100)}` } }),
  );

  void app.register(async (routes) => {
    routes.get('/health', async () => ({ status: 'ok' }));
    routes.get('/ready', async (_request, reply) => (isReady() ? { status: 'ready' } : reply.status(503).send({ status: 'not ready' })));
    routes.get('/metrics', async (request, reply) => {
      if (options.metricsToken !== undefined && !bearerIs(request.headers.authorization, options.metricsToken)) {
        void reply.header('www-authenticate', 'Bearer realm="metrics"');
        throw new AppError('UNAUTHORIZED', 'metrics need "Authorization: Bearer <METRICS_TOKEN>"');
      }
      const { contentType, body } = await metrics();
      return reply.type(contentType).send(body);
    });

    // The protocol, machine-readable, from the same zod schemas the gateway validates with.
    let docs: { openapi: object; asyncapi: object } | undefined;
    const apiDocs = () => (docs ??= { openapi: openApiDocument({ version: serverVersion }), asyncapi: asyncApiDocument({ version: serverVersion }) });
    routes.get('/openapi.json', async () => apiDocs().openapi);
    routes.get('/asyncapi.json', async () => apiDocs().asyncapi);

    const helpers: RouteHelpers = { parse, bearer, authAttempts: authLimit, guestTokens: guestLimit };
    for (const register of options.routes) register(routes, helpers);
  });
}
