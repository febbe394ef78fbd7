// Environment -> one typed, validated Config. Every field documents its default.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

export interface Config {
  /** HTTP and Socket.IO port. `0` picks a free one. @default 3000 */
  readonly port: number;
  /** Interface to bind. @default '0.0.0.0' */
  readonly host: string;
  /** A file path means SQLite; `postgres://…` means PostgreSQL. @default './data/emporium.sqlite' */
  readonly databaseUrl: string;
  /** Folder for the SQLite file and the generated JWT secret. @default './data' */
  readonly dataDir: string;
  /** Redis for many nodes; unset means a single node. @default undefined */
  readonly redisUrl: string | undefined;
  /** HMAC secret for access tokens; generated and kept in `dataDir/jwt-secret` when unset. */
  readonly jwtSecret: string;
  /** Create or update this admin account at start. @default undefined */
  readonly adminEmail: string | undefined;
  readonly adminPassword: string | undefined;
  /** Origins allowed to open a Socket.IO connection from a browser; `*` allows any. @default ['http://localhost:3000'] */
  readonly corsOrigins: readonly string[];
  /** A cart with no change for this long expires. @default 86_400_000 (24 h) */
  readonly cartTtlMs: number;
  /** An order not paid within this window expires and its stock is released. @default 900_000 (15 min) */
  readonly paymentWindowMs: number;
  /** A reservation whose order never came to be is released this long after its payment deadline. @default 600_000 */
  readonly reservationGraceMs: number;
  /** How often due deadlines, stalled checkouts and orphan reservations are swept. @default 1000 */
  readonly sweepIntervalMs: number;
  /**
   * `stock:changed` pushes are coalesced per product: the first change goes out at once, later ones within this
   * window are folded into one push of the latest level at its end. `0` pushes every change. @default 100
   */
  readonly stockPushWindowMs: number;
  /** How old a cached product may be when a cart line is priced (changes made on this node are seen at once); 0: no cache. */
  readonly catalogCacheMs: number;
  /** SQLite's durability: `normal` survives a crash of the process, `full` a power loss too (see OPERATIONS). @default 'normal' */
  readonly sqliteSynchronous: 'normal' | 'full';
  /** SQLite: copy the write-ahead log back into the database in a worker thread, off the event loop. @default true */
  readonly sqliteCheckpointer: boolean;
  /**
   * The built web pages (`npm run build:web`): storefront at `/`, warehouse board at `/warehouse`, actor
   * inspector at `/inspector`. Empty: no pages are served. @default 'dist/web'
   */
  readonly webDir: string;
  /** Live actors unused for this long leave memory. @default 60_000 */
  readonly passivateAfterMs: number;
  /** Simulated payment provider latency. @default 20 */
  readonly paymentLatencyMs: number;
  /** Largest Socket.IO message accepted; larger ones close the connection. @default 65_536 */
  readonly maxMessageBytes: number;
  /** Commands one socket may send per second before `RATE_LIMITED`. @default 200 */
  readonly maxCommandsPerSecond: number;
  /** Commit changes of different actors that arrive together in one transaction (each still acked after its commit). @default true */
  readonly groupCommit: boolean;
  /**
   * Password attempts per client IP per minute, counted together over login, registration and the account
   * changes that ask for the password; then HTTP 429 `RATE_LIMITED` with `Retry-After`. @default 20
   */
  readonly authAttemptsPerMinute: number;
  /** Guest tokens (`POST /api/auth/guest`) per client IP per minute; `0` is no limit. @default 60 */
  readonly guestTokensPerMinute: number;
  /** Socket.IO connections open at once from one client IP on this node; `0` is no limit. @default 100 */
  readonly maxConnectionsPerIp: number;
  /** Sockets open at once of one principal (customer, guest or staff) on this node; `0` is no limit. @default 20 */
  readonly maxConnectionsPerPrincipal: number;
  /** Commands per second of one principal over all its sockets on this node; `0` is no limit. @default 400 */
  readonly maxCommandsPerPrincipalPerSecond: number;
  /** Commands per second from one client IP over all its sockets on this node; `0` is no limit. @default 2000 */
  readonly maxCommandsPerIpPerSecond: number;
  /** Carts one principal may create per minute (any node: counted in the database); `0` is no limit. @default 20 */
  readonly cartsPerMinute: number;
  /** Active carts one owner may hold at once (any node); `0` is no limit. @default 50 */
  readonly maxOpenCarts: number;
  /**
   * Which proxies to believe about the client's address (`X-Forwarded-For`), as Fastify's `trustProxy`: `false`
   * (the socket's peer is the client), `true` (any), a hop count, or a list of addresses and CIDR ranges.
   * Applies to REST and Socket.IO alike. @default false
   */
  readonly trustProxy: boolean | number | readonly string[];
  /**
   * Lifetime of new tokens, in seconds, by role; a role left out keeps its default (guest 30 days, customer
   * 7 days, staff and admin 12 hours). A socket is disconnected when its token expires.
   * @default { customer: CUSTOMER_TOKEN_TTL_SECONDS (604_800) }
   */
  readonly tokenTtlSeconds: Readonly<Partial<Record<'guest' | 'customer' | 'staff' | 'admin', number>>>;
  /**
   * Shutdown (SIGTERM/SIGINT): the longest a stopping node waits for the commands it is running to finish
   * and be answered, and then, again at most this long, for its clients to read their answers and the
   * disconnect and close their connections. What is still running or unread then is cut off and counted
   * in the log. @default 10_000
   */
  readonly shutdownGraceMs: number;
  /** Seed the demo catalog into an empty database. @default true */
  readonly seedDemoData: boolean;
  /**
   * SMTP server for e-mail, `smtp://user:pass@host:587` or `smtps://…:465` (nodemailer's URL options, such as
   * `?tls.rejectUnauthorized=false`, apply). Unset: every e-mail is written as an .eml file under
   * `dataDir/mail/` and logged instead. @default undefined
   */
  readonly smtpUrl: string | undefined;
  /** Sender of every e-mail; its domain also names the Message-IDs. @default 'Emporium <shop@emporium.local>' */
  readonly mailFrom: string;
  /** The shop's public address, for links in e-mails; unset, e-mails carry no links. @default undefined */
  readonly storeUrl: string | undefined;
  /**
   * A cart's recommendations (`recommendations:<cartId>`) are computed once its changes pause for this long,
   * once per burst of changes. @default 250
   */
  readonly recommendationsDebounceMs: number;
  /** pino level. @default 'info' */
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Name of this node in logs and metrics. @default hostname:pid */
  readonly nodeId: string;
  /**
   * OpenTelemetry: OTLP over HTTP base URL of a collector (`OTEL_EXPORTER_OTLP_ENDPOINT`, e.g. `http://localhost:4318`);
   * spans go to `<url>/v1/traces`. Unset: no tracing SDK runs and spans cost next to nothing. @default undefined
   */
  readonly otlpEndpoint: string | undefined;
  /** `service.name` of the spans (`OTEL_SERVICE_NAME`). @default 'emporium' */
  readonly otelServiceName: string;
  /** When set, `GET /metrics` requires `Authorization: Bearer <metricsToken>` (`METRICS_TOKEN`). @default undefined */
  readonly metricsToken: string | undefined;
  // ---- Retention (src/kernel/retention.ts; docs/OPERATIONS.md "Retention")
  /** How often the retention job prunes what the store no longer needs; `0` turns retention off. @default 600_000 (10 min) */
  readonly retentionIntervalMs: number;
  /** Rows deleted per retention transaction; the job yields to the event loop between two. @default 500 */
  readonly retentionBatch: number;
  /** Dispatched outbox rows (and their deliveries) older than this are deleted; never one still pending or parked. @default 86_400_000 (1 day) */
  readonly outboxRetentionMs: number;
  /**
   * Idempotency records (`cart:create`'s `requestId`) older than this are deleted: a retry older than this window is
   * a new request. At least an hour. @default 604_800_000 (7 days)
   */
  readonly idempotencyRetentionMs: number;
  /** Carts expired or checked out and unchanged for this long lose their journal (the snapshot is kept). @default 604_800_000 (7 days) */
  readonly cartJournalRetentionMs: number;
}

