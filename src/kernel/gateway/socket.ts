// Socket.IO: namespaces, handshake auth, origin allowlist, message limits, and routing of pushes to topic rooms.
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Observable, Subscription } from 'rxjs';
import { Server } from 'socket.io';
import type { Config } from '../../config.ts';
import { AppError } from '../../domain/errors.ts';
import { isStaff } from '../../domain/identity.ts';
import { principalRoom, tokenRoom, type Identity } from '../../domain/identity.ts';
import type { Namespace, SocketContext } from '../module.ts';
import type { Push, PushEvent, PushOf } from './pushes.ts';
import type { AppNamespace, AppServer, AppSocket, ClientToServer, InterServer, SocketData } from './io-types.ts';
import { pushAudiences, type ServerToClient } from '../../protocol/index.ts';
import { bindCommands, InFlight, type CommandTable } from './commands.ts';
import type { ErrorLogger } from './errors.ts';
import type { ClusterLink } from './redis-adapter.ts';
import { clusterInterest, localInterest } from './interest.ts';
import { TokenBucket } from './rate-limit.ts';
import { textParser } from './text-parser.ts';
import { clientAddress, commandLimiter, KeyedBuckets, KeyedCounts, quietWarnings, trustFunction } from './limits.ts';

export interface SocketLogger extends ErrorLogger {
  warn(object: object, message: string): void;
  debug(object: object, message: string): void;
}

export interface SocketGatewayOptions {
  readonly httpServer: HttpServer;
  readonly config: Config;
  /** Each namespace's commands (see namespaceTable). */
  readonly tables: { readonly [N in Namespace]: CommandTable<SocketContext> };
  /** Verifies a handshake's token into the caller's identity; throws `UNAUTHORIZED` otherwise. */
  readonly authenticate: (token: unknown) => Promise<Identity>;
  readonly pushes$: Observable<Push>;
  readonly logger: SocketLogger;
  readonly accepting: () => boolean;
  /** The application's clock, for token expiry. @default Date.now */
  readonly clock?: () => number;
  /** Cluster mode: the Redis link between the nodes' Socket.IO servers. Unset: in-memory adapter, one node. */
  readonly clusterLink?: ClusterLink | undefined;
  /** Called with the limit's name each time an abuse limit refuses something (for `/metrics`). */
  readonly onLimit?: ((limit: string) => void) | undefined;
}

/** What shutdown's disconnect left undone; all zero when every client took its answers and left in time. */
export interface DisconnectReport {
  /** Sockets (one per namespace a client joined) told `io server disconnect`. */
  readonly sockets: number;
  /** Connections their clients had not closed when the grace ran out; the server closes them. */
  readonly connectionsCutOff: number;
  /** Packets (answers, pushes, the disconnect itself) still unsent on those connections. */
  readonly packetsUnsent: number;
}

export interface SocketGateway {
  readonly io: Server;
  /** Commands being handled right now. */
  readonly inFlight: InFlight;
  /**
   * Shutdown, after the commands in flight were answered: refuses new connections, tells every client of
   * this node `io server disconnect` (queued behind the answers it has not received yet), then waits —
   * at most `graceMs` — until each client has read up to it and closed its connection.
   */
  disconnectAll(graceMs: number): Promise<DisconnectReport>;
  /**
   * Tells every node's clients (in a cluster) to re-subscribe: a node that starts may be the new life of
   * one that died with pushes it could not publish. Alone on one node it does nothing (no client is connected yet).
   */
  announceStart(): void;
  /** Disconnects the sockets in any of `rooms`, on every node and in both namespaces. */
  disconnectRooms(rooms: readonly string[]): void;
  /** See `ClientControl.mayBeWatching`: false when no client of any node is in the topic's room (see interest.ts). */
  mayBeWatching(namespace: Namespace, topic: string): boolean;
  /** Stops pushes and closes the server, with any connection still open. */
  close(): Promise<void>;
}

/**
 * Origin check for browsers; non-browser clients send no Origin and rely on their token alone. A page this node
 * served itself (its Origin names the host the request came to: the storefront, the board, the inspector) is
 * always allowed, on whatever address it was opened; other origins must be in the allowlist.
 */
