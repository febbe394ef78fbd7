// Machine-readable descriptions of the protocol, generated from its zod schemas: OpenAPI 3.1 for REST
// (served at /openapi.json) and AsyncAPI 3.0 for the Socket.IO namespaces (served at /asyncapi.json).
import { z } from 'zod';
import {
  accountDeletionSchema,
  categoriesAnswerSchema,
  loginSchema,
  passwordAnswerSchema,
  passwordChangeSchema,
  profileAnswerSchema,
  profileUpdateSchema,
  reviewPageSchema,
  reviewQuerySchema,
  meAnswerSchema,
  productPageSchema,
  productQuerySchema,
  recommendationQuerySchema,
  recommendationsAnswerSchema,
  registerSchema,
  searchSuggestAnswerSchema,
  searchSuggestQuerySchema,
  sessionAnswerSchema,
  tokenAnswerSchema,
} from './rest.ts';
import { offerViewSchema, productViewSchema } from './views.ts';
import { errorBodySchema, eventsOf, PERSONAL_EVENTS, pushEvents, storeCommands, storeResults, warehouseCommands, warehouseResults } from './wire.ts';

type JsonSchema = Record<string, unknown>;

/** JSON Schema (2020-12, as OpenAPI 3.1 and AsyncAPI 3 use) of what a client sends (`input`) or receives (`output`). */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

const errorEnvelope = z.object({ ok: z.literal(false), error: errorBodySchema });

const json = (schema: z.ZodType, io: 'input' | 'output' = 'output') => ({ content: { 'application/json': { schema: jsonSchema(schema, io) } } });
const answer = (description: string, schema: z.ZodType) => ({ description, ...json(schema) });
const failure = (description: string) => ({ description: `${description} (\`{ ok: false, error: { code, message, details? } }\`)`, ...json(errorEnvelope) });

/** Query parameters of a GET route, one per property of its (object) schema. */
function queryParameters(schema: z.ZodObject): JsonSchema[] {
  const properties = (jsonSchema(schema, 'input').properties ?? {}) as Record<string, JsonSchema>;
  return Object.entries(properties).map(([name, property]) => ({ name, in: 'query', required: false, schema: property, description: property.description }));
}

export interface ApiDocInfo {
  /** The server's package version. */
  readonly version: string;
}

