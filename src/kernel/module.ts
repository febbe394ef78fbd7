// What a module is: one domain's kinds, migrations, services, commands, topics, pushes, flows, sweeps and routes,
// in one definition. The composition root (src/app.ts) creates the modules in order and wires their parts.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Observable } from 'rxjs';
import type { z } from 'zod';
import type { Config } from '../config.ts';
import type { Clock, Identity } from '../domain/identity.ts';
import type { StoreResults, WarehouseResults, storeCommands, warehouseCommands } from '../protocol/index.ts';
import type { ActorKindDefinition } from './actors/kinds.ts';
import type { ActorRepo } from './db/actor.repo.ts';
import type { Db } from './db/db.ts';
import type { ProtocolTable } from './gateway/commands.ts';
import type { AppSocket } from './gateway/io-types.ts';
import type { Push } from './gateway/pushes.ts';
import type { TopicTable } from './gateway/topics.ts';
import type { FlowDefinition } from './outbox/flows.ts';
import type { SagaSteps } from './outbox/saga-steps.ts';
import type { ActorKinds, AppRuntime, DomainEventPayload, Services } from './registry.ts';
import type { JournalRetention } from './retention.ts';
import { kernelMigrations } from './db/migrations/index.ts';

/** A schema migration: a stable, unique name (knex records it once applied) and its steps. */
export interface Migration {
  readonly name: string;
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/** Who sends a socket command: the verified caller and its socket. */
export interface SocketContext {
  readonly identity: Identity;
  readonly socket: AppSocket;
}

/** Every `/store` command of the protocol with its handler; modules each provide a part (`Partial<…>`). */
export type StoreCommandTable = ProtocolTable<SocketContext, typeof storeCommands, StoreResults>;
/** Every `/warehouse` command of the protocol with its handler; modules each provide a part. */
export type WarehouseCommandTable = ProtocolTable<SocketContext, typeof warehouseCommands, WarehouseResults>;
/** The commands the gateway itself serves in every namespace (topics). */
export type GatewayCommand = 'subscribe' | 'unsubscribe';

export interface NamespaceTables {
  readonly store: StoreCommandTable;
  readonly warehouse: WarehouseCommandTable;
}
export type Namespace = keyof NamespaceTables;

/** Route options that throttle a route (a `preHandler` answering 429 `RATE_LIMITED` with `Retry-After`). */
export interface RouteThrottle {
  readonly preHandler: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
}

/** What a module's REST routes get besides the Fastify instance. */
export interface RouteHelpers {
  /** Validates `input` with `schema`; a failure becomes a `VALIDATION` answer. */
  parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S>;
  /** The caller named by an `Authorization: Bearer` header, if any; a malformed or bad token is `UNAUTHORIZED`. */
  bearer(request: FastifyRequest): Promise<Identity | undefined>;
  /** Route options for endpoints that take a password: one throttle per client address over all of them. */
  readonly authAttempts: RouteThrottle;
  /** Route options for handing out guest tokens: throttled per client address. */
  readonly guestTokens: RouteThrottle;
}

/** What the kernel hands each module when the application is built. */
export interface ModuleContext {
  readonly config: Config;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly db: Db;
  readonly runtime: AppRuntime;
  /** Actor rows, for listings by owner and state (the runtime is for one actor by id). */
  readonly actors: ActorRepo;
  /** Sends saga steps to actors exactly once in effect; a refusal that is not expected is an anomaly. */
  readonly steps: SagaSteps;
  /** The `/metrics` registry: a module registers its own counters and gauges on it. */
  readonly metrics: Registry;
  /** Domain events of a change that is not an actor's (an account opened), written in that change's own transaction. */
  readonly domainEvents: DomainEventWriter;
  /** The connected clients, on every node: a module may disconnect a principal's or a token's sockets (logout). */
  readonly clients: ClientControl;
  /**
   * Erases a customer's personal data from every module (`ModulePart.erasure`): first every module may refuse
   * (an order still on its way), then each erases what it holds. Used by account deletion.
   */
  readonly eraseCustomer: (customerId: string) => Promise<void>;
  /**
   * Every module's services. Modules are created in order, so a module finds those before it here at once;
   * read the others when they are used (in a handler or a flow), not at creation.
   */
  readonly services: Services;
}

/** A domain event that no actor emitted: delivered to the flows like an actor's (`customer.registered`). */
export interface NewDomainEvent {
  /** Whose event it is (an account's id): each flow sees one id's events in commit order, as it does an actor's. */
  readonly actorId: string;
  /** What the id names, as an actor kind would (`customer`). */
  readonly kind: string;
  readonly payload: DomainEventPayload;
}

/** Appends domain events to the outbox beside a module's own rows. */
export interface DomainEventWriter {
  /** Writes `events` in `trx`: they exist exactly when the change they describe was committed. */
  append(trx: Knex.Transaction, events: readonly NewDomainEvent[]): Promise<void>;
  /** Called after the commit: the relay delivers now rather than at the next sweep. */
  committed(): void;
}

/** Control over the connected clients, cluster-wide (through the Socket.IO adapter). */
export interface ClientControl {
  /** Disconnects, on every node and in every namespace, the sockets in any of `rooms` (`principalRoom`, `tokenRoom`). */
  disconnect(rooms: readonly string[]): void;
  /**
   * False only when no client anywhere can be following `topic` in `namespace` (one node, nobody in its room): a
   * push nobody would receive need not be computed. True in a cluster (another node's clients may follow it) and
   * before the gateway starts. A subscribe joins the topic before it reads the view, so skipping work while this
   * is false never leaves a new subscriber behind.
   */
  mayBeWatching(namespace: Namespace, topic: string): boolean;
}

/** What a module adds to the running application; every part is optional. */
export interface ModulePart {
  /** Merged into `Services`, for the other modules, the composition root and the tests. */
  readonly services?: Partial<Services>;
  /** Socket commands per namespace, each typed by the protocol. A command served by two modules is an error. */
  readonly commands?: { readonly [N in Namespace]?: Partial<NamespaceTables[N]> };
  /** Topics its clients may follow, per namespace. */
  readonly topics?: { readonly [N in Namespace]?: TopicTable };
  /** What its changes push to the clients watching them. */
  readonly pushes?: Observable<Push>;
  /** Flows over the outbox: sagas (`critical`), projections and notifications (`best-effort`). */
  readonly flows?: readonly FlowDefinition[];
  /** Periodic duties (recovery of stalled effects, clean-ups), by name; each runs on its own, a failure is logged and retried. */
  readonly sweeps?: Readonly<Record<string, () => Promise<unknown>>>;
  /**
   * Journals of its actors that retention may delete once they rest in a final state long enough (the snapshot
   * stays): only for kinds whose history is kept elsewhere (src/kernel/retention.ts).
   */
  readonly journalRetention?: readonly JournalRetention[];
  /** REST routes, registered under the gateway's error envelope, CORS and rate limiting. */
  readonly routes?: (routes: FastifyInstance, helpers: RouteHelpers) => void;
  /** Verifies a client's token into an identity (one module, identity, provides it). */
  readonly authenticate?: (token: unknown) => Promise<Identity>;
  /** Runs at start, after the migrations and before recovery (demo data, a configured admin account). */
  readonly start?: () => Promise<void>;
  /** Runs at shutdown, after the outbox relay stopped and before the database closes (work of its own to finish, timers). */
  readonly stop?: () => Promise<void>;
  /** How the module forgets a customer (account deletion): `check` may refuse with an `AppError`; `erase` must be idempotent. */
  readonly erasure?: {
    readonly check?: (customerId: string) => Promise<void>;
    readonly erase: (customerId: string) => Promise<void>;
  };
}

/** Any module, whatever its parts. */
export type AnyModule = ModuleDefinition<ModulePart>;

/** A domain module: its static parts (kinds, migrations) and how to create the rest. */
export interface ModuleDefinition<P extends ModulePart = ModulePart> {
  /** Unique; names the module in logs and errors. */
  readonly name: string;
  /** Its actor kinds, registered with the runtime; each must also be declared in `ActorKinds`. */
  readonly kinds?: { readonly [K in keyof ActorKinds]?: ActorKindDefinition<ActorKinds[K]> };
  /** Its schema migrations, applied after the kernel's and those of the modules before it. */
  readonly migrations?: readonly Migration[];
  readonly create: (context: ModuleContext) => P;
}

/**
 * Declares a module, keeping the exact type of what `create` returns so the
 * composition can check that every protocol command has a handler.
 *
 * @example
 * export const shipmentModule = defineModule({
 *   name: 'shipment',
 *   kinds: { shipment: shipmentKind },
 *   create: (ctx) => ({ services: { shipments: new ShipmentService(ctx) }, commands: { store: { ... } satisfies Partial<StoreCommandTable> } }),
 * });
 */
export function defineModule<const P extends ModulePart>(definition: ModuleDefinition<P>): ModuleDefinition<P> {
  return definition;
}

type CommandsIn<P, N extends Namespace> = P extends { readonly commands: { readonly [K in N]: infer T } } ? keyof T : never;
type ProvidedBy<Modules extends readonly AnyModule[], N extends Namespace> = {
  [I in keyof Modules]: Modules[I] extends ModuleDefinition<infer P> ? CommandsIn<P, N> : never;
}[number];
/** The protocol commands of namespace `N` that none of `Modules` (nor the gateway) handles. */
export type MissingCommands<Modules extends readonly AnyModule[], N extends Namespace> = Exclude<
  keyof NamespaceTables[N],
  ProvidedBy<Modules, N> | GatewayCommand
>;
/**
 * `true` when `Modules` handle every command of the protocol; otherwise the missing ones, so
 * `const covered: CoversProtocol<typeof modules> = true` fails to compile and names them.
 */
export type CoversProtocol<Modules extends readonly AnyModule[]> = [MissingCommands<Modules, 'store'> | MissingCommands<Modules, 'warehouse'>] extends [never]
  ? true
  : { readonly missing: MissingCommands<Modules, 'store'> | MissingCommands<Modules, 'warehouse'> };

/** Every migration of the application, in order: the kernel's, then each module's in module order. */
export function migrationsOf(modules: readonly AnyModule[]): Migration[] {
  return [...kernelMigrations, ...modules.flatMap((module) => module.migrations ?? [])];
}
