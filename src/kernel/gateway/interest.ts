// Which topics anyone watches, on this node or any other: a push nobody watches is neither built nor sent, and a
// push only this node's clients watch is not published through Redis.
import { randomUUID } from 'node:crypto';
import type { ClusterLink } from './redis-adapter.ts';
import type { AppNamespace, AppServer, AppSocket } from './io-types.ts';

/** Where a push may have to go. */
export interface Audience {
  /** A client of this node is in one of the rooms. */
  readonly local: boolean;
  /** A client of another node may be in one of the rooms (always true while the cluster's view is uncertain). */
  readonly remote: boolean;
}

export interface Interest {
  /** Who may be watching any of `rooms` of `namespace`. */
  audience(namespace: AppNamespace, rooms: readonly string[]): Audience;
  /**
   * Called once a socket has joined `room` and before its current view is read: in a cluster, resolves when every
   * other node knows this node watches it (so a change another node commits after the read is published to it,
   * and one committed before is in the read). Immediate when this node already watched it.
   */
  watch(namespace: AppNamespace, room: string): Promise<void>;
  close(): void;
}

/** What the nodes tell each other (the Socket.IO server's inter-server events). */
export interface InterestEvents {
  /** `node` watches `key` now; answered once recorded. */
  'interest:add': (message: { node: string; key: string }, ack: (recorded: true) => void) => void;
  /** `node` no longer watches `key`. */
  'interest:drop': (message: { node: string; key: string }) => void;
  /** Everything `node` watches (its earlier word is replaced): after its link to the others was interrupted. */
  'interest:state': (message: { node: string; keys: string[] }, ack: (recorded: true) => void) => void;
  /** `node` leaves: it watches nothing any more. */
  'interest:bye': (message: { node: string }) => void;
  /** Asks every node for what it watches. */
  'interest:snapshot': (ack: (state: { node: string; keys: string[] }) => void) => void;
}

const registry = new WeakMap<object, Interest>();

/**
 * How long a subscribe waits for the other nodes to acknowledge a topic it watches anew, and a node for their
 * answers to "what do you watch". A stalled link can hold a request forever: past this, the subscribe goes on (the
 * topic is told again until it is acknowledged) and the question is asked again.
 */
const ANSWER_TIMEOUT_MS = 1500;
/** How often a node checks for duties that wait for a healthy link (learning, telling again). */
const TICK_MS = 500;

/** `promise`, or `fallback` once `ms` have passed. */
function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
    timer.unref();
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Marks `room` watched by `socket`'s node, the cluster told first (see `Interest.watch`); nothing to do without one. */
export function watchRoom(socket: AppSocket, room: string): Promise<void> {
  return registry.get(socket.nsp.server)?.watch(socket.nsp, room) ?? Promise.resolve();
}

const keyOf = (namespace: AppNamespace, room: string) => `${namespace.name}\n${room}`;
const localOf = (namespace: AppNamespace, rooms: readonly string[]) => rooms.some((room) => namespace.adapter.rooms.has(room));

/** One node, no cluster: only this node's rooms count. */
export function localInterest(io: AppServer): Interest {
  const interest: Interest = {
    audience: (namespace, rooms) => ({ local: localOf(namespace, rooms), remote: false }),
    watch: () => Promise.resolve(),
    close: () => registry.delete(io),
  };
  registry.set(io, interest);
  return interest;
}

export interface InterestLogger {
  warn(object: object, message: string): void;
}

/**
 * A cluster: every node keeps the set of topics the other nodes' clients subscribed to, told through the Redis
 * adapter's inter-server events.
 *
 * - A subscribe on a topic new to its node asks every other node to record it (`interest:add`) and waits for their
 *   acknowledgements before its view is read (`watch`), at most `ANSWER_TIMEOUT_MS`. One not acknowledged in time
 *   (a stalled node, a broken link) is told again every `TICK_MS` until it is; then the topic's subscribers here
 *   subscribe again (`resync`), since a change may have slipped past while it was not known.
 * - Until this node has learned what every other node watches (`interest:snapshot`), and whenever its link to
 *   Redis is not healthy or was interrupted since it last learned, it treats every topic as watched everywhere:
 *   the old behaviour, more publishes, never a lost one. After an interruption it first tells the others all it
 *   watches again (`interest:state`, acknowledged: what it said meanwhile may be lost), then asks them.
 * - Personal pushes (the gateway's `~` rooms) always go to every node.
 *
 * What is left over errs on the side of publishing: a node killed without a word stays "watching" its topics in
 * the others' sets (their pushes are published for nobody) until the others restart.
 */