const flag = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((value) => value === 'true' || value === '1' || value === 'yes');

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATA_DIR: z.string().min(1).default('./data'),
  WEB_DIR: z.string().default('dist/web'),
  DATABASE_URL: z.string().min(1).optional(),
  REDIS_URL: z.string().url().optional(),
  JWT_SECRET: z.string().min(16, 'JWT_SECRET must be at least 16 characters').optional(),
  ADMIN_EMAIL: z.string().email().optional(),
  ADMIN_PASSWORD: z.string().min(8, 'ADMIN_PASSWORD must be at least 8 characters').optional(),
  CORS_ORIGINS: z.string().default('http://localhost:3000'),
  CART_TTL_MS: z.coerce.number().int().positive().default(86_400_000),
  PAYMENT_WINDOW_MS: z.coerce.number().int().positive().default(900_000),
  RESERVATION_GRACE_MS: z.coerce.number().int().nonnegative().default(600_000),
  SWEEP_INTERVAL_MS: z.coerce.number().int().positive().default(1000),
  STOCK_PUSH_WINDOW_MS: z.coerce.number().int().min(0).max(60_000).default(100),
  CATALOG_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(1000),
  SQLITE_SYNCHRONOUS: z
    .string()
    .transform((value) => value.toLowerCase())
    .pipe(z.enum(['normal', 'full']))
    .default('normal'),
  SQLITE_CHECKPOINTER: flag.default(true),
  PASSIVATE_AFTER_MS: z.coerce.number().int().positive().default(60_000),
  PAYMENT_LATENCY_MS: z.coerce.number().int().nonnegative().default(20),
  MAX_MESSAGE_BYTES: z.coerce.number().int().min(1024).default(65_536),
  MAX_COMMANDS_PER_SECOND: z.coerce.number().int().positive().default(200),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().nonnegative().default(10_000),
  SEED_DEMO_DATA: flag.default(true),
  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\//, 'SMTP_URL must start with smtp:// or smtps://')
    .optional(),
  MAIL_FROM: z.string().regex(/@/, 'MAIL_FROM must contain an e-mail address').default('Emporium <shop@emporium.local>'),
  STORE_URL: z.string().url().optional(),
  AUTH_ATTEMPTS_PER_MINUTE: z.coerce.number().int().positive().default(20),
  GUEST_TOKENS_PER_MINUTE: z.coerce.number().int().nonnegative().default(60),
  MAX_CONNECTIONS_PER_IP: z.coerce.number().int().nonnegative().default(100),
  MAX_CONNECTIONS_PER_PRINCIPAL: z.coerce.number().int().nonnegative().default(20),
  MAX_COMMANDS_PER_PRINCIPAL_PER_SECOND: z.coerce.number().int().nonnegative().default(400),
  MAX_COMMANDS_PER_IP_PER_SECOND: z.coerce.number().int().nonnegative().default(2000),
  CARTS_PER_MINUTE: z.coerce.number().int().nonnegative().default(20),
  MAX_OPEN_CARTS: z.coerce.number().int().nonnegative().default(50),
  TRUST_PROXY: z
    .string()
    .default('false')
    .transform((value, context) => parseTrustProxy(value, context)),
  CUSTOMER_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(31_536_000).default(604_800),
  GROUP_COMMIT: flag.default(true),
  RECOMMENDATIONS_DEBOUNCE_MS: z.coerce.number().int().min(0).max(60_000).default(250),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  NODE_ID: z.string().min(1).optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url().optional(),
  OTEL_SERVICE_NAME: z.string().min(1).default('emporium'),
  METRICS_TOKEN: z.string().min(16, 'METRICS_TOKEN must be at least 16 characters').optional(),
  // Retention
  RETENTION_INTERVAL_MS: z.coerce.number().int().nonnegative().default(600_000),
  RETENTION_BATCH: z.coerce.number().int().min(1).max(10_000).default(500),
  OUTBOX_RETENTION_MS: z.coerce.number().int().positive().default(86_400_000),
  IDEMPOTENCY_RETENTION_MS: z.coerce
    .number()
    .int()
    .min(3_600_000, 'IDEMPOTENCY_RETENTION_MS must be at least an hour (3600000): a client retry must land inside it')
    .default(604_800_000),
  CART_JOURNAL_RETENTION_MS: z.coerce.number().int().positive().default(604_800_000),
});

