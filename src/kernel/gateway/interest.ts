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
  /** Everything `node` watches (its earlier word is replaced): after its link to the others was restored, or `[]` when it leaves. */
  'interest:state': (message: { node: string; keys: string[] }) => void;
  /** Asks every node for what it watches. */
  'interest:snapshot': (ack: (state: { node: string; keys: string[] }) => void) => void;
}

const registry = new WeakMap<object, Interest>();

/**
 * How long a subscribe waits for the other nodes to acknowledge a topic it watches anew, and a node for their
 * answers to "what do you watch". A stalled link can hold a request forever: past this, the subscribe goes on (the
 * topic is announced again by the next subscriber, and in full when the link is restored) and the question is
 * asked again.
 */
const ANSWER_TIMEOUT_MS = 1500;

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
 * adapter's inter-server events. A node starting asks the others for theirs; until every node has answered (and
 * whenever its link to Redis is not healthy) it treats every topic as watched everywhere, as if it knew nothing:
 * too many publishes, never a lost one. A node that watches a topic anew waits for every other node's
 * acknowledgement before its subscriber reads the current view (`watch`), at most `ANSWER_TIMEOUT_MS`; one
 * acknowledged later makes the topic's subscribers here subscribe again (`resync`). A node whose link was
 * restored tells the others everything it watches again (what it said meanwhile may be lost) and asks them for
 * theirs; its clients resync anyway (redis-adapter.ts). Personal pushes (the gateway's `~` rooms) always go to
 * every node.
 *
 * What is left over errs on the side of publishing: a node killed without a word stays "watching" its topics in
 * the others' sets (their pushes are published for nobody) until the others restart.
 */
export function clusterInterest(io: AppServer, link: ClusterLink, logger: InterestLogger): Interest {
  const node = randomUUID();
  const root = io.of('/');
  /**
   * Keys this node's clients subscribed to: `confirmed` once every other node acknowledged it, `telling` while
   * asking them. An unconfirmed one is told again by its next subscriber, and with everything else after a link
   * restoration.
   */
  const announced = new Map<string, { confirmed: boolean; telling?: Promise<void> | undefined }>();
  /** Keys other nodes watch, with the nodes watching each. */
  const remote = new Map<string, Set<string>>();
  let ready = false;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  /** Only the latest round of asking may declare this node ready (an earlier one may answer after the link broke). */
  let round = 0;

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
  const onState = (message: { node: string; keys: string[] }) => {
    for (const [key, nodes] of [...remote]) if (nodes.has(message.node)) drop(message.node, key);
    for (const key of message.keys) add(message.node, key);
  };
  const onSnapshot = (ack: (state: { node: string; keys: string[] }) => void) => {
    if (typeof ack === 'function') ack({ node, keys: [...announced.keys()] });
  };
  root.on('interest:add', onAdd);
  root.on('interest:drop', onDrop);
  root.on('interest:state', onState);
  root.on('interest:snapshot', onSnapshot);

  // A room left by its last socket here (a leave or a disconnect): the others stop publishing to this node for it.
  const namespaces = [io.of('/store'), io.of('/warehouse')];
  const onDeleteRoom = (namespace: AppNamespace) => (room: unknown) => {
    const key = keyOf(namespace, String(room));
    if (!announced.delete(key)) return;
    root.serverSideEmit('interest:drop', { node, key });
  };
  const deleteListeners = namespaces.map((namespace) => {
    const listener = onDeleteRoom(namespace as AppNamespace);
    namespace.adapter.on('delete-room', listener);
    return () => namespace.adapter.off('delete-room', listener);
  });

  /** Learns what every other node watches; until each has answered, every topic counts as watched. */
  const learn = async () => {
    clearTimeout(retry);
    ready = false;
    const mine = ++round;
    const asked = root.serverSideEmitWithAck('interest:snapshot').then(
      (states) => states,
      (error: unknown) => error as Error,
    );
    const answer = await within<Array<{ node: string; keys: string[] }> | Error | undefined>(asked, ANSWER_TIMEOUT_MS, undefined);
    if (closed || mine !== round) return;
    if (Array.isArray(answer)) {
      for (const state of answer) for (const key of state.keys) add(state.node, key);
      ready = true;
      return;
    }
    // A node did not answer in time (stalled, or the link broke): ask again shortly, publishing everything meanwhile.
    logger.warn({ err: answer?.message ?? `no answer within ${ANSWER_TIMEOUT_MS} ms` }, 'could not learn which topics the other nodes watch; retrying');
    retry = setTimeout(() => void learn(), 1000);
    retry.unref();
  };
  // The link is back: what this node said meanwhile may be lost, and so may what the others said.
  const relearn = () => {
    if (closed) return;
    remote.clear();
    root.serverSideEmit('interest:state', { node, keys: [...announced.keys()] });
    void learn();
  };
  const subscriptions = [link.reconnected$.subscribe(relearn), link.publishRestored$.subscribe(relearn)];
  void learn();

  const interest: Interest = {
    audience(namespace, rooms) {
      const local = localOf(namespace, rooms);
      // The gateway's own rooms (`~principal:…`, `~token:…`: a personal push) are joined by every connection and
      // never announced (that would be a cluster round trip per connection): a push to one always goes to every node.
      if (!ready || !link.healthy() || rooms.some((room) => room.startsWith('~'))) return { local, remote: true };
      return { local, remote: rooms.some((room) => remote.has(keyOf(namespace, room))) };
    },
    watch(namespace, room) {
      const key = keyOf(namespace, room);
      let entry = announced.get(key);
      if (entry?.confirmed) return Promise.resolve();
      if (entry?.telling) return entry.telling;
      if (!entry) announced.set(key, (entry = { confirmed: false }));
      // No link: nothing can be told now; the whole state is, once it is back.
      if (!link.healthy()) return Promise.resolve();
      const current = entry;
      const acknowledged = root.serverSideEmitWithAck('interest:add', { node, key }).then(
        () => true,
        () => false,
      );
      let late = false;
      current.telling = within(acknowledged, ANSWER_TIMEOUT_MS, false).then((confirmed) => {
        current.telling = undefined;
        if (confirmed) return;
        // A node that did not answer (stalled, or gone without a word) may miss this topic's changes until it hears of it.
        late = true;
        logger.warn({ room }, 'not every node acknowledged a watched topic in time; it is told again by the next subscriber');
      });
      void acknowledged.then((confirmed) => {
        if (!confirmed) return;
        current.confirmed = true;
        // Acknowledged after its subscriber read the view: a change another node made meanwhile may not have been
        // sent here. The clients watching it here subscribe again (the protocol's resync), now that every node knows.
        if (late && announced.get(key) === current) namespace.local.to(room).emit('resync', { reason: 'a watched topic was acknowledged late' });
      });
      return current.telling;
    },
    close() {
      closed = true;
      clearTimeout(retry);
      for (const subscription of subscriptions) subscription.unsubscribe();
      for (const stop of deleteListeners) stop();
      root.off('interest:add', onAdd);
      root.off('interest:drop', onDrop);
      root.off('interest:state', onState);
      root.off('interest:snapshot', onSnapshot);
      // Leaving: the others stop publishing for this node's clients.
      if (link.healthy()) root.serverSideEmit('interest:state', { node, keys: [] });
      registry.delete(io);
    },
  };
  registry.set(io, interest);
  return interest;
}