/** The REST API as an OpenAPI 3.1 document. */
export function openApiDocument(info: ApiDocInfo): JsonSchema {
  const guestOrCustomer = [{ bearer: [] }, {}];
  return {
    openapi: '3.1.0',
    info: {
      title: 'Emporium REST API',
      version: info.version,
      description: 'Tokens, catalog reads and health. Carts, orders and shipments live on Socket.IO: see /asyncapi.json and docs/PROTOCOL.md.',
    },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    paths: {
      '/api/auth/guest': {
        post: { summary: 'A guest token (carts and orders without an account)', responses: { 200: answer('a guest token', tokenAnswerSchema) } },
      },
      '/api/auth/register': {
        post: {
          summary: 'Create a customer account; a guest bearer token moves its carts to it',
          security: guestOrCustomer,
          requestBody: { required: true, ...json(registerSchema, 'input') },
          responses: {
            201: answer('the new account and its token', sessionAnswerSchema),
            400: failure('VALIDATION'),
            409: failure('CONFLICT: the e-mail address is taken'),
            429: failure('RATE_LIMITED'),
          },
        },
      },
      '/api/auth/login': {
        post: {
          summary: 'Log in; a guest bearer token moves its carts to the account',
          security: guestOrCustomer,
          requestBody: { required: true, ...json(loginSchema, 'input') },
          responses: {
            200: answer('the account and a token', sessionAnswerSchema),
            400: failure('VALIDATION'),
            401: failure('UNAUTHORIZED'),
            429: failure('RATE_LIMITED'),
          },
        },
      },
      '/api/me': {
        get: {
          summary: 'Who the bearer token belongs to',
          security: [{ bearer: [] }],
          responses: { 200: answer('the identity and, for an account, the customer', meAnswerSchema), 401: failure('UNAUTHORIZED') },
        },
        patch: {
          summary: 'Change the name, or the e-mail (with the current password)',
          security: [{ bearer: [] }],
          requestBody: { required: true, ...json(profileUpdateSchema, 'input') },
          responses: {
            200: answer('the account and a token with the new details', profileAnswerSchema),
            400: failure('VALIDATION'),
            401: failure('UNAUTHORIZED'),
            403: failure('FORBIDDEN: a guest has no profile'),
            409: failure('CONFLICT: the e-mail address is taken'),
            429: failure('RATE_LIMITED'),
          },
        },
        delete: {
          summary: 'Delete the account and erase its personal data (refused while an order is under way)',
          security: [{ bearer: [] }],
          requestBody: { required: true, ...json(accountDeletionSchema, 'input') },
          responses: {
            204: { description: 'deleted' },
            400: failure('VALIDATION'),
            401: failure('UNAUTHORIZED'),
            403: failure('FORBIDDEN'),
            409: failure('INVALID_TRANSITION: orders in progress'),
            429: failure('RATE_LIMITED'),
          },
        },
      },
      '/api/auth/logout': {
        post: {
          summary: "End this token's session: it is refused from now on and its sockets are disconnected on every node",
          security: [{ bearer: [] }],
          responses: { 204: { description: 'logged out' }, 401: failure('UNAUTHORIZED') },
        },
      },
      '/api/me/password': {
        post: {
          summary: 'Change the password; every other session of the account ends',
          security: [{ bearer: [] }],
          requestBody: { required: true, ...json(passwordChangeSchema, 'input') },
          responses: {
            200: answer('the one token that still works', passwordAnswerSchema),
            400: failure('VALIDATION'),
            401: failure('UNAUTHORIZED: no token, or the current password is wrong'),
            403: failure('FORBIDDEN: a guest has no password'),
            429: failure('RATE_LIMITED'),
          },
        },
      },
      '/api/categories': { get: { summary: 'Every category', responses: { 200: answer('the categories', categoriesAnswerSchema) } } },
      '/api/products': {
        get: {
          summary: 'Search and list products with live availability: words, filters, sorts, keyset pages and facets',
          parameters: queryParameters(productQuerySchema),
          responses: { 200: answer('one page of products, how many match and their facets', productPageSchema), 400: failure('VALIDATION') },
        },
      },
      '/api/search/suggest': {
        get: {
          summary: 'A handful of product names for a search box, as the shopper types',
          parameters: queryParameters(searchSuggestQuerySchema),
          responses: { 200: answer('the best matches first', searchSuggestAnswerSchema), 400: failure('VALIDATION') },
        },
      },
      '/api/products/{id}': {
        get: {
          summary: 'One product with live availability',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { 200: answer('the product', productViewSchema), 404: failure('NOT_FOUND') },
        },
      },
      '/api/products/{id}/reviews': {
        get: {
          summary: "A product's visible reviews, a page at a time",
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }, ...queryParameters(reviewQuerySchema)],
          responses: { 200: answer('one page of reviews', reviewPageSchema), 400: failure('VALIDATION'), 404: failure('NOT_FOUND') },
        },
      },
      '/api/products/{id}/recommendations': {
        get: {
          summary: '"Bought together": products often in one order with this one, then best sellers and other products of its category',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }, ...queryParameters(recommendationQuerySchema)],
          responses: { 200: answer('the recommendations, best first', recommendationsAnswerSchema), 400: failure('VALIDATION'), 404: failure('NOT_FOUND') },
        },
      },
      '/api/offers': {
        get: {
          summary: 'Live and upcoming offers (festival sales and limited drops), soonest first',
          responses: { 200: answer('the offers', z.object({ offers: z.array(offerViewSchema) })) },
        },
      },
      '/health': { get: { summary: 'Liveness', responses: { 200: { description: '`{ status: "ok" }`' } } } },
      '/ready': {
        get: { summary: 'Readiness (503 while starting or shutting down)', responses: { 200: { description: 'ready' }, 503: { description: 'not ready' } } },
      },
      '/metrics': { get: { summary: 'Prometheus metrics', responses: { 200: { description: 'text exposition format', content: { 'text/plain': {} } } } } },
    },
  };
}