/**
 * The environment that turns every abuse limit off: for load generators (the bench) that drive one node from one
 * address with many principals, never for a node facing the public.
 */
export const NO_ABUSE_LIMITS: Readonly<Record<string, string>> = {
  // The command buckets stay in the path (taken on every command, so the bench measures them) but never refuse.
  MAX_COMMANDS_PER_SECOND: '1000000',
  MAX_COMMANDS_PER_PRINCIPAL_PER_SECOND: '1000000',
  MAX_COMMANDS_PER_IP_PER_SECOND: '1000000',
  MAX_CONNECTIONS_PER_IP: '0',
  MAX_CONNECTIONS_PER_PRINCIPAL: '0',
  GUEST_TOKENS_PER_MINUTE: '0',
  CARTS_PER_MINUTE: '0',
  MAX_OPEN_CARTS: '0',
  AUTH_ATTEMPTS_PER_MINUTE: '1000000',
};

/**
 * The limits on a client address only: tests run every client from 127.0.0.1, as if behind one proxy without
 * `TRUST_PROXY`. The limits per principal, per socket and on carts stay as configured.
 */
export const NO_ADDRESS_LIMITS: Readonly<Record<string, string>> = {
  MAX_COMMANDS_PER_IP_PER_SECOND: '0',
  MAX_CONNECTIONS_PER_IP: '0',
  GUEST_TOKENS_PER_MINUTE: '0',
  AUTH_ATTEMPTS_PER_MINUTE: '1000000',
};

