// The Socket.IO types of this server, from the protocol's event maps: what clients send, what the server pushes.
import type { Namespace, Server, Socket } from 'socket.io';
import type { Identity } from '../../domain/identity.ts';
import type { InterestEvents } from './interest.ts';
import type { ServerToClient, StoreClientToServer, WarehouseClientToServer } from '../../protocol/index.ts';

/** Commands of either namespace. Each namespace's table holds its own, and commands are dispatched by name, not by listener. */
export type ClientToServer = StoreClientToServer & WarehouseClientToServer;

/** What the nodes tell each other through the Redis adapter besides broadcasts: which topics their clients watch. */
export type InterServer = InterestEvents;

/** What a connected socket carries: the identity its handshake proved. */
export interface SocketData {
  identity: Identity;
}

export type AppServer = Server<ClientToServer, ServerToClient, InterServer, SocketData>;
export type AppNamespace = Namespace<ClientToServer, ServerToClient, InterServer, SocketData>;
export type AppSocket = Socket<ClientToServer, ServerToClient, InterServer, SocketData>;