export function originAllowed(origin: string | undefined, allowlist: readonly string[], host?: string | undefined): boolean {
  if (origin === undefined || allowlist.includes('*') || allowlist.includes(origin)) return true;
  if (!host) return false;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

function handshakeError(error: AppError): Error {
  return Object.assign(new Error(error.message), { data: error.toBody() });
}

function authenticated(authenticate: (token: unknown) => Promise<Identity>, requireStaff: boolean) {
  return async (socket: AppSocket, next: (error?: Error) => void) => {
    try {
      const identity = await authenticate((socket.handshake.auth as { token?: unknown } | undefined)?.token);
      if (requireStaff && !isStaff(identity)) throw new AppError('FORBIDDEN', 'the warehouse is for staff only');
      socket.data.identity = identity;
      next();
    } catch (error) {
      next(handshakeError(error instanceof AppError ? error : new AppError('UNAUTHORIZED', 'authentication failed')));
    }
  };
}

/** Sends a push to its topics' rooms in `namespace`; its arguments are typed by its event through the protocol's map. */
/** Sends `push` to its topics' rooms: on every node, or (`local`) only to this node's clients, past Redis. */
function emitPush<E extends PushEvent>(namespace: AppNamespace, push: PushOf<E>, local: boolean): void {
  (local ? namespace.local : namespace).to([...push.topics]).emit(push.event, ...push.payload());
}

export function createSocketGateway(o: SocketGatewayOptions): SocketGateway {
  const { config } = o;
  // A flood of bad clients makes the same warning over and over: written once per ten seconds, with a count.
  const logger = quietWarnings(o.logger);
  let closing = false;
  const trust = trustFunction(config.trustProxy);
  const limitHit = (limit: string, detail: object) => {
    o.onLimit?.(limit);
    logger.warn({ limit, ...detail }, `abuse limit reached: ${limit}`);
  };
  // Connections per client address (engine connections, whatever namespaces they join) and sockets per principal.
  const perAddress = new KeyedCounts(config.maxConnectionsPerIp);
  const perPrincipal = new KeyedCounts(config.maxConnectionsPerPrincipal);
  const commandsPerPrincipal = new KeyedBuckets(config.maxCommandsPerPrincipalPerSecond);
  const commandsPerAddress = new KeyedBuckets(config.maxCommandsPerIpPerSecond);
  const io: AppServer = new Server<ClientToServer, ServerToClient, InterServer, SocketData>(o.httpServer, {
    serveClient: false,
    // Answers and pushes are JSON: encoded without searching each one for binary attachments.
    parser: textParser,
    maxHttpBufferSize: config.maxMessageBytes,
    // Behind a plain load balancer every node must accept any client: WebSocket only when clustered.
    transports: config.redisUrl ? ['websocket'] : ['polling', 'websocket'],
    cors: { origin: config.corsOrigins.includes('*') ? true : [...config.corsOrigins], credentials: true },
    // A node that is shutting down takes no new connections: the client retries (through the balancer, elsewhere).
    allowRequest: (request, callback) => {
      if (closing) return callback('shutting down', false);
      if (!originAllowed(request.headers.origin, config.corsOrigins, request.headers.host)) return callback('origin not allowed', false);
      const address = clientAddress(request, trust);
      if (!perAddress.allows(address)) {
        limitHit('connections_per_ip', { address, limit: config.maxConnectionsPerIp });
        return callback(`too many connections from this address (at most ${config.maxConnectionsPerIp})`, false);
      }
      callback(null, true);
    },
  });
  io.engine.on('connection', (connection: { request: IncomingMessage; once(event: 'close', listener: () => void): void }) => {
    connection.once('close', perAddress.hold(clientAddress(connection.request, trust)));
  });

  o.clusterLink?.attach(io);
  const interest = o.clusterLink ? clusterInterest(io, o.clusterLink, logger) : localInterest(io);

  // The default namespace serves nothing: refuse it so a mistyped URL fails loudly.
  io.use((_socket, next) => next(handshakeError(new AppError('NOT_FOUND', 'connect to /store or /warehouse'))));

  const inFlight = new InFlight();
  const mount = (namespace: AppNamespace, table: CommandTable<SocketContext>, requireStaff: boolean) => {
    namespace.use(authenticated(o.authenticate, requireStaff));
    namespace.use((socket, next) => {
      const { sub } = socket.data.identity;
      if (perPrincipal.allows(sub)) return next();
      limitHit('connections_per_principal', { principal: sub, limit: config.maxConnectionsPerPrincipal });
      next(
        handshakeError(
          new AppError('RATE_LIMITED', `too many open connections for this account (at most ${config.maxConnectionsPerPrincipal}); close some and retry`),
        ),
      );
    });
    namespace.on('connection', (socket) => {
      // Its handshake was under way when the node started closing: send it on at once.
      if (closing) {
        socket.disconnect();
        return;
      }
      // Rooms of the principal and of its token: logout, a password change or an account deletion disconnects them.
      const identity = socket.data.identity;
      socket.once('disconnect', perPrincipal.hold(identity.sub));
      void socket.join([principalRoom(identity.sub), ...(identity.tokenId ? [tokenRoom(identity.tokenId)] : [])]);
      // A socket lives no longer than its token: disconnected when the token expires (re-armed past setTimeout's range).
      if (identity.expiresAt !== undefined) {
        let timer: NodeJS.Timeout | undefined;
        const arm = () => {
          const left = identity.expiresAt! - (o.clock ?? Date.now)();
          if (left <= 0) {
            socket.disconnect(true);
            return;
          }
          timer = setTimeout(arm, Math.min(left, 2 ** 31 - 1));
          timer.unref();
        };
        arm();
        socket.once('disconnect', () => clearTimeout(timer));
      }
      bindCommands({
        socket,
        table,
        context: { identity: socket.data.identity, socket },
        limiter: commandLimiter(
          new TokenBucket(config.maxCommandsPerSecond),
          { buckets: commandsPerPrincipal, key: identity.sub },
          { buckets: commandsPerAddress, key: clientAddress(socket.request, trust) },
        ),
        onRefused: (reason) => limitHit(reason, { principal: identity.sub }),
        logger,
        accepting: o.accepting,
        inFlight,
      });
    });
  };

  const store = io.of('/store');
  const warehouse = io.of('/warehouse');
  mount(store, o.tables.store, false);
  mount(warehouse, o.tables.warehouse, true);

  const namespaces = { store, warehouse } as const;
  /** Access is checked at subscribe time; when an actor changes owner, the previous owner's sockets leave its room. */
  const dropNonOwners = async (namespace: AppNamespace, topics: readonly string[], owner: string) => {
    try {
      for (const socket of await namespace.in([...topics]).fetchSockets()) {
        if (socket.data.identity?.sub !== owner) for (const topic of topics) socket.leave(topic);
      }
    } catch (error) {
      logger.warn({ err: error, topics }, 'could not drop former owners from a topic');
    }
  };
  const subscription: Subscription = o.pushes$.subscribe({
    next: (push) => {
      for (const audience of pushAudiences[push.event]) {
        const namespace = namespaces[audience];
        // Nobody watching anywhere: nothing is built or encoded. Watched only here: not published through Redis.
        const watching = interest.audience(namespace, push.topics);
        if (!watching.local && !watching.remote) continue;
        emitPush(namespace, push, !watching.remote);
        if (push.onlyOwner) void dropNonOwners(namespace, push.topics, push.onlyOwner);
      }
    },
    error: (error: unknown) => logger.error({ err: error }, 'push stream failed'),
  });
  // Pushes from other nodes were lost while Redis was away: tell this node's clients to subscribe again.
  const resyncs = o.clusterLink?.reconnected$.subscribe(() => {
    for (const namespace of Object.values(namespaces)) namespace.local.emit('resync', { reason: 'cluster link restored' });
  });
  // This node dropped pushes while it could not publish: clients on every node may have missed them.
  const clusterResyncs = o.clusterLink?.publishRestored$.subscribe(() => {
    for (const namespace of Object.values(namespaces)) namespace.emit('resync', { reason: 'pushes from another node were lost' });
  });

  return {
    io,
    inFlight,
    disconnectAll: async (graceMs) => {
      closing = true;
      // Only this node's clients (a namespace-wide call would reach every node through the adapter). Not
      // `disconnect(true)`: closing the connection here would drop the answers still queued on it. The
      // DISCONNECT packet goes out behind them; the client, once it has read it, closes the connection.
      const connections = new Set<AppSocket['conn']>();
      let count = 0;
      for (const namespace of Object.values(namespaces)) {
        for (const socket of [...namespace.sockets.values()]) {
          connections.add(socket.conn);
          socket.disconnect();
          count++;
        }
      }
      const open = () => [...connections].filter((connection) => connection.readyState !== 'closed');
      const waiting = open();
      if (waiting.length > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.all(waiting.map((connection) => new Promise((resolve) => connection.once('close', resolve)))),
          new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, graceMs)))),
        ]);
        clearTimeout(timer);
      }
      const cutOff = open();
      const packetsUnsent = cutOff.reduce((sum, connection) => sum + ((connection as unknown as { writeBuffer?: unknown[] }).writeBuffer?.length ?? 0), 0);
      // Closed without discarding: whatever is still queued goes out first, if the client reads it at all.
      for (const connection of cutOff) connection.close();
      return { sockets: count, connectionsCutOff: cutOff.length, packetsUnsent };
    },
    mayBeWatching: (namespace, topic) => {
      const audience = interest.audience(namespaces[namespace], [topic]);
      return audience.local || audience.remote;
    },
    disconnectRooms: (rooms) => {
      if (rooms.length === 0) return;
      for (const namespace of Object.values(namespaces)) namespace.in([...rooms]).disconnectSockets(true);
    },
    announceStart: () => {
      if (!o.clusterLink) return;
      for (const namespace of Object.values(namespaces)) namespace.emit('resync', { reason: 'a node started' });
    },
    close: async () => {
      closing = true;
      subscription.unsubscribe();
      interest.close();
      resyncs?.unsubscribe();
      clusterResyncs?.unsubscribe();
      await new Promise<void>((resolve) => io.close(() => resolve()));
    },
  };
}
