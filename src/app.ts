// Composition root: builds every part from the Config, wires machines to the runtime and flows to services.
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { SpanExporter } from '@opentelemetry/sdk-trace-node';
import { pino, type DestinationStream, type Logger } from 'pino';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { merge } from 'rxjs';
import { EffectRunner } from './kernel/actors/effects.ts';
import { ActorRuntime } from './kernel/actors/runtime.ts';
import type { Config } from './config.ts';
import type { Clock } from './domain/identity.ts';
import { KnexActorWriter, SqliteActorWriter } from './kernel/db/actor-writer.ts';
import { ActorRepo } from './kernel/db/actor.repo.ts';
import { migrateLatest, openDb, type Db } from './kernel/db/db.ts';
import { OutboxRepo } from './kernel/db/outbox.repo.ts';
import { RetentionRepo } from './kernel/db/retention.repo.ts';
import type { SqliteFaults } from './kernel/db/sqlite-faults.ts';
import { clientErrorHandler, frameworkErrorHandler, registerHttpRoutes } from './kernel/gateway/http.ts';
import { namespaceTable } from './kernel/gateway/namespaces.ts';
import { redisClusterLink } from './kernel/gateway/redis-adapter.ts';
import { createSocketGateway, type SocketGateway } from './kernel/gateway/socket.ts';
import { LocalAttempts, RedisAttempts, trustFunction } from './kernel/gateway/limits.ts';
import { migrationsOf, type AnyModule, type ClientControl, type DomainEventWriter, type ModuleContext, type ModulePart } from './kernel/module.ts';
import type { FlowDefinition } from './kernel/outbox/flows.ts';
import { OutboxRelay } from './kernel/outbox/relay.ts';
import { RetentionJob } from './kernel/retention.ts';
import { traceRequests } from './kernel/gateway/http-tracing.ts';
import { countLimitHit, registerGatewayMetrics } from './kernel/metrics.ts';
import { currentTraceparent, startTracing, traceLogFields, type Tracing } from './kernel/tracing.ts';
import { SagaAnomalies, SagaSteps } from './kernel/outbox/saga-steps.ts';
import type { ActorKinds, AppRuntime, Services } from './kernel/registry.ts';
import { defaultModules } from './modules/index.ts';
import type { PaymentProvider } from './modules/order/index.ts';

export interface App {
  readonly config: Config;
  readonly logger: Logger;
  readonly db: Db;
  readonly runtime: AppRuntime;
  readonly services: Services;
  readonly relay: OutboxRelay;
  /** Deletes what the store no longer needs as it ages (docs/OPERATIONS.md "Retention"); `runOnce()` runs a pass now. */
  readonly retention: RetentionJob;
  /** Saga steps refused by actors that had not taken them: each is a bug; tests check there are none. */
  readonly anomalies: SagaAnomalies;
  /** Migrates, seeds, recovers what a crash left, then listens. */
  start(): Promise<{ readonly port: number; readonly url: string }>;
  /** Stops taking commands, finishes those in flight, flushes the outbox, closes connections and the database. */
  stop(): Promise<void>;
  /**
   * One pass of every periodic duty: deadlines, stalled checkouts and payments, orphan reservations, passivation,
   * and the outbox: drained (resolves once every flow delivered what it could), or with `{ outbox: 'nudge' }`, as
   * the periodic sweep does, only asked (flows kept busy by steady traffic never hold the sweep up).
   */
  sweep(options?: { readonly outbox?: 'drain' | 'nudge' }): Promise<void>;
}

export interface AppOptions {
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** The modules to run, in creation order. @default defaultModules({ payments }) */
  readonly modules?: readonly AnyModule[];
  /** The payment provider of the default order module (tests use a failing one). */
  readonly payments?: PaymentProvider;
  /** More flows to run beside the built-in sagas (projections, notifications; tests add failing ones). */
  readonly flows?: readonly FlowDefinition[];
  /** Where the app's own logger writes (ignored with `logger`). @default stdout */
  readonly logStream?: DestinationStream;
  /** Export spans here instead of OTLP (tests: an `InMemorySpanExporter`); starts tracing even without `otlpEndpoint`. */
  readonly traceExporter?: SpanExporter;
  /** Tests: SQLite errors to inject into the database connection (disk full, I/O error, busy). */
  readonly sqliteFaults?: SqliteFaults;
}