/**
 * `TRUST_PROXY`: `true`/`false`, a hop count (`1`: the nearest proxy), or a comma-separated list of proxy
 * addresses and CIDR ranges (`10.0.0.0/8,127.0.0.1`); proxy-addr's names `loopback`, `linklocal`, `uniquelocal` too.
 */
function parseTrustProxy(value: string, context: z.RefinementCtx): boolean | number | string[] {
  const text = value.trim();
  if (/^(true|false)$/i.test(text)) return text.toLowerCase() === 'true';
  if (/^\d+$/.test(text)) return Number(text);
  const list = text
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  const address = /^(loopback|linklocal|uniquelocal|[0-9a-fA-F:.]+(\/\d{1,3})?)$/;
  const bad = list.filter((entry) => !address.test(entry));
  if (list.length === 0 || bad.length > 0) {
    context.addIssue({ code: 'custom', message: `TRUST_PROXY must be true, false, a hop count or a list of addresses; not ${bad.join(', ') || 'empty'}` });
    return z.NEVER;
  }
  return list;
}

/** Thrown at boot when the environment is wrong; lists every bad variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Reads, validates and completes the configuration. Throws ConfigError listing every problem. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const e = parsed.data;
  if ((e.ADMIN_EMAIL === undefined) !== (e.ADMIN_PASSWORD === undefined)) {
    throw new ConfigError('invalid configuration:\n  ADMIN_EMAIL and ADMIN_PASSWORD go together');
  }
  const dataDir = overrides.dataDir ?? e.DATA_DIR;
  const databaseUrl = overrides.databaseUrl ?? e.DATABASE_URL ?? path.join(dataDir, 'emporium.sqlite');
  return {
    port: e.PORT,
    host: e.HOST,
    databaseUrl,
    dataDir,
    redisUrl: e.REDIS_URL,
    jwtSecret: overrides.jwtSecret ?? e.JWT_SECRET ?? persistentSecret(dataDir),
    adminEmail: e.ADMIN_EMAIL,
    adminPassword: e.ADMIN_PASSWORD,
    corsOrigins: e.CORS_ORIGINS.split(',')
      .map((origin) => origin.trim())
      .filter(Boolean),
    cartTtlMs: e.CART_TTL_MS,
    paymentWindowMs: e.PAYMENT_WINDOW_MS,
    reservationGraceMs: e.RESERVATION_GRACE_MS,
    sweepIntervalMs: e.SWEEP_INTERVAL_MS,
    stockPushWindowMs: e.STOCK_PUSH_WINDOW_MS,
    catalogCacheMs: e.CATALOG_CACHE_MS,
    sqliteSynchronous: e.SQLITE_SYNCHRONOUS,
    sqliteCheckpointer: e.SQLITE_CHECKPOINTER,
    webDir: e.WEB_DIR,
    passivateAfterMs: e.PASSIVATE_AFTER_MS,
    paymentLatencyMs: e.PAYMENT_LATENCY_MS,
    maxMessageBytes: e.MAX_MESSAGE_BYTES,
    maxCommandsPerSecond: e.MAX_COMMANDS_PER_SECOND,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    seedDemoData: e.SEED_DEMO_DATA,
    smtpUrl: e.SMTP_URL,
    mailFrom: e.MAIL_FROM,
    storeUrl: e.STORE_URL,
    authAttemptsPerMinute: e.AUTH_ATTEMPTS_PER_MINUTE,
    guestTokensPerMinute: e.GUEST_TOKENS_PER_MINUTE,
    maxConnectionsPerIp: e.MAX_CONNECTIONS_PER_IP,
    maxConnectionsPerPrincipal: e.MAX_CONNECTIONS_PER_PRINCIPAL,
    maxCommandsPerPrincipalPerSecond: e.MAX_COMMANDS_PER_PRINCIPAL_PER_SECOND,
    maxCommandsPerIpPerSecond: e.MAX_COMMANDS_PER_IP_PER_SECOND,
    cartsPerMinute: e.CARTS_PER_MINUTE,
    maxOpenCarts: e.MAX_OPEN_CARTS,
    trustProxy: e.TRUST_PROXY,
    tokenTtlSeconds: { customer: e.CUSTOMER_TOKEN_TTL_SECONDS },
    groupCommit: e.GROUP_COMMIT,
    recommendationsDebounceMs: e.RECOMMENDATIONS_DEBOUNCE_MS,
    logLevel: e.LOG_LEVEL,
    nodeId: e.NODE_ID ?? `${process.env.HOSTNAME ?? 'node'}:${process.pid}`,
    otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT,
    otelServiceName: e.OTEL_SERVICE_NAME,
    metricsToken: e.METRICS_TOKEN,
    retentionIntervalMs: e.RETENTION_INTERVAL_MS,
    retentionBatch: e.RETENTION_BATCH,
    outboxRetentionMs: e.OUTBOX_RETENTION_MS,
    idempotencyRetentionMs: e.IDEMPOTENCY_RETENTION_MS,
    cartJournalRetentionMs: e.CART_JOURNAL_RETENTION_MS,
    ...overrides,
  };
}

export function isPostgresUrl(databaseUrl: string): boolean {
  return /^postgres(ql)?:\/\//.test(databaseUrl);
}

/** A secret generated once and kept beside the database, so tokens survive restarts. */
function persistentSecret(dataDir: string): string {
  const file = path.join(dataDir, 'jwt-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  try {
    writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    return secret;
  } catch (error) {
    // Another process wrote it first: theirs wins, so all agree.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(file, 'utf8').trim();
    throw error;
  }
}