export function clusterInterest(io: AppServer, link: ClusterLink, logger: InterestLogger): Interest {
  const node = randomUUID();
  const root = io.of('/');
  /**
   * Topics this node's clients subscribed to: `confirmed` once every other node acknowledged it, `telling` while
   * asking them; `stale` when a subscriber read its view before that (it is resynced once confirmed).
   */
  interface Announcement {
    readonly namespace: AppNamespace;
    readonly room: string;
    confirmed: boolean;
    stale: boolean;
    telling?: Promise<void> | undefined;
    /** Unanswered tellings so far, and when the next may go (backing off while a node does not answer). */
    attempts: number;
    nextAt: number;
  }
  const announced = new Map<string, Announcement>();
  /** Keys other nodes watch, with the nodes watching each. */
  const remote = new Map<string, Set<string>>();
  /** True once the others' sets are learned (and no interruption since). */
  let ready = false;
  let learning = false;
  /** This node's own set must be told again before learning (after an interruption; not at the start). */
  let retell = false;
  let closed = false;
  /** Counts link interruptions: an answer asked for before one is not trusted. */
  let epoch = 0;
  /** Said once until this node is ready again, not at every tick. */
  let warned = false;

  const add = (from: string, key: string) => {
    let nodes = remote.get(key);
    if (!nodes) remote.set(key, (nodes = new Set()));
    nodes.add(from);
  };
  const drop = (from: string, key: string) => {
    const nodes = remote.get(key);
    if (!nodes) return;
    nodes.delete(from);
    if (nodes.size === 0) remote.delete(key);
  };

  const onAdd = (message: { node: string; key: string }, ack: (recorded: true) => void) => {
    add(message.node, message.key);
    if (typeof ack === 'function') ack(true);
  };
  const onDrop = (message: { node: string; key: string }) => drop(message.node, message.key);
  const forget = (from: string) => {
    for (const [key, nodes] of [...remote]) if (nodes.has(from)) drop(from, key);
  };
  const onState = (message: { node: string; keys: string[] }, ack: (recorded: true) => void) => {
    forget(message.node);
    for (const key of message.keys) add(message.node, key);
    if (typeof ack === 'function') ack(true);
  };
  const onBye = (message: { node: string }) => forget(message.node);
  const onSnapshot = (ack: (state: { node: string; keys: string[] }) => void) => {
    if (typeof ack === 'function') ack({ node, keys: [...announced.keys()] });
  };
  root.on('interest:add', onAdd);
  root.on('interest:drop', onDrop);
  root.on('interest:state', onState);
  root.on('interest:bye', onBye);
  root.on('interest:snapshot', onSnapshot);

  /** Asks the other nodes, bounded: their answers, or undefined when not every one answered in time (or the ask failed). */
  const ask = async <T>(asking: Promise<T>): Promise<T | undefined> =>
    within(
      asking.then(
        (answer) => answer,
        () => undefined,
      ),
      ANSWER_TIMEOUT_MS,
      undefined,
    );

  const resync = (entry: Announcement) => entry.namespace.local.to(entry.room).emit('resync', { reason: 'a watched topic was acknowledged late' });

  /** Tells the other nodes this node watches `entry`'s topic; see `Interest.watch`. */
  const tell = (key: string, entry: Announcement): Promise<void> => {
    const told = epoch;
    entry.telling = ask(root.serverSideEmitWithAck('interest:add', { node, key })).then((answers) => {
      entry.telling = undefined;
      if (answers === undefined || told !== epoch) {
        // Not every node answered in time (or the link broke meanwhile): told again, backing off up to 10 s.
        entry.stale = true;
        entry.attempts++;
        entry.nextAt = Date.now() + Math.min(TICK_MS * 2 ** entry.attempts, 10_000);
        return;
      }
      entry.confirmed = true;
      entry.attempts = 0;
      if (announced.get(key) !== entry) {
        // The room was left while this was on its way: the drop may have arrived first.
        root.serverSideEmit('interest:drop', { node, key });
        return;
      }
      if (entry.stale) {
        entry.stale = false;
        resync(entry);
      }
    });
    return entry.telling;
  };

  // A room left by its last socket here (a leave or a disconnect): the others stop publishing to this node for it.
  const namespaces = [io.of('/store'), io.of('/warehouse')];
  const deleteListeners = namespaces.map((namespace) => {
    const listener = (room: unknown) => {
      const key = keyOf(namespace as AppNamespace, String(room));
      if (!announced.delete(key)) return;
      root.serverSideEmit('interest:drop', { node, key });
    };
    namespace.adapter.on('delete-room', listener);
    return () => namespace.adapter.off('delete-room', listener);
  });

  /** Learns what every other node watches (after telling them all this node watches, when an interruption may have lost it). */
  const learn = async () => {
    learning = true;
    const asked = epoch;
    try {
      if (retell) {
        const keys = [...announced.keys()];
        if ((await ask(root.serverSideEmitWithAck('interest:state', { node, keys }))) === undefined || asked !== epoch) return;
        retell = false;
        // Every topic held here is known everywhere again; its subscribers may have missed changes meanwhile (one
        // resync per socket: a broadcast to many rooms reaches each socket once).
        const rooms = new Map<AppNamespace, string[]>();
        for (const key of keys) {
          const entry = announced.get(key);
          if (!entry) continue;
          entry.confirmed = true;
          entry.stale = false;
          rooms.set(entry.namespace, [...(rooms.get(entry.namespace) ?? []), entry.room]);
        }
        for (const [namespace, list] of rooms) namespace.local.to(list).emit('resync', { reason: 'the cluster link was interrupted' });
      }
      const states = await ask(root.serverSideEmitWithAck('interest:snapshot'));
      if (closed || asked !== epoch || !link.healthy()) return;
      if (states === undefined) {
        if (!warned) logger.warn({}, 'could not learn which topics the other nodes watch; publishing everything and asking again');
        warned = true;
        return;
      }
      for (const state of states) for (const key of state.keys) add(state.node, key);
      ready = true;
      warned = false;
    } finally {
      learning = false;
    }
  };

  // A connection to Redis closed: what was said meanwhile may be lost, both ways; learn again once the link is back.
  const interruption = link.interrupted$.subscribe(() => {
    epoch++;
    ready = false;
    retell = true;
    remote.clear();
    for (const entry of announced.values()) entry.confirmed = false;
  });
  // The duties that wait for a healthy link: learning, and telling again what was not acknowledged.
  const ticker = setInterval(() => {
    if (closed || !link.healthy()) return;
    if (!ready && !learning) void learn();
    if (learning || retell) return;
    const now = Date.now();
    for (const [key, entry] of announced) if (!entry.confirmed && !entry.telling && entry.nextAt <= now) void tell(key, entry);
  }, TICK_MS);
  ticker.unref();

  const interest: Interest = {
    audience(namespace, rooms) {
      const local = localOf(namespace, rooms);
      // The gateway's own rooms (`~principal:…`, `~token:…`: a personal push) are joined by every connection and
      // never announced (that would be a cluster round trip per connection): a push to one always goes to every node.
      if (!ready || !link.healthy() || rooms.some((room) => room.startsWith('~'))) return { local, remote: true };
      return { local, remote: rooms.some((room) => remote.has(keyOf(namespace, room))) };
    },
    watch(namespace, room) {
      // The socket left (or disconnected) before it could join: nothing to announce, and no room to drop it later.
      if (!namespace.adapter.rooms.has(room)) return Promise.resolve();
      const key = keyOf(namespace, room);
      let entry = announced.get(key);
      if (entry?.confirmed) return Promise.resolve();
      if (entry?.telling) return entry.telling;
      if (!entry) announced.set(key, (entry = { namespace, room, confirmed: false, stale: false, attempts: 0, nextAt: 0 }));
      // No link: nothing can be told now. The subscriber reads its view at once and is resynced once it is told.
      if (!link.healthy() || retell) {
        entry.stale = true;
        return Promise.resolve();
      }
      return tell(key, entry);
    },
    close() {
      closed = true;
      clearInterval(ticker);
      interruption.unsubscribe();
      for (const stop of deleteListeners) stop();
      // Leaving: the others stop publishing for this node's clients (said before the handlers go).
      if (link.healthy()) root.serverSideEmit('interest:bye', { node });
      root.off('interest:add', onAdd);
      root.off('interest:drop', onDrop);
      root.off('interest:state', onState);
      root.off('interest:bye', onBye);
      root.off('interest:snapshot', onSnapshot);
      registry.delete(io);
    },
  };
  registry.set(io, interest);
  return interest;
}