const ack = (result: z.ZodType) => z.union([z.object({ ok: z.literal(true), data: result }), errorEnvelope]);

function namespaceChannel(
  address: string,
  commands: Record<string, z.ZodType>,
  results: Record<string, z.ZodType>,
  pushes: readonly (keyof typeof pushEvents)[],
) {
  const messages: Record<string, JsonSchema> = {};
  for (const [name, schema] of Object.entries(commands)) {
    messages[name] = { name, title: `${name} (command)`, payload: jsonSchema(schema, 'input') };
    messages[`${name}.ack`] = { name: `${name}.ack`, title: `answer to ${name}`, payload: jsonSchema(ack(results[name]!), 'output') };
  }
  for (const push of pushes) messages[push] = { name: push, title: `${push} (push)`, payload: jsonSchema(pushEvents[push], 'output') };
  return { address, messages };
}

function operations(channel: string, commands: readonly string[], pushes: readonly string[]): Record<string, JsonSchema> {
  const ref = (message: string) => ({ $ref: `#/channels/${channel}/messages/${message}` });
  const entries: Array<[string, JsonSchema]> = [
    ...commands.map((name): [string, JsonSchema] => [
      `${channel}.${name}`,
      {
        action: 'receive',
        summary: `The server receives \`${name}\` (socket.emit(name, payload, ack)) and answers through the ack`,
        channel: { $ref: `#/channels/${channel}` },
        messages: [ref(name)],
        reply: { channel: { $ref: `#/channels/${channel}` }, messages: [ref(`${name}.ack`)] },
      },
    ]),
    ...pushes.map((name): [string, JsonSchema] => [
      `${channel}.${name}`,
      {
        action: 'send',
        summary: (PERSONAL_EVENTS as readonly string[]).includes(name)
          ? `The server pushes \`${name}\` to the caller's own sockets (personal: no topic to subscribe to)`
          : `The server pushes \`${name}\` to the sockets subscribed to its topic`,
        channel: { $ref: `#/channels/${channel}` },
        messages: [ref(name)],
      },
    ]),
  ];
  return Object.fromEntries(entries);
}

/** The Socket.IO namespaces as an AsyncAPI 3.0 document, from the server's point of view. */
export function asyncApiDocument(info: ApiDocInfo): JsonSchema {
  const storePushes = eventsOf('store');
  const warehousePushes = eventsOf('warehouse');
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Emporium Socket.IO protocol',
      version: info.version,
      description:
        'Socket.IO v4 over WebSocket. Connect with `io(url + namespace, { auth: { token } })`. Every command is `socket.emit(name, payload, ack)`; the ack is `{ ok: true, data }` or `{ ok: false, error }`. Semantics, ordering and idempotency rules: docs/PROTOCOL.md.',
    },
    defaultContentType: 'application/json',
    servers: { node: { host: 'localhost:3000', protocol: 'ws', description: 'any node; behind a balancer in a cluster' } },
    channels: {
      store: namespaceChannel('/store', storeCommands, storeResults, storePushes),
      warehouse: namespaceChannel('/warehouse', warehouseCommands, warehouseResults, warehousePushes),
    },
    operations: {
      ...operations('store', Object.keys(storeCommands), storePushes),
      ...operations('warehouse', Object.keys(warehouseCommands), warehousePushes),
    },
  };
}