/**
 * Builds the whole application from `config`. Nothing listens or touches the
 * network until `start()`.
 *
 * @example
 * const app = createApp(loadConfig());
 * const { url } = await app.start();
 */
export function createApp(config: Config, options: AppOptions = {}): App {
  const clock = options.clock ?? Date.now;
  // Every line written inside a span carries its trace_id and span_id (tracing.ts).
  const logger = options.logger ?? pino({ level: config.logLevel, base: { node: config.nodeId }, mixin: traceLogFields }, options.logStream);
  const modules = options.modules ?? defaultModules({ payments: options.payments });
  const db = openDb(config.databaseUrl, migrationsOf(modules), {
    sqliteFaults: options.sqliteFaults,
    sqlite: {
      synchronous: config.sqliteSynchronous,
      checkpointer: config.sqliteCheckpointer,
      onCheckpointError: (message) => logger.warn({ err: message }, 'background WAL checkpoint failed; the connection checkpoints itself past its bound'),
    },
  });
  const actorRepo = new ActorRepo(db.knex);
  const outboxRepo = new OutboxRepo(db.knex, db.transaction);

  let relay: OutboxRelay | undefined;
  const kinds = kindsOf(modules);
  const runtime: AppRuntime = new ActorRuntime<ActorKinds>({
    repo: actorRepo,
    writer: db.dialect === 'sqlite' ? new SqliteActorWriter(db.knex) : new KnexActorWriter(actorRepo, db.transaction, db.knex, logger),
    groupCommit: config.groupCommit,
    kinds,
    clock,
    logger,
    onOutboxWritten: () => relay?.nudge(),
    // On PostgreSQL other nodes may write the same actors.
    sharedDatabase: db.dialect === 'postgres',
  });

  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  const anomalies = new SagaAnomalies(logger);
  const steps = new SagaSteps(runtime, anomalies);
  // Filled module by module: each finds the services of the modules before it at creation, and every one later.
  const services = {} as Services;
  // Sockets exist once the app starts; a disconnect asked for before (nobody can be connected then) does nothing.
  const clients: ClientControl = {
    disconnect: (rooms) => sockets?.disconnectRooms(rooms),
    mayBeWatching: (namespace, topic) => sockets?.mayBeWatching(namespace, topic) ?? true,
  };
  const eraseCustomer = async (customerId: string) => {
    for (const { part } of parts) await part.erasure?.check?.(customerId);
    for (const { part } of parts) await part.erasure?.erase(customerId);
  };
  // Domain events written beside a module's own rows (not by an actor): same outbox, same relay.
  const domainEvents: DomainEventWriter = {
    append: (trx, events) =>
      actorRepo.appendOutbox(
        trx,
        events.map((event) => ({
          actorId: event.actorId,
          kind: event.kind,
          type: event.payload.type,
          payload: event.payload,
          createdAt: clock(),
          traceparent: currentTraceparent(),
        })),
      ),
    committed: () => relay?.nudge(),
  };
  const context: ModuleContext = { config, clock, logger, db, runtime, actors: actorRepo, steps, metrics, domainEvents, services, clients, eraseCustomer };
  const parts: Array<{ readonly module: string; readonly part: ModulePart }> = [];
  for (const module of modules) {
    const part: ModulePart = module.create(context);
    Object.assign(services, part.services);
    parts.push({ module: module.name, part });
  }
  const authenticators = parts.filter(({ part }) => part.authenticate);
  if (authenticators.length !== 1) throw new Error(`exactly one module must authenticate clients; found ${authenticators.length}`);
  const authenticate = authenticators[0]!.part.authenticate!;

  const parkedDeliveries = new Counter({
    name: 'emporium_outbox_parked_total',
    help: 'Flow deliveries parked after failing too often (npm run outbox lists and requeues them), by flow',
    labelNames: ['flow'],
    registers: [metrics],
  });
  const effectsResumed = new Counter({
    name: 'emporium_effects_resumed_total',
    help: 'Stalled effects (a checkout reservation, a charge) resumed by the sweep, by effect and outcome (finished, refused, failed and retried)',
    labelNames: ['effect', 'outcome'],
    registers: [metrics],
  });
  const effects = new EffectRunner({
    runtime,
    actors: actorRepo,
    kinds,
    services,
    clock,
    logger,
    onResumed: (effect, outcome) => effectsResumed.inc({ effect, outcome }),
  });

  const flows: FlowDefinition[] = [...parts.flatMap(({ part }) => part.flows ?? []), ...(options.flows ?? [])];
  relay = new OutboxRelay({
    outbox: outboxRepo,
    flows,
    clock,
    logger,
    onParked: (flow) => parkedDeliveries.inc({ flow }),
  });

  // Retention: on its own slow timer (not in the 1 s sweep), in small transactions; stopped before the database closes.
  const retention = new RetentionJob({
    repo: new RetentionRepo({ knex: db.knex, dialect: db.dialect, transaction: db.transaction }),
    clock,
    logger: logger.child({ part: 'retention' }),
    intervalMs: config.retentionIntervalMs,
    batchSize: config.retentionBatch,
    outboxOlderThanMs: config.outboxRetentionMs,
    idempotencyOlderThanMs: config.idempotencyRetentionMs,
    journals: parts.flatMap(({ part }) => part.journalRetention ?? []),
    machineOf: (kind) => runtime.kindDefinition(kind)?.machine,
    metrics,
  });

  const commits = new Counter({ name: 'emporium_actor_commits_total', help: 'Accepted actor events', labelNames: ['kind'], registers: [metrics] });
  new Gauge({
    name: 'emporium_live_actors',
    help: 'Actors in memory',
    registers: [metrics],
    collect() {
      this.set(runtime.liveCount);
    },
  });
  new Gauge({
    name: 'emporium_live_actors_by_kind',
    help: 'Actors in memory, by kind',
    labelNames: ['kind'],
    registers: [metrics],
    collect() {
      this.reset();
      for (const kind of runtime.kindNames()) this.set({ kind }, 0);
      for (const [kind, count] of runtime.liveCountByKind()) this.set({ kind }, count);
    },
  });
  new Gauge({
    name: 'emporium_actor_cas_conflicts',
    help: 'Compare-and-sets lost to another writer since start (each retried)',
    registers: [metrics],
    collect() {
      this.set(runtime.conflicts);
    },
  });
  new Gauge({
    name: 'emporium_outbox_pending',
    help: 'Domain events some flow has not yet settled',
    registers: [metrics],
    async collect() {
      this.set(await outboxRepo.pendingCount());
    },
  });
  new Gauge({
    name: 'emporium_outbox_deliveries',
    help: 'Flow deliveries waiting (pending) or given up on (parked), by flow',
    labelNames: ['flow', 'state'],
    registers: [metrics],
    async collect() {
      this.reset();
      for (const { flow, state, count } of await outboxRepo.countsByFlow()) this.set({ flow, state }, count);
    },
  });
  new Gauge({
    name: 'emporium_saga_anomalies',
    help: 'Saga steps an actor refused although it had not taken them (broken invariants; should stay 0), by step',
    labelNames: ['step'],
    registers: [metrics],
    collect() {
      for (const [step, count] of anomalies.byStep()) this.set({ step }, count);
    },
  });
  new Gauge({
    name: 'emporium_outbox_lag_seconds',
    help: 'Age of the oldest domain event some flow has not yet settled (0 when none is pending)',
    registers: [metrics],
    async collect() {
      const oldest = await outboxRepo.oldestPendingCreatedAt();
      this.set(oldest === null ? 0 : Math.max(0, clock() - oldest) / 1000);
    },
  });
  new Gauge({
    name: 'emporium_deadline_lag_seconds',
    help: 'How long ago the oldest actor deadline still undelivered fell due (0 when none is overdue)',
    registers: [metrics],
    async collect() {
      const now = clock();
      const oldest = await actorRepo.oldestDueDeadline(now);
      this.set(oldest === null ? 0 : Math.max(0, now - oldest) / 1000);
    },
  });
  new Gauge({
    name: 'emporium_sockets',
    help: 'Socket.IO connections open on this node, by namespace',
    labelNames: ['namespace'],
    registers: [metrics],
    collect() {
      for (const namespace of ['/store', '/warehouse']) this.set({ namespace }, sockets?.io.of(namespace).sockets.size ?? 0);
    },
  });
  // Commands by name and outcome with their latency, and limits hit: counted by the gateway (metrics.ts).
  registerGatewayMetrics(metrics);
  runtime.changes$.subscribe((change) => commits.inc({ kind: change.kind }));

  // Local or cluster: the only difference is the Socket.IO adapter behind this link (and the database URL).
  const clusterLink = config.redisUrl ? redisClusterLink(config.redisUrl, logger.child({ part: 'redis' })) : undefined;
  if (clusterLink) {
    new Gauge({
      name: 'emporium_redis_up',
      help: '1 while the Redis link is up',
      registers: [metrics],
      collect() {
        this.set(clusterLink.healthy() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'emporium_redis_dropped_publishes',
      help: 'Pushes not sent to other nodes because Redis was away',
      registers: [metrics],
      collect() {
        this.set(clusterLink.droppedPublishes());
      },
    });
  }

  // Requests are not logged one by one (metrics count them); warnings and errors are.
  const http: FastifyInstance = Fastify({
    // The client's address (throttles, logs) behind a load balancer: which proxies' X-Forwarded-For to believe.
    trustProxy: trustFunction(config.trustProxy),
    loggerInstance: logger.child({ part: 'http' }, { level: 'warn' }) as FastifyBaseLogger,
    bodyLimit: config.maxMessageBytes,
    // Router and HTTP-parser refusals get the protocol's error envelope too (http.ts).
    frameworkErrors: frameworkErrorHandler(config.corsOrigins),
    clientErrorHandler,
  });
  traceRequests(http);
  let sockets: SocketGateway | undefined;
  let tracing: Tracing | undefined;
  let ready = false;
  let accepting = false;
  let sweepTimer: NodeJS.Timeout | undefined;
  let sweeping: Promise<void> | undefined;

  registerHttpRoutes(http, {
    authenticate,
    routes: parts.flatMap(({ part }) => (part.routes ? [part.routes] : [])),
    corsOrigins: config.corsOrigins,
    authAttemptsPerMinute: config.authAttemptsPerMinute,
    guestTokensPerMinute: config.guestTokensPerMinute,
    // Password attempts count on every node together when clustered (Redis), else on this one.
    attempts: clusterLink ? new RedisAttempts(clusterLink.redis, new LocalAttempts()) : new LocalAttempts(),
    logger,
    isReady: () => ready,
    metrics: async () => ({ contentType: metrics.contentType, body: await metrics.metrics() }),
    metricsToken: config.metricsToken,
    onLimit: countLimitHit,
  });

  /** Each duty on its own: one failing (a provider down, say) must not stop the others, nor start-up. */
  async function sweep(options: { readonly outbox?: 'drain' | 'nudge' } = {}): Promise<void> {
    const duties: ReadonlyArray<[string, () => Promise<unknown>]> = [
      ['deadlines', () => runtime.sweepDeadlines()],
      ['stalled effects', () => effects.resumeStalled()],
      ...parts.flatMap(({ module, part }) =>
        Object.entries(part.sweeps ?? {}).map(([name, run]): [string, () => Promise<unknown>] => [`${module}: ${name}`, run]),
      ),
      ['outbox', async () => (options.outbox === 'nudge' ? relay!.nudgeAll() : relay!.drain())],
    ];
    for (const [duty, run] of duties) {
      try {
        await run();
      } catch (error) {
        logger.error({ err: error, duty }, 'sweep duty failed; will retry on the next sweep');
      }
    }
    runtime.passivate(config.passivateAfterMs);
  }

  const app: App = {
    config,
    logger,
    db,
    runtime,
    services,
    relay,
    retention,
    anomalies,
    sweep,
    async start() {
      // Only with an OTLP endpoint (or a test's exporter); otherwise spans stay no-ops.
      tracing = startTracing({ endpoint: config.otlpEndpoint, exporter: options.traceExporter, serviceName: config.otelServiceName, nodeId: config.nodeId });
      const applied = await migrateLatest(db);
      if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');
      for (const { part } of parts) await part.start?.();
      // Pushes flow before recovery runs: what recovery changes reaches the clients of other nodes (and ours once they connect).
      sockets = createSocketGateway({
        httpServer: http.server,
        config,
        tables: { store: namespaceTable('store', parts), warehouse: namespaceTable('warehouse', parts) },
        authenticate,
        pushes$: merge(...parts.flatMap(({ part }) => (part.pushes ? [part.pushes] : []))),
        logger: logger.child({ part: 'socket' }),
        accepting: () => accepting,
        clock,
        clusterLink,
        onLimit: countLimitHit,
      });
      // What a crash left behind: undelivered domain events first, then due deadlines and half-done sagas.
      // On SQLite this process is the only writer, so claims still held are its own from before the crash.
      if (db.dialect === 'sqlite') await outboxRepo.releaseAllClaims();
      await relay!.drain();
      await sweep();

      await http.listen({ port: config.port, host: config.host });
      accepting = true;
      ready = true;
      // This node's previous life may have dropped pushes it could not publish before it died: every node's clients re-subscribe.
      sockets.announceStart();
      sweepTimer = setInterval(() => {
        if (sweeping) return;
        sweeping = sweep({ outbox: 'nudge' })
          .catch((error: unknown) => logger.error({ err: error }, 'sweep failed'))
          .finally(() => {
            sweeping = undefined;
          });
      }, config.sweepIntervalMs);
      sweepTimer.unref();
      retention.start();
      const { port } = http.server.address() as AddressInfo;
      const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
      logger.info({ port, url, database: db.dialect }, 'emporium listening');
      return { port, url };
    },
    async stop() {
      ready = false;
      accepting = false;
      if (sweepTimer) clearInterval(sweepTimer);
      const answersLostBefore = sockets?.inFlight.answersLost ?? 0;
      if (sockets) {
        // New commands are refused (UNAVAILABLE) from here; those already running finish and are answered.
        // Then each client is told `io server disconnect`, queued behind its answers, and closes its
        // connection once it has read them. Both waits are bounded by the grace; what is left is counted.
        const unfinished = await sockets.inFlight.settle(config.shutdownGraceMs);
        const report = await sockets.disconnectAll(config.shutdownGraceMs);
        const summary = {
          commandsUnfinished: unfinished,
          socketsDisconnected: report.sockets,
          connectionsCutOff: report.connectionsCutOff,
          packetsUnsent: report.packetsUnsent,
        };
        if (unfinished > 0 || report.connectionsCutOff > 0) {
          logger.warn(
            { ...summary, graceMs: config.shutdownGraceMs },
            'shutdown grace ran out: commands still running lose their answers, connections still open are closed',
          );
        } else {
          logger.info(summary, 'every command answered and every client disconnected');
        }
      }
      // Each wait below is bounded too: a database that went away during shutdown must not keep the node up.
      const settled = async (what: string, work: Promise<unknown> | undefined) => {
        let timer: NodeJS.Timeout | undefined;
        const outcome = await Promise.race([
          Promise.resolve(work).then(
            () => 'done' as const,
            (error: unknown) => error,
          ),
          new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), config.shutdownGraceMs))),
        ]);
        clearTimeout(timer);
        if (outcome === 'timeout') logger.warn({ step: what, graceMs: config.shutdownGraceMs }, 'shutdown step ran out of time; going on');
        else if (outcome !== 'done') logger.warn({ err: outcome, step: what }, 'shutdown step failed; going on');
      };
      await settled('sweep', sweeping);
      // A retention pass ends after the batch under way: none may run against the closing database.
      await settled('retention', retention.stop());
      await settled('actor commands', runtime.drain());
      await settled('outbox', relay!.drain());
      // Stopped whatever the drain did: no later nudge may run against the closing database.
      await settled('outbox stop', relay!.stop());
      for (const { module, part } of parts) if (part.stop) await settled(`${module} stop`, part.stop());
      if (sockets) await sockets.close();
      await http.close().catch(() => undefined);
      await clusterLink?.close();
      await settled('database', db.close());
      // The spans still buffered go out before the process may exit.
      await settled('tracing', tracing?.shutdown());
      logger.info({ answersLost: (sockets?.inFlight.answersLost ?? 0) - answersLostBefore }, 'emporium stopped');
    },
  };
  return app;
}

/** The runtime's kind registry: every module's kinds, each kind named once. */
function kindsOf(modules: readonly AnyModule[]): ConstructorParameters<typeof ActorRuntime<ActorKinds>>[0]['kinds'] {
  const kinds: Record<string, unknown> = {};
  for (const module of modules) {
    for (const [kind, definition] of Object.entries(module.kinds ?? {})) {
      if (Object.hasOwn(kinds, kind)) throw new Error(`actor kind ${kind} is registered twice (again by ${module.name})`);
      kinds[kind] = definition;
    }
  }
  return kinds as ConstructorParameters<typeof ActorRuntime<ActorKinds>>[0]['kinds'];
}
